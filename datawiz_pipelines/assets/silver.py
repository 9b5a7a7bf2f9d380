"""Silver: the tenant's mapping applied to bronze, with blocking validation checks."""

from collections.abc import Iterator
from datetime import datetime

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetsDefinition,
    MetadataValue,
    Output,
    PartitionsDefinition,
    asset,
)

from datawiz_pipelines.assets.metadata import column_lineage, table_schema
from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.config.loader import Tenant
from datawiz_pipelines.config.mapping import RelationshipRule
from datawiz_pipelines.landing.incremental import (
    DELTA_PART,
    LoadPlan,
    classify,
    plan_load,
    read_manifest,
    reference_keys,
    transform_signature,
    write_manifest,
)
from datawiz_pipelines.landing.ledger import FileVersion, Ledger
from datawiz_pipelines.lineage import REJECTED_RULE, SOURCE_FILE, SUPERSEDED
from datawiz_pipelines.resources.landing import ReprocessResource
from datawiz_pipelines.resources.tenant_config import TenantConfigResource
from datawiz_pipelines.resources.tenant_storage import TenantStorage
from datawiz_pipelines.silver.checks import CHECK_DESCRIPTIONS, CHECK_NAMES, check_written_parts
from datawiz_pipelines.silver.engine import transform
from datawiz_pipelines.silver.errors import TransformError
from datawiz_pipelines.storage.staged_tables import (
    PublishedTable,
    StagedTable,
    fresh_staging_dir,
    sink_parts,
    staged_table,
)

DATA_PART = "data"
REJECTED_PART = "rejected"


def build_silver_asset(table: CatalogTable, partitions_def: PartitionsDefinition) -> AssetsDefinition:
    key = AssetKey(["silver", table.name])
    bronze_key = AssetKey(["bronze", table.name])

    @asset(
        key=key,
        ins={"bronze": AssetIn(key=bronze_key)},
        deps=[AssetKey(["silver", name]) for name in table.referenced_tables],
        group_name="silver",
        partitions_def=partitions_def,
        kinds={"polars", "parquet"},
        io_manager_key="tenant_parquet_io_manager",
        check_specs=[
            AssetCheckSpec(name, asset=key, blocking=True, description=CHECK_DESCRIPTIONS[name])
            for name in CHECK_NAMES
        ],
        description=(
            f"{table.description} Cleaned and typed by the tenant's mapping; rows failing a "
            f"rule are kept aside in the '{REJECTED_PART}' part with the rule and the reason."
        ),
        metadata={"table": table.name, "layer": "silver"},
    )
    def _silver(
        context: AssetExecutionContext,
        tenants: TenantConfigResource,
        storage: TenantStorage,
        reprocess: ReprocessResource,
        bronze: pl.LazyFrame,
    ) -> Iterator[Output[StagedTable] | AssetCheckResult]:
        tenant = tenants.load(context.partition_key)
        mapping = tenant.mapping(table.name)
        assert mapping is not None, "bronze materialized, so the tenant maps this table"
        references = _reference_frames(tenant, storage, table)
        plan = _load_plan(context, tenant, table, storage, reprocess, references)
        result = transform(
            bronze,
            tenant_id=tenant.tenant_id,
            table=table,
            mapping=mapping,
            business_rules=tenant.settings.business_rules,
            references=references,
        )
        staging = fresh_staging_dir(storage.staging_dir(tenant.tenant_id, context.run.run_id, key.path))
        try:
            sink_parts(staging, {DATA_PART: result.rows, REJECTED_PART: result.rejected})
        except pl.exceptions.PolarsError as exc:
            raise TransformError(f"tenant {tenant.tenant_id}, table {table.name}: {exc}") from exc
        if plan.mode == "upsert":
            pl.scan_parquet(staging / f"{DATA_PART}.parquet").filter(
                pl.col(SOURCE_FILE).is_in(plan.new)
            ).sink_parquet(staging / f"{DELTA_PART}.parquet")
        write_manifest(staging, {"load_plan": plan.to_json(), "run_id": context.run.run_id})
        staged = staged_table(staging)
        rows = pl.scan_parquet(staged.part(DATA_PART))
        rejected = pl.scan_parquet(staged.part(REJECTED_PART))
        outcomes = check_written_parts(
            rows, rejected, tenant=tenant, table=table, mapping=mapping, references=references
        )
        by_rule = _rejections_by_rule(rejected)
        superseded = by_rule.pop(SUPERSEDED, 0)
        yield Output(
            staged,
            metadata={
                "dagster/row_count": staged.row_counts[DATA_PART],
                "rows_rejected": sum(by_rule.values()),
                "rows_superseded": superseded,
                "dagster/column_schema": table_schema(table),
                "dagster/column_lineage": column_lineage(bronze_key, result.column_lineage),
                "rejected_by_rule": MetadataValue.json(by_rule),
                "mapping_version": mapping.version,
                "load_plan": plan.mode,
                "load_plan_reason": plan.reason,
                "rows_to_upsert": staged.row_counts.get(DELTA_PART, 0),
            },
        )
        for outcome in outcomes:
            yield AssetCheckResult(
                asset_key=key,
                check_name=outcome.name,
                passed=outcome.passed,
                severity=AssetCheckSeverity.ERROR if outcome.severity == "error" else AssetCheckSeverity.WARN,
                description=outcome.description,
                metadata=outcome.metadata,
            )

    return _silver


def _load_plan(
    context: AssetExecutionContext,
    tenant: Tenant,
    table: CatalogTable,
    storage: TenantStorage,
    reprocess: ReprocessResource,
    references: dict[str, pl.LazyFrame],
) -> LoadPlan:
    """How the warehouse will load this table: replace, or upsert the rows of new files only."""
    table_name = table.name
    mapping = tenant.mapping(table_name)
    paths = storage.paths(tenant.tenant_id)
    manifest = read_manifest(paths.table_dir("bronze", table_name)) or {}
    files = [FileVersion.from_json(part) for part in manifest.get("parts", {}).values()]
    files.sort(key=lambda version: version.file)
    ledger = Ledger(paths.ledger)
    request = reprocess.request(context.run.tags)
    reprocessed = [v.file for v in files if request.selects(v.file, datetime.fromisoformat(v.modified))]
    signature = transform_signature(
        table, mapping, tenant.settings.business_rules, reference_keys(mapping, references)
    )
    plan = plan_load(
        table,
        files=files,
        changes=classify(files, ledger.processed(table_name)),
        last_load=ledger.last_load(table_name),
        signature=signature,
        mapping_version=mapping.version,
        reprocessed=reprocessed,
        full="full reprocess requested" if request.full else None if manifest else "bronze has no manifest",
    )
    context.log.info(
        f"tenant {tenant.tenant_id}, table {table_name}: warehouse load plan {plan.mode}: {plan.reason}"
    )
    return plan


def _reference_frames(tenant: Tenant, storage: TenantStorage, table: CatalogTable) -> dict[str, pl.LazyFrame]:
    """The tenant's silver rows of every table its relationship rules point to."""
    mapping = tenant.mapping(table.name)
    names = {rule.to_table for rule in mapping.validations if isinstance(rule, RelationshipRule)}
    paths = storage.paths(tenant.tenant_id)
    return {name: PublishedTable(paths.table_dir("silver", name)).scan(DATA_PART) for name in sorted(names)}


def _rejections_by_rule(rejected: pl.LazyFrame) -> dict[str, int]:
    counts = rejected.group_by(REJECTED_RULE).len().collect()
    return {str(rule): int(count) for rule, count in counts.iter_rows()}
