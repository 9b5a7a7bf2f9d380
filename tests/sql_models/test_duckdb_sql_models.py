"""SQL models on the embedded DuckDB warehouse: StarRocks SQL transpiled, objects built atomically."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from datawiz_pipelines.config.loader import ConfigRepository, Tenant
from datawiz_pipelines.settings import PROJECT_ROOT
from datawiz_pipelines.sql_models.models import load_sql_models
from datawiz_pipelines.sql_models.tenant_models import resolve, security_policy
from datawiz_pipelines.warehouse.base import WarehouseError
from datawiz_pipelines.warehouse.duckdb_warehouse import DuckDBWarehouse
from datawiz_pipelines.warehouse.row_security import RowSecurityPolicy, RowSecurityRole, TerritoryJoin

REPOSITORY = ConfigRepository(PROJECT_ROOT / "tenant_configs")


@pytest.fixture
def tenant(tmp_path: Path) -> Tenant:
    """tenant1's configuration, its warehouse under tmp_path."""
    return REPOSITORY.load_tenant("tenant1")


@pytest.fixture
def warehouse(tmp_path: Path, tenant: Tenant) -> DuckDBWarehouse:
    warehouse = DuckDBWarehouse(data_dir=str(tmp_path))
    warehouse.provision(tenant, list(REPOSITORY.catalog))
    return warehouse


def execute(warehouse: DuckDBWarehouse, tenant: Tenant, *statements: str) -> None:
    with duckdb.connect(str(warehouse.database_file(tenant))) as con:
        for statement in statements:
            con.execute(statement)


def rows(warehouse: DuckDBWarehouse, tenant: Tenant, sql: str) -> list[tuple]:
    return list(warehouse.query(tenant, sql).iter_rows())


def add_sales(warehouse: DuckDBWarehouse, tenant: Tenant) -> None:
    execute(
        warehouse,
        tenant,
        "INSERT INTO dim_customer_master (customer_code, customer_name, wss_territory_code) "
        "VALUES ('C1', 'One', 'T1'), ('C2', 'Two', 'T2')",
        "INSERT INTO fact_invoice_details (invoice_date, invoice_no, line_no, customer_code, material_code, "
        "quantity, gross_amount, net_amount) VALUES "
        "('2024-01-01', 'P1', 1, 'C1', 'M1', 1, 10, 10), ('2024-01-01', 'P2', 1, 'C2', 'M1', 1, 20, 20), "
        "('2024-01-02', 'P3', 1, 'C2', 'M1', 1, 30, 30)",
        "INSERT INTO fact_invoice_secondary (invoice_date, invoice_no, line_no, customer_code, dealer_code, "
        "material_code, wss_territory_code, quantity, net_amount) VALUES "
        "('2024-01-01', 'S1', 1, 'C1', 'D1', 'M1', 'T1', 1, 100), "
        "('2024-01-01', 'S2', 1, 'C2', 'D2', 'M1', 'T2', 1, 200), "
        "('2024-02-01', 'S3', 1, 'C2', 'D2', 'M1', 'T3', 1, 300)",
    )


def test_every_shared_model_and_security_view_builds_on_duckdb(warehouse, tenant):
    models = load_sql_models(REPOSITORY.root, REPOSITORY.catalog)
    for model in models.models.values():
        sql = resolve(models, tenant, model).starrocks_sql(tenant)
        if model.kind == "views":
            result = warehouse.create_or_replace_view(tenant, model.name, sql, description=model.description)
        elif model.kind == "matviews":
            result = warehouse.create_or_replace_materialized_view(
                tenant, model.name, sql, refresh=model.refresh
            )
        else:
            result = warehouse.replace_table_as(tenant, model.name, sql, description=model.description)
        assert result.action == "created", model.ref
        assert result.columns, model.ref
    for relation in models.security:
        result = warehouse.apply_row_level_security(tenant, security_policy(models, tenant, relation))
        assert set(result.views) == {
            f"rls_{role}__{relation}" for role in tenant.settings.row_level_security.roles
        }
    columns = warehouse.query(tenant, "DESCRIBE business_constants")["column_name"].to_list()
    assert columns == ["dimension", "value", "net_sales", "sales_rank"]


def test_a_view_is_created_then_replaced_and_described(warehouse, tenant):
    first = warehouse.create_or_replace_view(
        tenant, "recent_sales", "SELECT invoice_no FROM `fact_invoice_secondary`", description="It's recent."
    )
    assert (first.action, first.object_type, first.rows) == ("created", "view", None)
    assert first.columns == [("invoice_no", "VARCHAR")]
    add_sales(warehouse, tenant)
    second = warehouse.create_or_replace_view(
        tenant,
        "recent_sales",
        "SELECT invoice_no, net_amount FROM fact_invoice_secondary WHERE net_amount > 150",
    )
    assert second.action == "replaced"
    assert sorted(rows(warehouse, tenant, "SELECT invoice_no FROM recent_sales")) == [("S2",), ("S3",)]
    comment = rows(warehouse, tenant, "SELECT comment FROM duckdb_views() WHERE view_name = 'recent_sales'")
    assert comment == [(None,)]  # the second build had no description


