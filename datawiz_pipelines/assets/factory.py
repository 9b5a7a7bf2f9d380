"""One factory turns every catalog table into its bronze, silver and warehouse assets.

There is no per-table or per-tenant code: tables come from the catalog, tenants
are partitions, and each tenant's mapping is read at run time.
"""

from __future__ import annotations

from dagster import AssetsDefinition, PartitionsDefinition

from datawiz_pipelines.assets.bronze import build_bronze_asset
from datawiz_pipelines.assets.silver import build_silver_asset
from datawiz_pipelines.assets.warehouse import build_warehouse_asset
from datawiz_pipelines.config.catalog import Catalog, CatalogTable
from datawiz_pipelines.jobs import table_schedule_tags


def build_table_assets(
    catalog: Catalog, partitions_def: PartitionsDefinition, warehouse_backend: str
) -> list[AssetsDefinition]:
    return [
        with_schedule_tags(builder, table)
        for table in catalog
        for builder in (
            build_bronze_asset(table, partitions_def),
            build_silver_asset(table, partitions_def),
            build_warehouse_asset(table, partitions_def, warehouse_backend),
        )
    ]


def with_schedule_tags(assets_def: AssetsDefinition, table: CatalogTable) -> AssetsDefinition:
    """The table's scheduled job as asset tags (``datawiz/schedule``, ``datawiz/job``; see jobs.py).

    Tags an asset already carries win, so a builder can place one asset elsewhere.
    """
    tags = table_schedule_tags(table)
    return assets_def.map_asset_specs(
        lambda spec: spec.merge_attributes(tags={k: v for k, v in tags.items() if k not in spec.tags})
    )
