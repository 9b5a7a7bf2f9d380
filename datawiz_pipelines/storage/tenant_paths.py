"""The per-tenant layout under the data root. Nothing else builds data paths.

::

    data/<tenant>/source_files/            landing zone (dropped or downloaded files)
    data/<tenant>/bronze/<table>/          raw parquet, one part per source file
    data/<tenant>/silver/<table>/          cleaned parquet (data.parquet) and rejected rows
    data/<tenant>/tmp/                     scratch space (decompression, staging)
    data/<tenant>/ledger.sqlite            the file ledger: files seen, processed, loaded
    data/<tenant>/backup/                  archived processed files (local landing)
    data/warehouse/<database_name>.duckdb  the tenant's embedded warehouse
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from datawiz_pipelines.config.identifiers import check_identifier

LAYERS = ("bronze", "silver")


@dataclass(frozen=True)
class TenantPaths:
    data_dir: Path
    tenant_id: str

    def __post_init__(self) -> None:
        check_identifier(self.tenant_id)

    @property
    def root(self) -> Path:
        return self.data_dir / self.tenant_id

    @property
    def landing(self) -> Path:
        return self.root / "source_files"

    @property
    def temp(self) -> Path:
        return self.root / "tmp"

    @property
    def ledger(self) -> Path:
        """The tenant's file ledger (see ``landing.ledger``)."""
        return self.root / "ledger.sqlite"

    @property
    def backup(self) -> Path:
        """Where ``source_files_backup`` archives a local tenant's processed files."""
        return self.root / "backup"

    def table_dir(self, layer: str, table: str) -> Path:
        if layer not in LAYERS:
            raise ValueError(f"unknown layer {layer!r}; expected one of {LAYERS}")
        return self.root / layer / check_identifier(table)

    def owns(self, path: Path) -> bool:
        """Whether ``path`` lies inside this tenant's folder (after resolving links)."""
        return path.resolve().is_relative_to(self.root.resolve())


def duckdb_warehouse_path(data_dir: Path, database_name: str) -> Path:
    return data_dir / "warehouse" / f"{check_identifier(database_name)}.duckdb"
