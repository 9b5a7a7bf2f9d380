"""The code location: ``datawiz_pipelines.definitions:defs``."""

from __future__ import annotations

from dagster import Definitions

from datawiz_pipelines.assets.factory import build_table_assets
from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.jobs import tenant_etl_job
from datawiz_pipelines.partitions import tenant_partitions
from datawiz_pipelines.resources.parquet_io_manager import TenantParquetIOManager
from datawiz_pipelines.resources.tenant_config import TenantConfigResource
from datawiz_pipelines.resources.tenant_storage import TenantStorage
from datawiz_pipelines.resources.warehouse_selection import build_warehouse, selected_backend
from datawiz_pipelines.settings import ProjectPaths


def build_definitions(paths: ProjectPaths, backend: str | None = None) -> Definitions:
    """All assets, jobs and resources for the configuration under ``paths``."""
    backend = backend or selected_backend()
    repository = ConfigRepository(paths.config_dir)
    partitions = tenant_partitions(repository.registry)
    storage = TenantStorage(data_dir=str(paths.data_dir))
    return Definitions(
        assets=build_table_assets(repository.catalog, partitions, backend),
        jobs=[tenant_etl_job],
        resources={
            "tenants": TenantConfigResource(config_dir=str(paths.config_dir)),
            "storage": storage,
            "tenant_parquet_io_manager": TenantParquetIOManager(storage=storage),
            "warehouse": build_warehouse(backend, paths),
        },
    )


defs = build_definitions(ProjectPaths.from_env())
