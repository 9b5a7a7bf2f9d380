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
from datawiz_pipelines.warehouse.row_security import RowSecurityPolicy


class WarehouseError(RuntimeError):
    """A load or statement failed; the message names the tenant, database and table."""


LoadMode = Literal["replace", "upsert"]


def resolve_load_mode(table: CatalogTable, mode: LoadMode | None = None) -> LoadMode:
    """``mode``, or when it is None the table's own: replace tables replace, incremental tables upsert."""
    if mode is None:
        return "replace" if table.load_mode == "replace" else "upsert"
    if mode not in ("replace", "upsert"):
        raise ValueError(f"load mode {mode!r}: expected 'replace' or 'upsert'")
    return mode


@dataclass(frozen=True)
class LoadResult:
    """What a load did, for asset metadata. Never carries secrets."""

    database: str
    table: str
    mode: LoadMode
    rows_loaded: int
    rows_in_table: int
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProvisionReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)


SqlObjectType = Literal["view", "materialized_view", "table"]
"""What a SQL model becomes in the warehouse: views are views, matviews materialized views
(a table refreshed on demand where the backend has none), derived models tables."""


@dataclass(frozen=True)
class ModelResult:
    """What building (or dropping) a SQL model did, for asset metadata."""

    database: str
    name: str
    object_type: SqlObjectType
    action: Literal["created", "replaced", "unchanged", "refreshed", "dropped", "absent"]
    rows: int | None = None
    """Rows in the object after the action; ``None`` for views (counting one is a query)."""
    columns: list[tuple[str, str]] = field(default_factory=list)
    """(name, backend type) of every column, in order."""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RowSecurityResult:
    """The row-security views of one relation after applying a policy."""

    database: str
    relation: str
    views: dict[str, int | None]
    """View name -> rows the role sees through it (``None`` when the backend does not count)."""
    dropped: list[str] = field(default_factory=list)
    """Views of roles no longer in the policy, removed."""
    details: dict[str, Any] = field(default_factory=dict)


SQL_MODEL_METHODS = (
    "create_or_replace_view",
    "create_or_replace_materialized_view",
    "refresh_materialized_view",
    "replace_table_as",
    "drop_model",
    "apply_row_level_security",
)


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
        self,
        tenant: Tenant,
        table: CatalogTable,
        silver_file: Path,
        *,
        load_id: str,
        mode: LoadMode | None = None,
    ) -> LoadResult:
        """Publish ``silver_file`` (canonical columns then lineage columns) into the table.

        ``mode="replace"``: the table becomes exactly the file's rows, swapped in atomically:
        readers see the old rows or the new rows, never a mix, and a failed load leaves the
        old table untouched. ``mode="upsert"``: rows whose keys arrive are replaced by the
        file's rows, other rows stay; a rerun never duplicates rows.
        ``mode=None``: the table's ``load_mode`` decides (``resolve_load_mode``: ``replace``
        tables replace, ``incremental`` tables upsert). The landing ledger replaces an
        incremental table (from all its files) when a source file changed or was deleted
        upstream, and upserts only new files' rows otherwise. ``LoadResult.mode`` is the mode applied.
        """

    @abstractmethod
    def query(self, tenant: Tenant, sql: str) -> pl.DataFrame:
        """Run a read-only query in the tenant's database (for checks, previews and tests)."""

    # -- SQL models (views, materialized views, derived tables, row-level security) ------
    #
    # Every SELECT handed to these methods is StarRocks SQL, written once in
    # tenant_configs/sql/ with the tenant's business rules substituted; a backend with
    # another dialect transpiles it (sqlglot). The methods are not abstract so a backend
    # can be completed step by step; one that lacks them fails with a clear message.

    @property
    def builds_sql_models(self) -> bool:
        """Whether this backend implements every SQL-model method below; until it does, the
        model assets skip (with a warning) instead of failing the tenant's run."""
        return all(getattr(type(self), name) is not getattr(Warehouse, name) for name in SQL_MODEL_METHODS)

    def create_or_replace_view(
        self, tenant: Tenant, name: str, select_sql: str, *, description: str = ""
    ) -> ModelResult:
        """Create the view ``name`` or replace its definition (readers never see it missing)."""
        raise self._unsupported("views")

    def create_or_replace_materialized_view(
        self, tenant: Tenant, name: str, select_sql: str, *, description: str = "", refresh: str = "ASYNC"
    ) -> ModelResult:
        """Make ``name`` a materialized view of ``select_sql``, populated.

        Absent: created and filled (``created``). Its definition (SQL or ``refresh``)
        changed: rebuilt and swapped in atomically (``replaced``). Same definition: left
        as it is (``unchanged``; call ``refresh_materialized_view`` to bring it up to date).
        ``refresh`` is the StarRocks refresh scheme (``ASYNC``, ``MANUAL``,
        ``ASYNC EVERY (INTERVAL 1 DAY)``); backends without one refresh on demand only.
        """
        raise self._unsupported("materialized views")

    def refresh_materialized_view(self, tenant: Tenant, name: str) -> ModelResult:
        """Re-activate the materialized view if a swap of a base table left it inactive,
        then refresh it synchronously (``refreshed``)."""
        raise self._unsupported("materialized views")

    def replace_table_as(
        self, tenant: Tenant, name: str, select_sql: str, *, description: str = ""
    ) -> ModelResult:
        """Make table ``name`` hold the rows of ``select_sql``, swapped in atomically: readers
        see the old rows or the new ones, and a failure leaves the old table as it was."""
        raise self._unsupported("derived tables")

    def drop_model(self, tenant: Tenant, name: str, object_type: SqlObjectType) -> ModelResult:
        """Drop a SQL model's object if it exists (``dropped``, or ``absent``); never a catalog table."""
        raise self._unsupported("SQL models")

    def apply_row_level_security(self, tenant: Tenant, policy: RowSecurityPolicy) -> RowSecurityResult:
        """Create or replace one filtered view per role of ``policy`` and drop the views of
        roles it no longer has. Backends with users also create the roles, grant each
        role SELECT on its own views only, grant the roles to the listed users and
        revoke them from users no longer listed."""
        raise self._unsupported("row-level security")

    def _unsupported(self, what: str) -> WarehouseError:
        return WarehouseError(f"the {self.backend} warehouse does not support {what} yet")
