"""Constants and builders shared by the StarRocks tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl

from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.lineage import LOAD_ID, SOURCE_FILE, SOURCE_MODIFIED, TABLE_LINEAGE_COLUMNS

CONFIG_ROOT = Path(__file__).resolve().parents[2] / "tenant_configs"
ADMIN_PASSWORD = "admin-Secret-7x"


def tenant_password(tenant_id: str) -> str:
    return f"pw-{tenant_id}-Secret-9q"


def write_silver(
    path: Path, table: CatalogTable, rows: list[dict[str, Any]], *, load_id: str = "run-1"
) -> Path:
    """A silver file for ``table``: canonical columns (catalog types) then lineage columns."""
    schema = {column.name: column.type.polars for column in table.columns}
    schema |= {name: type_.polars for name, type_ in TABLE_LINEAGE_COLUMNS.items()}
    lineage = {
        SOURCE_FILE: "landing/sample.csv",
        SOURCE_MODIFIED: dt.datetime(2024, 5, 1, 8, 30),
        LOAD_ID: load_id,
    }
    frame = pl.DataFrame([{**lineage, **row} for row in rows], schema=schema, orient="row")
    frame.write_parquet(path)
    return path
