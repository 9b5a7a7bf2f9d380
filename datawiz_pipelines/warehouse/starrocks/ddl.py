"""StarRocks DDL generated from the catalog.

Every catalog table becomes a PRIMARY KEY table, replace tables included:
the catalog declares their keys unique, so the warehouse enforces that
(a load that repeats a key upserts instead of duplicating it, whatever the
chunking), dimensions are small so the primary index costs little, and a
table can move between ``replace`` and ``incremental`` without a rebuild,
because StarRocks cannot change a table's key model later. DUPLICATE KEY
suits append-only tables; the catalog has no append mode today
(``load_mode`` is replace or incremental), so none is generated.

An existing table may gain nullable columns (``ALTER TABLE ... ADD COLUMN``);
any other difference is refused with a message naming it, because StarRocks
cannot change keys in place and type changes are rewrites that need a plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.config.tenant import StarRocksTableSettings
from datawiz_pipelines.warehouse import ddl as shared
from datawiz_pipelines.warehouse.base import WarehouseError
from datawiz_pipelines.warehouse.ddl import WarehouseColumn


class SchemaChangeError(WarehouseError):
    """The warehouse table differs from the catalog in a way ADD COLUMN cannot fix."""


@dataclass(frozen=True)
class ExistingColumn:
    """One row of ``information_schema.columns`` for a table that already exists."""

    name: str
    column_type: str
    nullable: bool
    is_key: bool


def quote(identifier: str) -> str:
    """Backtick-quote a name; catalog identifiers are already ``[a-z0-9_]`` only."""
    return f"`{identifier}`"


def qualified(database: str, table: str) -> str:
    return f"{quote(database)}.{quote(table)}"


def warehouse_columns(table: CatalogTable) -> list[WarehouseColumn]:
    """The shared warehouse columns with the key columns moved first, in key order
    (StarRocks requires it); then the other catalog columns, then lineage."""
    columns = shared.warehouse_columns(table)
    keys = [next(c for c in columns if c.name == key) for key in table.keys]
    return keys + [column for column in columns if column.name not in table.keys]


def _string_literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _column_sql(table: CatalogTable, column: WarehouseColumn) -> str:
    """The column definition, with the catalog's description as its COMMENT."""
    description = table.column(column.name).description if column.name in table.column_names else ""
    comment = f" COMMENT {_string_literal(description)}" if description else ""
    return f"{quote(column.name)} {column.type.starrocks} {_nullability(column.nullable)}{comment}"


def bucket_columns(table: CatalogTable) -> list[str]:
    """Hash on the keys except the partition column, so one day's rows spread over all buckets."""
    spread = [key for key in table.keys if key != table.partition_column]
    return spread or list(table.keys)


def create_table_sql(
    database: str,
    table: CatalogTable,
    settings: StarRocksTableSettings,
    *,
    name: str | None = None,
    if_not_exists: bool = True,
) -> str:
    """``CREATE TABLE`` for ``table`` (or a same-shaped table called ``name``, e.g. staging)."""
    columns = ",\n  ".join(_column_sql(table, column) for column in warehouse_columns(table))
    keys = ", ".join(quote(key) for key in table.keys)
    buckets = ", ".join(quote(column) for column in bucket_columns(table))
    lines = [
        f"CREATE TABLE {'IF NOT EXISTS ' if if_not_exists else ''}{qualified(database, name or table.name)} (",
        f"  {columns}",
        ")",
        f"PRIMARY KEY({keys})",
    ]
    if table.partition_column:
        lines.append(f"PARTITION BY date_trunc('day', {quote(table.partition_column)})")
    lines += [
        f"DISTRIBUTED BY HASH({buckets}) BUCKETS {settings.buckets}",
        f'PROPERTIES ("replication_num" = "{settings.replication_num}")',
    ]
    return "\n".join(lines)


_DISPLAY_WIDTH = re.compile(r"^(TINYINT|SMALLINT|INT|BIGINT|LARGEINT)\(\d+\)$")
_DECIMAL = re.compile(r"^DECIMAL(?:V3|32|64|128)?\((\d+),(\d+)\)$")
_STRING_LENGTH = 65533
_ALIASES = {
    "STRING": f"VARCHAR({_STRING_LENGTH})",
    "TINYINT(1)": "BOOLEAN",
    "BIGINT(20)UNSIGNED": "LARGEINT",
}
"""Whole spellings of another type, looked up before display widths are dropped:
information_schema reports BOOLEAN as ``tinyint(1)`` (a real TINYINT is ``tinyint(4)``)
and LARGEINT as ``bigint(20) unsigned`` (``largeint(40)`` loses its width like any integer)."""


def normalize_type(text: str) -> str:
    """One spelling per type, so ``int(11)``, ``decimal64(18, 2)``, ``tinyint(1)`` and ``STRING``
    compare equal to what the catalog declares (``INT``, ``DECIMAL(18,2)``, ``BOOLEAN``,
    ``VARCHAR(65533)``)."""
    compact = re.sub(r"\s+", "", text).upper()
    if compact in _ALIASES:
        return _ALIASES[compact]
    if match := _DISPLAY_WIDTH.fullmatch(compact):
        return match[1]
    if match := _DECIMAL.fullmatch(compact):
        return f"DECIMAL({match[1]},{match[2]})"
    return compact


def new_columns(table: CatalogTable, existing: list[ExistingColumn]) -> list[WarehouseColumn]:
    """The columns the catalog gained since the table was created.

    Raises SchemaChangeError listing every difference that ADD COLUMN cannot make.
    """
    wanted = warehouse_columns(table)
    found = {column.name: column for column in existing}
    wanted_names = {column.name for column in wanted}
    problems = [f"column {c.name!r} is not in the catalog" for c in existing if c.name not in wanted_names]
    existing_keys = [column.name for column in existing if column.is_key]
    if existing_keys != list(table.keys):
        problems.append(f"key is ({', '.join(existing_keys)}), the catalog says ({', '.join(table.keys)})")
    added: list[WarehouseColumn] = []
    for column in wanted:
        current = found.get(column.name)
        if current is None:
            if column.nullable:
                added.append(column)
            else:
                problems.append(f"new column {column.name!r} is NOT NULL but existing rows have no value")
            continue
        if normalize_type(current.column_type) != normalize_type(column.type.starrocks):
            problems.append(
                f"column {column.name!r} is {current.column_type}, the catalog says {column.type}"
            )
        if current.nullable != column.nullable:
            problems.append(
                f"column {column.name!r} is {_nullability(current.nullable)}, "
                f"the catalog says {_nullability(column.nullable)}"
            )
    if problems:
        raise SchemaChangeError(
            f"table {table.name} cannot follow the catalog in place: "
            + "; ".join(problems)
            + ". Change it by hand (or drop it and provision again) after deciding what happens to its rows."
        )
    return added


def _nullability(nullable: bool) -> str:
    return "NULL" if nullable else "NOT NULL"


def add_columns_sql(database: str, table: CatalogTable, columns: list[WarehouseColumn]) -> str:
    """One ``ALTER TABLE`` adding ``columns``, each right after its predecessor in the catalog order."""
    order = [column.name for column in warehouse_columns(table)]
    clauses = []
    for column in columns:
        position = order.index(column.name)
        after = f"AFTER {quote(order[position - 1])}" if position else "FIRST"
        clauses.append(f"ADD COLUMN {_column_sql(table, column)} {after}")
    return f"ALTER TABLE {qualified(database, table.name)}\n  " + ",\n  ".join(clauses)
