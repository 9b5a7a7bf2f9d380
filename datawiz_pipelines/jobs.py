"""Asset jobs: ``tenant_etl`` (everything) and the scheduled evening and morning jobs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dagster import (
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    PartitionedConfig,
    PartitionsDefinition,
    define_asset_job,
)

from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.run_tags import TENANT_TAG
from datawiz_pipelines.sql_models.models import SQL_MODEL_GROUPS

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

TENANT_ETL_JOB = "tenant_etl"

tenant_etl_job = define_asset_job(
    TENANT_ETL_JOB,
    selection=AssetSelection.groups("landing", "bronze", "silver", "warehouse", *SQL_MODEL_GROUPS),
    description=(
        "Every table of one tenant: its landing zone synced, source files to bronze, silver and "
        "its warehouse; then its "
        "SQL models (views, materialized views, derived tables, row-level security views)."
    ),
)


# -- Scheduled asset jobs (the legacy evening and morning catalogue) -------------------------
#
# An asset joins a scheduled job through two tags, never through code here:
#
#   datawiz/schedule: evening | morning      the daily slot, at the tenant's own start time
#   datawiz/job:      <slot>_<what>          the job, e.g. evening_dimension_sync
#
# The factory tags every catalog table from its kind (``table_schedule_tags``). An asset
# added later (materialized-view refresh, business constants, blob backup, ...) only needs
# ``tags=schedule_tags("evening", "evening_matview_refresh")``: its job appears at the
# next load, and the slot's schedule launches it for every tenant whose evening flag is on.
#
# Each slot also has one job with every asset of the slot (``evening_jobs``,
# ``morning_jobs``): that is what the schedules launch, once per tenant and day, so the
# evening's dimension sync, TSR hierarchy, materialized-view refresh and business
# constants run in one run in dependency order (a refresh never overtakes the load it
# reads), and the per-tenant queue limit holds one run, not four. The per-job jobs are
# for the new-files sensor and for launching one legacy job by hand.

SCHEDULE_TAG = "datawiz/schedule"
JOB_TAG = "datawiz/job"
EVENING = "evening"
MORNING = "morning"
SLOTS = (EVENING, MORNING)

EVENING_DIMENSION_SYNC_JOB = "evening_dimension_sync"
MORNING_FACT_INCREMENTAL_JOB = "morning_fact_incremental"


def slot_job_name(slot: str) -> str:
    """The job with every asset of ``slot``: ``evening_jobs`` or ``morning_jobs``."""
    return f"{slot}_jobs"


SCHEDULED_JOB_DESCRIPTIONS = {
    EVENING_DIMENSION_SYNC_JOB: (
        "Evening dimension sync of one tenant: every dimension and reference (seed) table, "
        "source files to bronze, silver and its warehouse."
    ),
    MORNING_FACT_INCREMENTAL_JOB: (
        "Morning fact incremental of one tenant: every fact table (invoice details and "
        "secondary sales), new source files upserted into its warehouse."
    ),
    "evening_tsr_hierarchy": "Evening TSR hierarchy rebuild of one tenant.",
    "evening_matview_refresh": "Evening refresh of one tenant's materialized views.",
    "evening_business_constants": "Evening business constants of one tenant.",
    "morning_blob_backup": "Morning backup of one tenant's processed source files.",
    "morning_dd_logic": "Morning DD logic of one tenant.",
}


@dataclass(frozen=True, order=True)
class ScheduledJob:
    """An asset job launched once a day per tenant, at the tenant's start time for ``slot``."""

    slot: str
    name: str

    @property
    def description(self) -> str:
        return SCHEDULED_JOB_DESCRIPTIONS.get(
            self.name, f"The {self.slot} job {self.name} of one tenant (assets tagged {JOB_TAG}={self.name})."
        )


def schedule_tags(slot: str, job_name: str) -> dict[str, str]:
    """The asset tags that put an asset into ``job_name``, launched in ``slot``."""
    if slot not in SLOTS:
        raise ValueError(f"unknown schedule slot {slot!r}; expected one of {SLOTS}")
    return {SCHEDULE_TAG: slot, JOB_TAG: job_name}


