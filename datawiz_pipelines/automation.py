"""Everything that makes the platform run itself, assembled for ``definitions.py``.

* scheduled asset jobs, one per ``datawiz/job`` asset tag, and one per slot with all
  of the slot's assets (``evening_jobs``, ``morning_jobs``; see ``jobs.py``);
* one schedule per slot, in each tenant's own timezone (``schedules.py``);
* the new-files sensor (``sensors/new_files.py``);
* the run-failure alert and the success digest (``sensors/run_failure.py``,
  ``sensors/success_digest.py``).

Schedules and sensors start running with the code location (``DATAWIZ_AUTOMATION=off``
starts them stopped, e.g. on a development machine that should only run by hand).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dagster import (
    AssetKey,
    AssetsDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    PartitionsDefinition,
    ScheduleDefinition,
    SensorDefinition,
)

from datawiz_pipelines.jobs import (
    JOB_TAG,
    SLOTS,
    build_scheduled_job,
    build_slot_job,
    scheduled_jobs_of,
    slot_prerequisites,
)
from datawiz_pipelines.schedules import build_tenant_schedule
from datawiz_pipelines.sensors.new_files import TableRouting, build_new_files_sensor
from datawiz_pipelines.sensors.run_failure import build_run_failure_sensor
from datawiz_pipelines.sensors.success_digest import build_success_digest_sensor
from datawiz_pipelines.settings import ProjectPaths

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

AUTOMATION_ENV = "DATAWIZ_AUTOMATION"
ETL_GROUPS = ("bronze", "silver", "warehouse")
"""The groups ``tenant_etl`` selects: the file-driven assets of every catalog table."""


@dataclass(frozen=True)
class Automation:
    jobs: list[UnresolvedAssetJobDefinition]
    schedules: list[ScheduleDefinition]
    sensors: list[SensorDefinition]


def automation_running_by_default() -> bool:
    return os.environ.get(AUTOMATION_ENV, "on").strip().lower() not in ("off", "0", "false", "no")


def build_automation(
    paths: ProjectPaths,
    assets: Sequence[AssetsDefinition],
    partitions_def: PartitionsDefinition,
    etl_job: UnresolvedAssetJobDefinition,
) -> Automation:
    """Scheduled jobs, their schedules and the sensors, for ``assets`` partitioned by tenant."""
    running = automation_running_by_default()
    schedule_status = DefaultScheduleStatus.RUNNING if running else DefaultScheduleStatus.STOPPED
    sensor_status = DefaultSensorStatus.RUNNING if running else DefaultSensorStatus.STOPPED
    tenants = partitions_def.get_partition_keys()
    scheduled = scheduled_jobs_of(assets)
    job_defs = {job.name: build_scheduled_job(job, partitions_def) for job in scheduled}
    slot_jobs = {
        slot: build_slot_job(
            slot, scheduled, partitions_def, slot_prerequisites(assets, slot, partitions_def)
        )
        for slot in SLOTS
        if any(job.slot == slot for job in scheduled)
    }
    schedules = [
        build_tenant_schedule(slot, job_def, paths.config_dir, tenants, schedule_status)
        for slot, job_def in slot_jobs.items()
    ]
    sensors = [
        build_new_files_sensor(
            paths.config_dir,
            paths.data_dir,
            tenants,
            table_routing(assets, etl_job.name),
            [*job_defs.values(), etl_job],
            sensor_status,
        ),
        build_run_failure_sensor(paths, sensor_status),
        build_success_digest_sensor(paths, sensor_status),
    ]
    return Automation(jobs=[*slot_jobs.values(), *job_defs.values()], schedules=schedules, sensors=sensors)


def table_routing(assets: Sequence[AssetsDefinition], fallback_job: str) -> TableRouting:
    """Per catalog table: its bronze, silver and warehouse assets and the job they belong to."""
    assets_by_table: dict[str, list[AssetKey]] = {}
    jobs_by_table: dict[str, set[str]] = {}
    for assets_def in assets:
        for spec in assets_def.specs:
            table = spec.metadata.get("table")
            if not isinstance(table, str) or spec.group_name not in ETL_GROUPS:
                continue
            assets_by_table.setdefault(table, []).append(spec.key)
            jobs_by_table.setdefault(table, set()).add(spec.tags.get(JOB_TAG, fallback_job))
    job_by_table = {
        table: jobs.pop() if len(jobs) == 1 else fallback_job for table, jobs in jobs_by_table.items()
    }
    return TableRouting(
        job_by_table=job_by_table,
        assets_by_table={table: sorted(keys) for table, keys in assets_by_table.items()},
        fallback_job=fallback_job,
    )
