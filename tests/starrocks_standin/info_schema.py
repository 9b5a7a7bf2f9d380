"""``information_schema`` (and the SHOW / DESCRIBE statements mysql-mimic maps onto it), and
StarRocks' ``sys`` views.

Rows are the StarRocks ones: ``column_type`` like ``varchar(20)``, ``int(11)``,
``tinyint(1)`` (BOOLEAN) or ``decimal64(18, 2)``, ``column_key`` PRI or DUP on key
columns; a user sees only the databases and tables it has rights in. Of ``sys``
(StarRocks 3.1+) only ``role_edges`` is there, readable by the admin only, as only
``user_admin`` may read it by default. Queries run in a throwaway DuckDB holding these rows.
"""

from __future__ import annotations

import duckdb
import polars as pl
from mysql_mimic.results import AllowedResult
from mysql_mimic.schema import BaseInfoSchema
from sqlglot import exp

from .catalog import Catalog, Column, Table, View
from .errors import unknown_table
from .privileges import Privileges
from .values import STRING_BYTES

_DISPLAY_WIDTHS = {"TINYINT": 4, "SMALLINT": 6, "INT": 11, "BIGINT": 20}
_MYSQL_TYPES = {
    "BOOLEAN": ("tinyint", "tinyint(1)"),
    "LARGEINT": ("bigint unsigned", "bigint(20) unsigned"),
    "STRING": ("varchar", f"varchar({STRING_BYTES})"),
}
_DDL = {
    "schemata": "catalog_name VARCHAR, schema_name VARCHAR, default_character_set_name VARCHAR, "
    "default_collation_name VARCHAR, sql_path VARCHAR",
    "tables": "table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, table_type VARCHAR, "
    "engine VARCHAR, table_rows BIGINT, table_comment VARCHAR",
    "columns": "table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, column_name VARCHAR, "
    "ordinal_position BIGINT, column_default VARCHAR, is_nullable VARCHAR, data_type VARCHAR, "
    "column_type VARCHAR, column_key VARCHAR, extra VARCHAR, column_comment VARCHAR",
    "views": "table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, view_definition VARCHAR",
    "materialized_views": "materialized_view_id VARCHAR, table_schema VARCHAR, table_name VARCHAR, "
    "refresh_type VARCHAR, is_active VARCHAR, inactive_reason VARCHAR, table_rows BIGINT, "
    "materialized_view_definition VARCHAR",
}
_SYS_DDL = {"role_edges": "FROM_ROLE VARCHAR, TO_ROLE VARCHAR, TO_USER VARCHAR"}


def column_type(column: Column) -> tuple[str, str]:
    """(data_type, column_type) as StarRocks' information_schema spells them (3.x FE,
    ``ScalarType.toMysqlDataTypeString`` / ``toMysqlColumnTypeString``): BOOLEAN and LARGEINT
    in MySQL's words, DECIMAL(p,s) as the DECIMAL32/64/128 that stores it."""
    base = column.base
    if base in _MYSQL_TYPES:
        return _MYSQL_TYPES[base]
    if base == "DECIMAL":
        precision, scale = column.params()
        storage = "decimal32" if precision <= 9 else "decimal64" if precision <= 18 else "decimal128"
        return "decimal", f"{storage}({precision}, {scale})"
    if base in _DISPLAY_WIDTHS:
        return base.lower(), f"{base.lower()}({_DISPLAY_WIDTHS[base]})"
    return base.lower(), column.type.lower().replace(" ", "")


