"""Bronze: every source file of a table becomes raw parquet, untransformed."""

import shutil
from collections.abc import Iterator

import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MetadataValue,
    Output,
    PartitionsDefinition,
    asset,
)

from datawiz_pipelines.bronze.errors import SourceFileError
from datawiz_pipelines.bronze.readers import describe_read_error, read_source
from datawiz_pipelines.bronze.source_files import find_source_files
from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.resources.tenant_config import TenantConfigResource
from datawiz_pipelines.resources.tenant_storage import TenantStorage
from datawiz_pipelines.storage.staged_tables import (
    StagedTable,
    fresh_staging_dir,
    part_name,
    sink_parts,
    staged_table,
)


def build_bronze_asset(table: CatalogTable, partitions_def: PartitionsDefinition) -> AssetsDefinition:
    key = AssetKey(["bronze", table.name])
    origin = "seeds folder" if table.source == "seed" else "landing zone"

    @asset(
        key=key,
        group_name="bronze",
        partitions_def=partitions_def,
        kinds={"polars", "parquet"},
        io_manager_key="tenant_parquet_io_manager",
        output_required=False,
        description=(
            f"Raw parquet of every {table.name} file in the tenant's {origin}, one part per "
            "file, untransformed (CSV as text) plus lineage columns."
        ),
        metadata={"table": table.name, "layer": "bronze"},
    )
    def _bronze(
        context: AssetExecutionContext, tenants: TenantConfigResource, storage: TenantStorage
    ) -> Iterator[Output[StagedTable]]:
        tenant = tenants.load(context.partition_key)
        mapping = tenant.mapping(table.name)
        if mapping is None:
            context.log.info(f"tenant {tenant.tenant_id} maps no files onto {table.name}; skipped")
            return
        paths = storage.paths(tenant.tenant_id)
        root = tenant.seeds_dir if table.source == "seed" else paths.landing
        files = find_source_files(root, mapping.source.patterns)
        if not files:
            raise SourceFileError(
                tenant.tenant_id,
                table.name,
                str(root),
                f"no file matches {mapping.source.patterns}",
            )
        run_dir = storage.run_dir(tenant.tenant_id, context.run.run_id)
        staging = fresh_staging_dir(storage.staging_dir(tenant.tenant_id, context.run.run_id, key.path))
        try:
            for file in files:
                frame = read_source(
                    file,
                    mapping.source,
                    tenant_id=tenant.tenant_id,
                    table=table.name,
                    scratch_dir=run_dir / "scratch",
                    load_id=context.run.run_id,
                )
                try:
                    sink_parts(staging, {part_name(file.relative_path): frame})
                except (pl.exceptions.PolarsError, OSError) as exc:
                    raise describe_read_error(exc, file, tenant.tenant_id, table.name) from exc
        finally:
            shutil.rmtree(run_dir / "scratch", ignore_errors=True)
        staged = staged_table(staging)
        rows_by_file = {
            file.relative_path: staged.row_counts[part_name(file.relative_path)] for file in files
        }
        yield Output(
            staged,
            metadata={
                "dagster/row_count": sum(rows_by_file.values()),
                "source_files": MetadataValue.json(
                    [
                        {
                            "file": file.relative_path,
                            "bytes": file.size,
                            "modified": file.modified.isoformat(),
                            "rows": rows_by_file[file.relative_path],
                        }
                        for file in files
                    ]
                ),
                "files_read": len(files),
                "mapping_version": mapping.version,
            },
        )

    return _bronze
