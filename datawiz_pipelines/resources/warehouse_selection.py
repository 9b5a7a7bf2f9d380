"""Which warehouse backs the ``warehouse`` resource key.

``DATAWIZ_WAREHOUSE`` chooses it (``duckdb``, the default, or ``starrocks``); the
assets and their keys are the same either way, as in Dagster's Hooli example.

StarRocks is administered at the shared defaults' ``database:`` address
(``tenant_configs/shared/*.yaml``), which ``DATAWIZ_STARROCKS_HOST``,
``DATAWIZ_STARROCKS_PORT`` and ``DATAWIZ_STARROCKS_HTTP_PORT`` override (in
``ConfigRepository.shared_defaults``, so the tenants merged over those defaults
agree with the resource). The admin login is ``DATAWIZ_STARROCKS_ADMIN_USER``
(default ``root``) and, when set, ``DATAWIZ_STARROCKS_ADMIN_PASSWORD``, passed as
a Dagster ``EnvVar`` so the password is read at run time and never appears in
the definitions, the UI or the logs.
"""

from __future__ import annotations

import os

from dagster import EnvVar

from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.config.tenant import DatabaseSettings
from datawiz_pipelines.config.yaml_files import validate_model
from datawiz_pipelines.settings import ProjectPaths
from datawiz_pipelines.warehouse.base import Warehouse
from datawiz_pipelines.warehouse.duckdb_warehouse import DuckDBWarehouse
from datawiz_pipelines.warehouse.starrocks import StarRocksWarehouse

BACKENDS = ("duckdb", "starrocks")

ADMIN_USER_ENV = "DATAWIZ_STARROCKS_ADMIN_USER"
ADMIN_PASSWORD_ENV = "DATAWIZ_STARROCKS_ADMIN_PASSWORD"
DEFAULT_ADMIN_USER = "root"


def selected_backend() -> str:
    backend = os.environ.get("DATAWIZ_WAREHOUSE", "duckdb").strip().lower()
    if backend not in BACKENDS:
        raise ValueError(f"DATAWIZ_WAREHOUSE={backend!r}: expected one of {', '.join(BACKENDS)}")
    return backend


def build_warehouse(backend: str, paths: ProjectPaths) -> Warehouse:
    """The resource for the ``warehouse`` key. Dagster resolves its ``EnvVar`` values when a
    run starts; code outside a run enters ``process_config_and_initialize_cm()`` first."""
    if backend == "duckdb":
        return DuckDBWarehouse(data_dir=str(paths.data_dir))
    if backend == "starrocks":
        return build_starrocks_warehouse(paths)
    raise ValueError(f"unknown warehouse backend {backend!r}: expected one of {', '.join(BACKENDS)}")


def build_starrocks_warehouse(paths: ProjectPaths) -> StarRocksWarehouse:
    repository = ConfigRepository(paths.config_dir)
    served = validate_model(
        DatabaseSettings,
        repository.shared_defaults().get("database") or {},
        paths.config_dir / "shared",
    )
    password = EnvVar(ADMIN_PASSWORD_ENV) if ADMIN_PASSWORD_ENV in os.environ else ""
    return StarRocksWarehouse(
        host=served.host,
        port=served.port,
        http_port=served.http_port,
        admin_user=os.environ.get(ADMIN_USER_ENV) or DEFAULT_ADMIN_USER,
        admin_password=password,
    )
