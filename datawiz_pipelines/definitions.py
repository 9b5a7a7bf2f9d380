"""The code location: ``datawiz_pipelines.definitions:defs``."""

from __future__ import annotations

from dagster import Definitions

from datawiz_pipelines.assets.factory import build_table_assets
from datawiz_pipelines.assets.landing import build_landing_assets
from datawiz_pipelines.assets.sql_models import build_sql_model_assets
from datawiz_pipelines.automation import build_automation
from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.instance_check import warn_on_instance_mismatch
from datawiz_pipelines.jobs import MORNING, schedule_tags, tenant_etl_job
from datawiz_pipelines.partitions import tenant_partitions
from datawiz_pipelines.resources.landing import LandingResource, ReprocessResource
from datawiz_pipelines.resources.parquet_io_manager import TenantParquetIOManager
from datawiz_pipelines.resources.tenant_config import TenantConfigResource
from datawiz_pipelines.resources.tenant_storage import TenantStorage
from datawiz_pipelines.resources.warehouse_selection import build_warehouse, selected_backend
from datawiz_pipelines.settings import ProjectPaths
from datawiz_pipelines.sql_models.models import load_sql_models


def build_definitions(paths: ProjectPaths, backend: str | None = None) -> Definitions:
    """All assets, jobs and resources for the configuration under ``paths``."""
    backend = backend or selected_backend()
    repository = ConfigRepository(paths.config_dir)
    partitions = tenant_partitions(repository.registry)
    storage = TenantStorage(data_dir=str(paths.data_dir))
    assets = [
        *build_landing_assets(partitions, backup_tags=schedule_tags(MORNING, "morning_blob_backup")),
        *build_table_assets(repository.catalog, partitions, backend),
        *build_sql_model_assets(load_sql_models(paths.config_dir, repository.catalog), partitions, backend),
    ]
    automation = build_automation(paths, assets, partitions, tenant_etl_job)
    warn_on_instance_mismatch(repository.registry.global_config)
    return Definitions(
        assets=assets,
        jobs=[tenant_etl_job, *automation.jobs],
        schedules=automation.schedules,
        sensors=automation.sensors,
        resources={
            "tenants": TenantConfigResource(config_dir=str(paths.config_dir)),
            "storage": storage,
            "tenant_parquet_io_manager": TenantParquetIOManager(storage=storage),
            "warehouse": build_warehouse(backend, paths),
            "landing": LandingResource(),
            "reprocess": ReprocessResource(),
        },
    )


defs = build_definitions(ProjectPaths.from_env())
