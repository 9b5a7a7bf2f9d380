"""The production warehouse: one StarRocks database and user per tenant.

Provisioning runs as the admin (from this resource's config). Everything a
tenant's run does (Stream Load, staging tables, SWAP, queries) runs as the
tenant's own user with its own ``DB_PASSWORD``, so StarRocks' grants keep each
tenant inside its database even if our code had a bug. The tenant's
``database`` settings say where its database is served; provisioning refuses a
tenant whose settings point at another cluster than this resource administers.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path
from typing import Any

import polars as pl
import sqlglot
from dagster import InitResourceContext
from pydantic import Field, PrivateAttr, SecretStr
from sqlglot import exp
from sqlglot.errors import ParseError

from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.config.loader import Tenant
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
from datawiz_pipelines.warehouse.row_security import RowSecurityPolicy
from datawiz_pipelines.warehouse.starrocks import access, ddl
from datawiz_pipelines.warehouse.starrocks import sql_models as sr
from datawiz_pipelines.warehouse.starrocks.csv_chunks import SilverSchemaError, csv_chunks
from datawiz_pipelines.warehouse.starrocks.sql_client import Login, SqlPool, SqlPools
from datawiz_pipelines.warehouse.starrocks.stream_load import (
    ChunkLoad,
    RetryPolicy,
    StreamLoader,
    StreamLoadTarget,
    load_label,
)

log = logging.getLogger(__name__)

_ADMIN = "admin"
_CURRENT_VERSION_SQL = "SELECT current_version()"
"""One row, ``<major>.<minor>.<patch> <commit>`` (``3.5.21 7d0a8ce``)."""
MINIMUM_RELEASE = (3, 1)


class StarRocksWarehouse(Warehouse):
    """StarRocks over its MySQL protocol (``port``) and Stream Load (``http_port``)."""

    host: str = "127.0.0.1"
    port: int = 9030
    http_port: int = 8030
    admin_user: str = "root"
    admin_password: str = Field(default="", repr=False, description="use dagster.EnvVar in production")
    retry_backoff_seconds: float = Field(default=2.0, description="first pause before a retry; doubles")
    load_state_timeout_seconds: float = Field(
        default=60.0, description="how long to wait for a label another attempt left running"
    )

    _pools: SqlPools = PrivateAttr(default_factory=SqlPools)

    @property
    def backend(self) -> str:
        return "starrocks"

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        self.close()

    def close(self) -> None:
        """Close every pooled connection (Dagster calls this after each run)."""
        self._pools.close()

    # -- provisioning (admin) -------------------------------------------------

    def provision(self, tenant: Tenant, tables: list[CatalogTable]) -> ProvisionReport:
        self._check_cluster(tenant)
        report = ProvisionReport()
        admin = self._admin()
        self._check_version(admin)
        database, user = tenant.entry.database_name, tenant.entry.database_user
        password = self._password(tenant).get_secret_value()

        databases = admin.fetch("SELECT schema_name FROM information_schema.schemata").rows
        _record(report, f"database {database}", any(row[0] == database for row in databases))
        admin.execute(f"CREATE DATABASE IF NOT EXISTS {ddl.quote(database)}")

        user_exists = any(row[0] == access.account(user) for row in admin.fetch("SHOW USERS").rows)
        _record(report, f"user {access.account(user)}", user_exists)
        statement = access.ALTER_USER_SQL if user_exists else access.CREATE_USER_SQL
        admin.execute(statement, access.password_args(user, password))
        for grant in access.grant_statements(database, user):
            admin.execute(grant)
        grants = [row[-1] for row in admin.fetch(access.show_grants_sql(user)).rows]
        for revoke in access.revoke_statements(database, user, grants):
            log.info("tenant %s: %s", tenant.tenant_id, revoke)
            admin.execute(revoke)

        existing = self._existing_columns(admin, database)
        problems: list[str] = []
        for table in tables:
            columns = existing.get(table.name)
            if columns is None:
                admin.execute(ddl.create_table_sql(database, table, tenant.settings.warehouse.tables))
                report.created.append(f"table {database}.{table.name}")
                continue
            report.existing.append(f"table {database}.{table.name}")
            try:
                added = ddl.new_columns(table, columns)
            except ddl.SchemaChangeError as exc:
                problems.append(str(exc))
                continue
            if added:
                admin.execute(ddl.add_columns_sql(database, table, added))
                report.created += [f"column {database}.{table.name}.{c.name}" for c in added]
        if problems:
            raise ddl.SchemaChangeError(
                f"tenant {tenant.tenant_id}, database {database}: " + " | ".join(problems)
            )
        return report

    def _existing_columns(self, admin: SqlPool, database: str) -> dict[str, list[ddl.ExistingColumn]]:
        rows = admin.fetch(
            "SELECT table_name, column_name, column_type, is_nullable, column_key "
            "FROM information_schema.columns WHERE table_schema = %s "
            "ORDER BY table_name, ordinal_position",
            [database],
        ).rows
        tables: dict[str, list[ddl.ExistingColumn]] = {}
        for table, column, column_type, nullable, key in rows:
            tables.setdefault(table, []).append(
                ddl.ExistingColumn(column, column_type, nullable == "YES", bool(key))
            )
        return tables

    def _check_cluster(self, tenant: Tenant) -> None:
        served = tenant.settings.database
        mine = (self.host, self.port, self.http_port)
        if (served.host, served.port, served.http_port) != mine:
            raise WarehouseError(
                f"tenant {tenant.tenant_id} is configured for StarRocks at {served.host}:{served.port} "
                f"(http {served.http_port}) but this warehouse administers {self.host}:{self.port} "
                f"(http {self.http_port}); fix the tenant's database settings or the resource"
            )

    def _check_version(self, admin: SqlPool) -> None:
        """Refuse StarRocks before 3.1: its ``information_schema.columns`` says NOT NULL for every
        column (the schema check would see a change in every table) and it has no ``sys.role_edges``."""
        text = str(admin.fetch(_CURRENT_VERSION_SQL).rows[0][0])
        version = _release(text)
        if version is None:
            log.warning(
                "StarRocks at %s:%s reports version %r; assuming 3.1 or later", self.host, self.port, text
            )
        elif version < MINIMUM_RELEASE:
            raise WarehouseError(
                f"StarRocks at {self.host}:{self.port} is version {text.split()[0]}; this platform needs "
                f"{'.'.join(map(str, MINIMUM_RELEASE))} or later (before 3.1 information_schema.columns "
                "reports every column NOT NULL and there is no sys.role_edges)"
            )

    # -- loading and queries (the tenant's own user) ------------------------

    def load_table(
        self,
        tenant: Tenant,
        table: CatalogTable,
        silver_file: Path,
        *,
        load_id: str,
        mode: LoadMode | None = None,
    ) -> LoadResult:
        """``replace``: a staging table is loaded and swapped in. ``upsert``: rows are loaded
        straight into the PRIMARY KEY table, which replaces rows whose keys arrive."""
        mode = resolve_load_mode(table, mode)
        database = tenant.entry.database_name
        pool = self._tenant_pool(tenant)
        if mode == "upsert":
            loads, details = self._stream(tenant, table, table.name, silver_file), {}
        else:
            loads, staging = self._replace(tenant, table, silver_file, pool, load_id)
            details = {"staging_table": staging}
        count = pool.fetch(f"SELECT COUNT(*) FROM {ddl.qualified(database, table.name)}").rows[0][0]
        return LoadResult(
            database=database,
            table=table.name,
            mode=mode,
            rows_loaded=sum(_rows_loaded(load) for load in loads),
            rows_in_table=int(count),
            details={**details, **_details(loads)},
        )

    def _replace(
        self, tenant: Tenant, table: CatalogTable, silver_file: Path, pool: SqlPool, load_id: str
    ) -> tuple[list[ChunkLoad], str]:
        """Load a fresh staging table, check it, then SWAP it in; the old table is never touched
        before the SWAP, and the staging table (old rows after the SWAP) is dropped either way.

        The staging name is unique per attempt, and labels include it: a retry of a load
        whose earlier attempt already swapped must load again, not be told its labels exist.
        """
        database = tenant.entry.database_name
        staging = f"{table.name}__staging_{uuid.uuid4().hex[:12]}"
        self._drop_stale_staging(pool, database, table)
        log.info("tenant %s load %s: %s via %s", tenant.tenant_id, load_id, table.name, staging)
        pool.execute(
            ddl.create_table_sql(
                database, table, tenant.settings.warehouse.tables, name=staging, if_not_exists=False
            )
        )
        try:
            loads = self._stream(tenant, table, staging, silver_file)
            expected = sum(_rows_loaded(load) for load in loads)
            staged = pool.fetch(f"SELECT COUNT(*) FROM {ddl.qualified(database, staging)}").rows[0][0]
            if int(staged) != expected:
                raise WarehouseError(
                    f"tenant {tenant.tenant_id}, table {database}.{table.name}: staging holds {staged} "
                    f"rows but Stream Load loaded {expected} (repeated keys in the silver file?); "
                    "the table was not replaced"
                )
            pool.execute(
                f"ALTER TABLE {ddl.qualified(database, table.name)} SWAP WITH {ddl.quote(staging)}",
                repeatable=False,
            )
        finally:
            self._drop(pool, database, staging)
        self._reactivate(pool, database)
        return loads, staging

    def _reactivate(self, pool: SqlPool, database: str) -> list[str]:
        """Re-activate the materialized views a SWAP of a base table left inactive."""
        inactive = [row[0] for row in pool.fetch(sr.INACTIVE_MATERIALIZED_VIEWS_SQL, [database]).rows]
        for statement in sr.reactivate_statements(database, inactive):
            pool.execute(statement)
        return inactive

    def _drop_stale_staging(self, pool: SqlPool, database: str, table: CatalogTable) -> None:
        """Staging tables an interrupted earlier attempt left behind."""
        prefix = f"{table.name}__staging_"
        for (name,) in pool.fetch("SHOW TABLES").rows:
            if name.startswith(prefix):
                self._drop(pool, database, name)

    def _drop(self, pool: SqlPool, database: str, name: str) -> None:
        try:
            pool.execute(f"DROP TABLE IF EXISTS {ddl.qualified(database, name)}")
        except WarehouseError as exc:
            log.warning("could not drop %s.%s (drop it by hand): %s", database, name, exc)

    def _stream(self, tenant: Tenant, table: CatalogTable, target: str, silver_file: Path) -> list[ChunkLoad]:
        settings = tenant.settings.warehouse.stream_load
        mapping = tenant.mapping(table.name)
        version = mapping.version if mapping else 0
        columns = [column.name for column in ddl.warehouse_columns(table)]
        chunks = csv_chunks(
            silver_file,
            columns,
            chunk_rows=settings.chunk_rows,
            chunk_bytes=settings.chunk_bytes,
            compress=settings.compression == "gzip",
        )
        with closing(self._loader(tenant)) as loader, closing(chunks):
            try:
                return [
                    loader.load(
                        target, columns, chunk, load_label(tenant.tenant_id, target, version, chunk.digest)
                    )
                    for chunk in chunks
                ]
            except SilverSchemaError as exc:
                raise WarehouseError(
                    f"tenant {tenant.tenant_id}, table {table.name}: {silver_file}: {exc}"
                ) from None

    def query(self, tenant: Tenant, sql: str) -> pl.DataFrame:
        try:
            statements = sqlglot.parse(sql, read="starrocks")
        except ParseError as exc:
            raise WarehouseError(
                f"tenant {tenant.tenant_id}: query() could not parse the statement: {exc}"
            ) from None
        if len(statements) != 1 or not isinstance(statements[0], exp.Query | exp.Show | exp.Describe):
            raise WarehouseError(
                f"tenant {tenant.tenant_id}: query() runs one read-only statement (SELECT, SHOW, DESCRIBE)"
            )
        result = self._tenant_pool(tenant).fetch(sql)
        return pl.DataFrame(result.rows, schema=result.columns, orient="row", infer_schema_length=None)

    # -- SQL models (the tenant's own user; roles and grants as the admin) ------

    def create_or_replace_view(
        self, tenant: Tenant, name: str, select_sql: str, *, description: str = ""
    ) -> ModelResult:
        database, pool = tenant.entry.database_name, self._tenant_pool(tenant)
        existed = name in self._views(pool, database)
        pool.execute(sr.create_view_sql(database, name, select_sql, description=description))
        return self._model_result(
            pool, database, name, "view", "replaced" if existed else "created", rows=False
        )

    def create_or_replace_materialized_view(
        self, tenant: Tenant, name: str, select_sql: str, *, description: str = "", refresh: str = "ASYNC"
    ) -> ModelResult:
        database, pool = tenant.entry.database_name, self._tenant_pool(tenant)
        rows = pool.fetch(sr.MATERIALIZED_VIEW_COMMENT_SQL, [database, name]).rows
        existing = sr.fingerprint_in(rows[0][0]) if rows else None
        if rows and existing == sr.fingerprint(select_sql, refresh):
            return self._model_result(pool, database, name, "materialized_view", "unchanged")
        action, statements = sr.materialized_view_statements(
            database,
            name,
            select_sql,
            exists=bool(rows),
            existing_fingerprint=existing,
            staging=f"{name}__staging_{uuid.uuid4().hex[:12]}",
            refresh=refresh,
            description=description,
            replication_num=tenant.settings.warehouse.tables.replication_num,
        )
        for statement in statements:
            pool.execute(statement, repeatable=False)
        return self._model_result(pool, database, name, "materialized_view", action)  # type: ignore[arg-type]

    def refresh_materialized_view(self, tenant: Tenant, name: str) -> ModelResult:
        database, pool = tenant.entry.database_name, self._tenant_pool(tenant)
        pool.execute(sr.activate_materialized_view_sql(database, name))
        pool.execute(sr.refresh_materialized_view_sql(database, name), repeatable=False)
        return self._model_result(pool, database, name, "materialized_view", "refreshed")

    def replace_table_as(
        self, tenant: Tenant, name: str, select_sql: str, *, description: str = ""
    ) -> ModelResult:
        database, pool = tenant.entry.database_name, self._tenant_pool(tenant)
        exists = any(row[0] == name for row in pool.fetch("SHOW TABLES").rows)
        staging = f"{name}__staging_{uuid.uuid4().hex[:12]}"
        statements = sr.replace_table_statements(
            database,
            name,
            select_sql,
            exists=exists,
            staging=staging,
            description=description,
            replication_num=tenant.settings.warehouse.tables.replication_num,
        )
        try:
            for statement in statements:
                pool.execute(statement, repeatable=False)
        except WarehouseError:
            self._drop(pool, database, staging)
            raise
        reactivated = self._reactivate(pool, database)
        return self._model_result(
            pool,
            database,
            name,
            "table",
            "replaced" if exists else "created",
            details={"reactivated_materialized_views": reactivated},
        )

    def drop_model(self, tenant: Tenant, name: str, object_type: SqlObjectType) -> ModelResult:
        database, pool = tenant.entry.database_name, self._tenant_pool(tenant)
        exists = bool(pool.fetch(sr.MATERIALIZED_VIEW_COMMENT_SQL, [database, name]).rows)
        pool.execute(sr.drop_model_sql(database, name, object_type))
        return ModelResult(database, name, object_type, "dropped" if exists else "absent")

    def apply_row_level_security(self, tenant: Tenant, policy: RowSecurityPolicy) -> RowSecurityResult:
        database, pool = tenant.entry.database_name, self._tenant_pool(tenant)
        plan = sr.row_security_statements(
            database, tenant.tenant_id, policy, existing_views=self._views(pool, database)
        )
        for statement in plan.tenant:
            pool.execute(statement)
        admin = self._admin()
        users = {row[0] for row in admin.fetch("SHOW USERS").rows}
        missing: list[str] = []
        for statement in plan.admin:
            account = statement.rsplit(" TO ", 1)[-1].removeprefix("USER ").strip()
            if ("'@'" in account) and account not in users:
                if account not in missing:
                    missing.append(account)
                continue
            admin.execute(statement)
        if missing:
            log.warning(
                "tenant %s: row-level security on %s: users %s do not exist; their roles were not granted",
                tenant.tenant_id,
                policy.relation,
                ", ".join(missing),
            )
        stale_roles = self._drop_stale_roles(admin, tenant, plan.roles)
        revoked = self._revoke_stale_memberships(admin, tenant, policy)
        wanted = {policy.view_name(role) for role in policy.roles}
        counts = {
            view: int(pool.fetch(f"SELECT COUNT(*) FROM {sr.qualified(database, view)}").rows[0][0])
            for view in sorted(wanted)
        }
        dropped = [
            statement.rsplit(".", 1)[-1].strip("`")
            for statement in plan.tenant
            if statement.startswith("DROP VIEW")
        ]
        details: dict[str, Any] = {"roles": plan.roles}
        if missing:
            details["missing_users"] = missing
        if stale_roles:
            details["dropped_roles"] = stale_roles
        if revoked:
            details["revoked_memberships"] = revoked
        return RowSecurityResult(database, policy.relation, counts, dropped=dropped, details=details)

    def _drop_stale_roles(self, admin: SqlPool, tenant: Tenant, applied: Iterable[str]) -> list[str]:
        """Drop the tenant's StarRocks roles for RLS roles neither its configuration nor the
        policy just ``applied`` names (with them go their grants to users and views)."""
        configured = {*tenant.settings.row_level_security.roles, *applied}
        existing = [row[0] for row in admin.fetch(sr.SHOW_ROLES_SQL).rows]
        stale = sr.stale_roles(tenant.tenant_id, configured, existing)
        for role in stale:
            admin.execute(sr.drop_role_sql(role))
        if stale:
            log.info("tenant %s: dropped roles no longer configured: %s", tenant.tenant_id, ", ".join(stale))
        return stale

    def _revoke_stale_memberships(
        self, admin: SqlPool, tenant: Tenant, policy: RowSecurityPolicy
    ) -> dict[str, list[str]]:
        """Revoke the tenant's roles from the users neither its configuration nor ``policy``
        lists for them: granting alone would leave a user taken off a role reading its rows."""
        listed: dict[str, set[str]] = {
            name: set(role.users) for name, role in tenant.settings.row_level_security.roles.items()
        }
        for role in policy.roles:
            listed.setdefault(role.name, set()).update(role.users)
        edges = admin.fetch(sr.ROLE_EDGES_SQL).rows
        stale = sr.stale_memberships(tenant.tenant_id, listed, edges)
        for role, users in stale.items():
            for user in users:
                admin.execute(sr.revoke_role_sql(role, user))
            log.info("tenant %s: revoked role %s from %s", tenant.tenant_id, role, ", ".join(users))
        return stale

    def _views(self, pool: SqlPool, database: str) -> list[str]:
        return [row[0] for row in pool.fetch(sr.VIEWS_SQL, [database]).rows]

    def _model_result(
        self,
        pool: SqlPool,
        database: str,
        name: str,
        object_type: SqlObjectType,
        action: Any,
        *,
        rows: bool = True,
        details: dict[str, Any] | None = None,
    ) -> ModelResult:
        columns = pool.fetch(
            "SELECT column_name, column_type FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            [database, name],
        ).rows
        count = (
            int(pool.fetch(f"SELECT COUNT(*) FROM {sr.qualified(database, name)}").rows[0][0])
            if rows
            else None
        )
        return ModelResult(
            database,
            name,
            object_type,
            action,
            rows=count,
            columns=[(column, kind) for column, kind in columns],
            details=details or {},
        )

    # -- connections ----------------------------------------------------------

    def _admin(self) -> SqlPool:
        login = Login(_ADMIN, self.host, self.port, self.admin_user, SecretStr(self.admin_password))
        return self._pools.get(_ADMIN, login)

    def _tenant_pool(self, tenant: Tenant) -> SqlPool:
        served = tenant.settings.database
        login = Login(
            owner=f"tenant {tenant.tenant_id}",
            host=served.host,
            port=served.port,
            user=tenant.entry.database_user,
            password=self._password(tenant),
            database=tenant.entry.database_name,
        )
        return self._pools.get(f"tenant:{tenant.tenant_id}", login)

    def _loader(self, tenant: Tenant) -> StreamLoader:
        served = tenant.settings.database
        target = StreamLoadTarget(
            tenant_id=tenant.tenant_id,
            host=served.host,
            http_port=served.http_port,
            user=tenant.entry.database_user,
            password=self._password(tenant),
            database=tenant.entry.database_name,
        )
        retry = RetryPolicy(
            backoff_seconds=self.retry_backoff_seconds,
            poll_timeout_seconds=self.load_state_timeout_seconds,
        )
        return StreamLoader(target, tenant.settings.warehouse.stream_load, retry)

    @staticmethod
    def _password(tenant: Tenant) -> SecretStr:
        password = tenant.secrets.DB_PASSWORD
        if password is None:
            raise WarehouseError(
                f"tenant {tenant.tenant_id} has no DB_PASSWORD in {tenant.config_dir / '.env'}"
            )
        return password


def _record(report: ProvisionReport, item: str, existed: bool) -> None:
    (report.existing if existed else report.created).append(item)


def _rows_loaded(load: ChunkLoad) -> int:
    """Rows StarRocks took from the chunk; a chunk loaded by an earlier attempt counts as sent."""
    return load.rows_sent if load.loaded_rows is None else load.loaded_rows


def _details(loads: list[ChunkLoad]) -> dict[str, Any]:
    return {
        "labels": [load.label for load in loads],
        "chunks": len(loads),
        "bytes": sum(load.body_bytes for load in loads),
        "rows_per_load": [_rows_loaded(load) for load in loads],
        "filtered_rows": sum(load.filtered_rows for load in loads),
        "stream_loads": [load.as_details() for load in loads],
    }


def _release(version: str) -> tuple[int, int] | None:
    """(major, minor) of a ``current_version()`` answer, None if it does not start with one."""
    match = re.match(r"\s*v?(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else None
