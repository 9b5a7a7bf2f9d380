"""The tags every tenant run carries, and how any part of the platform finds a run's tenant.

Schedules and sensors tag each run they request with:

* ``tenant``: the tenant id, so the UI filters runs by tenant and the run queue
  allows one run per tenant at a time (``tag_concurrency_limits`` in dagster.yaml);
* ``dagster/priority``: the registry's ``schedule_priority`` inverted (the
  registry says "lower runs first", Dagster's queue dequeues higher first), so
  priority 1 becomes ``-1`` and runs ahead of priority 2 (``-2``); a run launched
  by hand carries no priority (0) and so goes ahead of scheduled work;
* ``dagster/max_runtime``: the registry's ``tenant_timeout`` in seconds; run
  monitoring stops a run that takes longer.

Scheduled asset jobs also add ``tenant`` to every partition run launched from the
UI or a backfill (see ``jobs.tenant_partitioned_config``).
"""

from __future__ import annotations

from collections.abc import Mapping

from datawiz_pipelines.config.identifiers import check_identifier
from datawiz_pipelines.config.registry import GlobalConfig, TenantEntry

TENANT_TAG = "tenant"
PARTITION_TAG = "dagster/partition"
PRIORITY_TAG = "dagster/priority"
MAX_RUNTIME_TAG = "dagster/max_runtime"
TRIGGER_TAG = "datawiz/trigger"
"""What launched the run: ``schedule`` or ``new_files``."""


def dagster_priority(schedule_priority: int) -> int:
    """The registry's priority (lower runs first) as Dagster's (higher runs first)."""
    return -schedule_priority


def tenant_run_tags(entry: TenantEntry, global_config: GlobalConfig, **extra: str) -> dict[str, str]:
    return {
        TENANT_TAG: entry.tenant_id,
        PRIORITY_TAG: str(dagster_priority(entry.schedule_priority)),
        MAX_RUNTIME_TAG: str(global_config.tenant_timeout),
        **extra,
    }


def tenant_of_run(tags: Mapping[str, str]) -> str | None:
    """The tenant a run works for, from its tags; ``None`` when unknown or contradictory.

    The partition key is what the run's assets actually read and write, so it comes
    first; the ``tenant`` tag covers unpartitioned runs. A run whose two tags name
    different tenants belongs to neither: nothing about it is written to a tenant's
    log folder or mailed to a tenant's recipients.
    """
    candidates = {_identifier(tags.get(PARTITION_TAG)), _identifier(tags.get(TENANT_TAG))} - {None}
    if tags.get(TENANT_TAG) and tags.get(PARTITION_TAG) and len(candidates) != 1:
        return None
    return next(iter(candidates), None)


def _identifier(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return check_identifier(value)
    except ValueError:
        return None
