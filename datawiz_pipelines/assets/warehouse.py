"""Warehouse: the tenant's silver table published into its own warehouse database."""

from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)

from datawiz_pipelines.assets.metadata import identity_lineage, table_schema
from datawiz_pipelines.assets.silver import DATA_PART
from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.resources.tenant_config import TenantConfigResource
from datawiz_pipelines.storage.staged_tables import PublishedTable
from datawiz_pipelines.warehouse.base import Warehouse

_LOAD_MODES = {
    "replace": "swapped in atomically, replacing the previous rows",
    "incremental": "upserted on its key, so reruns never duplicate rows",
}


def build_warehouse_asset(
    table: CatalogTable, partitions_def: PartitionsDefinition, backend: str
) -> AssetsDefinition:
    key = AssetKey(["warehouse", table.name])
    silver_key = AssetKey(["silver", table.name])

    @asset(
        key=key,
        ins={"silver": AssetIn(key=silver_key)},
        group_name="warehouse",
        partitions_def=partitions_def,
        kinds={backend, "sql"},
        description=(
            f"{table.description} Loaded into the tenant's own {backend} database, "
            f"{_LOAD_MODES[table.load_mode]}."
        ),
        metadata={"table": table.name, "layer": "warehouse", "load_mode": table.load_mode},
    )
    def _warehouse(
        context: AssetExecutionContext,
        tenants: TenantConfigResource,
        warehouse: Warehouse,
        silver: PublishedTable,
    ) -> MaterializeResult:
        tenant = tenants.load(context.partition_key)
        warehouse.provision(tenant, [table])
        result = warehouse.load_table(tenant, table, silver.part(DATA_PART), load_id=context.run.run_id)
        return MaterializeResult(
            metadata={
                "dagster/row_count": result.rows_in_table,
                "dagster/table_name": f"{result.database}.{result.table}",
                "dagster/column_schema": table_schema(table),
                "dagster/column_lineage": identity_lineage(silver_key, table),
                "rows_loaded": result.rows_loaded,
                "load_mode": result.mode,
                "warehouse_backend": warehouse.backend,
                "load_details": MetadataValue.json(result.details),
            }
        )

    return _warehouse
