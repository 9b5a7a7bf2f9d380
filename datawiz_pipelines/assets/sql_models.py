"""Post-load SQL models as assets: views, materialized views, derived tables, row-level security.

One asset per shared model and per protectable relation, partitioned by tenant like
every table (tenants never multiply definitions):

=====================  ========  ==============================================  ==========================
asset key              group     builds (in the tenant's warehouse)              upstream (parsed from SQL)
=====================  ========  ==============================================  ==========================
views/<name>           views     the view <name>                                 warehouse/<t>, <kind>/<m>
matviews/<name>        matviews  the materialized view <name>, then refreshes it  idem
derived/<name>         derived   the table <name>, swapped in atomically          idem
security/<relation>    security  rls_<role>__<relation> per role (+ grants)        the relation (+ its join)
=====================  ========  ==============================================  ==========================

Materializing ``matviews/<name>`` again is its refresh (the evening job does it):
the view is created if absent, rebuilt and swapped in if its definition changed, and
otherwise re-activated (after a base-table swap) and refreshed. Materialized views and
derived tables carry the evening schedule tags. A tenant that opts out of a model
gets nothing materialized for it (and the object is dropped if it existed).
"""

from collections.abc import Iterator
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    TableColumn,
    TableSchema,
    asset,
)

from datawiz_pipelines.config.loader import Tenant
from datawiz_pipelines.jobs import EVENING, schedule_tags
from datawiz_pipelines.resources.tenant_config import TenantConfigResource
from datawiz_pipelines.sql_models.models import SECURITY_KIND, SecurityTarget, SqlModel, SqlModelSet
from datawiz_pipelines.sql_models.parsing import SqlModelError
from datawiz_pipelines.sql_models.tenant_models import TenantModel, resolve, security_policy
from datawiz_pipelines.warehouse.base import ModelResult, Warehouse, WarehouseError

MATVIEW_REFRESH_JOB = "evening_matview_refresh"

_BUILDS = {
    "views": "View",
    "matviews": "Materialized view (a table refreshed on demand on DuckDB)",
    "derived": "Derived table, rebuilt and swapped in atomically",
}


def model_schedule_tags(model: SqlModel) -> dict[str, str]:
    """Materialized views refresh, and derived tables rebuild, in the tenant's evening."""
    if model.kind == "matviews":
        return schedule_tags(EVENING, MATVIEW_REFRESH_JOB)
    if model.kind == "derived":
        return schedule_tags(EVENING, f"evening_{model.name}")
    return {}


def build_sql_model_assets(
    models: SqlModelSet, partitions_def: PartitionsDefinition, warehouse_backend: str
) -> list[AssetsDefinition]:
    """An asset per shared model and per protectable relation."""
    return [
        *(_model_asset(models, model, partitions_def, warehouse_backend) for model in models.models.values()),
        *(
            _security_asset(models, target, partitions_def, warehouse_backend)
            for target in models.security.values()
        ),
    ]


def _model_asset(
    models: SqlModelSet, model: SqlModel, partitions_def: PartitionsDefinition, backend: str
) -> AssetsDefinition:
    source = _config_relative(models, model.path)

    @asset(
        key=AssetKey([model.kind, model.name]),
        deps=[AssetKey(models.asset_path(name)) for name in model.reads],
        group_name=model.kind,
        partitions_def=partitions_def,
        kinds={"sql", backend},
        tags=model_schedule_tags(model),
        output_required=False,
        description=f"{model.description}\n\n{_BUILDS[model.kind]}, from `{source}`.",
        metadata={
            "sql_file": source,
            "reads": sorted(model.reads),
            "database_object": model.object_type,
            **({"refresh": model.refresh} if model.refresh else {}),
        },
    )
    def _model(
        context: AssetExecutionContext, tenants: TenantConfigResource, warehouse: Warehouse
    ) -> Iterator[MaterializeResult]:
        tenant = tenants.load(context.partition_key)
        if not _builds_models(context, warehouse, model.ref):
            return
        resolved = _resolve(models, tenant, model)
        if not resolved.enabled:
            result = warehouse.drop_model(tenant, model.name, model.object_type)
            context.log.info(
                f"tenant {tenant.tenant_id} opts out of {model.ref} (sql_models.disabled): "
                f"nothing to build; its {model.object_type} {result.action}"
            )
            return
        sql = _rendered(resolved, tenant)
        if model.kind == "views":
            result = warehouse.create_or_replace_view(tenant, model.name, sql, description=model.description)
        elif model.kind == "matviews":
            result = warehouse.create_or_replace_materialized_view(
                tenant, model.name, sql, description=model.description, refresh=model.refresh or "ASYNC"
            )
            if result.action == "unchanged":
                result = warehouse.refresh_materialized_view(tenant, model.name)
        else:
            result = warehouse.replace_table_as(tenant, model.name, sql, description=model.description)
        yield MaterializeResult(metadata=_model_metadata(models, resolved, result, sql, warehouse))

    return _model


