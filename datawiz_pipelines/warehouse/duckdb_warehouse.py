"""The embedded DuckDB warehouse, the default backend: one database file per tenant.

A tenant's tables live in ``data/warehouse/<database_name>.duckdb`` (schema ``main``), so
tenants never share a database and a query can only ever open its own tenant's file.

Tables have no PRIMARY KEY: DuckDB enforces one with an ART index, which makes bulk
loads slow and memory-hungry. Key uniqueness is guaranteed upstream by the silver
checks and, for incremental tables, by the delete-then-insert upsert on the keys.

DuckDB lets one process at a time open a file for writing, so every call opens its own
short-lived connection and waits briefly (bounded) while another process holds the lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from time import perf_counter, sleep

import duckdb
import polars as pl

from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.config.identifiers import check_identifier
from datawiz_pipelines.config.loader import Tenant
from datawiz_pipelines.sql_models.parsing import SqlModelError, starrocks_to_duckdb
from datawiz_pipelines.storage.tenant_paths import duckdb_warehouse_path
from datawiz_pipelines.warehouse import duckdb_models
from datawiz_pipelines.warehouse.base import (
    LoadMode,
    LoadResult,
    ModelResult,
    ProvisionReport,
    RowSecurityResult,
    SqlObjectType,
    Warehouse,
    WarehouseError,
    resolve_load_mode,
)
from datawiz_pipelines.warehouse.ddl import WarehouseColumn, warehouse_columns
from datawiz_pipelines.warehouse.row_security import RowSecurityPolicy, split_rls_view_name

LOCK_ATTEMPTS = 40
LOCK_FIRST_WAIT_S = 0.2
LOCK_MAX_WAIT_S = 3.0
"""Waits double up to this, so a load by a parallel step of the same tenant (about two
minutes at most in all) is waited for rather than failed."""
"""Waits double from here: 0.2 + 0.4 + 0.8 + 1.6 s before giving up on a locked file."""

_LOCK_CONFLICTS = (
    "Could not set lock on file",  # another process holds the file
    "different configuration than existing connections",  # this process has it open the other way
)
_INCOMING = '"_dw_incoming"'  # alias of the new rows; cannot clash with a catalog identifier


def _quote(name: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


class DuckDBWarehouse(Warehouse):
    """Embedded DuckDB warehouse under ``data_dir`` (the project data root)."""

    data_dir: str

    @property
    def backend(self) -> str:
        return "duckdb"

    def database_file(self, tenant: Tenant) -> Path:
        return duckdb_warehouse_path(Path(self.data_dir), tenant.entry.database_name)

    def provision(self, tenant: Tenant, tables: list[CatalogTable]) -> ProvisionReport:
        report = ProvisionReport()
        self.database_file(tenant).parent.mkdir(parents=True, exist_ok=True)
        with self._connect(tenant, read_only=False, create=True) as con:
            for table in tables:
                with self._failures(tenant, f"provisioning table {table.name!r}"), _transaction(con):
                    existing = _existing_columns(con, table.name)
                    if existing:
                        self._migrate(con, tenant, table, existing)
                        report.existing.append(table.name)
                    else:
                        con.execute(_create_table(table))
                        report.created.append(table.name)
        return report

    def load_table(
        self,
        tenant: Tenant,
        table: CatalogTable,
        silver_file: Path,
        *,
        load_id: str,
        mode: LoadMode | None = None,
    ) -> LoadResult:
        """One transaction per load, so a failure anywhere leaves the table as it was.

        ``replace``: CREATE OR REPLACE the table and fill it; other connections see the
        old table until the commit. ``upsert``: delete the rows whose keys arrive
        (a hash join), then insert the file's rows. ``None``: the table's load_mode decides.
        """
        mode = resolve_load_mode(table, mode)
        started = perf_counter()
        parameters = [str(silver_file)]
        doing = f"loading table {table.name!r} from {silver_file} (load {load_id}, {mode})"
        with self._connect(tenant, read_only=False) as con, self._failures(tenant, doing), _transaction(con):
            if mode == "replace":
                con.execute(_create_table(table, replace=True))
            else:
                con.execute(_delete_incoming_keys(table), parameters)
            con.execute(_insert_from_parquet(table), parameters)
            rows_loaded = con.rowcount
            if mode == "replace":
                rows_in_table = rows_loaded
            else:
                con.execute(f"SELECT count(*) FROM {_quote(table.name)}")
                (rows_in_table,) = con.fetchone()
        return LoadResult(
            database=tenant.entry.database_name,
            table=table.name,
            mode=mode,
            rows_loaded=rows_loaded,
            rows_in_table=rows_in_table,
            details={
                "duration_s": round(perf_counter() - started, 3),
                "database_file": self._relative_file(tenant),
                "load_id": load_id,
            },
        )

    def query(self, tenant: Tenant, sql: str) -> pl.DataFrame:
        """Read-only, with external access disabled: no ATTACH, no file reads, no extensions."""
        with self._connect(tenant, read_only=True) as con, self._failures(tenant, "query"):
            return con.sql(sql).pl()

    # -- SQL models (see duckdb_models.py for how each maps onto DuckDB) ----------------

    def create_or_replace_view(
        self, tenant: Tenant, name: str, select_sql: str, *, description: str = ""
    ) -> ModelResult:
        return self._build_model(tenant, name, "view", select_sql, description=description)

    def create_or_replace_materialized_view(
        self, tenant: Tenant, name: str, select_sql: str, *, description: str = "", refresh: str = "ASYNC"
    ) -> ModelResult:
        """A table built from ``select_sql``; rebuilt only when the query or refresh scheme changed."""

        def unchanged(previous: duckdb_models.Recorded | None) -> bool:
            return (
                previous is not None
                and previous.object_type == "materialized_view"
                and (previous.select_sql, previous.refresh) == (select_sql, refresh)
            )

        return self._build_model(
            tenant,
            name,
            "materialized_view",
            select_sql,
            description=description,
            refresh=refresh,
            keep_if=unchanged,
        )

    def refresh_materialized_view(self, tenant: Tenant, name: str) -> ModelResult:
        """Rebuild the table from its recorded query, in one transaction."""
        return self._build_model(tenant, name, "materialized_view", None, description="", action="refreshed")

    def replace_table_as(
        self, tenant: Tenant, name: str, select_sql: str, *, description: str = ""
    ) -> ModelResult:
        return self._build_model(tenant, name, "table", select_sql, description=description)

    def drop_model(self, tenant: Tenant, name: str, object_type: SqlObjectType) -> ModelResult:
        database = tenant.entry.database_name
        if not self.database_file(tenant).exists():
            return ModelResult(database, name, object_type, "absent")
        with self._connect(tenant, read_only=False) as con, self._failures(tenant, f"dropping {name!r}"):
            duckdb_models.ensure_registry(con)
            with _transaction(con):
                dropped = duckdb_models.drop(con, name)
        return ModelResult(database, name, object_type, "dropped" if dropped else "absent")

    def apply_row_level_security(self, tenant: Tenant, policy: RowSecurityPolicy) -> RowSecurityResult:
        """One view per role, stale role views of the relation dropped, all in one transaction."""
        wanted = {policy.view_name(role): role for role in policy.roles}
        bodies = {
            name: self._to_duckdb(tenant, name, policy.select_sql(role)) for name, role in wanted.items()
        }
        doing = f"applying row-level security to {policy.relation!r}"
        with self._connect(tenant, read_only=False) as con, self._failures(tenant, doing):
            duckdb_models.ensure_registry(con)
            with _transaction(con):
                dropped = []
                for name in duckdb_models.recorded_names(con, "view"):
                    parts = split_rls_view_name(name)
                    if parts and parts[1] == policy.relation and name not in wanted:
                        duckdb_models.drop(con, name)
                        dropped.append(name)
                for name, role in wanted.items():
                    self._make_room(con, tenant, name, "view")
                    con.execute(f"CREATE OR REPLACE VIEW {_quote(name)} AS {bodies[name]}")
                    territories = "all" if role.territories is None else ", ".join(role.territories)
                    description = f"{policy.relation} rows of territories {territories} (role {role.name})"
                    duckdb_models.comment(con, "view", name, description)
                    duckdb_models.record(con, name, "view", policy.select_sql(role), description=description)
            views = {name: duckdb_models.count(con, name) for name in wanted}
        return RowSecurityResult(
            database=tenant.entry.database_name,
            relation=policy.relation,
            views=views,
            dropped=dropped,
            details={
                "database_file": self._relative_file(tenant),
                "roles_and_grants": "none (DuckDB has no users)",
            },
        )

    def _build_model(
        self,
        tenant: Tenant,
        name: str,
        object_type: SqlObjectType,
        select_sql: str | None,
        *,
        description: str,
        refresh: str | None = None,
        action: str | None = None,
        keep_if: Callable[[duckdb_models.Recorded | None], bool] | None = None,
    ) -> ModelResult:
        """CREATE OR REPLACE the view or table in one transaction and record it.

        ``select_sql`` None: rebuild a materialized view from its recorded definition.
        ``keep_if(recorded)`` true: leave the object as it is (``unchanged``).
        """
        check_identifier(name)
        started = perf_counter()
        with self._connect(tenant, read_only=False) as con, self._failures(tenant, f"building {name!r}"):
            duckdb_models.ensure_registry(con)
            recorded = (
                duckdb_models.recorded(con, name) if duckdb_models.existing_physical(con, name) else None
            )
            if keep_if is not None and keep_if(recorded):
                return self._model_result(tenant, con, name, object_type, "unchanged")
            if select_sql is None:
                if recorded is None or recorded.object_type != "materialized_view":
                    raise WarehouseError(
                        f"{self._where(tenant)}: {name!r} is not a materialized view; "
                        "create it before refreshing it"
                    )
                select_sql, description, refresh = recorded.select_sql, recorded.description, recorded.refresh
            body = self._to_duckdb(tenant, name, select_sql)
            physical = duckdb_models.PHYSICAL[object_type]
            with _transaction(con):
                previous = self._make_room(con, tenant, name, object_type)
                con.execute(f"CREATE OR REPLACE {physical} {_quote(name)} AS {body}")
                duckdb_models.comment(con, object_type, name, description)
                duckdb_models.record(
                    con, name, object_type, select_sql, refresh=refresh, description=description
                )
            done = action or ("replaced" if previous else "created")
            return self._model_result(tenant, con, name, object_type, done, started=started)

    def _model_result(
        self,
        tenant: Tenant,
        con: duckdb.DuckDBPyConnection,
        name: str,
        object_type: SqlObjectType,
        action: str,
        *,
        started: float | None = None,
    ) -> ModelResult:
        details = {"database_file": self._relative_file(tenant)}
        if started is not None:
            details["duration_s"] = round(perf_counter() - started, 3)
        return ModelResult(
            database=tenant.entry.database_name,
            name=name,
            object_type=object_type,
            action=action,
            rows=None if object_type == "view" else duckdb_models.count(con, name),
            columns=duckdb_models.columns(con, name),
            details=details,
        )

    def _make_room(
        self, con: duckdb.DuckDBPyConnection, tenant: Tenant, name: str, object_type: SqlObjectType
    ) -> duckdb_models.Recorded | None:
        try:
            return duckdb_models.make_room(con, name, object_type)
        except duckdb_models.NotAModelError:
            raise WarehouseError(
                f"{self._where(tenant)}: {name!r} already exists and no SQL model created it "
                "(a catalog table?); give the model another name"
            ) from None

    def _to_duckdb(self, tenant: Tenant, name: str, select_sql: str) -> str:
        try:
            return starrocks_to_duckdb(select_sql)
        except SqlModelError as exc:
            raise WarehouseError(f"{self._where(tenant)}: model {name!r}: {exc}") from None

    def _migrate(
        self,
        con: duckdb.DuckDBPyConnection,
        tenant: Tenant,
        table: CatalogTable,
        existing: dict[str, tuple[str, bool]],
    ) -> None:
        """Add the columns the catalog gained; relax NOT NULL where the catalog now allows nulls.

        New columns are added nullable (existing rows have no value for them) and NOT NULL
        is never tightened on existing rows: silver checks enforce both for new rows, and a
        replace table takes the catalog's exact layout on its next load.
        """
        wanted = {column.name: column for column in warehouse_columns(table)}
        for name, (old_type, _) in existing.items():
            if name not in wanted:
                change = f"was removed from the catalog (it is {old_type} in the database)"
            elif (new_type := str(con.sqltype(wanted[name].type.duckdb))) != old_type:
                change = f"changed type in the catalog from {old_type} to {new_type}"
            else:
                continue
            raise WarehouseError(
                f"{self._where(tenant)}: table {table.name!r}, column {name!r} {change}; this is an "
                "incompatible change: migrate the table by hand (or drop it and reload it)"
            )
        for name, column in wanted.items():
            if name not in existing:
                con.execute(
                    f"ALTER TABLE {_quote(table.name)} ADD COLUMN {_quote(name)} {column.type.duckdb}"
                )
            elif column.nullable and not existing[name][1]:
                con.execute(f"ALTER TABLE {_quote(table.name)} ALTER COLUMN {_quote(name)} DROP NOT NULL")

    @contextmanager
    def _connect(
        self, tenant: Tenant, *, read_only: bool, create: bool = False
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection to the tenant's file, closed (and checkpointed) on exit."""
        if not create and not self.database_file(tenant).exists():
            raise WarehouseError(f"{self._where(tenant)}: the database does not exist; provision it first")
        con = self._open(tenant, read_only=read_only)
        try:
            # TIMESTAMP WITH TIME ZONE values in silver files must become UTC TIMESTAMPs,
            # not the host's local time.
            con.execute("SET TimeZone = 'UTC'")
            yield con
        finally:
            con.close()

    def _open(self, tenant: Tenant, *, read_only: bool) -> duckdb.DuckDBPyConnection:
        """Open the file, retrying with doubling waits while another connection holds its lock.

        Readers get no external access, so they cannot ATTACH or read any other file. Writers
        need not keep row order; without it DuckDB writes loaded row groups once, not again at
        the checkpoint on close (measured: loads about 2x faster, files smaller).
        """
        config = {"enable_external_access": False} if read_only else {"preserve_insertion_order": False}
        attempt, wait = 1, LOCK_FIRST_WAIT_S
        while True:
            try:
                return duckdb.connect(self.database_file(tenant), read_only=read_only, config=config)
            except (duckdb.IOException, duckdb.ConnectionException) as exc:
                if not any(conflict in str(exc) for conflict in _LOCK_CONFLICTS):
                    raise WarehouseError(f"{self._where(tenant)}: cannot open the database: {exc}") from exc
                if attempt == LOCK_ATTEMPTS:
                    raise WarehouseError(
                        f"{self._where(tenant)}: the database file is locked by another connection; "
                        f"gave up after {LOCK_ATTEMPTS} attempts: {exc}"
                    ) from exc
                sleep(wait)
                attempt, wait = attempt + 1, min(wait * 2, LOCK_MAX_WAIT_S)

    @contextmanager
    def _failures(self, tenant: Tenant, doing: str) -> Iterator[None]:
        """Turn DuckDB errors into WarehouseErrors naming tenant, database and what was done."""
        try:
            yield
        except duckdb.Error as exc:
            raise WarehouseError(f"{self._where(tenant)}: {doing} failed: {exc}") from exc

    def _relative_file(self, tenant: Tenant) -> str:
        return self.database_file(tenant).relative_to(self.data_dir).as_posix()

    def _where(self, tenant: Tenant) -> str:
        database = tenant.entry.database_name
        return f"tenant {tenant.tenant_id!r}, DuckDB database {database!r} ({self._relative_file(tenant)})"


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Commit on success, roll back on any error."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _existing_columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, tuple[str, bool]]:
    """Column name -> (DuckDB type, nullable) of ``main.<table>``; empty when it does not exist."""
    con.execute(
        "SELECT column_name, data_type, is_nullable FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ? "
        "ORDER BY column_index",
        [table],
    )
    return {name: (data_type, nullable) for name, data_type, nullable in con.fetchall()}