def test_a_materialized_view_is_a_table_refreshed_on_demand(warehouse, tenant):
    sql = "SELECT wss_territory_code, SUM(net_amount) AS net FROM fact_invoice_secondary GROUP BY wss_territory_code"
    created = warehouse.create_or_replace_materialized_view(tenant, "sales_mv", sql, description="Sales.")
    assert (created.action, created.object_type, created.rows) == ("created", "materialized_view", 0)
    add_sales(warehouse, tenant)
    unchanged = warehouse.create_or_replace_materialized_view(tenant, "sales_mv", sql, description="Sales.")
    assert (unchanged.action, unchanged.rows) == ("unchanged", 0)  # stale until refreshed, like StarRocks
    refreshed = warehouse.refresh_materialized_view(tenant, "sales_mv")
    assert (refreshed.action, refreshed.rows) == ("refreshed", 3)
    replaced = warehouse.create_or_replace_materialized_view(tenant, "sales_mv", sql, refresh="MANUAL")
    assert (replaced.action, replaced.rows) == ("replaced", 3)
    with pytest.raises(
        WarehouseError, match="'nope' is not a materialized view; create it before refreshing"
    ):
        warehouse.refresh_materialized_view(tenant, "nope")


def test_a_failed_rebuild_leaves_the_derived_table_as_it_was(warehouse, tenant):
    add_sales(warehouse, tenant)
    warehouse.replace_table_as(tenant, "big_sales", "SELECT invoice_no FROM fact_invoice_secondary")
    with pytest.raises(WarehouseError, match=r"tenant 'tenant1'.*building 'big_sales' failed"):
        warehouse.replace_table_as(
            tenant, "big_sales", "SELECT CAST(invoice_no AS INT) AS n FROM fact_invoice_secondary"
        )
    assert sorted(rows(warehouse, tenant, "SELECT * FROM big_sales")) == [("S1",), ("S2",), ("S3",)]


def test_a_model_never_overwrites_a_catalog_table(warehouse, tenant):
    with pytest.raises(WarehouseError, match="'dim_material' already exists and no SQL model created it"):
        warehouse.create_or_replace_view(tenant, "dim_material", "SELECT 1 AS a")
    assert warehouse.drop_model(tenant, "dim_material", "table").action == "absent"
    assert rows(warehouse, tenant, "SELECT count(*) FROM dim_material") == [(0,)]


def test_a_model_may_change_kind_and_be_dropped(warehouse, tenant):
    warehouse.create_or_replace_view(tenant, "thing", "SELECT 1 AS a")
    result = warehouse.replace_table_as(tenant, "thing", "SELECT 2 AS a")
    assert (result.action, result.rows) == ("replaced", 1)
    assert rows(
        warehouse, tenant, "SELECT table_type FROM information_schema.tables WHERE table_name = 'thing'"
    ) == [("BASE TABLE",)]
    assert warehouse.drop_model(tenant, "thing", "table").action == "dropped"
    assert warehouse.drop_model(tenant, "thing", "table").action == "absent"


def test_row_level_security_views_filter_directly_and_through_a_join(warehouse, tenant):
    add_sales(warehouse, tenant)
    roles = (RowSecurityRole("north", ("T1", "T3")), RowSecurityRole("head_office", None))
    direct = RowSecurityPolicy("fact_invoice_secondary", roles)
    result = warehouse.apply_row_level_security(tenant, direct)
    assert result.views == {
        "rls_north__fact_invoice_secondary": 2,
        "rls_head_office__fact_invoice_secondary": 3,
    }
    assert sorted(rows(warehouse, tenant, "SELECT invoice_no FROM rls_north__fact_invoice_secondary")) == [
        ("S1",),
        ("S3",),
    ]
    via = RowSecurityPolicy(
        "fact_invoice_details",
        roles[:1],
        via=TerritoryJoin("customer_code", "dim_customer_master", "customer_code"),
    )
    assert warehouse.apply_row_level_security(tenant, via).views == {"rls_north__fact_invoice_details": 1}
    # the role is gone from the policy: its views of this relation go, other relations keep theirs
    result = warehouse.apply_row_level_security(
        tenant, RowSecurityPolicy("fact_invoice_secondary", roles[1:])
    )
    assert result.dropped == ["rls_north__fact_invoice_secondary"]
    views = {
        name for (name,) in rows(warehouse, tenant, "SELECT view_name FROM duckdb_views() WHERE NOT internal")
    }
    assert views == {"rls_head_office__fact_invoice_secondary", "rls_north__fact_invoice_details"}
    assert warehouse.apply_row_level_security(
        tenant, RowSecurityPolicy("fact_invoice_details", ())
    ).dropped == ["rls_north__fact_invoice_details"]
