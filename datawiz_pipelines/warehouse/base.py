"""The interface every warehouse backend implements.

Asset code talks only to this interface, so the same assets, keys and metadata
serve the embedded DuckDB default and production StarRocks; only the resource
bound to the ``warehouse`` key changes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl
from dagster import ConfigurableResource

from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.config.loader import Tenant


class WarehouseError(RuntimeError):
    """A load or statement failed; the message names the tenant, database and table."""


@dataclass(frozen=True)
class LoadResult:
    """What a load did, for asset metadata. Never carries secrets."""

    database: str
    table: str
    mode: Literal["replace", "upsert"]
    rows_loaded: int
    rows_in_table: int
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProvisionReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)


class Warehouse(ConfigurableResource, ABC):
    """A tenant-isolated warehouse: every call names the tenant whose database it touches."""

    @property
    @abstractmethod
    def backend(self) -> str:
        """Short name shown as the warehouse assets' kind: ``duckdb`` or ``starrocks``."""

    @abstractmethod
    def provision(self, tenant: Tenant, tables: list[CatalogTable]) -> ProvisionReport:
        """Create the tenant's database (and user, where the backend has users) and tables.

        Idempotent: what exists is reported as existing and left as it is, except that
        columns the catalog has gained are added.
        """

    @abstractmethod
    def load_table(
        self, tenant: Tenant, table: CatalogTable, silver_file: Path, *, load_id: str
    ) -> LoadResult:
        """Publish ``silver_file`` (canonical columns then lineage columns) into the table.

        ``replace`` tables are swapped in atomically: readers see the old rows or the
        new rows, never a mix, and a failed load leaves the old table untouched.
        ``incremental`` tables are upserted on their keys: a rerun never duplicates rows.
        """

    @abstractmethod
    def query(self, tenant: Tenant, sql: str) -> pl.DataFrame:
        """Run a read-only query in the tenant's database (for checks, previews and tests)."""
