"""Which warehouse backs the ``warehouse`` resource key.

``DATAWIZ_WAREHOUSE`` chooses it (``duckdb``, the default, or ``starrocks``); the
assets and their keys are the same either way, as in Dagster's Hooli example.
"""

from __future__ import annotations

import os

from datawiz_pipelines.settings import ProjectPaths
from datawiz_pipelines.warehouse.base import Warehouse
from datawiz_pipelines.warehouse.duckdb_warehouse import DuckDBWarehouse

BACKENDS = ("duckdb", "starrocks")


def selected_backend() -> str:
    backend = os.environ.get("DATAWIZ_WAREHOUSE", "duckdb").strip().lower()
    if backend not in BACKENDS:
        raise ValueError(f"DATAWIZ_WAREHOUSE={backend!r}: expected one of {', '.join(BACKENDS)}")
    return backend


def build_warehouse(backend: str, paths: ProjectPaths) -> Warehouse:
    if backend == "duckdb":
        return DuckDBWarehouse(data_dir=str(paths.data_dir))
    raise NotImplementedError(f"the {backend} warehouse resource is not available yet")
