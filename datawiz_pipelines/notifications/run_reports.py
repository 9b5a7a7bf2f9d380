"""What a tenant is told about a run: which steps and assets failed and why, or what loaded.

Reports are built from the run's events in the instance and formatted as plain text;
``email.compose`` masks the tenant's secrets before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from dagster import DagsterEvent, DagsterEventType, DagsterInstance, DagsterRun
from dagster_shared.error import SerializableErrorInfo

from datawiz_pipelines.notifications.email import NotificationTarget, run_url

MAX_ERROR_CHARS = 2000
MAX_CAUSES = 4


@dataclass
class FailedStep:
    step_key: str
    error: str
    assets: list[str] = field(default_factory=list)


@dataclass
class RunReport:
    tenant_id: str
    run_id: str
    job_name: str
    failed_steps: list[FailedStep] = field(default_factory=list)
    failed_assets: list[str] = field(default_factory=list)
    """Assets the run planned and did not materialize: failed, or skipped after a failure upstream."""
    run_error: str | None = None
    materialized: list[tuple[str, int | None]] = field(default_factory=list)
    """(asset, row count) of every asset the run materialized."""


def describe_error(error: SerializableErrorInfo | None) -> str:
    """The error and its causes, one message each, without stack traces or Dagster's wrappers."""
    messages: list[str] = []
    while error is not None and len(messages) < MAX_CAUSES:
        wrapper = error.cls_name in _DAGSTER_WRAPPERS and (error.cause or error.context) is not None
        text = _short_class_name(error)
        if text and text not in messages and not wrapper:
            messages.append(text)
        error = error.cause or error.context
    text = "\n  caused by: ".join(messages) or "(no error message)"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


_DAGSTER_WRAPPERS = frozenset({"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"})
"""Dagster's "error occurred while executing op ..." envelopes: their cause is the real error."""


def _short_class_name(error: SerializableErrorInfo) -> str:
    """``pkg.module.SomeError: message`` as ``SomeError: message``."""
    text = (error.message or error.cls_name or "").strip()
    head, sep, rest = text.partition(": ")
    if sep and error.cls_name and head.endswith("." + error.cls_name):
        return f"{error.cls_name}: {rest}"
    return text


def failure_report(
    instance: DagsterInstance,
    run: DagsterRun,
    tenant_id: str,
    failure_event: DagsterEvent | None,
    step_failures: Sequence[DagsterEvent],
) -> RunReport:
    report = RunReport(tenant_id=tenant_id, run_id=run.run_id, job_name=run.job_name)
    planned, materialized = _asset_events(instance, run.run_id)
    for event in step_failures:
        step_key = event.step_key or "(unknown step)"
        report.failed_steps.append(
            FailedStep(
                step_key=step_key,
                error=describe_error(getattr(event.event_specific_data, "error", None)),
                assets=[asset for asset in planned if _step_of(asset) == step_key] or [step_key],
            )
        )
    report.failed_assets = sorted(set(planned) - set(materialized))
    if failure_event is not None:
        error = getattr(failure_event.event_specific_data, "error", None)
        report.run_error = describe_error(error) if error else (failure_event.message or None)
    return report


def _asset_events(instance: DagsterInstance, run_id: str) -> tuple[list[str], dict[str, int | None]]:
    """The assets the run planned, and those it materialized with their row counts."""
    planned: list[str] = []
    materialized: dict[str, int | None] = {}
    records = instance.get_records_for_run(
        run_id,
        of_type={DagsterEventType.ASSET_MATERIALIZATION_PLANNED, DagsterEventType.ASSET_MATERIALIZATION},
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None or event.asset_key is None:
            continue
        asset = event.asset_key.to_user_string()
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION_PLANNED:
            planned.append(asset)
        else:
            rows = event.step_materialization_data.materialization.metadata.get("dagster/row_count")
            materialized[asset] = getattr(rows, "value", None)
    return sorted(set(planned)), materialized


def _step_of(asset: str) -> str:
    """The step key Dagster gives the op of a single asset: its key parts joined by ``__``."""
    return asset.replace("/", "__")


def success_report(instance: DagsterInstance, run: DagsterRun, tenant_id: str) -> RunReport:
    report = RunReport(tenant_id=tenant_id, run_id=run.run_id, job_name=run.job_name)
    _, materialized = _asset_events(instance, run.run_id)
    report.materialized = sorted(materialized.items())
    return report


def format_failure(target: NotificationTarget, report: RunReport) -> tuple[str, str]:
    """Subject and body of the failure alert (secrets are masked later, by ``email.compose``)."""
    subject, lines = _mail_start(target, report, "failed")
    if report.failed_steps:
        lines.append("Failed steps:")
        for step in report.failed_steps:
            lines.append(f"  - {', '.join(step.assets)} (step {step.step_key})")
            lines.extend(f"      {line}" for line in step.error.splitlines())
        lines.append("")
    not_updated = [asset for asset in report.failed_assets if not _in_failed_steps(asset, report)]
    if not_updated:
        lines.append("Not updated because of the failure:")
        lines.extend(f"  - {asset}" for asset in not_updated)
        lines.append("")
    if report.run_error and not report.failed_steps:
        lines.extend(["Error:", *(f"  {line}" for line in report.run_error.splitlines()), ""])
    lines.append("Other tenants' runs are not affected. Open the link for the full logs.")
    return subject, "\n".join(lines) + "\n"


def format_success(target: NotificationTarget, report: RunReport) -> tuple[str, str]:
    subject, lines = _mail_start(target, report, "succeeded")
    lines.append("Materialized:" if report.materialized else "Nothing was materialized.")
    lines.extend(
        f"  - {asset}" + ("" if rows is None else f": {rows:,} rows") for asset, rows in report.materialized
    )
    return subject, "\n".join(lines) + "\n"


def _mail_start(target: NotificationTarget, report: RunReport, outcome: str) -> tuple[str, list[str]]:
    """Subject and opening lines of either mail: tenant, job, run and the link to it."""
    subject = f"[datawiz] {report.tenant_id}: run of {report.job_name} {outcome}"
    lines = [
        f"A run {outcome} for tenant {report.tenant_id} ({target.tenant_name}).",
        "",
        f"Job:  {report.job_name}",
        f"Run:  {report.run_id}",
        f"Link: {run_url(report.run_id)}",
        "",
    ]
    return subject, lines


def _in_failed_steps(asset: str, report: RunReport) -> bool:
    return any(asset in step.assets for step in report.failed_steps)
