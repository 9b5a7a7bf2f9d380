"""The new-files sensor: a run for every enabled tenant whose source files are new or changed.

Each tick lists, for every enabled tenant and every table it maps, the files its
mapping's patterns match in the tenant's local landing folder
(``data/<tenant>/source_files/``; the seeds folder for seed tables) with
``bronze.source_files.find_source_files``, and reduces each table's files to one
digest of ``(relative path, size, modification time)``. The cursor keeps the last
digest per tenant and table, so it stays small with 1,000 tenants and years of
daily files, and a tick costs a directory listing per table when nothing changed.

For a table whose digest changed, the tenant's file ledger (``landing.ledger``, see
``data/<tenant>/ledger.sqlite``) says which of its files are not processed yet: new
files, and files changed since they were loaded. Files already loaded by any run
(scheduled, manual, an earlier sensor run) and deletions alone request nothing. A
tenant without a ledger yet has every file pending.

A tenant with pending files gets one ``RunRequest``:

* it selects exactly the bronze, silver and warehouse assets of the tables with
  pending files;
* it targets the scheduled job those tables belong to (``evening_dimension_sync``
  for dimensions and seeds, ``morning_fact_incremental`` for facts), or
  ``tenant_etl`` when both kinds changed;
* its ``run_key`` is derived from the tenant and the pending file versions, so one
  version of a file is never launched twice by the same state, even if the cursor
  is replayed; a run that fails is not relaunched by this sensor (the failure alert
  goes out; the next scheduled run or a manual one picks the files up).

Bronze itself only reads files it has not published yet, so a run that finds its
files already processed by an earlier one costs little. Resetting the cursor in the
UI makes the next tick look at every table again (files already in the ledger are
not relaunched).

Bounded ticks: tenants are visited in priority order, and a tick stops after 6 seconds
(``TICK_BUDGET_SECONDS``, Dagster's work on the run requests included), the cursor
saying where the next one resumes. A quiet tick
over 1,000 tenants takes a fraction of that (one ``stat`` per file: folder listings and
parsed mappings are kept while unchanged); only the first pass after the code location
starts is spread over a few ticks (see ``benchmarks/scale.py``).

Azure tenants: files are downloaded into the same local landing folder by the
landing asset, where this sensor sees them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import threading
import time
import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dagster import (
    AssetKey,
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from datawiz_pipelines.bronze.source_files import SourceFile, find_source_files
from datawiz_pipelines.config.registry import GlobalConfig, TenantEntry
from datawiz_pipelines.config.tenant_index import TableSource, TenantIndex
from datawiz_pipelines.landing.incremental import classify
from datawiz_pipelines.landing.ledger import Ledger
from datawiz_pipelines.landing.sync import file_version
from datawiz_pipelines.run_tags import TRIGGER_TAG, tenant_run_tags
from datawiz_pipelines.storage.tenant_paths import TenantPaths

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

NEW_FILES_SENSOR = "new_files_sensor"
PENDING_FILES_TAG = "datawiz/pending_files"
"""How many new or changed files the sensor saw for the run's tables."""
MINIMUM_INTERVAL_SECONDS = 60
TICK_BUDGET_SECONDS = 6.0
"""A tick stops looking at further tenants after this long and resumes there next tick."""
REQUEST_COST_SECONDS = 0.005
"""What Dagster spends on each run request after the sensor returns (counted in the budget)."""
_CURSOR_PREFIX = "zlib:"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

FileDigests = dict[str, dict[str, str]]
"""tenant -> table -> digest of the table's current files."""


@dataclass(frozen=True)
class TableRouting:
    """How a table's changes become a run: its scheduled job and its assets."""

    job_by_table: Mapping[str, str]
    assets_by_table: Mapping[str, Sequence[AssetKey]]
    fallback_job: str
    """The job that holds every table, for a tenant whose changes span several jobs."""


