"""Per-tenant log files: ``logs/<tenant>/{extraction,transformation,loading,notifications,runs}.log``.

Every run works for one tenant (its partition, also its ``tenant`` tag; see
``run_tags.tenant_of_run``). ``TenantLogHandler`` is installed on the Dagster instance
(``python_logs.dagster_handler_config`` in ``dagster.yaml``), so it sees every log line
and event of every run on that instance, however the run was launched (schedule,
sensor, UI, backfill, ``datawiz run``), in the run worker and in every step process.
It appends each line to the run's tenant's folder, by step:

    bronze/<table>, landing    -> extraction.log
    silver/<table>             -> transformation.log
    warehouse/<table>          -> loading.log
    run-level and other steps  -> runs.log

``notifications.log`` is written by the alert and digest sensors (see
``notifications/``). A run whose tenant is unknown or ambiguous writes nowhere: no
run ever writes into another tenant's folder. The root folder is
``ProjectPaths.logs_dir`` (``DATAWIZ_LOGS_DIR``, default ``logs/``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from datawiz_pipelines.config.identifiers import check_identifier
from datawiz_pipelines.run_tags import tenant_of_run
from datawiz_pipelines.settings import ProjectPaths

EXTRACTION = "extraction"
TRANSFORMATION = "transformation"
LOADING = "loading"
NOTIFICATIONS = "notifications"
RUNS = "runs"
LOG_FILES = (EXTRACTION, TRANSFORMATION, LOADING, NOTIFICATIONS, RUNS)

CATEGORY_BY_STEP_PREFIX: dict[str, str] = {
    "landing": EXTRACTION,
    "bronze": EXTRACTION,
    "silver": TRANSFORMATION,
    "warehouse": LOADING,
}
"""The first part of a step key (the asset key's first part) -> its log file."""

_KEPT_DEBUG_EVENTS = frozenset(
    {
        "RUN_START",
        "RUN_SUCCESS",
        "RUN_FAILURE",
        "RUN_CANCELED",
        "PIPELINE_START",  # the run events' values still use their old names
        "PIPELINE_SUCCESS",
        "PIPELINE_FAILURE",
        "PIPELINE_CANCELED",
        "STEP_START",
        "STEP_SUCCESS",
        "STEP_FAILURE",
        "STEP_UP_FOR_RETRY",
        "STEP_SKIPPED",
        "ASSET_MATERIALIZATION",
        "ASSET_CHECK_EVALUATION",
    }
)
"""Dagster logs these at DEBUG; they are the backbone of a tenant's log, so they are kept."""


def tenant_log_path(logs_dir: Path, tenant_id: str, category: str) -> Path:
    if category not in LOG_FILES:
        raise ValueError(f"unknown log file {category!r}; expected one of {LOG_FILES}")
    return Path(logs_dir) / check_identifier(tenant_id) / f"{category}.log"


def append_tenant_log(logs_dir: Path, tenant_id: str, category: str, line: str) -> Path:
    """Append one line to the tenant's log file (created with its folder when missing).

    One ``O_APPEND`` write per line, so the processes of one run (and the sensors) can
    write to the same file without interleaving inside a line.
    """
    path = tenant_log_path(logs_dir, tenant_id, category)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (line.rstrip("\n").replace("\n", "\n    ") + "\n").encode("utf-8", "replace")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    return path


def category_for_step(step_key: str | None) -> str:
    if not step_key:
        return RUNS
    return CATEGORY_BY_STEP_PREFIX.get(step_key.split("__", 1)[0].split(".", 1)[0], RUNS)


def timestamp() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TenantLogHandler(logging.Handler):
    """A logging handler for the Dagster instance that writes each run's lines to its tenant's files.

    In ``dagster.yaml``::

        python_logs:
          dagster_handler_config:
            handlers:
              tenant_files:
                "()": datawiz_pipelines.observability.tenant_logs.TenantLogHandler
                level: DEBUG
    """

    def __init__(self, logs_dir: str | Path | None = None, level: int | str = logging.DEBUG):
        super().__init__(level=level)
        self.logs_dir = Path(logs_dir) if logs_dir else ProjectPaths.from_env().logs_dir

    def emit(self, record: logging.LogRecord) -> None:
        try:
            meta = getattr(record, "dagster_meta", None)
            if not isinstance(meta, Mapping):
                return
            event = meta.get("dagster_event")
            event_type = getattr(event, "event_type_value", None)
            if record.levelno < logging.INFO and event_type not in _KEPT_DEBUG_EVENTS:
                return
            tenant_id = tenant_of_run(meta.get("job_tags") or {})
            if tenant_id is None:
                return
            step_key = meta.get("step_key")
            line = " ".join(
                part
                for part in (
                    timestamp(),
                    record.levelname,
                    f"run={str(meta.get('run_id') or '-')[:8]}",
                    f"job={meta.get('job_name') or '-'}",
                    f"step={step_key or '-'}",
                    (event_type or "").replace("PIPELINE_", "RUN_"),
                    "-",
                    str(meta.get("orig_message") or record.getMessage()),
                )
                if part
            )
            append_tenant_log(self.logs_dir, tenant_id, category_for_step(step_key), line)
        except Exception:
            self.handleError(record)
