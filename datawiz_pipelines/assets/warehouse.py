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
from datawiz_pipelines.config.loader import Tenant
from datawiz_pipelines.landing.incremental import DELTA_PART, LoadMode, LoadPlan, read_manifest
from datawiz_pipelines.landing.ledger import Ledger
from datawiz_pipelines.resources.tenant_config import TenantConfigResource
from datawiz_pipelines.resources.tenant_storage import TenantStorage
from datawiz_pipelines.storage.staged_tables import PublishedTable
from datawiz_pipelines.warehouse.base import Warehouse, resolve_load_mode

_LOAD_MODES = {
    "replace": "swapped in atomically, replacing the previous rows",
    "incremental": (
        "upserted on its key with the rows of new files only, so reruns never duplicate rows; "
        "replaced from all files when a file changed or was deleted upstream"
    ),
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
        storage: TenantStorage,
        warehouse: Warehouse,
        silver: PublishedTable,
    ) -> MaterializeResult:
        tenant = tenants.load(context.partition_key)
        ledger = Ledger(storage.paths(tenant.tenant_id).ledger)
        manifest = read_manifest(silver.directory) or {}
        plan = LoadPlan.from_json(manifest["load_plan"]) if "load_plan" in manifest else None
        warehouse.provision(tenant, [table])
        mode, reason = _final_mode(table, plan, ledger, warehouse, tenant)
        context.log.info(f"tenant {tenant.tenant_id}, table {table.name}: {mode}: {reason}")
        part = silver.part(DELTA_PART if mode == "upsert" and plan is not None else DATA_PART)
        result = warehouse.load_table(tenant, table, part, load_id=context.run.run_id, mode=mode)
        loaded_files: list[str] = []
        if plan is not None:
            loaded_files = plan.new if mode == "upsert" else [version.file for version in plan.files]
            ledger.record_load(
                table.name,
                files=plan.files,
                loaded=loaded_files,
                deleted=plan.deleted,
                signature=plan.signature,
                mode=mode,
                rows_in_table=result.rows_in_table,
                mapping_version=plan.mapping_version,
                run_id=context.run.run_id,
            )
        return MaterializeResult(
            metadata={
                "dagster/row_count": result.rows_in_table,
                "dagster/table_name": f"{result.database}.{result.table}",
                "dagster/column_schema": table_schema(table),
                "dagster/column_lineage": identity_lineage(silver_key, table),
                "rows_loaded": result.rows_loaded,
                "load_mode": result.mode,
                "load_reason": reason,
                "files_loaded": MetadataValue.json(loaded_files),
                "files_deleted_upstream": MetadataValue.json(plan.deleted if plan else []),
                "warehouse_backend": warehouse.backend,
                "load_details": MetadataValue.json(result.details),
            }
        )

    return _warehouse


def _final_mode(
    table: CatalogTable, plan: LoadPlan | None, ledger: Ledger, warehouse: Warehouse, tenant: Tenant
) -> tuple[LoadMode, str]:
    """Silver's plan, unless an upsert is no longer safe: then replace from all of silver.

    An upsert only adds to the table the ledger describes: it must still be the ledger's
    last load (no other load in between) and hold the rows that load left there (nobody
    dropped or changed the table meanwhile). Replacing is always correct, since silver
    holds every file's rows.
    """
    if plan is None:
        return resolve_load_mode(table), "silver has no load plan"
    if plan.mode == "replace":
        return "replace", plan.reason
    last = ledger.last_load(table.name)
    if last is None or last.run_id != plan.base_run:
        return "replace", "the ledger changed since silver planned an upsert: replaced instead"
    counted = warehouse.query(tenant, f"SELECT count(*) AS n FROM {table.name}").item()
    if counted != last.rows_in_table:
        return "replace", (
            f"the warehouse table holds {counted} rows but the last load left {last.rows_in_table}: "
            "replaced instead of upserted"
        )
    return "upsert", plan.reason
