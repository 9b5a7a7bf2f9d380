"""The IO manager that owns every per-tenant parquet path.

Outputs are ``StagedTable`` folders written by the asset; the IO manager
publishes them atomically at ``data/<tenant>/<layer>/<table>``. Inputs are the
published folder (``PublishedTable``) or, for a ``pl.LazyFrame`` parameter, a
lazy scan of all of the folder's parts (bronze: every source file's part).
A step only ever touches the folder of its own run's tenant partition.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from dagster import ConfigurableIOManager, InputContext, MetadataValue, OutputContext

from datawiz_pipelines.resources.tenant_storage import TenantStorage
from datawiz_pipelines.storage.staged_tables import PublishedTable, StagedTable, publish


class TenantIsolationError(RuntimeError):
    pass


class TenantParquetIOManager(ConfigurableIOManager):
    storage: TenantStorage

    def _table_dir(self, tenant_id: str, asset_path: list[str]) -> Path:
        layer, table = asset_path
        return self.storage.paths(tenant_id).table_dir(layer, table)

    def handle_output(self, context: OutputContext, obj: StagedTable) -> None:
        if not isinstance(obj, StagedTable):
            raise TypeError(f"{context.asset_key.to_user_string()} must return a StagedTable")
        if not self.storage.paths(context.partition_key).owns(obj.directory):
            raise TenantIsolationError(
                f"{obj.directory} is not inside tenant {context.partition_key}'s folder"
            )
        target = self._table_dir(context.partition_key, context.asset_key.path)
        publish(obj, target)
        context.add_output_metadata(
            {
                "dagster/uri": MetadataValue.path(str(target)),
                "parts": len(obj.row_counts),
            }
        )

    def load_input(self, context: InputContext) -> PublishedTable | pl.LazyFrame:
        tenant_id = context.asset_partition_key
        if tenant_id != context.partition_key:
            raise TenantIsolationError(
                f"a run for tenant {context.partition_key} may not read tenant {tenant_id}'s data"
            )
        table = PublishedTable(self._table_dir(tenant_id, context.upstream_output.asset_key.path))
        if not table.directory.exists():
            raise FileNotFoundError(
                f"{context.upstream_output.asset_key.to_user_string()} has not been materialized "
                f"for tenant {tenant_id} ({table.directory})"
            )
        if context.dagster_type.typing_type is pl.LazyFrame:
            return pl.concat([pl.scan_parquet(path) for path in table.parts.values()], how="diagonal_relaxed")
        return table
