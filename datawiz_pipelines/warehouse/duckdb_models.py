"""SQL models in a tenant's DuckDB file: the statements behind DuckDBWarehouse's model methods.

DuckDB has views but no materialized views, users or grants, so:

* a view is a view;
* a materialized view is a table built from its query and rebuilt on refresh, in one
  transaction (readers see the old rows until the commit, as after a StarRocks swap);
  its query and refresh scheme are kept so ``refresh_materialized_view`` can rebuild
  it by name, and so an unchanged definition is not rebuilt;
* a derived table is a table rebuilt the same way;
* row-level security is the same per-role views as on StarRocks, without roles or
  grants: whoever opens the file can read every table.

Every object a model creates is recorded in ``_datawiz.sql_models`` (a schema of its
own, so ``main`` holds only warehouse tables and models), and only recorded objects are
ever replaced or dropped: a model can never overwrite a catalog table.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

SCHEMA = '"_datawiz"'
TABLE = f'{SCHEMA}."sql_models"'
PHYSICAL = {"view": "VIEW", "materialized_view": "TABLE", "table": "TABLE"}


@dataclass(frozen=True)
class Recorded:
    name: str
    object_type: str
    select_sql: str
    refresh: str | None
    description: str


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def string_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def ensure_registry(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        "name VARCHAR PRIMARY KEY, object_type VARCHAR NOT NULL, select_sql VARCHAR NOT NULL, "
        "refresh VARCHAR, description VARCHAR, built_at TIMESTAMP NOT NULL)"
    )


def recorded(con: duckdb.DuckDBPyConnection, name: str) -> Recorded | None:
    con.execute(
        f"SELECT name, object_type, select_sql, refresh, description FROM {TABLE} WHERE name = ?", [name]
    )
    row = con.fetchone()
    return Recorded(*row) if row else None


def recorded_names(con: duckdb.DuckDBPyConnection, object_type: str) -> list[str]:
    con.execute(f"SELECT name FROM {TABLE} WHERE object_type = ? ORDER BY name", [object_type])
    return [name for (name,) in con.fetchall()]


def record(
    con: duckdb.DuckDBPyConnection,
    name: str,
    object_type: str,
    select_sql: str,
    *,
    refresh: str | None = None,
    description: str = "",
) -> None:
    con.execute(
        f"INSERT OR REPLACE INTO {TABLE} VALUES (?, ?, ?, ?, ?, now()::TIMESTAMP)",
        [name, object_type, select_sql, refresh, description],
    )


def forget(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute(f"DELETE FROM {TABLE} WHERE name = ?", [name])


def existing_physical(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """``VIEW`` or ``TABLE`` when ``main.<name>`` exists."""
    con.execute(
        "SELECT table_type FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_schema = 'main' AND table_name = ?",
        [name],
    )
    row = con.fetchone()
    if row is None:
        return None
    return "VIEW" if row[0] == "VIEW" else "TABLE"


class NotAModelError(Exception):
    """An object of that name exists in ``main`` and no SQL model created it."""


def make_room(con: duckdb.DuckDBPyConnection, name: str, object_type: str) -> Recorded | None:
    """Prepare ``name`` to become ``object_type``; returns what it was, if a model made it.

    An object of another physical kind (a view where a table is wanted, or the other
    way round) is dropped first, but only if a model created it.
    """
    physical = existing_physical(con, name)
    previous = recorded(con, name)
    if physical is None:
        return None
    if previous is None:
        raise NotAModelError(name)
    if physical != PHYSICAL[object_type]:
        con.execute(f"DROP {physical} {quote(name)}")
    return previous


def drop(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Drop a recorded model object; False when there is none."""
    previous = recorded(con, name)
    if previous is None:
        return False
    physical = existing_physical(con, name)
    if physical is not None:
        con.execute(f"DROP {physical} {quote(name)}")
    forget(con, name)
    return physical is not None


def comment(con: duckdb.DuckDBPyConnection, object_type: str, name: str, description: str) -> None:
    if description:
        con.execute(f"COMMENT ON {PHYSICAL[object_type]} {quote(name)} IS {string_literal(description)}")


def columns(con: duckdb.DuckDBPyConnection, name: str) -> list[tuple[str, str]]:
    con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ? ORDER BY column_index",
        [name],
    )
    return [(column, data_type) for column, data_type in con.fetchall()]


def count(con: duckdb.DuckDBPyConnection, name: str) -> int:
    con.execute(f"SELECT count(*) FROM {quote(name)}")
    (rows,) = con.fetchone()
    return int(rows)
