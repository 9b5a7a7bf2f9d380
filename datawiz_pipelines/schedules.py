"""Daily schedules in each tenant's own timezone, at its own start times.

A Dagster schedule has one timezone, but every tenant has its own (``scheduler.timezone``)
and its own ``evening_start_time`` / ``morning_start_time``. One schedule per job and
timezone-and-time combination would have to read every tenant's configuration when the
code location loads, and go stale when a tenant changes its time. Instead each scheduled
slot (evening, morning) has one schedule that ticks every 15 minutes (UTC) and, at each
tick, requests a run of the slot's job (``evening_jobs``: every evening asset, see
``jobs.py``) for every tenant whose local start time fell since the previous tick:

* enabled tenants only, and only when the tenant's flag for the slot is on
  (``enable_evening_jobs`` / ``enable_morning_jobs``);
* one ``RunRequest`` per tenant with ``partition_key=<tenant>`` and
  ``run_key=<job>:<tenant>:<local date>``, so a tenant is never launched twice for
  the same day, even when ticks overlap or are replayed;
* the cost of a tick is one ``stat`` per tenant configuration file (parsed again
  only when it changed), so 1,000 tenants stay well inside the tick budget;
* tagged with ``tenant``, ``dagster/priority`` (from ``schedule_priority``) and
  ``dagster/max_runtime`` (from ``tenant_timeout``); see ``run_tags.py``.

A start time is honoured at the first tick at or after it, so at most 15 minutes late
(on time for times on a quarter hour). Daylight saving: a start time that does not
exist on the day clocks go forward (02:30 in New York in March) runs once, an hour
later in wall-clock time; one that occurs twice when clocks go back runs once, at its
first occurrence.

Configuration is read through ``TenantIndex``: a change to the registry or to a
tenant's ``scheduler`` settings takes effect at the next tick without a reload; a tenant
registered after the code location loaded waits for the reload (it is not yet a
partition).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from datawiz_pipelines.config.tenant import SchedulerSettings
from datawiz_pipelines.config.tenant_index import TenantIndex
from datawiz_pipelines.jobs import EVENING
from datawiz_pipelines.run_tags import TRIGGER_TAG, tenant_run_tags

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

SCHEDULE_INTERVAL = dt.timedelta(minutes=15)
SCHEDULE_CRON = "*/15 * * * *"
LOCAL_DATE_TAG = "datawiz/local_date"
"""The tenant's local date the scheduled run is for (part of its run key)."""


def schedule_name(slot: str) -> str:
    return f"{slot}_schedule"


@dataclass(frozen=True)
class ScheduleEvaluation:
    run_requests: list[RunRequest]
    problems: dict[str, str]
    """Tenants whose configuration could not be read, with the reason; they are skipped."""


def due_local_date(
    tick: dt.datetime, start_time: str, timezone: str, interval: dt.timedelta = SCHEDULE_INTERVAL
) -> dt.date | None:
    """The local date whose ``start_time`` in ``timezone`` falls in ``(tick - interval, tick]``."""
    if tick.tzinfo is None:
        raise ValueError("the tick time must be timezone-aware")
    zone = ZoneInfo(timezone)
    window_start = tick - interval
    hour, minute = (int(part) for part in start_time.split(":"))
    for local_date in sorted({window_start.astimezone(zone).date(), tick.astimezone(zone).date()}):
        start = dt.datetime.combine(local_date, dt.time(hour, minute), tzinfo=zone)
        if window_start < start <= tick:
            return local_date
    return None


def slot_settings(settings: SchedulerSettings, slot: str) -> tuple[bool, str]:
    """Whether the tenant runs jobs of ``slot``, and its local start time for them."""
    if slot == EVENING:
        return settings.enable_evening_jobs, settings.evening_start_time
    return settings.enable_morning_jobs, settings.morning_start_time


def evaluate_tenant_schedule(
    slot: str,
    job_name: str,
    tick: dt.datetime,
    index: TenantIndex,
    known_tenants: Collection[str],
    interval: dt.timedelta = SCHEDULE_INTERVAL,
) -> ScheduleEvaluation:
    """The runs of ``job_name`` due at ``tick`` for ``slot``, one per tenant, highest priority first."""
    registry = index.registry()
    entries = [entry for entry in registry.enabled_tenants if entry.tenant_id in known_tenants]
    settings, problems = index.scheduler_settings([entry.tenant_id for entry in entries])
    requests: list[tuple[int, str, RunRequest]] = []
    for entry in entries:
        tenant_settings = settings.get(entry.tenant_id)
        if tenant_settings is None:
            continue
        enabled, start_time = slot_settings(tenant_settings, slot)
        if not enabled:
            continue
        local_date = due_local_date(tick, start_time, tenant_settings.timezone, interval)
        if local_date is None:
            continue
        request = RunRequest(
            run_key=f"{job_name}:{entry.tenant_id}:{local_date.isoformat()}",
            partition_key=entry.tenant_id,
            tags=tenant_run_tags(
                entry,
                registry.global_config,
                **{TRIGGER_TAG: "schedule", LOCAL_DATE_TAG: local_date.isoformat()},
            ),
        )
        requests.append((entry.schedule_priority, entry.tenant_id, request))
    return ScheduleEvaluation(
        run_requests=[request for *_, request in sorted(requests, key=lambda item: item[:2])],
        problems={tenant: str(error) for tenant, error in problems.items()},
    )


def build_tenant_schedule(
    slot: str,
    job_def: UnresolvedAssetJobDefinition,
    config_dir: Path,
    known_tenants: Collection[str],
    default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
) -> ScheduleDefinition:
    """The schedule of ``slot``: every 15 minutes, the tenants whose local start time came."""
    known = frozenset(known_tenants)

    @schedule(
        name=schedule_name(slot),
        cron_schedule=SCHEDULE_CRON,
        execution_timezone="UTC",
        job=job_def,
        default_status=default_status,
        description=(
            f"Launches {job_def.name} for each enabled tenant at its {slot}_start_time in its "
            f"own timezone (when enable_{slot}_jobs is on); one run per tenant and local day."
        ),
    )
    def _tenant_schedule(context: ScheduleEvaluationContext):
        tick = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
        evaluation = evaluate_tenant_schedule(slot, job_def.name, tick, TenantIndex.shared(config_dir), known)
        for tenant_id, problem in sorted(evaluation.problems.items()):
            context.log.warning(f"tenant {tenant_id} skipped: its configuration is invalid: {problem}")
        if not evaluation.run_requests:
            return SkipReason(f"no tenant's {slot} start time falls in the 15 minutes up to {tick}")
        return evaluation.run_requests

    return _tenant_schedule
