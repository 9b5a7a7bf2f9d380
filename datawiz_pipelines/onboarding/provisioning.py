"""Provisioning a tenant in the configured warehouse: everything its first run loads into.

1. ``Warehouse.provision``: the database (and, where the backend has them, the user and
   its grants) and every catalog table, seed tables included (empty: runs fill them).
2. The shared SQL models in dependency order, as this tenant builds them (its own
   version of a model, its opt-outs): views, materialized views and derived tables,
   then the row-level security views of the relations it protects. They are built over
   whatever the tables hold (nothing yet, for a new tenant); the model assets rebuild
   them after every load. A backend that cannot build SQL models yet skips this step.

Idempotent: what exists is reported as existing; tables gain the catalog's new columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from datawiz_pipelines.config.errors import ConfigError
from datawiz_pipelines.config.loader import ConfigRepository, Tenant
from datawiz_pipelines.sql_models.models import load_sql_models
from datawiz_pipelines.sql_models.parsing import SqlModelError
from datawiz_pipelines.sql_models.tenant_models import protected_relations, resolve, security_policy
from datawiz_pipelines.warehouse.base import ModelResult, Warehouse

_OBJECTS = {"views": "view", "matviews": "materialized view", "derived": "derived table"}


@dataclass
class ProvisionOutcome:
    backend: str
    database: str
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    """Objects whose definition is (re)applied every time: views, derived tables, security views."""
    notes: list[str] = field(default_factory=list)


def provision_tenant(repository: ConfigRepository, tenant: Tenant, warehouse: Warehouse) -> ProvisionOutcome:
    """Create (or bring up to date) everything of ``tenant`` in ``warehouse``.

    Raises ConfigError for invalid SQL models and WarehouseError for what the warehouse refuses.
    """
    outcome = ProvisionOutcome(backend=warehouse.backend, database=tenant.entry.database_name)
    tables = list(repository.catalog)
    report = warehouse.provision(tenant, tables)
    outcome.created += report.created
    outcome.existing += report.existing
    if warehouse.builds_sql_models:
        _provision_models(repository, tenant, warehouse, outcome)
    else:
        outcome.notes.append(
            f"the {warehouse.backend} warehouse does not build SQL models yet: views, materialized "
            "views, derived tables and row-level security views were not created"
        )
    seeds = [table.name for table in tables if table.source == "seed"]
    if seeds:
        outcome.notes.append(
            f"seed tables {', '.join(seeds)} are filled from the tenant's seeds/ folder by its runs"
        )
    return outcome


def _provision_models(
    repository: ConfigRepository, tenant: Tenant, warehouse: Warehouse, outcome: ProvisionOutcome
) -> None:
    models = load_sql_models(repository.root, repository.catalog)
    for model in models.models.values():
        label = f"{_OBJECTS[model.kind]} {model.name}"
        try:
            resolved = resolve(models, tenant, model)
            sql = resolved.starrocks_sql(tenant) if resolved.enabled else ""
        except SqlModelError as exc:
            raise ConfigError([str(exc)]) from None
        if not resolved.enabled:
            outcome.notes.append(f"{label}: not built, the tenant opts out of it (sql_models.disabled)")
            continue
        if model.kind == "views":
            result = warehouse.create_or_replace_view(tenant, model.name, sql, description=model.description)
        elif model.kind == "matviews":
            result = warehouse.create_or_replace_materialized_view(
                tenant, model.name, sql, description=model.description, refresh=model.refresh or "ASYNC"
            )
        else:
            result = warehouse.replace_table_as(tenant, model.name, sql, description=model.description)
        _record(outcome, label, result)
    for relation in protected_relations(models, tenant):
        result = warehouse.apply_row_level_security(tenant, security_policy(models, tenant, relation))
        outcome.replaced += [f"row-level security view {view}" for view in result.views]


def _record(outcome: ProvisionOutcome, label: str, result: ModelResult) -> None:
    kinds = {"created": outcome.created, "unchanged": outcome.existing}
    kinds.get(result.action, outcome.replaced).append(label)