@dataclass
class FilesCursor:
    """What the sensor remembers between ticks."""

    digests: FileDigests = field(default_factory=dict)
    resume_after: str | None = None
    """The last tenant a tick stopped at when its time budget ran out; ``None``: a full pass."""


@dataclass
class NewFilesEvaluation:
    run_requests: list[RunRequest]
    cursor: FilesCursor
    problems: dict[str, list[str]] = field(default_factory=dict)
    files_seen: int = 0
    tenants_evaluated: int = 0
    tenants_enabled: int = 0

    @property
    def complete(self) -> bool:
        return self.cursor.resume_after is None


def digest_files(files: Sequence[SourceFile]) -> str:
    """One short digest of a table's files: any new, changed or removed file changes it."""
    sha = hashlib.sha256()
    for file in files:
        sha.update(f"{file.relative_path}\0{file.fingerprint}\n".encode())
    return sha.hexdigest()[:16]


def encode_cursor(cursor: FilesCursor) -> str:
    payload = json.dumps(
        {"v": 1, "tenants": cursor.digests, "resume_after": cursor.resume_after},
        sort_keys=True,
        separators=(",", ":"),
    )
    return _CURSOR_PREFIX + base64.b64encode(zlib.compress(payload.encode(), 9)).decode()


def decode_cursor(cursor: str | None) -> FilesCursor:
    """The state in ``cursor``; an empty or unreadable cursor knows no file."""
    if not cursor:
        return FilesCursor()
    try:
        if cursor.startswith(_CURSOR_PREFIX):
            cursor = zlib.decompress(base64.b64decode(cursor[len(_CURSOR_PREFIX) :])).decode()
        data = json.loads(cursor)
        tenants = data["tenants"]
        digests = {
            tenant: {table: str(value) for table, value in tables.items()}
            for tenant, tables in tenants.items()
            if isinstance(tables, dict)
        }
    except (ValueError, KeyError, TypeError, AttributeError, zlib.error):
        return FilesCursor()
    resume = data.get("resume_after")
    return FilesCursor(digests=digests, resume_after=resume if isinstance(resume, str) else None)


class FileLister:
    """``find_source_files``, remembered while the folders it looked through stay the same.

    Which files a set of globs matches depends only on the names in the folders under
    the root; a folder's modification time changes whenever a name is added, removed or
    renamed in it. So while every folder under the root keeps its modification time, the
    matched files are the same ones and only their size and modification time are read
    again (one ``stat`` each); otherwise the folder is listed again. A tree holding a
    symbolic link, or a folder modified in the last two seconds (a change within the
    file system's timestamp resolution could be missed), is always listed again.
    """

    RECENT_NS = 2_000_000_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[tuple[Path, tuple[str, ...]], tuple[tuple, list[tuple[Path, str]]]] = {}

    def files(self, root: Path, patterns: Sequence[str], signature: tuple | None) -> list[SourceFile]:
        key = (root, tuple(patterns))
        cached = self._cache.get(key) if signature is not None else None
        if cached is not None and cached[0] == signature:
            try:
                return [_stat_file(path, relative) for path, relative in cached[1]]
            except FileNotFoundError:
                pass  # removed between two folder listings: list again
        files = find_source_files(root, list(patterns))
        with self._lock:
            if signature is None:
                self._cache.pop(key, None)
            else:
                self._cache[key] = (signature, [(file.path, file.relative_path) for file in files])
        return files

    @classmethod
    def tree_signature(cls, root: Path) -> tuple | None:
        """Every folder under ``root`` with its modification time; ``None``: do not cache."""
        try:
            stat = os.stat(root)
        except (FileNotFoundError, NotADirectoryError):
            return ("missing",)
        recent = time.time_ns() - cls.RECENT_NS
        signature, folders = [], [(str(root), stat)]
        while folders:
            folder, stat = folders.pop()
            if stat.st_mtime_ns > recent:
                return None
            signature.append((folder, stat.st_mtime_ns, stat.st_ino))
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        if entry.is_symlink():
                            return None
                        if entry.is_dir(follow_symlinks=False):
                            folders.append((entry.path, entry.stat(follow_symlinks=False)))
            except OSError:
                return None
        return tuple(sorted(signature))


