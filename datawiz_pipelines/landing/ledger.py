"""The per-tenant file ledger: ``data/<tenant>/ledger.sqlite``.

One small SQLite file per tenant, inside the tenant's own folder, so no other tenant's
run can read or write it. Every change is one SQLite transaction (atomic and durable:
rollback journal, ``synchronous=FULL``), and parallel steps of the same run (several
tables' warehouse loads) wait for each other's short write transactions.

Tables:

``landing_files``
    every file seen in the landing folder: size, modification time, fingerprint, the
    blob and etag it came from (Azure), when and by which run it was first and last
    seen, when it changed, when it disappeared. Updated by every landing sync.
``blobs``
    the Azure mirror: which version (etag) of which blob produced which local files,
    or why a blob was refused (``problem``). Updated blob by blob during a sync.
``processed_files``
    per table, each source file whose rows reached the warehouse: its fingerprint,
    rows, mapping version, when and by which run it was first and last loaded, and
    whether it has since been deleted upstream. Written only after a warehouse load
    succeeded, so a failed run is simply redone by the next one.
``table_loads``
    per table, the last successful warehouse load: its transform signature (mapping,
    business rules, catalog definition, reference keys), mode and row count.
``backups``
    which version of which source file the backup asset has archived, and where.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

SCHEMA_VERSION = 1

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS landing_files (
        file TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        modified TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        blob_name TEXT,
        etag TEXT,
        first_seen_at TEXT NOT NULL,
        first_seen_run TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        last_seen_run TEXT NOT NULL,
        changed_at TEXT,
        deleted_at TEXT,
        deleted_run TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS blobs (
        blob_name TEXT PRIMARY KEY,
        etag TEXT NOT NULL,
        size INTEGER NOT NULL,
        last_modified TEXT NOT NULL,
        local_files TEXT NOT NULL,
        problem TEXT,
        synced_at TEXT NOT NULL,
        synced_run TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS processed_files (
        table_name TEXT NOT NULL,
        file TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        size INTEGER NOT NULL,
        modified TEXT NOT NULL,
        rows INTEGER,
        mapping_version INTEGER NOT NULL,
        first_processed_at TEXT NOT NULL,
        first_processed_run TEXT NOT NULL,
        processed_at TEXT NOT NULL,
        run_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('processed', 'deleted')),
        deleted_at TEXT,
        deleted_run TEXT,
        PRIMARY KEY (table_name, file)
    )""",
    """CREATE TABLE IF NOT EXISTS table_loads (
        table_name TEXT PRIMARY KEY,
        signature TEXT NOT NULL,
        mode TEXT NOT NULL,
        rows_in_table INTEGER NOT NULL,
        mapping_version INTEGER NOT NULL,
        loaded_at TEXT NOT NULL,
        run_id TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS backups (
        source TEXT NOT NULL,
        version TEXT NOT NULL,
        destination TEXT NOT NULL,
        archived_at TEXT NOT NULL,
        run_id TEXT NOT NULL,
        PRIMARY KEY (source, version)
    )""",
)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class FileVersion:
    """One version of one source file, as bronze saw it (JSON-friendly, for manifests)."""

    file: str
    """Path relative to the landing (or seeds) folder: what ``_dw_source_file`` records."""
    size: int
    modified: str
    """ISO-8601 UTC modification time."""
    fingerprint: str
    rows: int | None = None

    def to_json(self) -> dict:
        return {
            "file": self.file,
            "size": self.size,
            "modified": self.modified,
            "fingerprint": self.fingerprint,
            "rows": self.rows,
        }

    @classmethod
    def from_json(cls, data: dict) -> FileVersion:
        return cls(data["file"], data["size"], data["modified"], data["fingerprint"], data.get("rows"))


@dataclass(frozen=True)
class ProcessedFile:
    table: str
    file: str
    fingerprint: str
    size: int
    modified: str
    rows: int | None
    mapping_version: int
    first_processed_at: str
    first_processed_run: str
    processed_at: str
    run_id: str


@dataclass(frozen=True)
class TableLoad:
    table: str
    signature: str
    mode: str
    rows_in_table: int
    mapping_version: int
    loaded_at: str
    run_id: str


@dataclass(frozen=True)
class MirroredBlob:
    """The version of a blob the landing folder mirrors, and the local files it became."""

    name: str
    etag: str
    size: int
    last_modified: str
    local_files: list[str] = field(default_factory=list)
    problem: str | None = None
    """Why the blob was refused (unsafe or oversized archive); it is retried once it changes."""


@dataclass(frozen=True)
class LandingChanges:
    """What one landing scan found compared with the previous one."""

    new: list[str]
    changed: list[str]
    deleted: list[str]
    unchanged: int


