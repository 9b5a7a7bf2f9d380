"""The columns of a warehouse table: the catalog's columns, then the lineage columns.

Backend-neutral (names, canonical types, nullability); each backend renders the types
in its own dialect and may reorder (StarRocks needs its key columns first).
"""

from __future__ import annotations

from dataclasses import dataclass

from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.config.column_types import ColumnType
from datawiz_pipelines.lineage import TABLE_LINEAGE_COLUMNS


@dataclass(frozen=True)
class WarehouseColumn:
    """A column of a warehouse table: a catalog column or a lineage column (``_dw_*``)."""

    name: str
    type: ColumnType
    nullable: bool = True


def warehouse_columns(table: CatalogTable) -> list[WarehouseColumn]:
    """The table's catalog columns in order, then the lineage columns (nullable)."""
    catalog = [WarehouseColumn(column.name, column.type, column.nullable) for column in table.columns]
    lineage = [WarehouseColumn(name, column_type) for name, column_type in TABLE_LINEAGE_COLUMNS.items()]
    return catalog + lineage