_LISTER = FileLister()


def _stat_file(path: Path, relative: str) -> SourceFile:
    stat = os.stat(path)
    modified = _EPOCH + dt.timedelta(microseconds=stat.st_mtime_ns // 1000)
    return SourceFile(path=path, relative_path=relative, size=stat.st_size, modified=modified)


def list_table_files(
    tenant_paths: TenantPaths,
    seeds_dir: Path,
    source: TableSource,
    signatures: dict[Path, tuple | None] | None = None,
    lister: FileLister = _LISTER,
) -> list[SourceFile]:
    """The files of one table of one tenant, as the bronze asset will read them.

    ``signatures`` memoizes each root's folder signature for one tick (one tenant's
    tables share its landing folder).
    """
    root = seeds_dir if source.origin == "seed" else tenant_paths.landing
    signatures = {} if signatures is None else signatures
    if root not in signatures:
        signatures[root] = FileLister.tree_signature(root)
    return lister.files(root, source.patterns, signatures[root])


def pending_files(tenant_paths: TenantPaths, table: str, files: Sequence[SourceFile]) -> list[SourceFile]:
    """The files of ``table`` the tenant's ledger has not seen processed in this version."""
    if not tenant_paths.ledger.is_file():  # never processed anything (and no ledger is created here)
        return list(files)
    changes = classify([file_version(file) for file in files], Ledger(tenant_paths.ledger).processed(table))
    pending = set(changes.new) | set(changes.changed)
    return [file for file in files if file.relative_path in pending]


def evaluate_new_files(
    index: TenantIndex,
    data_dir: Path,
    previous: FilesCursor,
    known_tenants: Collection[str],
    routing: TableRouting,
    budget_seconds: float | None = None,
) -> NewFilesEvaluation:
    """The runs to request for enabled tenants' new or changed files, and the next cursor.

    Tenants are visited in priority order, from the first one, or after
    ``previous.resume_after`` to finish a pass. With a ``budget_seconds``, the tick stops
    after the tenant that exhausted it (at least one tenant is always evaluated) and the
    cursor says where the next tick resumes; a quiet
    tick costs a few ``stat`` calls per tenant, so only the first pass over a large
    registry (every mapping parsed, every folder listed) is spread over several ticks.
    """
    started = time.monotonic()
    registry = index.registry()
    entries = sorted(
        (entry for entry in registry.enabled_tenants if entry.tenant_id in known_tenants),
        key=lambda entry: (entry.schedule_priority, entry.tenant_id),
    )
    enabled = len(entries)
    order = [entry.tenant_id for entry in entries]
    if previous.resume_after in order:  # finish the pass an earlier tick left unfinished
        entries = entries[order.index(previous.resume_after) + 1 :]
    cursor = FilesCursor(digests=dict(previous.digests))
    evaluation = NewFilesEvaluation(run_requests=[], cursor=cursor, tenants_enabled=enabled)
    requests: list[tuple[int, str, RunRequest]] = []
    for position, entry in enumerate(entries):
        request = _evaluate_tenant(
            index, data_dir, entry, registry.global_config, previous, routing, evaluation
        )
        evaluation.tenants_evaluated += 1
        if request is not None:
            requests.append((entry.schedule_priority, entry.tenant_id, request))
        spent = time.monotonic() - started + REQUEST_COST_SECONDS * len(requests)
        out_of_time = budget_seconds is not None and spent > budget_seconds
        if out_of_time and position < len(entries) - 1:
            cursor.resume_after = entry.tenant_id
            break
    evaluation.run_requests = [request for *_, request in sorted(requests, key=lambda item: item[:2])]
    return evaluation


def _evaluate_tenant(
    index: TenantIndex,
    data_dir: Path,
    entry: TenantEntry,
    global_config: GlobalConfig,
    previous: FilesCursor,
    routing: TableRouting,
    evaluation: NewFilesEvaluation,
) -> RunRequest | None:
    """Update the tenant's digests in the evaluation's cursor; its run request, if it has pending files."""
    tenant_id = entry.tenant_id
    sources, problems = index.table_sources(tenant_id)
    if problems:
        evaluation.problems[tenant_id] = problems
    tenant_paths = TenantPaths(data_dir, tenant_id)
    seeds_dir = index.config_dir / "tenants" / tenant_id / "seeds"
    before = previous.digests.get(tenant_id, {})
    current: dict[str, str] = {}
    pending: dict[str, list[SourceFile]] = {}
    signatures: dict[Path, tuple | None] = {}
    for table, source in sources.items():
        if table not in routing.assets_by_table:
            continue
        files = list_table_files(tenant_paths, seeds_dir, source, signatures)
        evaluation.files_seen += len(files)
        if not files:
            continue
        current[table] = digest_files(files)
        if before.get(table) != current[table]:
            waiting = pending_files(tenant_paths, table, files)
            if waiting:
                pending[table] = waiting
    evaluation.cursor.digests[tenant_id] = current
    if not pending:
        return None
    tables = sorted(pending)
    jobs = {routing.job_by_table.get(table, routing.fallback_job) for table in tables}
    state = hashlib.sha256(
        json.dumps(
            [[table, [[f.relative_path, f.fingerprint] for f in pending[table]]] for table in tables]
        ).encode()
    ).hexdigest()[:20]
    return RunRequest(
        run_key=f"new_files:{tenant_id}:{state}",
        job_name=jobs.pop() if len(jobs) == 1 else routing.fallback_job,
        partition_key=tenant_id,
        asset_selection=[key for table in tables for key in routing.assets_by_table[table]],
        tags=tenant_run_tags(
            entry,
            global_config,
            **{
                TRIGGER_TAG: "new_files",
                PENDING_FILES_TAG: str(sum(len(files) for files in pending.values())),
            },
        ),
    )


def build_new_files_sensor(
    config_dir: Path,
    data_dir: Path,
    known_tenants: Collection[str],
    routing: TableRouting,
    jobs: Sequence[UnresolvedAssetJobDefinition],
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
) -> SensorDefinition:
    known = frozenset(known_tenants)

    @sensor(
        name=NEW_FILES_SENSOR,
        jobs=list(jobs),
        minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
        default_status=default_status,
        description=(
            "Requests one run per enabled tenant with new or changed source files in its landing "
            "folder (or seeds), for exactly the tables whose files changed."
        ),
    )
    def new_files_sensor(context: SensorEvaluationContext):
        evaluation = evaluate_new_files(
            TenantIndex.shared(config_dir),
            data_dir,
            decode_cursor(context.cursor),
            known,
            routing,
            budget_seconds=TICK_BUDGET_SECONDS,
        )
        for tenant_id, problems in sorted(evaluation.problems.items()):
            context.log.warning(f"tenant {tenant_id}: mappings skipped: {'; '.join(problems)}")
        if not evaluation.complete:
            context.log.info(
                f"time budget used after {evaluation.tenants_evaluated} of {evaluation.tenants_enabled} "
                f"tenants; the next tick resumes after {evaluation.cursor.resume_after}"
            )
        cursor = encode_cursor(evaluation.cursor)
        if not evaluation.run_requests:
            return SensorResult(
                skip_reason=SkipReason(
                    f"no new or changed file among {evaluation.files_seen} "
                    f"({evaluation.tenants_evaluated} of {evaluation.tenants_enabled} tenants looked at)"
                ),
                cursor=cursor,
            )
        return SensorResult(run_requests=evaluation.run_requests, cursor=cursor)

    return new_files_sensor
