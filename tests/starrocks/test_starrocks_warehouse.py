"""StarRocksWarehouse end to end against the stand-in: provisioning, replace, upsert, isolation."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from starrocks_standin import Fault, StandIn

from datawiz_pipelines.config.catalog import Catalog, CatalogTable
from datawiz_pipelines.config.loader import Tenant
from datawiz_pipelines.warehouse.base import WarehouseError
from datawiz_pipelines.warehouse.starrocks import StarRocksWarehouse
from datawiz_pipelines.warehouse.starrocks.csv_chunks import csv_chunks
from datawiz_pipelines.warehouse.starrocks.ddl import SchemaChangeError
from datawiz_pipelines.warehouse.starrocks.stream_load import StreamLoader, StreamLoadError, StreamLoadTarget

from .raw_client import sql
from .support import ADMIN_PASSWORD, tenant_password, write_silver

MakeTenant = Callable[..., Tenant]
Provisioned = Callable[..., tuple[Tenant, CatalogTable]]


def sales_groups(*rows: tuple[str, str]) -> list[dict]:
    return [{"sales_group_code": code, "sales_group_name": name, "division": "North"} for code, name in rows]


def invoice(number: str, line: int, amount: str, day: int = 1) -> dict:
    return {
        "invoice_date": dt.date(2024, 5, day),
        "invoice_no": number,
        "line_no": line,
        "customer_code": "C1",
        "material_code": "M1",
        "quantity": Decimal("1.000"),
        "gross_amount": Decimal(amount),
        "net_amount": Decimal(amount),
    }


def table_names(standin: StandIn, database: str) -> list[str]:
    return sorted(standin.state.catalog.databases[database])


@pytest.fixture
def provisioned(warehouse: StarRocksWarehouse, make_tenant: MakeTenant, catalog: Catalog) -> Provisioned:
    """``tenant, table = provisioned("dim_sales_group")``: tenant acme (``make_tenant``'s
    options allowed) provisioned with that one catalog table."""

    def provision(table_name: str, **tenant_options: Any) -> tuple[Tenant, CatalogTable]:
        tenant = make_tenant("acme", **tenant_options)
        table = catalog[table_name]
        warehouse.provision(tenant, [table])
        return tenant, table

    return provision


# -- provisioning --------------------------------------------------------------------------


def test_provision_creates_database_user_grants_and_tables(
    warehouse: StarRocksWarehouse, make_tenant: MakeTenant, standin: StandIn, catalog: Catalog
) -> None:
    tenant = make_tenant("acme")
    report = warehouse.provision(tenant, list(catalog))
    assert report.existing == []
    assert report.created[:2] == ["database acme_dw", "user 'acme_loader'@'%'"]
    assert sorted(report.created[2:]) == [f"table acme_dw.{name}" for name in sorted(catalog.tables)]
    assert table_names(standin, "acme_dw") == sorted(catalog.tables)

    as_tenant = {"user": "acme_loader", "password": tenant_password("acme"), "database": "acme_dw"}
    assert sql(standin, "SELECT COUNT(*) FROM dim_material", **as_tenant) == [(0,)]
    sql(standin, "CREATE TABLE scratch (k INT NOT NULL) PRIMARY KEY(k) DISTRIBUTED BY HASH(k)", **as_tenant)
    sql(standin, "INSERT INTO scratch VALUES (1)", **as_tenant)
    sql(standin, "DROP TABLE scratch", **as_tenant)


def test_provision_is_idempotent(
    warehouse: StarRocksWarehouse, make_tenant: MakeTenant, standin: StandIn, catalog: Catalog
) -> None:
    tenant = make_tenant("acme")
    first = warehouse.provision(tenant, list(catalog))
    second = warehouse.provision(tenant, list(catalog))
    assert second.created == []
    assert second.existing == first.created
    assert table_names(standin, "acme_dw") == sorted(catalog.tables)


def test_provision_adds_columns_the_catalog_gained(
    warehouse: StarRocksWarehouse, make_tenant: MakeTenant, standin: StandIn, catalog: Catalog
) -> None:
    tenant = make_tenant("acme")
    table = catalog["dim_sales_group"]
    older = table.model_copy(update={"columns": [c for c in table.columns if c.name != "division"]})
    warehouse.provision(tenant, [older])
    report = warehouse.provision(tenant, [table])
    assert report.created == ["column acme_dw.dim_sales_group.division"]
    columns = sql(
        standin,
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'acme_dw' "
        "AND table_name = 'dim_sales_group' ORDER BY ordinal_position",
    )
    assert [c for (c,) in columns][:3] == ["sales_group_code", "sales_group_name", "division"]


def test_provision_refuses_incompatible_changes(
    warehouse: StarRocksWarehouse, make_tenant: MakeTenant, catalog: Catalog
) -> None:
    tenant = make_tenant("acme")
    table = catalog["dim_sales_group"]
    warehouse.provision(tenant, [table, catalog["dim_hierarchy"]])
    columns = [
        c.model_copy(update={"type": "VARCHAR(20)"}) if c.name == "sales_group_code" else c
        for c in table.columns
    ]
    changed = CatalogTable.model_validate(
        {**table.model_dump(), "columns": [c.model_dump() for c in columns]}
    )
    with pytest.raises(SchemaChangeError) as error:
        warehouse.provision(tenant, [changed, catalog["dim_hierarchy"]])
    message = str(error.value)
    assert "tenant acme, database acme_dw" in message
    assert "column 'sales_group_code' is varchar(10), the catalog says VARCHAR(20)" in message


def test_provision_refuses_a_tenant_configured_for_another_cluster(
    warehouse: StarRocksWarehouse, make_tenant: MakeTenant, catalog: Catalog
) -> None:
    tenant = make_tenant("acme")
    elsewhere = tenant.settings.model_copy(
        update={"database": tenant.settings.database.model_copy(update={"host": "10.0.0.9"})}
    )
    moved = Tenant(tenant.entry, elsewhere, tenant.mappings, tenant.secrets, tenant.config_dir)
    with pytest.raises(WarehouseError, match=r"tenant acme is configured for StarRocks at 10\.0\.0\.9"):
        warehouse.provision(moved, list(catalog))


@pytest.mark.parametrize(
    ("version", "refused"),
    [("3.0.9 a1b2c3d", True), ("2.5.22 0f9e8d7", True), ("3.1.0 1a2b3c4", False), ("4.0.1 5d6e7f8", False)],
)
def test_provision_refuses_starrocks_before_3_1(
    warehouse: StarRocksWarehouse,
    make_tenant: MakeTenant,
    catalog: Catalog,
    standin: StandIn,
    version: str,
    refused: bool,
) -> None:
    standin.pretend_version(version)
    if refused:
        with pytest.raises(
            WarehouseError, match=rf"is version {re.escape(version.split()[0])}; this platform needs 3\.1"
        ):
            warehouse.provision(make_tenant("acme"), list(catalog))
        assert "acme_dw" not in [row[0] for row in sql(standin, "SHOW DATABASES")]
    else:
        warehouse.provision(make_tenant("acme"), list(catalog))


def test_provision_needs_the_tenant_password(
    warehouse: StarRocksWarehouse, make_tenant: MakeTenant, catalog: Catalog
) -> None:
    with pytest.raises(WarehouseError, match=r"tenant acme has no DB_PASSWORD in .*acme/\.env"):
        warehouse.provision(make_tenant("acme", without_password=True), list(catalog))


# -- replace tables --------------------------------------------------------------------------


def test_replace_swaps_in_new_rows_and_drops_staging(
    warehouse: StarRocksWarehouse, provisioned: Provisioned, standin: StandIn, tmp_path: Path
) -> None:
    tenant, table = provisioned("dim_sales_group", stream_load={"chunk_rows": 2})
    first = write_silver(
        tmp_path / "v1.parquet", table, sales_groups(("A", "Alpha"), ("B", "Beta"), ("C", "Gamma"))
    )
    result = warehouse.load_table(tenant, table, first, load_id="run-1")
    assert (result.mode, result.rows_loaded, result.rows_in_table) == ("replace", 3, 3)
    details = result.details
    assert details["chunks"] == 2 and details["rows_per_load"] == [2, 1]
    assert len(details["labels"]) == 2 and details["bytes"] > 0
    assert details["staging_table"].startswith("dim_sales_group__staging_")
    assert all(label.startswith(f"dw-acme-{details['staging_table']}-") for label in details["labels"])

    second = write_silver(
        tmp_path / "v2.parquet", table, sales_groups(("B", "Beta v2"), ("D", "Delta")), load_id="run-2"
    )
    result = warehouse.load_table(tenant, table, second, load_id="run-2")
    assert result.rows_in_table == 2
    rows = warehouse.query(
        tenant, "SELECT sales_group_code, sales_group_name, _dw_load_id FROM dim_sales_group"
    )
    assert sorted(rows.rows()) == [("B", "Beta v2", "run-2"), ("D", "Delta", "run-2")]
    assert table_names(standin, "acme_dw") == ["dim_sales_group"], "no staging table is left behind"


def _current_rows(standin: StandIn) -> list[tuple]:
    return [row[:2] for row in standin.rows("acme_dw", "dim_sales_group")]


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        (None, "too many filtered rows"),
        (Fault("http_500", where="be", times=10), "failed 4 times; last: BE answered HTTP 500"),
    ],
)
def test_failed_replace_leaves_the_old_table_intact(
    warehouse: StarRocksWarehouse,
    provisioned: Provisioned,
    standin: StandIn,
    tmp_path: Path,
    fault: Fault | None,
    problem: str,
) -> None:
    tenant, table = provisioned("dim_sales_group")
    good = write_silver(tmp_path / "good.parquet", table, sales_groups(("A", "Alpha"), ("B", "Beta")))
    warehouse.load_table(tenant, table, good, load_id="run-1")
    if fault is not None:
        standin.arm(fault)
    rows = sales_groups(("A", "Alpha v2"), ("X", "n" * 101))  # sales_group_name is VARCHAR(100)
    bad = write_silver(tmp_path / "bad.parquet", table, rows, load_id="run-2")
    with pytest.raises(StreamLoadError, match=re.escape(problem)) as error:
        warehouse.load_table(tenant, table, bad, load_id="run-2")
    assert "tenant acme, table acme_dw.dim_sales_group__staging_" in str(error.value)
    assert _current_rows(standin) == [("A", "Alpha"), ("B", "Beta")]
    assert table_names(standin, "acme_dw") == ["dim_sales_group"], "the staging table was dropped"


def test_replace_drops_staging_left_by_an_interrupted_attempt(
    warehouse: StarRocksWarehouse, provisioned: Provisioned, standin: StandIn, tmp_path: Path
) -> None:
    tenant, table = provisioned("dim_sales_group")
    sql(standin, "CREATE TABLE acme_dw.dim_sales_group__staging_deadbeef0000 (k INT NOT NULL) PRIMARY KEY(k)")
    silver = write_silver(tmp_path / "v1.parquet", table, sales_groups(("A", "Alpha")))
    warehouse.load_table(tenant, table, silver, load_id="run-1")
    assert table_names(standin, "acme_dw") == ["dim_sales_group"]


def test_rerun_of_a_replace_load_loads_again(
    warehouse: StarRocksWarehouse, provisioned: Provisioned, tmp_path: Path
) -> None:
    """Same run, same file: the staging table is new, so its labels are new and nothing is skipped."""
    tenant, table = provisioned("dim_sales_group")
    silver = write_silver(tmp_path / "v1.parquet", table, sales_groups(("A", "Alpha"), ("B", "Beta")))
    first = warehouse.load_table(tenant, table, silver, load_id="run-1")
    again = warehouse.load_table(tenant, table, silver, load_id="run-1")
    assert again.rows_in_table == 2 and again.rows_loaded == 2
    assert set(first.details["labels"]).isdisjoint(again.details["labels"])


# -- incremental tables ----------------------------------------------------------------------


def test_upsert_rerun_is_idempotent(
    warehouse: StarRocksWarehouse, provisioned: Provisioned, standin: StandIn, tmp_path: Path
) -> None:
    tenant, table = provisioned("fact_invoice_details")
    silver = write_silver(
        tmp_path / "day1.parquet", table, [invoice("INV1", 1, "10.00"), invoice("INV1", 2, "20.00")]
    )
    first = warehouse.load_table(tenant, table, silver, load_id="run-1")
    again = warehouse.load_table(tenant, table, silver, load_id="run-1")
    assert (first.mode, first.rows_in_table, again.rows_in_table) == ("upsert", 2, 2)
    assert again.details["labels"] == first.details["labels"], "content-addressed labels"
    assert [s["already_loaded"] for s in again.details["stream_loads"]] == [True]
    assert len([r for r in standin.requests("be") if r.method == "PUT"]) == 2

    update = write_silver(
        tmp_path / "day1b.parquet",
        table,
        [invoice("INV1", 2, "25.00"), invoice("INV2", 1, "5.00", day=2)],
        load_id="run-2",
    )
    result = warehouse.load_table(tenant, table, update, load_id="run-2")
    assert result.rows_in_table == 3
    amounts = warehouse.query(
        tenant,
        "SELECT invoice_no, line_no, net_amount FROM fact_invoice_details ORDER BY invoice_no, line_no",
    )
    assert amounts.rows() == [
        ("INV1", 1, Decimal("10.00")),
        ("INV1", 2, Decimal("25.00")),
        ("INV2", 1, Decimal("5.00")),
    ]


def test_an_incremental_table_can_be_replaced_and_a_replace_table_upserted(
    warehouse: StarRocksWarehouse, make_tenant: MakeTenant, standin: StandIn, catalog: Catalog, tmp_path: Path
) -> None:
    """The landing ledger rebuilds an incremental table when a source file changed upstream."""
    tenant = make_tenant("acme")
    facts, groups = catalog["fact_invoice_details"], catalog["dim_sales_group"]
    warehouse.provision(tenant, [facts, groups])
    old = write_silver(
        tmp_path / "old.parquet", facts, [invoice("INV1", 1, "1.00"), invoice("INV9", 1, "9.00")]
    )
    warehouse.load_table(tenant, facts, old, load_id="run-1")
    rebuilt = write_silver(tmp_path / "all.parquet", facts, [invoice("INV1", 1, "2.00")], load_id="run-2")
    result = warehouse.load_table(tenant, facts, rebuilt, load_id="run-2", mode="replace")
    assert (result.mode, result.rows_in_table) == ("replace", 1)
    assert table_names(standin, "acme_dw") == ["dim_sales_group", "fact_invoice_details"]

    first = write_silver(tmp_path / "g1.parquet", groups, sales_groups(("A", "Alpha"), ("B", "Beta")))
    warehouse.load_table(tenant, groups, first, load_id="run-1")
    more = write_silver(tmp_path / "g2.parquet", groups, sales_groups(("B", "Beta v2")), load_id="run-2")
    result = warehouse.load_table(tenant, groups, more, load_id="run-2", mode="upsert")
    assert (result.mode, result.rows_in_table) == ("upsert", 2)
    assert "staging_table" not in result.details
    assert _current_rows(standin) == [("A", "Alpha"), ("B", "Beta v2")]


def test_silver_file_must_have_the_table_columns(
    warehouse: StarRocksWarehouse, provisioned: Provisioned, catalog: Catalog, tmp_path: Path
) -> None:
    tenant, table = provisioned("ref_sales_group")
    silver = write_silver(tmp_path / "s.parquet", catalog["dim_sales_group"], sales_groups(("A", "Alpha")))
    with pytest.raises(
        WarehouseError, match=r"tenant acme, table ref_sales_group: .*no column\(s\) \['business_unit'"
    ):
        warehouse.load_table(tenant, table, silver, load_id="run-1")


# -- isolation, queries, secrets -------------------------------------------------------------


def test_a_tenant_cannot_read_or_write_another_tenants_database(
    warehouse: StarRocksWarehouse, make_tenant: MakeTenant, standin: StandIn, catalog: Catalog, tmp_path: Path
) -> None:
    acme, globex = make_tenant("acme"), make_tenant("globex")
    table = catalog["dim_sales_group"]
    for tenant in (acme, globex):
        warehouse.provision(tenant, [table])
    silver = write_silver(tmp_path / "g.parquet", table, sales_groups(("G", "Globex only")))
    warehouse.load_table(globex, table, silver, load_id="run-g")

    with pytest.raises(WarehouseError, match=r"tenant acme .*SELECT privilege\(s\) on TABLE dim_sales_group"):
        warehouse.query(acme, "SELECT * FROM globex_dw.dim_sales_group")
    as_acme = {"user": "acme_loader", "password": tenant_password("acme")}
    with pytest.raises(Exception, match=r"INSERT privilege\(s\) on TABLE dim_sales_group"):
        sql(
            standin,
            "INSERT INTO globex_dw.dim_sales_group (sales_group_code, sales_group_name) VALUES ('x', 'y')",
            **as_acme,
        )
    with pytest.raises(Exception, match="on DATABASE globex_dw"):
        sql(standin, "SELECT 1", database="globex_dw", **as_acme)

    wrong_db = acme.entry.model_copy(update={"database_name": "globex_dw"})
    intruder = Tenant(wrong_db, acme.settings, acme.mappings, acme.secrets, acme.config_dir)
    with pytest.raises(WarehouseError, match=r"user acme_loader.*Access denied.* on DATABASE globex_dw"):
        warehouse.load_table(intruder, table, silver, load_id="run-x")
    stream = StreamLoader(
        StreamLoadTarget(
            "acme", standin.host, standin.fe_port, "acme_loader", acme.secrets.DB_PASSWORD, "globex_dw"
        ),
        acme.settings.warehouse.stream_load,
    )
    (chunk,) = csv_chunks(
        silver, list(pl.read_parquet_schema(silver)), chunk_rows=10, chunk_bytes=10**6, compress=False
    )
    with pytest.raises(StreamLoadError, match=r"INSERT privilege\(s\) on TABLE dim_sales_group"):
        stream.load("dim_sales_group", list(pl.read_parquet_schema(silver)), chunk, "intruder-label")
    assert [row[:2] for row in standin.rows("globex_dw", "dim_sales_group")] == [("G", "Globex only")]


def test_each_tenant_has_its_own_pool_and_login(
    warehouse: StarRocksWarehouse, make_tenant: MakeTenant, catalog: Catalog
) -> None:
    acme, globex = make_tenant("acme"), make_tenant("globex")
    for tenant in (acme, globex):
        warehouse.provision(tenant, [catalog["dim_sales_group"]])
    assert warehouse.query(acme, "SELECT CURRENT_USER() AS u").item() == "acme_loader"
    assert warehouse.query(globex, "SELECT CURRENT_USER() AS u").item() == "globex_loader"


@pytest.mark.parametrize(
    "statement",
    ["DROP TABLE dim_sales_group", "SELECT 1; DROP TABLE dim_sales_group", "INSERT INTO t VALUES (1)"],
)
def test_query_runs_read_only_statements_only(
    warehouse: StarRocksWarehouse, make_tenant: MakeTenant, catalog: Catalog, statement: str
) -> None:
    tenant = make_tenant("acme")
    with pytest.raises(WarehouseError, match="read-only"):
        warehouse.query(tenant, statement)


def test_permanent_sql_errors_name_the_tenant_and_fail_at_once(
    warehouse: StarRocksWarehouse, make_tenant: MakeTenant, catalog: Catalog
) -> None:
    tenant = make_tenant("acme")
    warehouse.provision(tenant, [catalog["dim_sales_group"]])
    with pytest.raises(WarehouseError) as error:
        warehouse.query(tenant, "SELECT * FROM no_such_table")
    assert "for tenant acme (database acme_dw, user acme_loader)" in str(error.value)
    assert "Unknown table 'acme_dw.no_such_table'" in str(error.value)
    assert "gave up" not in str(error.value)


def test_secrets_never_reach_messages_logs_or_results(
    warehouse: StarRocksWarehouse,
    make_tenant: MakeTenant,
    catalog: Catalog,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tenant = make_tenant("acme")
    table = catalog["dim_sales_group"]
    secrets = (ADMIN_PASSWORD, tenant_password("acme"))
    with caplog.at_level(logging.DEBUG):
        report = warehouse.provision(tenant, [table])
        silver = write_silver(tmp_path / "v1.parquet", table, sales_groups(("A", "Alpha")))
        result = warehouse.load_table(tenant, table, silver, load_id="run-1")
        wrong = make_tenant("acme", password="not-the-password")
        with pytest.raises(WarehouseError) as error:
            warehouse.query(wrong, "SELECT 1")
    ours = [
        r.getMessage() for r in caplog.records if not r.name.startswith("mysql_mimic")
    ]  # not the server's
    visible = " ".join([*ours, repr(report), repr(result), str(error.value), repr(warehouse)])
    for secret in (*secrets, "not-the-password"):
        assert secret not in visible
