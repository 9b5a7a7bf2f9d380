"""The landing zone as assets: ``source_files`` (group ``landing``) and ``source_files_backup``.

``source_files`` runs first in every tenant run and is upstream of every bronze asset
that reads the landing folder. For an Azure tenant it mirrors the tenant's container and
prefix into ``data/<tenant>/source_files`` (download, unpack, delete what disappeared);
for a local tenant the folder is the landing zone itself. Either way it then records
what the folder holds in the tenant's ledger and reports new, changed and deleted
files, so one place in the UI answers "what did the tenant send?".

``source_files_backup`` (group ``backup``) archives processed source files: for Azure
tenants a server-side copy of each processed blob version to the backup prefix
(``landing.backup_prefix``, by default the landing prefix with ``_backup``), for local
tenants a copy to ``data/<tenant>/backup/``. Each version is archived once.
"""

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from fnmatch import fnmatchcase

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)

from datawiz_pipelines.bronze.source_files import find_source_files
from datawiz_pipelines.config.loader import Tenant
from datawiz_pipelines.landing.azure import azure_location, backup_prefix
from datawiz_pipelines.landing.errors import LandingError
from datawiz_pipelines.landing.ledger import Ledger
from datawiz_pipelines.landing.reprocess import ReprocessRequest, ReprocessRequestError
from datawiz_pipelines.landing.sync import file_version, scan_landing
from datawiz_pipelines.resources.landing import LandingResource, ReprocessResource
from datawiz_pipelines.resources.tenant_config import TenantConfigResource
from datawiz_pipelines.resources.tenant_storage import TenantStorage

SOURCE_FILES_KEY = AssetKey("source_files")
BACKUP_KEY = AssetKey("source_files_backup")
LANDING_GROUP = "landing"
BACKUP_GROUP = "backup"
LISTED_AT_MOST = 200
"""Longer file lists in metadata are cut (the counts stay exact)."""


