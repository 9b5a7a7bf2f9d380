"""StarRocksWarehouse's SQL-model methods against the stand-in: views, materialized views,
derived tables (CREATE TABLE AS + SWAP) and row-level security with roles and grants."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pymysql
import pytest
from starrocks_standin import StandIn

from datawiz_pipelines.config.catalog import Catalog
from datawiz_pipelines.config.governance import RlsRole, RowLevelSecuritySettings
from datawiz_pipelines.config.loader import Tenant
from datawiz_pipelines.warehouse.base import WarehouseError
from datawiz_pipelines.warehouse.row_security import RowSecurityPolicy, RowSecurityRole
from datawiz_pipelines.warehouse.starrocks import StarRocksWarehouse

from .raw_client import sql
from .support import tenant_password, write_silver

MakeTenant = Callable[..., Tenant]
SALES = "SELECT wss_territory_code, SUM(amount) AS amount FROM sales GROUP BY wss_territory_code"


@pytest.fixture
def tenant(
    warehouse: StarRocksWarehouse, make_tenant: MakeTenant, standin: StandIn, catalog: Catalog
) -> Tenant:
    tenant = make_tenant("acme")
    warehouse.provision(tenant, [catalog["dim_sales_group"]])
    as_tenant(
        standin,
        "CREATE TABLE sales (k INT NOT NULL, wss_territory_code VARCHAR(16), amount INT) "
        "PRIMARY KEY(k) DISTRIBUTED BY HASH(k)",
    )
    as_tenant(standin, "INSERT INTO sales VALUES (1, 'T1', 10), (2, 'T1', 5), (3, 'T2', 7), (4, 'T3', 1)")
    return tenant


def as_tenant(standin: StandIn, statement: str) -> list[tuple]:
    return sql(standin, statement, user="acme_loader", password=tenant_password("acme"), database="acme_dw")


def test_view_is_created_replaced_and_queryable(warehouse: StarRocksWarehouse, tenant: Tenant) -> None:
    result = warehouse.create_or_replace_view(tenant, "v_sales", SALES, description="sales by territory")
    assert (result.action, result.object_type, result.rows) == ("created", "view", None)
    assert [name for name, _ in result.columns] == ["wss_territory_code", "amount"]
    frame = warehouse.query(tenant, "SELECT * FROM v_sales ORDER BY wss_territory_code")
    assert frame.rows() == [("T1", 15), ("T2", 7), ("T3", 1)]

    again = warehouse.create_or_replace_view(tenant, "v_sales", "SELECT k FROM sales WHERE amount > 5")
    assert again.action == "replaced"
    assert warehouse.query(tenant, "SELECT k FROM v_sales ORDER BY k").rows() == [(1,), (3,)]
    assert warehouse.drop_model(tenant, "v_sales", "view").action == "dropped"
    assert warehouse.drop_model(tenant, "v_sales", "view").action == "absent"


def test_materialized_view_created_unchanged_replaced_and_refreshed(
    warehouse: StarRocksWarehouse, tenant: Tenant, standin: StandIn
) -> None:
    created = warehouse.create_or_replace_materialized_view(
        tenant, "mv_sales", SALES, description="by territory"
    )
    assert (created.action, created.rows) == ("created", 3)
    comment = as_tenant(
        standin, "SELECT table_comment FROM information_schema.tables WHERE table_name = 'mv_sales'"
    )
    assert comment[0][0].startswith("by territory [datawiz-sql:")

    as_tenant(standin, "INSERT INTO sales VALUES (5, 'T4', 2)")
    unchanged = warehouse.create_or_replace_materialized_view(
        tenant, "mv_sales", SALES, description="by territory"
    )
    assert (unchanged.action, unchanged.rows) == ("unchanged", 3)
    refreshed = warehouse.refresh_materialized_view(tenant, "mv_sales")
    assert (refreshed.action, refreshed.rows) == ("refreshed", 4)

    replaced = warehouse.create_or_replace_materialized_view(
        tenant, "mv_sales", "SELECT k, amount FROM sales WHERE amount >= 7"
    )
    assert (replaced.action, replaced.rows) == ("replaced", 2)
    assert [name for name, _ in replaced.columns] == ["k", "amount"]
    assert warehouse.query(tenant, "SELECT k FROM mv_sales ORDER BY k").rows() == [(1,), (3,)]
    tables = [row[0] for row in as_tenant(standin, "SHOW TABLES")]
    assert not [name for name in tables if "__staging_" in name]
    assert warehouse.drop_model(tenant, "mv_sales", "materialized_view").action == "dropped"


def test_swap_of_a_base_table_leaves_the_mv_inactive_until_reactivated(
    warehouse: StarRocksWarehouse, tenant: Tenant, standin: StandIn, catalog: Catalog, tmp_path: Path
) -> None:
    table = catalog["dim_sales_group"]
    rows = [{"sales_group_code": "A", "sales_group_name": "Alpha", "division": "North"}]
    warehouse.load_table(tenant, table, write_silver(tmp_path / "a.parquet", table, rows), load_id="r1")
    warehouse.create_or_replace_materialized_view(
        tenant, "mv_groups", "SELECT sales_group_code FROM dim_sales_group"
    )
    warehouse.create_or_replace_view(tenant, "v_groups", "SELECT sales_group_code FROM dim_sales_group")

    as_tenant(standin, "CREATE TABLE other_sales (k INT NOT NULL) PRIMARY KEY(k) DISTRIBUTED BY HASH(k)")
    as_tenant(standin, "ALTER TABLE dim_sales_group SWAP WITH other_sales")
    inactive = "SELECT table_name FROM information_schema.materialized_views WHERE is_active = 'false'"
    assert as_tenant(standin, inactive) == [("mv_groups",)]
    with pytest.raises(pymysql.MySQLError, match="is not active"):
        as_tenant(standin, "REFRESH MATERIALIZED VIEW mv_groups WITH SYNC MODE")
    as_tenant(standin, "ALTER TABLE dim_sales_group SWAP WITH other_sales")

    two = [*rows, {"sales_group_code": "B", "sales_group_name": "Beta", "division": "North"}]
    warehouse.load_table(tenant, table, write_silver(tmp_path / "b.parquet", table, two), load_id="r2")
    assert as_tenant(standin, inactive) == []  # the load re-activated it after its SWAP
    assert warehouse.refresh_materialized_view(tenant, "mv_groups").rows == 2
    assert warehouse.query(tenant, "SELECT COUNT(*) AS n FROM v_groups").rows() == [(2,)]


def test_replace_table_as_creates_swaps_and_keeps_the_old_table_on_failure(
    warehouse: StarRocksWarehouse, tenant: Tenant, standin: StandIn
) -> None:
    created = warehouse.replace_table_as(tenant, "t_sales", SALES, description="derived")
    assert (created.action, created.object_type, created.rows) == ("created", "table", 3)
    warehouse.create_or_replace_materialized_view(tenant, "mv_top", "SELECT * FROM t_sales WHERE amount > 5")

    as_tenant(standin, "INSERT INTO sales VALUES (5, 'T4', 20)")
    replaced = warehouse.replace_table_as(tenant, "t_sales", SALES)
    assert (replaced.action, replaced.rows) == ("replaced", 4)
    assert replaced.details["reactivated_materialized_views"] == ["mv_top"]
    assert warehouse.refresh_materialized_view(tenant, "mv_top").rows == 3

    with pytest.raises(WarehouseError, match="no_such_table"):
        warehouse.replace_table_as(tenant, "t_sales", "SELECT * FROM no_such_table")
    assert warehouse.query(tenant, "SELECT COUNT(*) AS n FROM t_sales").rows() == [(4,)]
    tables = [row[0] for row in as_tenant(standin, "SHOW TABLES")]
    assert not [name for name in tables if "__staging_" in name]
    assert warehouse.drop_model(tenant, "t_sales", "table").action == "dropped"


def test_row_level_security_views_roles_and_grants(
    warehouse: StarRocksWarehouse, tenant: Tenant, standin: StandIn
) -> None:
    sql(standin, "CREATE USER IF NOT EXISTS 'north_analyst'@'%' IDENTIFIED BY 'pw-north-1'")
    policy = RowSecurityPolicy(
        "sales",
        (
            RowSecurityRole("north", ("T1", "T2"), users=("north_analyst", "ghost_user")),
            RowSecurityRole("south", ("T3",)),
        ),
    )
    result = warehouse.apply_row_level_security(tenant, policy)
    north, south = policy.view_name("north"), policy.view_name("south")
    assert result.views == {north: 3, south: 1}
    assert result.details["roles"] == {"north": "acme__north", "south": "acme__south"}
    assert result.details["missing_users"] == ["'ghost_user'@'%'"]
    assert {row[0] for row in warehouse.query(tenant, f"SELECT wss_territory_code FROM {south}").rows()} == {
        "T3"
    }

    analyst = {"user": "north_analyst", "password": "pw-north-1", "database": "acme_dw"}
    assert sorted(sql(standin, f"SELECT k FROM {north}", **analyst)) == [(1,), (2,), (3,)]
    for forbidden in ("sales", south):
        with pytest.raises(pymysql.MySQLError, match="Access denied"):
            sql(standin, f"SELECT * FROM {forbidden}", **analyst)

    narrowed = RowSecurityPolicy("sales", (RowSecurityRole("north", ("T2",), users=("north_analyst",)),))
    again = warehouse.apply_row_level_security(tenant, narrowed)
    assert again.views == {north: 1}
    assert again.dropped == [south]
    assert sql(standin, f"SELECT k FROM {north}", **analyst) == [(3,)]


def configured_roles(tenant: Tenant, *roles: str, **users: list[str]) -> Tenant:
    """``tenant`` whose configuration names ``roles`` and the roles of ``users`` (each sees
    territory T1), granted to the users ``users`` lists for them."""
    security = RowLevelSecuritySettings(
        roles={role: RlsRole(territories=["T1"], users=users.get(role, [])) for role in [*roles, *users]}
    )
    return replace(tenant, settings=tenant.settings.model_copy(update={"row_level_security": security}))


def policy_of(tenant: Tenant) -> RowSecurityPolicy:
    return RowSecurityPolicy(
        "sales",
        tuple(
            RowSecurityRole(name, ("T1",), users=tuple(role.users))
            for name, role in tenant.settings.row_level_security.roles.items()
        ),
    )


def create_users(standin: StandIn, *users: str) -> None:
    for user in users:
        sql(standin, f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw-{user}-1'")


def as_user(standin: StandIn, user: str, statement: str, database: str | None = "acme_dw") -> list[tuple]:
    return sql(standin, statement, user=user, password=f"pw-{user}-1", database=database)


def roles_of(standin: StandIn, user: str) -> set[str]:
    edges = sql(standin, "SELECT FROM_ROLE, TO_USER FROM sys.role_edges")
    return {role for role, grantee in edges if grantee == f"'{user}'@'%'"}


def test_roles_the_configuration_no_longer_names_are_dropped(
    warehouse: StarRocksWarehouse, tenant: Tenant, standin: StandIn
) -> None:
    not_ours = ["acme__x__y", "acme___odd", "analysts", "globex__north"]  # tenants acme__x, acme_, globex
    for role in not_ours:
        sql(standin, f"CREATE ROLE {role}")
    both = configured_roles(tenant, "north", "south")
    assert "dropped_roles" not in warehouse.apply_row_level_security(both, policy_of(both)).details

    north = configured_roles(tenant, "north")
    result = warehouse.apply_row_level_security(north, policy_of(north))
    assert result.details["dropped_roles"] == ["acme__south"]
    assert result.dropped == [policy_of(both).view_name("south")]
    assert sorted(row[0] for row in sql(standin, "SHOW ROLES")) == sorted(["acme__north", *not_ours])

    again = warehouse.apply_row_level_security(north, policy_of(north))
    assert "dropped_roles" not in again.details
    unprotected = warehouse.apply_row_level_security(north, RowSecurityPolicy("sales", ()))
    assert "dropped_roles" not in unprotected.details, "a relation without roles keeps the configured ones"
    assert "acme__north" in {row[0] for row in sql(standin, "SHOW ROLES")}

    warehouse.apply_row_level_security(configured_roles(tenant), RowSecurityPolicy("sales", ()))
    assert sorted(row[0] for row in sql(standin, "SHOW ROLES")) == sorted(not_ours)


def test_users_taken_off_a_role_lose_it_and_its_rows(
    warehouse: StarRocksWarehouse, tenant: Tenant, standin: StandIn
) -> None:
    create_users(standin, "ana", "ben")
    not_ours = {"acme__x__north", "globex__north", "analysts"}  # tenants acme__x and globex, by hand
    for role in not_ours:
        sql(standin, f"CREATE ROLE {role}")
        sql(standin, f"GRANT {role} TO USER 'ben'@'%'")
    both = configured_roles(tenant, north=["ana", "ben"], south=["ben"])
    assert "revoked_memberships" not in warehouse.apply_row_level_security(both, policy_of(both)).details
    north, south = policy_of(both).view_name("north"), policy_of(both).view_name("south")
    assert as_user(standin, "ben", f"SELECT k FROM {north} ORDER BY k") == [(1,), (2,)]

    ben_off_north = configured_roles(tenant, north=["ana"], south=["ben"])
    result = warehouse.apply_row_level_security(ben_off_north, policy_of(ben_off_north))
    assert result.details["revoked_memberships"] == {"acme__north": ["'ben'@'%'"]}
    with pytest.raises(pymysql.MySQLError, match="Access denied"):
        as_user(standin, "ben", f"SELECT k FROM {north}")
    assert as_user(standin, "ben", f"SELECT k FROM {south} ORDER BY k") == [(1,), (2,)]
    assert as_user(standin, "ana", f"SELECT k FROM {north} ORDER BY k") == [(1,), (2,)]
    assert roles_of(standin, "ben") == {"acme__south", *not_ours}, "other tenants' roles are untouched"
    assert roles_of(standin, "ana") == {"acme__north"}

    again = warehouse.apply_row_level_security(ben_off_north, policy_of(ben_off_north))
    assert "revoked_memberships" not in again.details


def test_the_standin_shows_role_edges_to_the_admin_only_and_revokes_roles(standin: StandIn) -> None:
    create_users(standin, "ben")
    sql(standin, "CREATE ROLE readers")
    sql(standin, "GRANT readers TO USER 'ben'@'%'")
    assert sql(standin, "SELECT * FROM sys.role_edges") == [("readers", None, "'ben'@'%'")]
    with pytest.raises(pymysql.MySQLError, match=re.escape("the SELECT privilege(s) on TABLE role_edges")):
        as_user(standin, "ben", "SELECT * FROM sys.role_edges", database=None)

    for _ in range(2):  # revoking a role the user no longer holds is no error
        sql(standin, "REVOKE readers FROM USER 'ben'@'%'")
    assert sql(standin, "SELECT * FROM sys.role_edges") == []
    for statement, problem in (
        ("REVOKE nobody FROM 'ben'@'%'", "cannot find role nobody"),
        ("REVOKE readers FROM 'ghost'@'%'", "cannot find user 'ghost'@'%'"),
    ):
        with pytest.raises(pymysql.MySQLError, match=re.escape(problem)):
            sql(standin, statement)


def test_the_standin_refuses_role_names_longer_than_starrocks_allows(standin: StandIn) -> None:
    longest = "r" * 64
    for statement in (f"CREATE ROLE {longest}", f"DROP ROLE {longest}"):
        sql(standin, statement)
    for statement in ("CREATE ROLE {}", "DROP ROLE IF EXISTS {}", "GRANT {} TO USER 'root'@'%'"):
        with pytest.raises(pymysql.MySQLError) as error:
            sql(standin, statement.format(longest + "r"))
        assert error.value.args == (
            1064,
            f"Getting analyzing error. Detail message: invalid role format: {longest}r.",
        )