def _security_asset(
    models: SqlModelSet, target: SecurityTarget, partitions_def: PartitionsDefinition, backend: str
) -> AssetsDefinition:
    relation = target.relation
    how = (
        f"its `{target.territory_column}`"
        if target.via is None
        else f"`{target.via.column}` -> `{target.via.table}.{target.via.to_column}`.`{target.territory_column}`"
    )

    @asset(
        key=AssetKey([SECURITY_KIND, relation]),
        deps=[AssetKey(models.asset_path(name)) for name in target.reads],
        group_name=SECURITY_KIND,
        partitions_def=partitions_def,
        kinds={"sql", backend},
        output_required=False,
        description=(
            f"Row-level security on {relation}: one view per role of the tenant, "
            f"rls_<role>__{relation}, with only the rows of the role's territories (by {how}). "
            f"{target.description} On StarRocks each role is granted SELECT on its own views only."
        ).strip(),
        metadata={"relation": relation, "territory_column": target.territory_column},
    )
    def _security(
        context: AssetExecutionContext, tenants: TenantConfigResource, warehouse: Warehouse
    ) -> Iterator[MaterializeResult]:
        tenant = tenants.load(context.partition_key)
        if not _builds_models(context, warehouse, f"{SECURITY_KIND}/{relation}"):
            return
        policy = security_policy(models, tenant, relation)
        result = warehouse.apply_row_level_security(tenant, policy)
        if not policy.roles:
            context.log.info(
                f"tenant {tenant.tenant_id} does not protect {relation} (row_level_security); "
                f"removed views: {', '.join(result.dropped) or 'none'}"
            )
            return
        yield MaterializeResult(
            metadata={
                "dagster/table_name": f"{result.database}.{relation}",
                "views": MetadataValue.json(
                    {
                        policy.view_name(role): {
                            "role": role.name,
                            "territories": "all" if role.territories is None else list(role.territories),
                            "users": list(role.users),
                            "rows": result.views.get(policy.view_name(role)),
                        }
                        for role in policy.roles
                    }
                ),
                "dropped_views": MetadataValue.json(result.dropped),
                "view_sql": MetadataValue.md(
                    "\n\n".join(
                        f"`{policy.view_name(role)}`\n```sql\n{policy.select_sql(role)}\n```"
                        for role in policy.roles
                    )
                ),
                "warehouse_backend": warehouse.backend,
                "details": MetadataValue.json(result.details),
            }
        )

    return _security


def _builds_models(context: AssetExecutionContext, warehouse: Warehouse, ref: str) -> bool:
    if warehouse.builds_sql_models:
        return True
    context.log.warning(
        f"the {warehouse.backend} warehouse does not build SQL models yet: {ref} skipped for this run"
    )
    return False


def _resolve(models: SqlModelSet, tenant: Tenant, model: SqlModel) -> TenantModel:
    try:
        return resolve(models, tenant, model)
    except SqlModelError as exc:
        raise WarehouseError(f"tenant {tenant.tenant_id}, {model.ref}: {exc}") from None


def _rendered(resolved: TenantModel, tenant: Tenant) -> str:
    try:
        return resolved.starrocks_sql(tenant)
    except SqlModelError as exc:
        raise WarehouseError(f"tenant {tenant.tenant_id}, {resolved.model.ref}: {exc}") from None


def _model_metadata(
    models: SqlModelSet, resolved: TenantModel, result: ModelResult, sql: str, warehouse: Warehouse
) -> dict:
    metadata = {
        "dagster/table_name": f"{result.database}.{result.name}",
        "action": result.action,
        "database_object": result.object_type,
        "sql": MetadataValue.md(f"```sql\n{sql}\n```"),
        "sql_source": _config_relative(models, resolved.source),
        "tenant_override": resolved.overridden,
        "warehouse_backend": warehouse.backend,
        "details": MetadataValue.json(result.details),
    }
    if result.rows is not None:
        metadata["dagster/row_count"] = result.rows
    if result.columns:
        metadata["dagster/column_schema"] = TableSchema(
            columns=[TableColumn(name=name, type=kind) for name, kind in result.columns]
        )
    return metadata


def _config_relative(models: SqlModelSet, path: Path) -> str:
    """``path`` from the configuration root's parent: ``tenant_configs/sql/views/x.sql``."""
    try:
        return path.relative_to(models.root.parent.parent).as_posix()
    except ValueError:
        return path.as_posix()
