"""Materialization metadata the Dagster UI shows: schema, column lineage, counts."""

from __future__ import annotations

from dagster import (
    AssetKey,
    TableColumn,
    TableColumnConstraints,
    TableColumnDep,
    TableColumnLineage,
    TableSchema,
)

from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.lineage import TABLE_LINEAGE_COLUMNS


def table_schema(table: CatalogTable) -> TableSchema:
    columns = [
        TableColumn(
            name=column.name,
            type=str(column.type),
            description=column.description or None,
            constraints=TableColumnConstraints(nullable=column.nullable),
        )
        for column in table.columns
    ]
    columns += [TableColumn(name=name, type=str(kind)) for name, kind in TABLE_LINEAGE_COLUMNS.items()]
    return TableSchema(columns=columns)


def column_lineage(upstream: AssetKey, sources: dict[str, list[str]]) -> TableColumnLineage:
    """``target <- upstream.source`` for every column, from the tenant's mapping."""
    return TableColumnLineage(
        deps_by_column={
            target: [TableColumnDep(asset_key=upstream, column_name=source) for source in names]
            for target, names in sources.items()
        }
    )


def identity_lineage(upstream: AssetKey, table: CatalogTable) -> TableColumnLineage:
    return column_lineage(upstream, {name: [name] for name in table.column_names})
