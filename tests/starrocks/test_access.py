"""The tenant's grants: least privilege at database level, checked per operation as StarRocks
checks it, and brought down from the ``ALL ON DATABASE`` earlier provisioning granted."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pymysql
import pytest
from starrocks_standin import StandIn

from datawiz_pipelines.config.catalog import Catalog
from datawiz_pipelines.config.loader import Tenant
from datawiz_pipelines.warehouse.row_security import RowSecurityPolicy, RowSecurityRole
from datawiz_pipelines.warehouse.starrocks import StarRocksWarehouse, access

from .raw_client import sql
from .support import tenant_password, write_silver

MakeTenant = Callable[..., Tenant]
NARROW = (
    "GRANT CREATE TABLE, CREATE VIEW, CREATE MATERIALIZED VIEW ON DATABASE acme_dw TO USER 'acme_loader'@'%'"
)
OLD_ALL = (
    "GRANT CREATE TABLE, DROP, ALTER, CREATE VIEW, CREATE FUNCTION, CREATE MATERIALIZED VIEW, CREATE PIPE "
    "ON DATABASE acme_dw TO USER 'acme_loader'@'%'"
)


def as_tenant(standin: StandIn, statement: str) -> list[tuple]:
    return sql(standin, statement, user="acme_loader", password=tenant_password("acme"), database="acme_dw")


def database_grants(standin: StandIn) -> list[str]:
    rows = sql(standin, "SHOW GRANTS FOR 'acme_loader'@'%'")
    return [row[-1] for row in rows if " ON DATABASE " in row[-1]]


def test_the_tenant_gets_only_the_create_privileges_on_its_database() -> None:
    statements = access.grant_statements("acme_dw", "acme_loader")
    assert statements[0] == (
        "GRANT CREATE TABLE, CREATE VIEW, CREATE MATERIALIZED VIEW ON DATABASE `acme_dw` TO USER 'acme_loader'@'%'"
    )
    assert not [statement for statement in statements if "ALL ON" in statement]


def test_only_surplus_database_privileges_the_user_holds_are_revoked() -> None:
    other_database = OLD_ALL.replace("acme_dw", "globex_dw")
    tables = "GRANT DELETE, DROP, SELECT ON ALL TABLES IN DATABASE acme_dw TO USER 'acme_loader'@'%'"
    assert access.revoke_statements("acme_dw", "acme_loader", [tables, other_database, OLD_ALL]) == [
        "REVOKE DROP, ALTER, CREATE FUNCTION, CREATE PIPE ON DATABASE `acme_dw` FROM USER 'acme_loader'@'%'"
    ]
    with_option = "GRANT ALTER ON DATABASE `acme_dw` TO USER 'acme_loader'@'%' WITH GRANT OPTION"
    assert access.revoke_statements("acme_dw", "acme_loader", [NARROW, with_option]) == [
        "REVOKE ALTER ON DATABASE `acme_dw` FROM USER 'acme_loader'@'%'"
    ]
    assert access.revoke_statements("acme_dw", "acme_loader", [NARROW, tables]) == []


def test_the_standin_checks_each_database_operation_on_its_own_privilege(standin: StandIn) -> None:
    sql(standin, "CREATE DATABASE d")
    sql(standin, "CREATE USER 'u'@'%' IDENTIFIED BY 'pw'")
    sql(standin, "GRANT SELECT ON ALL TABLES IN DATABASE d TO USER 'u'@'%'")
    as_u = {"user": "u", "password": "pw", "database": "d"}
    needs = {
        "CREATE TABLE": "CREATE TABLE t (k INT NOT NULL) PRIMARY KEY(k) DISTRIBUTED BY HASH(k)",
        "CREATE VIEW": "CREATE VIEW v AS SELECT 1 AS one",
        "CREATE MATERIALIZED VIEW": "CREATE MATERIALIZED VIEW mv REFRESH ASYNC AS SELECT 1 AS one",
        "DROP": "DROP DATABASE d",
        "ALTER": "ALTER DATABASE d RENAME d2",
    }
    for privilege, statement in needs.items():
        with pytest.raises(pymysql.MySQLError, match=rf"the {privilege} privilege\(s\) on DATABASE d for"):
            sql(standin, statement, **as_u)
        sql(standin, f"GRANT {privilege} ON DATABASE d TO USER 'u'@'%'")
        if privilege in ("DROP", "ALTER"):  # allowed now; the stand-in then refuses the statement itself
            with pytest.raises(pymysql.MySQLError, match=f"does not support {privilege} DATABASE"):
                sql(standin, statement, **as_u)
        else:
            sql(standin, statement, **as_u)


def test_the_standin_revokes_and_shows_grants_as_starrocks_does(standin: StandIn) -> None:
    sql(standin, "CREATE DATABASE d")
    sql(standin, "CREATE DATABASE e")
    sql(standin, "CREATE USER 'u'@'%' IDENTIFIED BY 'pw'")
    sql(standin, "REVOKE ALL ON DATABASE d FROM USER 'u'@'%'")  # nothing of the type held: a no-op
    sql(standin, "GRANT ALL ON DATABASE d TO USER 'u'@'%'")
    sql(standin, "GRANT SELECT, INSERT ON ALL TABLES IN DATABASE d TO USER 'u'@'%'")
    sql(standin, "REVOKE DROP, ALTER, CREATE FUNCTION, CREATE PIPE ON DATABASE d FROM USER 'u'@'%'")
    sql(standin, "REVOKE ALTER ON DATABASE d FROM USER 'u'@'%'")  # not held any more, still no error
    assert sql(standin, "SHOW GRANTS FOR 'u'@'%'") == [
        (
            "'u'@'%'",
            "default_catalog",
            "GRANT CREATE TABLE, CREATE VIEW, CREATE MATERIALIZED VIEW ON DATABASE d TO USER 'u'@'%'",
        ),
        ("'u'@'%'", "default_catalog", "GRANT INSERT, SELECT ON ALL TABLES IN DATABASE d TO USER 'u'@'%'"),
    ]
    assert sql(standin, "SHOW GRANTS", user="u", password="pw") == sql(standin, "SHOW GRANTS FOR 'u'@'%'")
    with pytest.raises(pymysql.MySQLError, match="There is no such grant defined on DATABASE e"):
        sql(standin, "REVOKE DROP ON DATABASE e FROM USER 'u'@'%'")
    with pytest.raises(pymysql.MySQLError, match="Cannot grant or revoke REFRESH on 'DATABASE' type object"):
        sql(standin, "GRANT REFRESH ON DATABASE d TO USER 'u'@'%'")
    with pytest.raises(pymysql.MySQLError, match="Access denied"):
        sql(standin, "SHOW GRANTS FOR 'root'@'%'", user="u", password="pw")


def test_the_tenant_runs_the_whole_pipeline_but_cannot_drop_or_rename_its_database(
    warehouse: StarRocksWarehouse, make_tenant: MakeTenant, standin: StandIn, catalog: Catalog, tmp_path: Path
) -> None:
    tenant = make_tenant("acme")
    groups = catalog["dim_sales_group"]
    warehouse.provision(tenant, [groups])
    assert database_grants(standin) == [NARROW]

    rows = [{"sales_group_code": "A", "sales_group_name": "Alpha", "division": "North"}]
    silver = write_silver(tmp_path / "groups.parquet", groups, rows)
    for run in ("run-1", "run-2"):  # the second replace swaps a staging table over the first
        assert warehouse.load_table(tenant, groups, silver, load_id=run).rows_in_table == 1
    assert warehouse.load_table(tenant, groups, silver, load_id="run-3", mode="upsert").rows_in_table == 1

    codes = "SELECT sales_group_code FROM dim_sales_group"
    assert warehouse.create_or_replace_view(tenant, "v_groups", codes).action == "created"
    assert warehouse.create_or_replace_materialized_view(tenant, "mv_groups", codes).rows == 1
    changed = warehouse.create_or_replace_materialized_view(tenant, "mv_groups", f"{codes} WHERE 1 = 1")
    assert changed.action == "replaced"
    assert warehouse.replace_table_as(tenant, "t_groups", codes).action == "created"
    assert warehouse.replace_table_as(tenant, "t_groups", codes).action == "replaced"
    assert warehouse.refresh_materialized_view(tenant, "mv_groups").rows == 1
    policy = RowSecurityPolicy("dim_sales_group", (RowSecurityRole("everyone", None),))
    assert warehouse.apply_row_level_security(tenant, policy).views == {policy.view_name("everyone"): 1}
    for name, kind in (("v_groups", "view"), ("mv_groups", "materialized_view"), ("t_groups", "table")):
        assert warehouse.drop_model(tenant, name, kind).action == "dropped"

    for statement, privilege in (
        ("DROP DATABASE acme_dw", "DROP"),
        ("ALTER DATABASE acme_dw RENAME x", "ALTER"),
    ):
        with pytest.raises(pymysql.MySQLError, match=rf"the {privilege} privilege\(s\) on DATABASE acme_dw"):
            as_tenant(standin, statement)


def test_provisioning_narrows_the_all_grant_of_an_earlier_version_once(
    warehouse: StarRocksWarehouse,
    make_tenant: MakeTenant,
    standin: StandIn,
    catalog: Catalog,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tenant = make_tenant("acme")
    warehouse.provision(tenant, [catalog["dim_sales_group"]])
    sql(standin, "GRANT ALL ON DATABASE acme_dw TO USER 'acme_loader'@'%'")  # as provisioned before
    assert database_grants(standin) == [OLD_ALL]

    caplog.set_level("INFO", logger="datawiz_pipelines.warehouse.starrocks.warehouse")
    warehouse.provision(tenant, [catalog["dim_sales_group"]])
    assert database_grants(standin) == [NARROW]
    assert [r.getMessage() for r in caplog.records if "REVOKE" in r.getMessage()] == [
        "tenant acme: REVOKE DROP, ALTER, CREATE FUNCTION, CREATE PIPE "
        "ON DATABASE `acme_dw` FROM USER 'acme_loader'@'%'"
    ]
    caplog.clear()
    warehouse.provision(tenant, [catalog["dim_sales_group"]])
    assert database_grants(standin) == [NARROW]
    assert not [r for r in caplog.records if "REVOKE" in r.getMessage()], "nothing left to revoke"
    as_tenant(standin, "CREATE TABLE scratch (k INT NOT NULL) PRIMARY KEY(k) DISTRIBUTED BY HASH(k)")
    with pytest.raises(pymysql.MySQLError, match=r"the DROP privilege\(s\) on DATABASE acme_dw"):
        as_tenant(standin, "DROP DATABASE acme_dw")
