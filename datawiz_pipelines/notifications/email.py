"""Sending a mail to a tenant's recipients through the tenant's SMTP settings.

Who and how come from the tenant's configuration: the recipients are
``EMAIL_RECIPIENTS`` and the password ``SMTP_PASSWORD`` in its ``.env``; host, port,
user, sender and STARTTLS are its ``notifications`` settings (shared defaults under its
config.yaml). Only the ``notifications`` section has to be valid: a tenant whose run
failed because of a broken mapping still gets its alert.

Every subject and body goes through the tenant's ``Redactor`` before it leaves.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from pydantic import ValidationError

from datawiz_pipelines.config.errors import ConfigError, display_path
from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.config.secrets import TenantSecrets
from datawiz_pipelines.config.tenant import NotificationSettings
from datawiz_pipelines.config.yaml_files import deep_merge, read_yaml
from datawiz_pipelines.notifications.redaction import Redactor

UI_URL_ENV = "DATAWIZ_UI_URL"
DEFAULT_UI_URL = "http://127.0.0.1:3000"
SEND_ATTEMPTS = 3
SMTP_TIMEOUT_SECONDS = 20


@dataclass(frozen=True)
class NotificationTarget:
    """Everything needed to mail one tenant: who it is, its SMTP settings and its secrets."""

    tenant_id: str
    tenant_name: str
    settings: NotificationSettings
    secrets: TenantSecrets

    @property
    def recipients(self) -> list[str]:
        return list(self.secrets.EMAIL_RECIPIENTS)

    @property
    def redact(self) -> Redactor:
        return Redactor.for_tenant(self.secrets)


def load_notification_target(config_dir: Path, tenant_id: str) -> NotificationTarget:
    """The tenant's notification settings and secrets (``ConfigError`` when they are invalid)."""
    repository = ConfigRepository(Path(config_dir))
    entry = repository.entry(tenant_id)
    directory = repository.tenant_dir(tenant_id)
    config_path = directory / "config.yaml"
    merged = deep_merge(repository.shared_defaults(), read_yaml(config_path))
    try:
        settings = NotificationSettings.model_validate(merged.get("notifications") or {})
    except ValidationError as exc:
        raise ConfigError(
            [
                f"{display_path(config_path)}: notifications.{'.'.join(map(str, item['loc']))}: {item['msg']}"
                for item in exc.errors(include_url=False, include_input=False)
            ]
        ) from None
    return NotificationTarget(
        tenant_id=tenant_id,
        tenant_name=entry.tenant_name,
        settings=settings,
        secrets=TenantSecrets.from_env_file(directory / ".env"),
    )


def ui_url() -> str:
    return (os.environ.get(UI_URL_ENV) or DEFAULT_UI_URL).rstrip("/")


def run_url(run_id: str) -> str:
    return f"{ui_url()}/runs/{run_id}"


def compose(target: NotificationTarget, subject: str, body: str) -> EmailMessage:
    """The mail to the tenant's recipients, with every secret of the tenant masked."""
    redact = target.redact
    message = EmailMessage()
    message["Subject"] = redact(subject)
    message["From"] = target.settings.sender
    message["To"] = ", ".join(target.recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=target.settings.sender.rpartition("@")[2] or None)
    message["X-Datawiz-Tenant"] = target.tenant_id
    message.set_content(redact(body))
    return message


def send(target: NotificationTarget, message: EmailMessage) -> None:
    """Deliver ``message`` through the tenant's SMTP server; transient errors are retried."""
    settings = target.settings
    password = target.secrets.SMTP_PASSWORD
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
                if settings.use_tls:
                    smtp.starttls(context=ssl.create_default_context())
                if settings.smtp_user and password is not None:
                    smtp.login(settings.smtp_user, password.get_secret_value())
                smtp.send_message(message)
            return
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, TimeoutError):
            if attempt == SEND_ATTEMPTS:
                raise
            time.sleep(attempt)
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code < 400 or exc.smtp_code >= 500 or attempt == SEND_ATTEMPTS:
                raise
            time.sleep(attempt)