def build_landing_assets(
    partitions_def: PartitionsDefinition, backup_tags: dict[str, str] | None = None
) -> list[AssetsDefinition]:
    @asset(
        key=SOURCE_FILES_KEY,
        group_name=LANDING_GROUP,
        partitions_def=partitions_def,
        kinds={"azure", "file"},
        description=(
            "The tenant's landing zone, data/<tenant>/source_files: its Azure Blob container and "
            "prefix mirrored there (new and changed blobs downloaded, .gz/.zip unpacked, deleted "
            "blobs removed), or the local folder as dropped. Records every file in the tenant's "
            "ledger and reports new, changed and deleted files."
        ),
        metadata={"layer": "landing"},
    )
    def source_files(
        context: AssetExecutionContext,
        tenants: TenantConfigResource,
        storage: TenantStorage,
        landing: LandingResource,
        reprocess: ReprocessResource,
    ) -> MaterializeResult:
        tenant = tenants.load(context.partition_key)
        request = _request(reprocess, context, tenant)
        paths = storage.paths(tenant.tenant_id)
        ledger = Ledger(paths.ledger)
        kind = tenant.settings.landing.kind
        metadata: dict = {"landing_kind": kind, "dagster/uri": MetadataValue.path(str(paths.landing))}
        origins: dict[str, tuple[str, str]] = {}
        paths.landing.mkdir(parents=True, exist_ok=True)
        if kind == "azure":
            scratch = storage.run_dir(tenant.tenant_id, context.run.run_id) / "landing"
            try:
                report = landing.sync(
                    tenant,
                    landing=paths.landing,
                    ledger=ledger,
                    scratch=scratch,
                    run_id=context.run.run_id,
                    warn=context.log.warning,
                )
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            origins = report.origins
            sync = report.as_metadata()
            sync["blobs_downloaded"] = MetadataValue.json(sync["blobs_downloaded"][:LISTED_AT_MOST])
            for name in ("blobs_deleted_upstream", "blobs_refused", "blobs_skipped"):
                sync[name] = MetadataValue.json(sync[name])
            metadata.update(sync)
            context.log.info(
                f"tenant {tenant.tenant_id}: {report.listed} blob(s) under {report.container}/"
                f"{report.prefix}: {len(report.downloaded)} downloaded, {report.unchanged} unchanged, "
                f"{len(report.deleted_upstream)} deleted upstream, {len(report.refused)} refused"
            )
        files = scan_landing(paths.landing)
        changes = ledger.record_landing_scan(
            [file_version(file) for file in files], origins, context.run.run_id
        )
        for file in changes.deleted:
            context.log.warning(
                f"tenant {tenant.tenant_id}: source file {file!r} was deleted upstream; tables that "
                "loaded it are rebuilt without its rows"
            )
        _check_requested_files(request, tenant, [file.relative_path for file in files])
        metadata.update(
            {
                "files": len(files),
                "bytes": sum(file.size for file in files),
                "files_new": MetadataValue.json(changes.new[:LISTED_AT_MOST]),
                "files_changed": MetadataValue.json(changes.changed[:LISTED_AT_MOST]),
                "files_deleted_upstream": MetadataValue.json(changes.deleted[:LISTED_AT_MOST]),
                "files_unchanged": changes.unchanged,
                "reprocess": request.describe(),
                "file_listing": MetadataValue.json(
                    [
                        {
                            "file": file.relative_path,
                            "bytes": file.size,
                            "modified": file.modified.isoformat(),
                            "fingerprint": file.fingerprint,
                            **(
                                {
                                    "blob": origins[file.relative_path][0],
                                    "etag": origins[file.relative_path][1],
                                }
                                if file.relative_path in origins
                                else {}
                            ),
                        }
                        for file in files[:LISTED_AT_MOST]
                    ]
                ),
            }
        )
        return MaterializeResult(metadata=metadata)

    @asset(
        key=BACKUP_KEY,
        group_name=BACKUP_GROUP,
        partitions_def=partitions_def,
        deps=[SOURCE_FILES_KEY],
        kinds={"azure", "file"},
        tags=backup_tags or {},
        description=(
            "Archive of the tenant's processed source files (the legacy morning blob_backup): "
            "each processed blob version copied to the backup prefix in the tenant's container "
            "(Azure), or each processed file copied under data/<tenant>/backup/ (local). Each "
            "version is archived once; nothing is deleted from the landing zone."
        ),
        metadata={"layer": "backup"},
    )
    def source_files_backup(
        context: AssetExecutionContext,
        tenants: TenantConfigResource,
        storage: TenantStorage,
        landing: LandingResource,
    ) -> MaterializeResult:
        tenant = tenants.load(context.partition_key)
        paths = storage.paths(tenant.tenant_id)
        ledger = Ledger(paths.ledger)
        day = dt.datetime.now(dt.UTC).date().isoformat()
        processed = ledger.processed_anywhere()
        landed = ledger.landing_files()
        archived = ledger.archived()
        done: list[dict] = []
        if tenant.settings.landing.kind == "azure":
            from datawiz_pipelines.landing.blob_client import container_client, copy_blob  # Azure runs only

            location = azure_location(tenant)
            prefix = backup_prefix(tenant)
            blobs = {
                (row["blob_name"], row["etag"])
                for file, row in landed.items()
                if row["blob_name"] and row["fingerprint"] in processed.get(file, ())
            }
            todo = sorted(blob for blob in blobs if blob not in archived)
            with container_client(location, **landing.retry) as container:
                for name, etag in todo:
                    target = f"{prefix}{day}/{name[len(location.prefix) :]}"
                    copy_blob(container, location, name, etag, target)
                    ledger.record_backup(name, etag, target, context.run.run_id)
                    done.append({"blob": name, "etag": etag, "archived_as": target})
            destination, already = f"{location.container}/{prefix}", len(blobs) - len(todo)
        else:
            current = {
                file: row["fingerprint"]
                for file, row in landed.items()
                if row["fingerprint"] in processed.get(file, ())
            }
            todo = sorted((file, fp) for file, fp in current.items() if (file, fp) not in archived)
            for file, fingerprint in todo:
                source = paths.landing / file
                if not source.is_file():
                    continue
                target = paths.backup / day / file
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_name(f".{target.name}.partial")
                shutil.copy2(source, partial)
                os.replace(partial, target)
                ledger.record_backup(
                    file, fingerprint, str(target.relative_to(paths.root)), context.run.run_id
                )
                done.append({"file": file, "fingerprint": fingerprint, "archived_as": str(target)})
            destination, already = str(paths.backup), len(current) - len(todo)
        context.log.info(
            f"tenant {tenant.tenant_id}: archived {len(done)} processed source file version(s) to "
            f"{destination}; {already} were archived before"
        )
        return MaterializeResult(
            metadata={
                "destination": destination,
                "archived": len(done),
                "archived_before": already,
                "archived_now": MetadataValue.json(done[:LISTED_AT_MOST]),
            }
        )

    return [source_files, source_files_backup]


def _request(
    reprocess: ReprocessResource, context: AssetExecutionContext, tenant: Tenant
) -> ReprocessRequest:
    try:
        return reprocess.request(context.run.tags)
    except ReprocessRequestError as exc:
        raise LandingError(f"tenant {tenant.tenant_id}: {exc}") from None


def _check_requested_files(request: ReprocessRequest, tenant: Tenant, landed: list[str]) -> None:
    """A reprocess request naming a file that does not exist is a mistake: say so, do not run."""
    if not request.files:
        return
    seeds = [file.relative_path for file in find_source_files(tenant.seeds_dir, ["**/*"])]
    missing = [
        pattern
        for pattern in request.files
        if not any(fnmatchcase(name, pattern) for name in _chain(landed, seeds))
    ]
    if missing:
        raise LandingError(
            f"tenant {tenant.tenant_id}: reprocess file(s) {', '.join(map(repr, missing))} match no file "
            "in its landing folder or seeds (give paths relative to data/<tenant>/source_files, "
            "as in _dw_source_file)"
        )


def _chain(*lists: list[str]) -> Iterator[str]:
    for items in lists:
        yield from items