def table_schedule_tags(table: CatalogTable) -> dict[str, str]:
    """Dimensions and reference tables sync in the evening, facts load in the morning."""
    if table.kind == "fact":
        return schedule_tags(MORNING, MORNING_FACT_INCREMENTAL_JOB)
    return schedule_tags(EVENING, EVENING_DIMENSION_SYNC_JOB)


def scheduled_jobs_of(assets: Iterable[AssetsDefinition]) -> list[ScheduledJob]:
    """Every scheduled job the tags of ``assets`` name, sorted by slot then name."""
    slots: dict[str, set[str]] = {}
    for assets_def in assets:
        for spec in assets_def.specs:
            if JOB_TAG in spec.tags:
                slots.setdefault(spec.tags[JOB_TAG], set()).add(spec.tags.get(SCHEDULE_TAG, ""))
    jobs = []
    for name, found in slots.items():
        if len(found) != 1 or next(iter(found)) not in SLOTS:
            raise ValueError(
                f"assets of job {name!r} must all carry {SCHEDULE_TAG} set to one of {SLOTS}; "
                f"found {sorted(found)}"
            )
        jobs.append(ScheduledJob(slot=found.pop(), name=name))
    return sorted(jobs)


def tenant_partitioned_config(partitions_def: PartitionsDefinition) -> PartitionedConfig:
    """No run config, and the ``tenant`` tag on every partition run (UI launches and backfills too)."""
    return PartitionedConfig(
        partitions_def=partitions_def,
        run_config_for_partition_key_fn=lambda _key: {},
        tags_for_partition_key_fn=lambda key: {TENANT_TAG: key},
    )


def build_scheduled_job(
    job: ScheduledJob, partitions_def: PartitionsDefinition
) -> UnresolvedAssetJobDefinition:
    return define_asset_job(
        job.name,
        selection=AssetSelection.tag(JOB_TAG, job.name),
        config=tenant_partitioned_config(partitions_def),
        description=job.description,
        tags={SCHEDULE_TAG: job.slot},
    )


def slot_prerequisites(
    assets: Iterable[AssetsDefinition], slot: str, partitions_def: PartitionsDefinition
) -> set[AssetKey]:
    """Untagged, tenant-partitioned assets the slot's assets depend on (e.g. the landing sync).

    They run at the start of every slot's run, so an evening or morning run first brings
    the tenant's landing folder up to date. An asset tagged for a slot is never pulled
    into the other one, and an asset partitioned otherwise never joins a tenant run.
    """
    specs = {
        spec.key: (spec, assets_def.partitions_def) for assets_def in assets for spec in assets_def.specs
    }
    frontier = [key for key, (spec, _) in specs.items() if spec.tags.get(SCHEDULE_TAG) == slot]
    seen, found = set(frontier), set()
    while frontier:
        for dep in specs[frontier.pop()][0].deps:
            key = dep.asset_key
            if key in seen or key not in specs:
                continue
            seen.add(key)
            spec, partitions = specs[key]
            if SCHEDULE_TAG not in spec.tags and partitions == partitions_def:
                found.add(key)
                frontier.append(key)
    return found


def build_slot_job(
    slot: str,
    jobs: Iterable[ScheduledJob],
    partitions_def: PartitionsDefinition,
    prerequisites: Iterable[AssetKey] = (),
) -> UnresolvedAssetJobDefinition:
    """Every asset of ``slot`` (all its scheduled jobs, and their prerequisites) in one run of one tenant."""
    names = sorted(job.name for job in jobs if job.slot == slot)
    prerequisites = sorted(prerequisites)
    before = [key.to_user_string() for key in prerequisites]
    return define_asset_job(
        slot_job_name(slot),
        selection=AssetSelection.tag(SCHEDULE_TAG, slot) | AssetSelection.assets(*prerequisites),
        config=tenant_partitioned_config(partitions_def),
        description=(
            f"The {slot} jobs of one tenant in one run, in dependency order: {', '.join(names)}"
            + (f" (after {', '.join(before)})" if before else "")
            + f". Launched daily by {slot}_schedule at the tenant's {slot}_start_time."
        ),
        tags={SCHEDULE_TAG: slot},
    )