def _column_definition(column: WarehouseColumn) -> str:
    return f"{_quote(column.name)} {column.type.duckdb}{'' if column.nullable else ' NOT NULL'}"


def _create_table(table: CatalogTable, *, replace: bool = False) -> str:
    definitions = ",\n  ".join(_column_definition(column) for column in warehouse_columns(table))
    return f"CREATE {'OR REPLACE ' if replace else ''}TABLE {_quote(table.name)} (\n  {definitions}\n)"


def _select_incoming(columns: list[WarehouseColumn]) -> str:
    """The file's columns cast to their declared types; qualified so a missing one is named as such."""
    casts = ", ".join(
        f"CAST({_INCOMING}.{_quote(column.name)} AS {column.type.duckdb}) AS {_quote(column.name)}"
        for column in columns
    )
    return f"SELECT {casts} FROM read_parquet(?) AS {_INCOMING}"


def _insert_from_parquet(table: CatalogTable) -> str:
    columns = warehouse_columns(table)
    names = ", ".join(_quote(column.name) for column in columns)
    return f"INSERT INTO {_quote(table.name)} ({names}) {_select_incoming(columns)}"


def _delete_incoming_keys(table: CatalogTable) -> str:
    """DELETE ... USING: DuckDB runs it as a hash join of the table with the file's keys."""
    keys = [column for column in warehouse_columns(table) if column.name in table.keys]
    matches = " AND ".join(
        f"{_quote(table.name)}.{_quote(key.name)} = {_INCOMING}.{_quote(key.name)}" for key in keys
    )
    return f"DELETE FROM {_quote(table.name)} USING ({_select_incoming(keys)}) AS {_INCOMING} WHERE {matches}"
