"""One tenant's view of the shared models: overrides, opt-outs and row-level security.

* Override: ``tenants/<id>/sql/<kind>/<name>.sql`` replaces the body of the shared model
  ``<kind>/<name>`` for that tenant. It may read only relations the shared model reads,
  so the asset graph (shared by every tenant) stays true for every tenant.
* Opt-out: ``sql_models.disabled: [<kind>/<name>, ...]`` in the tenant's config.yaml;
  the model's asset drops the object for that tenant and materializes nothing.
* Row-level security: ``row_level_security`` in config.yaml names roles and their
  territories; each protected relation (``sql/security.yaml``) gets one view per role.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from datawiz_pipelines.config.errors import display_path
from datawiz_pipelines.config.loader import Tenant
from datawiz_pipelines.sql_models.models import SQL_DIR, SqlModel, SqlModelSet, read_model_file
from datawiz_pipelines.sql_models.parsing import (
    SqlModelError,
    parse_select,
    relations_read,
    render_starrocks,
)
from datawiz_pipelines.warehouse.row_security import RowSecurityPolicy, RowSecurityRole


@dataclass(frozen=True)
class TenantModel:
    """A shared model as one tenant builds it."""

    model: SqlModel
    enabled: bool
    sql: str
    """The body the tenant uses (its override, or the shared one), placeholders included."""
    source: Path
    overridden: bool

    def starrocks_sql(self, tenant: Tenant) -> str:
        """The tenant's query in StarRocks SQL, business rules substituted."""
        return render_starrocks(
            self.sql,
            tenant.settings.business_rules,
            tenant_id=tenant.tenant_id,
            name=self.model.name,
            where=display_path(self.source),
        )


def override_dir(tenant: Tenant) -> Path:
    return tenant.config_dir / SQL_DIR


def override_path(tenant: Tenant, model: SqlModel) -> Path:
    return override_dir(tenant) / model.kind / f"{model.name}.sql"


def read_override(models: SqlModelSet, model: SqlModel, path: Path) -> str:
    """The override's body, checked: one query reading nothing the shared model does not read,
    and still returning the territory column when row-level security filters the model on it."""
    where = display_path(path)
    _, text, _ = read_model_file(path, model.kind, require_description=False)
    query = parse_select(text, where=where)
    reads = relations_read(query, where=where)
    extra = [name for name in reads if name not in model.reads]
    if extra:
        raise SqlModelError(
            f"{where}: reads {', '.join(extra)}, which the shared model "
            f"{display_path(model.path)} does not read (it reads {', '.join(model.reads)}); "
            "an override may use only the shared model's tables, so every tenant's lineage stays true"
        )
    target = models.security.get(model.name)
    columns = query.named_selects
    if (
        target is not None
        and target.via is None
        and "*" not in columns
        and target.territory_column not in columns
    ):
        raise SqlModelError(
            f"{where}: returns no {target.territory_column} column, which row-level security "
            f"(security/{model.name}) filters on; keep it among the columns"
        )
    return text


def resolve(models: SqlModelSet, tenant: Tenant, model: SqlModel) -> TenantModel:
    """How ``tenant`` builds ``model``; a SqlModelError if its override is invalid."""
    enabled = model.ref not in tenant.settings.sql_models.disabled
    path = override_path(tenant, model)
    if path.is_file():
        return TenantModel(model, enabled, read_override(models, model, path), path, overridden=True)
    return TenantModel(model, enabled, model.sql, model.path, overridden=False)


def protected_relations(models: SqlModelSet, tenant: Tenant) -> list[str]:
    """The relations the tenant protects: its ``row_level_security.tables``, or else every
    target except models it opted out of; none without roles."""
    settings = tenant.settings.row_level_security
    if not settings.roles:
        return []
    if settings.tables is not None:
        return list(settings.tables)
    disabled = set(tenant.settings.sql_models.disabled)
    return [
        relation
        for relation in models.security
        if relation not in models.models or models.models[relation].ref not in disabled
    ]


def security_policy(models: SqlModelSet, tenant: Tenant, relation: str) -> RowSecurityPolicy:
    """The tenant's policy for ``relation``: no roles (so its views are removed) if unprotected."""
    target = models.security[relation]
    roles: tuple[RowSecurityRole, ...] = ()
    if relation in protected_relations(models, tenant):
        roles = tuple(
            RowSecurityRole(
                name=name,
                territories=None if role.territories == "all" else tuple(role.territories),
                users=tuple(role.users),
            )
            for name, role in tenant.settings.row_level_security.roles.items()
        )
    return RowSecurityPolicy(
        relation=relation, roles=roles, territory_column=target.territory_column, via=target.via
    )
