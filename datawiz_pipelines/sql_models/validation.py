"""Everything wrong with a tenant's SQL models and row-level security, as file-named messages.

``datawiz tenants validate`` calls ``problems_for_tenant``; the assets run the same
checks for the one model they build, so a bad override fails its run with the same words.
"""

from __future__ import annotations

from datawiz_pipelines.config.errors import ConfigError, display_path
from datawiz_pipelines.config.loader import ConfigRepository, Tenant
from datawiz_pipelines.sql_models.models import SqlModelSet, load_sql_models, model_files
from datawiz_pipelines.sql_models.parsing import SqlModelError, starrocks_to_duckdb
from datawiz_pipelines.sql_models.tenant_models import (
    override_dir,
    protected_relations,
    read_override,
    resolve,
)
from datawiz_pipelines.warehouse.row_security import rls_view_name

MAX_OBJECT_NAME = 64
"""StarRocks' limit on table, view and materialized view names."""


def problems_for_tenant(repository: ConfigRepository, tenant: Tenant) -> list[str]:
    """Every problem with the tenant's use of the shared SQL models (empty when all is well)."""
    try:
        models = load_sql_models(repository.root, repository.catalog)
    except ConfigError as exc:
        return list(exc.problems)
    config = display_path(tenant.config_dir / "config.yaml")
    problems: list[str] = []
    problems += _opt_out_problems(models, tenant, config)
    problems += _override_problems(models, tenant)
    problems += _render_problems(models, tenant)
    problems += _security_problems(models, tenant, config)
    return problems


def problems_for_tenant_id(repository: ConfigRepository, tenant_id: str) -> list[str]:
    """``problems_for_tenant`` for a tenant id; nothing when the tenant's configuration does not
    load (its own validation reports why, and the models cannot be checked without it)."""
    try:
        tenant = repository.load_tenant(tenant_id)
    except ConfigError:
        return []
    return problems_for_tenant(repository, tenant)


def _opt_out_problems(models: SqlModelSet, tenant: Tenant, config: str) -> list[str]:
    disabled = tenant.settings.sql_models.disabled
    problems = []
    for ref in disabled:
        if models.by_ref(ref) is None:
            known = ", ".join(model.ref for model in models.models.values()) or "none"
            problems.append(f"{config}: sql_models.disabled: {ref!r} is not a shared model (known: {known})")
    for model in models.models.values():
        if model.ref in disabled:
            continue
        for name in model.reads:
            read = models.models.get(name)
            if read is not None and read.ref in disabled:
                problems.append(
                    f"{config}: sql_models.disabled: {read.ref} is read by {model.ref}, which is "
                    "not disabled; disable both or neither"
                )
    return problems


def _override_problems(models: SqlModelSet, tenant: Tenant) -> list[str]:
    problems: list[str] = []
    for kind, path in model_files(override_dir(tenant), problems):
        model = models.by_ref(f"{kind}/{path.stem}")
        if model is None:
            shared = [m.name for m in models.models.values() if m.kind == kind]
            problems.append(
                f"{display_path(path)}: overrides no shared model (shared {kind}: "
                f"{', '.join(shared) or 'none'}); a tenant replaces shared models, it cannot add any"
            )
            continue
        try:
            read_override(models, model, path)
        except SqlModelError as exc:
            problems.append(str(exc))
    return problems


def _render_problems(models: SqlModelSet, tenant: Tenant) -> list[str]:
    """Each enabled model rendered with the tenant's business rules and transpiled for DuckDB."""
    problems = []
    for model in models.models.values():
        try:
            resolved = resolve(models, tenant, model)
        except SqlModelError:
            continue  # reported with the overrides
        if not resolved.enabled:
            continue
        try:
            sql = resolved.starrocks_sql(tenant)  # errors name the file
        except SqlModelError as exc:
            problems.append(str(exc))
            continue
        try:
            starrocks_to_duckdb(sql)
        except SqlModelError as exc:
            problems.append(f"{display_path(resolved.source)}: {exc}")
    return problems


def _security_problems(models: SqlModelSet, tenant: Tenant, config: str) -> list[str]:
    settings = tenant.settings.row_level_security
    disabled = tenant.settings.sql_models.disabled
    problems = []
    if settings.tables is not None and not settings.roles:
        problems.append(f"{config}: row_level_security.tables: protecting tables needs at least one role")
    for relation in settings.tables or []:
        if relation not in models.security:
            problems.append(
                f"{config}: row_level_security.tables: {relation!r} cannot be protected; the relations "
                f"listed in {display_path(models.root / 'security.yaml')} can: {', '.join(models.security)}"
            )
            continue
        model = models.models.get(relation)
        if model is not None and model.ref in disabled:
            problems.append(
                f"{config}: row_level_security.tables: {relation!r} is protected but "
                f"sql_models.disabled opts out of {model.ref}"
            )
    for relation in protected_relations(models, tenant):
        for role in settings.roles:
            view = rls_view_name(role, relation)
            if len(view) > MAX_OBJECT_NAME:
                problems.append(
                    f"{config}: row_level_security.roles.{role}: the view {view} would be longer than "
                    f"{MAX_OBJECT_NAME} characters; use a shorter role name"
                )
    return problems
