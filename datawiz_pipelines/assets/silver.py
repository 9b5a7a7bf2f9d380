"""Silver: the tenant's mapping applied to bronze, with blocking validation checks."""

from collections.abc import Iterator

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
from datawiz_pipelines.lineage import REJECTED_RULE
from datawiz_pipelines.resources.tenant_config import TenantConfigResource
from datawiz_pipelines.resources.tenant_storage import TenantStorage
from datawiz_pipelines.silver.checks import CHECK_DESCRIPTIONS, CHECK_NAMES, evaluate_checks
from datawiz_pipelines.silver.engine import raise_for_fatal_rejections, transform
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
        bronze: pl.LazyFrame,
    ) -> Iterator[Output[StagedTable] | AssetCheckResult]:
        tenant = tenants.load(context.partition_key)
        mapping = tenant.mapping(table.name)
        assert mapping is not None, "bronze materialized, so the tenant maps this table"
        references = _reference_frames(tenant, storage, table)
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
        staged = staged_table(staging)
        rows = pl.scan_parquet(staged.part(DATA_PART))
        rejected = pl.scan_parquet(staged.part(REJECTED_PART))
        raise_for_fatal_rejections(rejected, tenant_id=tenant.tenant_id, table=table, mapping=mapping)
        outcomes = evaluate_checks(
            rows,
            rejected,
            table=table,
            mapping=mapping,
            settings=tenant.settings.validation,
            references=references,
            business_rules=tenant.settings.business_rules,
            tenant_id=tenant.tenant_id,
        )
        yield Output(
            staged,
            metadata={
                "dagster/row_count": staged.row_counts[DATA_PART],
                "rows_rejected": staged.row_counts[REJECTED_PART],
                "dagster/column_schema": table_schema(table),
                "dagster/column_lineage": column_lineage(bronze_key, result.column_lineage),
                "rejected_by_rule": MetadataValue.json(_rejections_by_rule(rejected)),
                "mapping_version": mapping.version,
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


def _reference_frames(tenant: Tenant, storage: TenantStorage, table: CatalogTable) -> dict[str, pl.LazyFrame]:
    """The tenant's silver rows of every table its relationship rules point to."""
    mapping = tenant.mapping(table.name)
    names = {rule.to_table for rule in mapping.validations if isinstance(rule, RelationshipRule)}
    paths = storage.paths(tenant.tenant_id)
    return {name: PublishedTable(paths.table_dir("silver", name)).scan(DATA_PART) for name in sorted(names)}


def _rejections_by_rule(rejected: pl.LazyFrame) -> dict[str, int]:
    counts = rejected.group_by(REJECTED_RULE).len().collect()
    return {str(rule): int(count) for rule, count in counts.iter_rows()}
