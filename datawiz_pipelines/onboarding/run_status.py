"""Each tenant's last run, from the Dagster instance the UI shows (when there is one).

The instance is ``$DAGSTER_HOME``'s, or else the project's own ``dagster.yaml``
(whose storage paths are relative to the project root, as with ``dagster dev``).
Runs carry the tenant as their partition tag, ``dagster/partition``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dagster import DagsterInstance, RunsFilter

from datawiz_pipelines.settings import PROJECT_ROOT

PARTITION_TAG = "dagster/partition"


@dataclass(frozen=True)
class LastRun:
    run_id: str
    status: str
    """Dagster's run status: SUCCESS, FAILURE, STARTED, QUEUED, CANCELED ..."""
    at: dt.datetime
    """When it ended, or else started, or else was created (UTC)."""


def instance_home() -> Path | None:
    """Where the instance lives: ``$DAGSTER_HOME``, else the project root if it has a dagster.yaml."""
    home = os.environ.get("DAGSTER_HOME")
    if home:
        return Path(home)
    return PROJECT_ROOT if (PROJECT_ROOT / "dagster.yaml").is_file() else None


def last_runs(tenant_ids: Iterable[str]) -> dict[str, LastRun | None] | None:
    """Each tenant's most recent run (None: never run); None when no instance is available."""
    home = instance_home()
    if home is None:
        return None
    previous = Path.cwd()
    try:
        os.chdir(home)  # relative storage paths in dagster.yaml are relative to its folder
        with DagsterInstance.from_config(str(home)) as instance:
            return {tenant_id: _last_run(instance, tenant_id) for tenant_id in tenant_ids}
    finally:
        os.chdir(previous)


def _last_run(instance: DagsterInstance, tenant_id: str) -> LastRun | None:
    records = instance.get_run_records(filters=RunsFilter(tags={PARTITION_TAG: tenant_id}), limit=1)
    if not records:
        return None
    record = records[0]
    stamp = record.end_time or record.start_time
    at = dt.datetime.fromtimestamp(stamp, dt.UTC) if stamp else record.create_timestamp.astimezone(dt.UTC)
    return LastRun(run_id=record.dagster_run.run_id, status=record.dagster_run.status.value, at=at)