class StarRocksInfoSchema(BaseInfoSchema):
    def __init__(self, catalog: Catalog, privileges: Privileges, user: str):
        self.catalog, self.privileges, self.user = catalog, privileges, user

    def _visible(self) -> list[Table]:
        with self.catalog.lock:
            return [
                table
                for database, tables in sorted(self.catalog.databases.items())
                if self.privileges.sees_database(self.user, database)
                for table in tables.values()
                if self.privileges.sees_table(self.user, database, table.name)
            ]

    def _visible_views(self) -> list[tuple[View, list[tuple[str, str]]]]:
        """Views and materialized views the user has rights on, with (column, DuckDB type)."""
        with self.catalog.lock:
            return [
                (view, self._described(view))
                for database, views in sorted(self.catalog.views.items())
                if self.privileges.sees_database(self.user, database)
                for view in sorted(views.values(), key=lambda v: v.name)
                if self.privileges.sees_table(self.user, database, view.name, view.kind)
            ]

    def _described(self, view: View) -> list[tuple[str, str]]:
        """A view whose base tables no longer fit its query has no columns to show."""
        try:
            return [(c[0], c[1]) for c in self.catalog.duck.execute(f"DESCRIBE {view.duck_name}").fetchall()]
        except duckdb.Error:
            return []

    def _rows(self) -> dict[str, list[tuple]]:
        tables = self._visible()
        views = self._visible_views()
        with self.catalog.lock:
            databases = [
                d for d in sorted(self.catalog.databases) if self.privileges.sees_database(self.user, d)
            ]
        columns = []
        for table in tables:
            for position, column in enumerate(table.columns, start=1):
                data_type, full_type = column_type(column)
                key = ("PRI" if table.key_model == "PRIMARY" else "DUP") if column.name in table.keys else ""
                columns.append(
                    (
                        "def",
                        table.database,
                        table.name,
                        column.name,
                        position,
                        None,
                        "YES" if column.nullable else "NO",
                        data_type,
                        full_type,
                        key,
                        "",
                        "",
                    )
                )
        view_columns = []
        for view, described in views:
            for position, (name, duck_type) in enumerate(described, start=1):
                starrocks = Column(
                    name, exp.DataType.build(duck_type, dialect="duckdb").sql("starrocks"), True
                )
                data_type, full_type = column_type(starrocks)
                view_columns.append(
                    (
                        "def",
                        view.database,
                        view.name,
                        name,
                        position,
                        None,
                        "YES",
                        data_type,
                        full_type,
                        "",
                        "",
                        "",
                    )
                )
        return {
            "views": [("def", v.database, v.name, v.select_sql) for v, _ in views if v.kind == "VIEW"],
            "materialized_views": [
                (
                    f"{v.database}.{v.name}",
                    v.database,
                    v.name,
                    "MANUAL" if v.refresh.startswith("MANUAL") else "ASYNC",
                    "true" if v.active else "false",
                    v.inactive_reason,
                    None,
                    v.select_sql,
                )
                for v, _ in views
                if v.kind == "MATERIALIZED VIEW"
            ],
            "schemata": [
                ("def", name, "utf8", "utf8_general_ci", None) for name in ["information_schema", *databases]
            ],
            "tables": [("def", t.database, t.name, "BASE TABLE", "StarRocks", None, "") for t in tables]
            + [
                (
                    "def",
                    v.database,
                    v.name,
                    "VIEW",
                    "MATERIALIZED_VIEW" if v.kind != "VIEW" else "",
                    None,
                    v.comment,
                )
                for v, _ in views
            ],
            "columns": columns + view_columns,
        }

    async def query(self, expression: exp.Expression) -> AllowedResult:
        return _query_rows(expression, "information_schema", _DDL, self._rows())


def query_sys(privileges: Privileges, user: str, expression: exp.Expression) -> AllowedResult:
    """A query on ``sys`` views: each needs SELECT on it, which only the admin has."""
    for table in expression.find_all(exp.Table):
        if table.db.lower() == "sys":
            if table.name.lower() not in _SYS_DDL:
                raise unknown_table("sys", table.name)
            privileges.require(user, "TABLE", "sys", table.name.lower(), "SELECT")
    return _query_rows(expression, "sys", _SYS_DDL, {"role_edges": privileges.role_edges()})


def _query_rows(
    expression: exp.Expression, database: str, ddl: dict[str, str], rows: dict[str, list[tuple]]
) -> AllowedResult:
    """``expression`` run in a throwaway DuckDB where ``database``'s tables (columns as in
    ``ddl``) hold ``rows``."""
    schema = f"sr_{database}"

    def local(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.db.lower() == database:
            node = node.copy()
            node.set("db", exp.to_identifier(schema))
            node.set("catalog", None)
        return node

    sql = expression.transform(local).sql(dialect="duckdb")
    with duckdb.connect(":memory:") as duck:
        duck.execute(f"CREATE SCHEMA {schema}")
        for name, table_rows in rows.items():
            duck.execute(f"CREATE TABLE {schema}.{name} ({ddl[name]})")
            if table_rows:
                # One Arrow insert: DuckDB's executemany inserts row by row, which is slow.
                names = [part.split()[0] for part in ddl[name].split(", ")]
                types = [
                    pl.Int64 if part.split()[1] == "BIGINT" else pl.Utf8 for part in ddl[name].split(", ")
                ]
                frame = pl.DataFrame(table_rows, schema=dict(zip(names, types, strict=True)), orient="row")
                duck.register("__rows__", frame.to_arrow())
                duck.execute(f"INSERT INTO {schema}.{name} SELECT * FROM __rows__")
                duck.unregister("__rows__")
        cursor = duck.execute(sql)
        return cursor.fetchall(), [d[0] for d in cursor.description]
