"""Bronze: every source file of a table becomes raw parquet, untransformed.

Incremental by file: a file whose fingerprint (and the mapping's reading options) is
the one of the currently published part is not read again; its part is hard-linked
into the new version. New, changed and reprocessed files are read. The folder's
``_manifest.json`` records each part's file and fingerprint (see ``landing.incremental``).
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

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

from datawiz_pipelines.assets.landing import SOURCE_FILES_KEY
from datawiz_pipelines.bronze.errors import SourceFileError
from datawiz_pipelines.bronze.readers import describe_read_error, read_source
from datawiz_pipelines.bronze.source_files import SourceFile, find_source_files
from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.landing.incremental import classify, read_manifest, reader_signature, write_manifest
from datawiz_pipelines.landing.ledger import Ledger
from datawiz_pipelines.landing.sync import file_version
from datawiz_pipelines.resources.landing import ReprocessResource
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
        deps=[] if table.source == "seed" else [SOURCE_FILES_KEY],
        output_required=False,
        description=(
            f"Raw parquet of every {table.name} file in the tenant's {origin}, one part per "
            "file, untransformed (CSV as text) plus lineage columns. Unchanged files keep their "
            "part; only new, changed and reprocessed files are read."
        ),
        metadata={"table": table.name, "layer": "bronze"},
    )
    def _bronze(
        context: AssetExecutionContext,
        tenants: TenantConfigResource,
        storage: TenantStorage,
        reprocess: ReprocessResource,
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
        request = reprocess.request(context.run.tags)
        published = paths.table_dir("bronze", table.name)
        signature = reader_signature(mapping.source)
        reusable = _reusable_parts(published, signature)
        run_dir = storage.run_dir(tenant.tenant_id, context.run.run_id)
        staging = fresh_staging_dir(storage.staging_dir(tenant.tenant_id, context.run.run_id, key.path))
        parsed, reused, reprocessed = [], [], []
        try:
            for file in files:
                name = part_name(file.relative_path)
                if request.selects(file.relative_path, file.modified):
                    reprocessed.append(file.relative_path)
                elif _reuse(
                    reusable.get(name), file, published / f"{name}.parquet", staging / f"{name}.parquet"
                ):
                    reused.append(file.relative_path)
                    continue
                parsed.append(file.relative_path)
                frame = read_source(
                    file,
                    mapping.source,
                    tenant_id=tenant.tenant_id,
                    table=table.name,
                    scratch_dir=run_dir / "scratch",
                    load_id=context.run.run_id,
                )
                try:
                    sink_parts(staging, {name: frame})
                except (pl.exceptions.PolarsError, OSError) as exc:
                    raise describe_read_error(exc, file, tenant.tenant_id, table.name) from exc
        finally:
            shutil.rmtree(run_dir / "scratch", ignore_errors=True)
        staged = staged_table(staging)
        rows_by_file = {
            file.relative_path: staged.row_counts[part_name(file.relative_path)] for file in files
        }
        versions = [file_version(file, rows_by_file[file.relative_path]) for file in files]
        write_manifest(
            staging,
            {
                "reader_signature": signature,
                "parts": {part_name(v.file): v.to_json() for v in versions},
                "run_id": context.run.run_id,
            },
        )
        changes = classify(versions, Ledger(paths.ledger).processed(table.name))
        for file in changes.deleted:
            context.log.warning(
                f"tenant {tenant.tenant_id}, table {table.name}: source file {file!r} was loaded before "
                "and is gone from the landing zone (deleted upstream); the table is rebuilt without it"
            )
        if reused:
            context.log.info(f"{len(reused)} unchanged file(s) kept their bronze part; {len(parsed)} read")
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
                            "fingerprint": file.fingerprint,
                            "rows": rows_by_file[file.relative_path],
                            "read": "reused" if file.relative_path in reused else "parsed",
                        }
                        for file in files
                    ]
                ),
                "files_read": len(files),
                "files_parsed": len(parsed),
                "files_reused": len(reused),
                "files_new": MetadataValue.json(changes.new),
                "files_changed": MetadataValue.json(changes.changed),
                "files_deleted_upstream": MetadataValue.json(changes.deleted),
                "files_reprocessed": MetadataValue.json(reprocessed),
                "mapping_version": mapping.version,
            },
        )

    return _bronze


def _reusable_parts(published: Path, signature: str) -> dict[str, dict]:
    """Part name -> its manifest entry, for the published version read with the same options."""
    manifest = read_manifest(published)
    if not manifest or manifest.get("reader_signature") != signature:
        return {}
    return manifest.get("parts", {})


def _reuse(entry: dict | None, file: SourceFile, part: Path, target: Path) -> bool:
    """Hard-link (or copy) the published part of ``file`` into ``target`` if it is still current."""
    if not entry or entry.get("file") != file.relative_path or entry.get("fingerprint") != file.fingerprint:
        return False
    try:
        source = part.resolve(strict=True)
    except OSError:
        return False
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
    return True
