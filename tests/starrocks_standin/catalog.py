"""Databases and tables: StarRocks metadata kept here, rows kept in DuckDB.

Each StarRocks database is its own DuckDB database (``ATTACH ':memory:' AS db``)
inside one in-process DuckDB, so statements can name ``db.table`` as in StarRocks.
Writes follow the table's key model: PRIMARY KEY tables upsert (the last row of a
load wins for a repeated key), DUPLICATE KEY tables append.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import duckdb
import polars as pl
from sqlglot import exp

from .errors import StarRocksError, unknown_database, unknown_table


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    """StarRocks spelling, e.g. ``VARCHAR(20)``, ``DECIMAL(18,2)``, ``STRING``."""
    nullable: bool

    @property
    def data_type(self) -> exp.DataType:
        return exp.DataType.build(self.type, dialect="starrocks")

    @property
    def duckdb_type(self) -> str:
        return self.data_type.sql("duckdb")

    @property
    def base(self) -> str:
        return re.sub(r"\(.*", "", self.type).upper()

    def params(self) -> list[int]:
        return [int(p) for p in re.findall(r"\d+", self.type)]


@dataclass
class Table:
    database: str
    name: str
    columns: list[Column]
    key_model: str
    """``PRIMARY`` or ``DUPLICATE``."""
    keys: list[str]

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def duck_name(self) -> str:
        return f'"{self.database}"."main"."{self.name}"'


@dataclass
class View:
    """A view or an asynchronous materialized view. A view is a DuckDB view; a materialized
    view is a DuckDB table rebuilt from ``duck_sql`` on REFRESH."""

    database: str
    name: str
    kind: str
    """``VIEW`` or ``MATERIALIZED VIEW``."""
    select_sql: str
    """The definition as sent (StarRocks SQL)."""
    duck_sql: str
    """The definition in DuckDB SQL, every table qualified."""
    reads: frozenset[tuple[str, str]]
    """(database, name) of every object the query reads."""
    comment: str = ""
    refresh: str = ""
    active: bool = True
    inactive_reason: str = ""

    @property
    def duck_name(self) -> str:
        return f'"{self.database}"."main"."{self.name}"'


@dataclass
class Catalog:
    duck: duckdb.DuckDBPyConnection = field(default_factory=lambda: duckdb.connect(":memory:"))
    lock: threading.RLock = field(default_factory=threading.RLock)
    databases: dict[str, dict[str, Table]] = field(default_factory=dict)
    views: dict[str, dict[str, View]] = field(default_factory=dict)
    """Views and materialized views per database (names shared with tables)."""

    def close(self) -> None:
        self.duck.close()

    def database(self, name: str) -> dict[str, Table]:
        tables = self.databases.get(name)
        if tables is None:
            raise unknown_database(name)
        return tables

    def table(self, database: str, name: str) -> Table:
        table = self.database(database).get(name)
        if table is None:
            raise unknown_table(database, name)
        return table

    def create_database(self, name: str, *, if_not_exists: bool) -> None:
        with self.lock:
            if name in self.databases:
                if if_not_exists:
                    return
                raise StarRocksError(f"Can't create database '{name}'; database exists")
            self.duck.execute(f"ATTACH ':memory:' AS \"{name}\"")
            self.databases[name] = {}
            self.views[name] = {}

    def create_table(self, table: Table, *, if_not_exists: bool) -> None:
        with self.lock:
            tables = self.database(table.database)
            if table.name in tables or table.name in self.views.get(table.database, {}):
                if if_not_exists:
                    return
                raise StarRocksError(
                    f"Getting analyzing error. Detail message: Table '{table.name}' already exists."
                )
            self._create_duck(table)
            tables[table.name] = table

    def _create_duck(self, table: Table) -> None:
        columns = ", ".join(f'"{c.name}" {c.duckdb_type}' for c in table.columns)
        self.duck.execute(f"CREATE TABLE {table.duck_name} ({columns})")

    def drop_table(self, database: str, name: str, *, if_exists: bool) -> None:
        with self.lock:
            tables = self.database(database)
            if name not in tables:
                if if_exists:
                    return
                raise unknown_table(database, name)
            self.duck.execute(f"DROP TABLE {tables.pop(name).duck_name}")

    def swap(self, database: str, first: str, second: str) -> None:
        """``ALTER TABLE first SWAP WITH second``: names exchanged in one step."""
        with self.lock:
            tables = self.database(database)
            a, b = self.table(database, first), self.table(database, second)
            with self._transaction():
                self.duck.execute(f'ALTER TABLE {a.duck_name} RENAME TO "__swap__"')
                self.duck.execute(f'ALTER TABLE {b.duck_name} RENAME TO "{first}"')
                self.duck.execute(f'ALTER TABLE "{database}"."main"."__swap__" RENAME TO "{second}"')
            a.name, b.name = second, first
            tables[first], tables[second] = b, a
            self.deactivate_readers(database, {first, second}, f"base-table swap: {first} <-> {second}")

    def deactivate_readers(self, database: str, names: set[str], reason: str) -> None:
        """A SWAP of a base table leaves the asynchronous materialized views on it inactive."""
        for views in self.views.values():
            for view in views.values():
                if view.kind == "MATERIALIZED VIEW" and any((database, name) in view.reads for name in names):
                    view.active, view.inactive_reason = False, reason

    def rename_table(self, database: str, name: str, new_name: str) -> None:
        with self.lock:
            tables = self.database(database)
            table = self.table(database, name)
            if new_name in tables or new_name in self.views[database]:
                raise StarRocksError(
                    f"Getting analyzing error. Detail message: Table '{new_name}' already exists."
                )
            self.duck.execute(f'ALTER TABLE {table.duck_name} RENAME TO "{new_name}"')
            table.name = new_name
            tables[new_name] = tables.pop(name)

    def view(self, database: str, name: str, kind: str | None = None) -> View:
        view = self.views.get(database, {}).get(name)
        if view is None or (kind is not None and view.kind != kind):
            self.database(database)
            raise unknown_table(database, name)
        return view

    def add_columns(self, database: str, name: str, additions: list[tuple[Column, str | None]]) -> None:
        """Add columns after the named ones (None: first), rebuilding the DuckDB table in that order."""
        with self.lock:
            table = self.table(database, name)
            columns = list(table.columns)
            for column, after in additions:
                if table.column(column.name) or any(c.name == column.name for c in columns):
                    raise StarRocksError(
                        f"Getting analyzing error. Detail message: Duplicate column name '{column.name}'."
                    )
                if not column.nullable:
                    raise StarRocksError(
                        f"Getting analyzing error. Detail message: Column '{column.name}' has no default value."
                    )
                names = [c.name for c in columns]
                if after is not None and after not in names:
                    raise StarRocksError(
                        f"Getting analyzing error. Detail message: Column '{after}' does not exist."
                    )
                columns.insert(names.index(after) + 1 if after else 0, column)
            select = ", ".join(
                f'"{c.name}"' if table.column(c.name) else f'CAST(NULL AS {c.duckdb_type}) AS "{c.name}"'
                for c in columns
            )
            rebuilt = Table(database, name, columns, table.key_model, table.keys)
            with self._transaction():
                self.duck.execute(
                    f'CREATE TABLE "{database}"."main"."__rebuild__" AS SELECT {select} FROM {table.duck_name}'
                )
                self.duck.execute(f"DROP TABLE {table.duck_name}")
                self.duck.execute(f'ALTER TABLE "{database}"."main"."__rebuild__" RENAME TO "{name}"')
            self.database(database)[name] = rebuilt

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.duck.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.duck.execute("ROLLBACK")
            raise
        self.duck.execute("COMMIT")

    def write(self, table: Table, rows: pl.DataFrame) -> None:
        """Insert ``rows`` (a subset of the columns, typed); PRIMARY KEY tables upsert on the key."""
        with self.lock:
            current = self.table(table.database, table.name)
            names = ", ".join(f'"{name}"' for name in rows.columns)
            if current.key_model == "PRIMARY":
                rows = rows.unique(subset=current.keys, keep="last", maintain_order=True)
            # Arrow has no 128-bit integer; DuckDB casts DECIMAL(38,0) back into LARGEINT (HUGEINT).
            arrow = rows.with_columns(pl.col(pl.Int128).cast(pl.Decimal(38, 0))).to_arrow()
            self.duck.register("__incoming__", arrow)
            try:
                with self._transaction():
                    if current.key_model == "PRIMARY":
                        same_key = " AND ".join(f'{current.duck_name}."{k}" = i."{k}"' for k in current.keys)
                        self.duck.execute(
                            f"DELETE FROM {current.duck_name} USING __incoming__ i WHERE {same_key}"
                        )
                    self.duck.execute(
                        f"INSERT INTO {current.duck_name} ({names}) SELECT {names} FROM __incoming__"
                    )
            finally:
                self.duck.unregister("__incoming__")

    def query(self, sql: str) -> tuple[list[str], list[str], list[tuple]]:
        """Run DuckDB SQL; returns column names, DuckDB type names and rows."""
        with self.lock:
            cursor = self.duck.execute(sql)
            description = cursor.description or []
            rows = cursor.fetchall() if description else []
        return [d[0] for d in description], [str(d[1]) for d in description], rows