class Ledger:
    """The ledger file at ``path`` (created on first use)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            con.execute("PRAGMA synchronous = FULL")
            con.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                if con.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                    if not write:  # a reader of a fresh ledger: nothing recorded yet
                        con.execute("ROLLBACK")
                        con.execute("BEGIN IMMEDIATE")
                    for statement in _SCHEMA:
                        con.execute(statement)
                    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.close()

    # -- what reached the warehouse ----------------------------------------------------

    def processed(self, table: str) -> dict[str, ProcessedFile]:
        """The table's files whose current rows are in the warehouse (deleted ones excluded)."""
        with self._transaction(write=False) as con:
            rows = con.execute(
                "SELECT table_name, file, fingerprint, size, modified, rows, mapping_version, "
                "first_processed_at, first_processed_run, processed_at, run_id "
                "FROM processed_files WHERE table_name = ? AND status = 'processed' ORDER BY file",
                [table],
            ).fetchall()
        return {row[1]: ProcessedFile(*row) for row in rows}

    def deleted(self, table: str) -> dict[str, str]:
        """File -> when it was found deleted upstream, for files the table once loaded."""
        with self._transaction(write=False) as con:
            rows = con.execute(
                "SELECT file, deleted_at FROM processed_files WHERE table_name = ? AND status = 'deleted'",
                [table],
            ).fetchall()
        return dict(rows)

    def last_load(self, table: str) -> TableLoad | None:
        with self._transaction(write=False) as con:
            row = con.execute(
                "SELECT table_name, signature, mode, rows_in_table, mapping_version, loaded_at, run_id "
                "FROM table_loads WHERE table_name = ?",
                [table],
            ).fetchone()
        return TableLoad(*row) if row else None

    def record_load(
        self,
        table: str,
        *,
        files: Sequence[FileVersion],
        loaded: Sequence[str],
        deleted: Sequence[str],
        signature: str,
        mode: str,
        rows_in_table: int,
        mapping_version: int,
        run_id: str,
    ) -> None:
        """After a successful warehouse load: ``files`` are the table's current files,
        ``loaded`` those whose rows this load (re)wrote, ``deleted`` those gone upstream."""
        at = now()
        loaded_set = set(loaded)
        with self._transaction(write=True) as con:
            for version in files:
                fresh = version.file in loaded_set
                con.execute(
                    """INSERT INTO processed_files (table_name, file, fingerprint, size, modified, rows,
                           mapping_version, first_processed_at, first_processed_run, processed_at, run_id,
                           status, deleted_at, deleted_run)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'processed', NULL, NULL)
                       ON CONFLICT (table_name, file) DO UPDATE SET
                           fingerprint = excluded.fingerprint, size = excluded.size,
                           modified = excluded.modified, rows = excluded.rows,
                           mapping_version = excluded.mapping_version,
                           first_processed_at = CASE WHEN processed_files.status = 'deleted'
                               THEN excluded.first_processed_at ELSE processed_files.first_processed_at END,
                           first_processed_run = CASE WHEN processed_files.status = 'deleted'
                               THEN excluded.first_processed_run ELSE processed_files.first_processed_run END,
                           processed_at = CASE WHEN ? THEN excluded.processed_at
                               ELSE processed_files.processed_at END,
                           run_id = CASE WHEN ? THEN excluded.run_id ELSE processed_files.run_id END,
                           status = 'processed', deleted_at = NULL, deleted_run = NULL""",
                    [
                        table,
                        version.file,
                        version.fingerprint,
                        version.size,
                        version.modified,
                        version.rows,
                        mapping_version,
                        at,
                        run_id,
                        at,
                        run_id,
                        fresh,
                        fresh,
                    ],
                )
            for file in deleted:
                con.execute(
                    "UPDATE processed_files SET status = 'deleted', deleted_at = ?, deleted_run = ? "
                    "WHERE table_name = ? AND file = ? AND status = 'processed'",
                    [at, run_id, table, file],
                )
            con.execute(
                """INSERT INTO table_loads (table_name, signature, mode, rows_in_table, mapping_version,
                       loaded_at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (table_name) DO UPDATE SET signature = excluded.signature,
                       mode = excluded.mode, rows_in_table = excluded.rows_in_table,
                       mapping_version = excluded.mapping_version, loaded_at = excluded.loaded_at,
                       run_id = excluded.run_id""",
                [table, signature, mode, rows_in_table, mapping_version, at, run_id],
            )

    # -- what the landing folder holds -------------------------------------------------

    def landing_files(self) -> dict[str, dict]:
        """Files currently in the landing folder as of the last scan (deleted ones excluded)."""
        with self._transaction(write=False) as con:
            con.row_factory = sqlite3.Row
            rows = con.execute(
                "SELECT * FROM landing_files WHERE deleted_at IS NULL ORDER BY file"
            ).fetchall()
        return {row["file"]: dict(row) for row in rows}

    def record_landing_scan(
        self, files: Sequence[FileVersion], origins: dict[str, tuple[str, str]], run_id: str
    ) -> LandingChanges:
        """Record what the landing folder holds now; ``origins``: file -> (blob name, etag)."""
        at = now()
        new, changed, unchanged = [], [], 0
        with self._transaction(write=True) as con:
            known = dict(
                con.execute("SELECT file, fingerprint FROM landing_files WHERE deleted_at IS NULL").fetchall()
            )
            for version in files:
                blob, etag = origins.get(version.file, (None, None))
                seen = {
                    "file": version.file,
                    "size": version.size,
                    "modified": version.modified,
                    "fingerprint": version.fingerprint,
                    "blob_name": blob,
                    "etag": etag,
                    "at": at,
                    "run": run_id,
                }
                previous = known.pop(version.file, None)
                if previous is None:
                    new.append(version.file)
                    con.execute(
                        """INSERT INTO landing_files (file, size, modified, fingerprint, blob_name, etag,
                               first_seen_at, first_seen_run, last_seen_at, last_seen_run, changed_at,
                               deleted_at, deleted_run)
                           VALUES (:file, :size, :modified, :fingerprint, :blob_name, :etag,
                               :at, :run, :at, :run, NULL, NULL, NULL)
                           ON CONFLICT (file) DO UPDATE SET size = excluded.size,
                               modified = excluded.modified, fingerprint = excluded.fingerprint,
                               blob_name = excluded.blob_name, etag = excluded.etag,
                               first_seen_at = excluded.first_seen_at,
                               first_seen_run = excluded.first_seen_run,
                               last_seen_at = excluded.last_seen_at, last_seen_run = excluded.last_seen_run,
                               changed_at = NULL, deleted_at = NULL, deleted_run = NULL""",
                        seen,
                    )
                    continue
                if previous != version.fingerprint:
                    changed.append(version.file)
                else:
                    unchanged += 1
                con.execute(
                    """UPDATE landing_files SET size = :size, modified = :modified,
                           fingerprint = :fingerprint, blob_name = :blob_name, etag = :etag,
                           last_seen_at = :at, last_seen_run = :run,
                           changed_at = CASE WHEN fingerprint != :fingerprint THEN :at ELSE changed_at END
                       WHERE file = :file""",
                    seen,
                )
            deleted = sorted(known)
            for file in deleted:
                con.execute(
                    "UPDATE landing_files SET deleted_at = ?, deleted_run = ? WHERE file = ?",
                    [at, run_id, file],
                )
        return LandingChanges(new=new, changed=changed, deleted=deleted, unchanged=unchanged)

    # -- the Azure mirror --------------------------------------------------------------

    def blobs(self) -> dict[str, MirroredBlob]:
        with self._transaction(write=False) as con:
            rows = con.execute(
                "SELECT blob_name, etag, size, last_modified, local_files, problem FROM blobs"
            ).fetchall()
        return {
            name: MirroredBlob(name, etag, size, modified, json.loads(files), problem)
            for name, etag, size, modified, files, problem in rows
        }

    def record_blob(self, blob: MirroredBlob, run_id: str) -> None:
        with self._transaction(write=True) as con:
            con.execute(
                """INSERT INTO blobs (blob_name, etag, size, last_modified, local_files, problem,
                       synced_at, synced_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (blob_name) DO UPDATE SET etag = excluded.etag, size = excluded.size,
                       last_modified = excluded.last_modified, local_files = excluded.local_files,
                       problem = excluded.problem, synced_at = excluded.synced_at,
                       synced_run = excluded.synced_run""",
                [
                    blob.name,
                    blob.etag,
                    blob.size,
                    blob.last_modified,
                    json.dumps(blob.local_files),
                    blob.problem,
                    now(),
                    run_id,
                ],
            )

    def forget_blob(self, name: str) -> None:
        with self._transaction(write=True) as con:
            con.execute("DELETE FROM blobs WHERE blob_name = ?", [name])

    # -- backups -----------------------------------------------------------------------

    def archived(self) -> set[tuple[str, str]]:
        """(source, version) pairs already archived by the backup asset."""
        with self._transaction(write=False) as con:
            return {tuple(row) for row in con.execute("SELECT source, version FROM backups").fetchall()}

    def record_backup(self, source: str, version: str, destination: str, run_id: str) -> None:
        with self._transaction(write=True) as con:
            con.execute(
                "INSERT OR REPLACE INTO backups (source, version, destination, archived_at, run_id) "
                "VALUES (?, ?, ?, ?, ?)",
                [source, version, destination, now(), run_id],
            )

    def processed_anywhere(self) -> dict[str, set[str]]:
        """File -> the fingerprints of it that some table loaded (still current, not deleted)."""
        with self._transaction(write=False) as con:
            rows = con.execute(
                "SELECT file, fingerprint FROM processed_files WHERE status = 'processed'"
            ).fetchall()
        found: dict[str, set[str]] = {}
        for file, fingerprint in rows:
            found.setdefault(file, set()).add(fingerprint)
        return found
