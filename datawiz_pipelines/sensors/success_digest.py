"""The success digest: tenants with ``notifications.success_digest: true`` get a mail per successful run.

It lists what the run materialized, with row counts, and links to the run; the
secrets of the tenant's ``.env`` are masked like in the failure alert.
"""

from __future__ import annotations

from dagster import (
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunStatusSensorContext,
    SensorDefinition,
    run_status_sensor,
)

from datawiz_pipelines.notifications.delivery import deliver
from datawiz_pipelines.notifications.email import load_notification_target
from datawiz_pipelines.notifications.run_reports import format_success, success_report
from datawiz_pipelines.run_tags import tenant_of_run
from datawiz_pipelines.settings import ProjectPaths

SUCCESS_DIGEST_SENSOR = "tenant_success_digest_email"


def send_success_digest(paths: ProjectPaths, instance: DagsterInstance, run: DagsterRun) -> str:
    tenant_id = tenant_of_run(run.tags)
    if tenant_id is None:
        return f"run {run.run_id} of {run.job_name} has no single tenant: no digest"
    target = load_notification_target(paths.config_dir, tenant_id)
    if not target.settings.success_digest:
        return f"tenant {tenant_id} has success_digest off"
    subject, body = format_success(target, success_report(instance, run, tenant_id))
    return deliver(paths.logs_dir, target, "success digest", run.run_id, subject, body)


def build_success_digest_sensor(
    paths: ProjectPaths, default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED
) -> SensorDefinition:
    @run_status_sensor(
        name=SUCCESS_DIGEST_SENSOR,
        monitor_all_code_locations=True,  # every tenant run on the instance, `datawiz run` too
        run_status=DagsterRunStatus.SUCCESS,
        default_status=default_status,
        minimum_interval_seconds=30,
        description="Mails each successful run to tenants that set notifications.success_digest.",
    )
    def tenant_success_digest_email(context: RunStatusSensorContext) -> None:
        context.log.info(send_success_digest(paths, context.instance, context.dagster_run))

    return tenant_success_digest_email
