"""Mail a report to a tenant and record it in the tenant's ``notifications.log``."""

from __future__ import annotations

from pathlib import Path

from datawiz_pipelines.notifications.email import NotificationTarget, compose, send
from datawiz_pipelines.observability.tenant_logs import NOTIFICATIONS, append_tenant_log, timestamp


def deliver(
    logs_dir: Path, target: NotificationTarget, kind: str, run_id: str, subject: str, body: str
) -> str:
    """Send the mail; log what happened (never a secret) and return it as one line.

    No recipients is not an error: the tenant simply asked for no mail. A delivery
    failure is logged, then raised so the sensor tick shows it.
    """
    recipients = target.recipients
    if not recipients:
        return _log(logs_dir, target, f"{kind} for run {run_id} not sent: EMAIL_RECIPIENTS is empty")
    message = compose(target, subject, body)
    settings = target.settings
    try:
        send(target, message)
    except Exception as exc:
        reason = target.redact(f"{type(exc).__name__}: {exc}")
        _log(
            logs_dir,
            target,
            f"{kind} for run {run_id} NOT sent through {settings.smtp_host}:{settings.smtp_port}: {reason}",
        )
        raise RuntimeError(f"tenant {target.tenant_id}: {kind} for run {run_id} not sent: {reason}") from None
    return _log(
        logs_dir,
        target,
        f"{kind} for run {run_id} sent to {len(recipients)} recipient(s) "
        f"through {settings.smtp_host}:{settings.smtp_port}: {message['Subject']}",
    )


def note(logs_dir: Path, tenant_id: str, line: str) -> str:
    append_tenant_log(logs_dir, tenant_id, NOTIFICATIONS, f"{timestamp()} {line}")
    return line


def _log(logs_dir: Path, target: NotificationTarget, line: str) -> str:
    return note(logs_dir, target.tenant_id, target.redact(line))
