"""The run-failure sensor: a failed tenant run is mailed to that tenant's recipients.

The mail names the tenant, the job, the failed steps with their assets and errors,
the assets left un-updated, and links to the run in the UI (``DATAWIZ_UI_URL``,
default http://127.0.0.1:3000). It goes to ``EMAIL_RECIPIENTS`` of the tenant's
``.env`` through its SMTP settings; every value of that ``.env`` and anything shaped
like a credential is masked (``notifications/redaction.py``). A run that Dagster will
retry (``dagster/will_retry``) is not mailed yet: its last attempt is. Runs without a
tenant (or with contradictory tenant tags) are mailed to no one.
"""

from __future__ import annotations

from collections.abc import Sequence

from dagster import (
    DagsterEvent,
    DagsterInstance,
    DagsterRun,
    DefaultSensorStatus,
    RunFailureSensorContext,
    SensorDefinition,
    run_failure_sensor,
)

from datawiz_pipelines.config.errors import ConfigError
from datawiz_pipelines.notifications.delivery import deliver, note
from datawiz_pipelines.notifications.email import load_notification_target
from datawiz_pipelines.notifications.run_reports import failure_report, format_failure
from datawiz_pipelines.run_tags import tenant_of_run
from datawiz_pipelines.settings import ProjectPaths

RUN_FAILURE_SENSOR = "tenant_run_failure_email"
WILL_RETRY_TAG = "dagster/will_retry"


def alert_run_failure(
    paths: ProjectPaths,
    instance: DagsterInstance,
    run: DagsterRun,
    failure_event: DagsterEvent | None,
    step_failures: Sequence[DagsterEvent],
) -> str:
    """Mail the failure of ``run`` to its tenant; what was done, as one line."""
    tenant_id = tenant_of_run(run.tags)
    if tenant_id is None:
        return f"run {run.run_id} of {run.job_name} has no single tenant: no alert"
    if run.tags.get(WILL_RETRY_TAG) == "true":
        return note(
            paths.logs_dir, tenant_id, f"failure alert for run {run.run_id} held: the run will be retried"
        )
    try:
        target = load_notification_target(paths.config_dir, tenant_id)
    except ConfigError as exc:
        note(paths.logs_dir, tenant_id, f"failure alert for run {run.run_id} not sent: {exc}")
        raise
    report = failure_report(instance, run, tenant_id, failure_event, step_failures)
    subject, body = format_failure(target, report)
    return deliver(paths.logs_dir, target, "failure alert", run.run_id, subject, body)


def build_run_failure_sensor(
    paths: ProjectPaths, default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED
) -> SensorDefinition:
    @run_failure_sensor(
        name=RUN_FAILURE_SENSOR,
        monitor_all_code_locations=True,  # every tenant run on the instance, `datawiz run` too
        default_status=default_status,
        minimum_interval_seconds=30,
        description="Mails every failed tenant run to that tenant's EMAIL_RECIPIENTS, secrets masked.",
    )
    def tenant_run_failure_email(context: RunFailureSensorContext) -> None:
        context.log.info(
            alert_run_failure(
                paths,
                context.instance,
                context.dagster_run,
                context.failure_event,
                context.get_step_failure_events(),
            )
        )

    return tenant_run_failure_email
