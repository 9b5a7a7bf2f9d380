"""The embedded DuckDB warehouse: provisioning, atomic replace, idempotent upsert, isolation."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.config.loader import ConfigRepository, Tenant
from datawiz_pipelines.config.registry import TenantEntry
from datawiz_pipelines.config.secrets import TenantSecrets
from datawiz_pipelines.config.tenant import TenantSettings
from datawiz_pipelines.lineage import LOAD_ID, SOURCE_FILE, SOURCE_MODIFIED
from datawiz_pipelines.warehouse import duckdb_warehouse
from datawiz_pipelines.warehouse.base import WarehouseError
from datawiz_pipelines.warehouse.ddl import warehouse_columns
from datawiz_pipelines.warehouse.duckdb_warehouse import DuckDBWarehouse

PROJECT_ROOT = Path(__file__).resolve().parents[2]

PRODUCTS = CatalogTable.model_validate(
    {
        "name": "dim_product",
        "description": "Products, replaced on every load.",
        "kind": "dimension",
        "load_mode": "replace",
        "keys": ["code"],
        "columns": [
            {"name": "code", "type": "VARCHAR(10)", "nullable": False},
            {"name": "price", "type": "DECIMAL(18,2)"},
            {"name": "launched", "type": "DATE"},
            {"name": "updated_at", "type": "DATETIME"},
            {"name": "active", "type": "BOOLEAN"},
        ],
    }
)
SALE_KEYS = [
    {"name": "sale_date", "type": "DATE", "nullable": False},
    {"name": "sale_no", "type": "INT", "nullable": False},
]
SALES = CatalogTable.model_validate(
    {
        "name": "fact_sale",
        "description": "Sales, upserted on date and number.",
        "kind": "fact",
        "load_mode": "incremental",
        "keys": ["sale_date", "sale_no"],
        "columns": [*SALE_KEYS, {"name": "amount", "type": "DECIMAL(18,2)", "nullable": False}],
    }
)
LINEAGE = {
    SOURCE_FILE: "sales/2024.csv",
    SOURCE_MODIFIED: dt.datetime(2024, 5, 1, 10, 30),
    LOAD_ID: "run-1",
}
D1, D2 = dt.date(2024, 1, 1), dt.date(2024, 1, 2)


def make_tenant(tmp_path: Path, tenant_id: str = "acme") -> Tenant:
    entry = TenantEntry(
        tenant_id=tenant_id,
        tenant_name=tenant_id.title(),
        database_name=f"{tenant_id}_dw",
        database_user=f"{tenant_id}_user",
    )
    return Tenant(
        entry=entry,
        settings=TenantSettings(),
        mappings={},
        secrets=TenantSecrets(),
        config_dir=tmp_path / "tenant_configs" / tenant_id,
    )


def write_silver(path: Path, table: CatalogTable, rows: list[dict], *, drop: str | None = None) -> Path:
    """A silver parquet of ``rows`` plus lineage columns, typed as silver writes it."""
    schema = {column.name: column.type.polars for column in warehouse_columns(table)}
    frame = pl.DataFrame([row | LINEAGE for row in rows], schema=schema)
    frame.drop(drop or []).write_parquet(path)
    return path


def with_columns(table: CatalogTable, columns: list[dict]) -> CatalogTable:
    """``table`` as the catalog would declare it with these columns."""
    return CatalogTable.model_validate(table.model_dump() | {"columns": columns})


def sales(*rows: tuple[dt.date, int, str]) -> list[dict]:
    return [{"sale_date": day, "sale_no": no, "amount": Decimal(amount)} for day, no, amount in rows]


def product(code: str | None, price: str = "1.00") -> dict:
    return {
        "code": code,
        "price": Decimal(price),
        "launched": D1,
        "updated_at": dt.datetime(2024, 2, 3, 4, 5, 6, 789),
        "active": True,
    }


@pytest.fixture
def warehouse(tmp_path: Path) -> DuckDBWarehouse:
    return DuckDBWarehouse(data_dir=str(tmp_path / "data"))


@pytest.fixture
def tenant(tmp_path: Path) -> Tenant:
    return make_tenant(tmp_path)


def rows(warehouse: DuckDBWarehouse, tenant: Tenant, table: CatalogTable) -> list[tuple]:
    keys = ", ".join(table.keys)
    return warehouse.query(tenant, f"SELECT * FROM {table.name} ORDER BY {keys}").rows()


def test_provision_is_idempotent_and_lays_out_catalog_then_lineage_columns(warehouse, tenant):
    catalog = ConfigRepository(PROJECT_ROOT / "tenant_configs").catalog
    tables = list(catalog)

    first = warehouse.provision(tenant, tables)
    second = warehouse.provision(tenant, tables)

    assert sorted(first.created) == sorted(catalog.tables) and first.existing == []
    assert second.created == [] and sorted(second.existing) == sorted(catalog.tables)
    assert warehouse.database_file(tenant) == Path(warehouse.data_dir) / "warehouse" / "acme_dw.duckdb"
    fact = catalog["fact_invoice_details"]
    columns = warehouse.query(
        tenant,
        "SELECT column_name, data_type, is_nullable FROM duckdb_columns() "
        "WHERE table_name = 'fact_invoice_details' ORDER BY column_index",
    ).rows()
    assert [name for name, _, _ in columns] == [*fact.column_names, SOURCE_FILE, SOURCE_MODIFIED, LOAD_ID]
    assert ("gross_amount", "DECIMAL(18,2)", False) in columns
    assert ("discount_amount", "DECIMAL(18,2)", True) in columns
    assert (SOURCE_MODIFIED, "TIMESTAMP", True) in columns


def test_replace_load_publishes_exactly_the_files_rows(warehouse, tenant, tmp_path):
    warehouse.provision(tenant, [PRODUCTS])
    first = write_silver(tmp_path / "first.parquet", PRODUCTS, [product("a"), product("b"), product("c")])
    second = write_silver(tmp_path / "second.parquet", PRODUCTS, [product("b", "2.50"), product("d")])

    warehouse.load_table(tenant, PRODUCTS, first, load_id="run-1")
    result = warehouse.load_table(tenant, PRODUCTS, second, load_id="run-2")

    assert (result.mode, result.rows_loaded, result.rows_in_table) == ("replace", 2, 2)
    assert (result.database, result.table) == ("acme_dw", "dim_product")
    assert result.details["database_file"] == "warehouse/acme_dw.duckdb"
    assert [(code, price) for code, price, *_ in rows(warehouse, tenant, PRODUCTS)] == [
        ("b", Decimal("2.50")),
        ("d", Decimal("1.00")),
    ]


@pytest.mark.parametrize(
    ("new_rows", "drop", "duckdb_says"),
    [
        ([product("x"), product(None)], None, "NOT NULL constraint failed"),
        ([product("x")], "price", "price"),
    ],
    ids=["null-in-not-null-column", "missing-column"],
)
def test_failed_replace_leaves_the_old_rows(warehouse, tenant, tmp_path, new_rows, drop, duckdb_says):
    warehouse.provision(tenant, [PRODUCTS])
    good = write_silver(tmp_path / "good.parquet", PRODUCTS, [product("a"), product("b")])
    bad = write_silver(tmp_path / "bad.parquet", PRODUCTS, new_rows, drop=drop)
    warehouse.load_table(tenant, PRODUCTS, good, load_id="run-1")
    before = rows(warehouse, tenant, PRODUCTS)

    with pytest.raises(WarehouseError) as failure:
        warehouse.load_table(tenant, PRODUCTS, bad, load_id="run-2")

    message = str(failure.value)
    assert "'acme'" in message and "'acme_dw'" in message and "'dim_product'" in message
    assert duckdb_says in message
    assert rows(warehouse, tenant, PRODUCTS) == before


def test_upsert_rerun_leaves_identical_rows_and_counts(warehouse, tenant, tmp_path):
    warehouse.provision(tenant, [SALES])
    silver = write_silver(tmp_path / "sales.parquet", SALES, sales((D1, 1, "10.00"), (D1, 2, "20.00")))

    first = warehouse.load_table(tenant, SALES, silver, load_id="run-1")
    once = rows(warehouse, tenant, SALES)
    again = warehouse.load_table(tenant, SALES, silver, load_id="run-2")

    assert (first.mode, first.rows_loaded, first.rows_in_table) == ("upsert", 2, 2)
    assert (again.rows_loaded, again.rows_in_table) == (2, 2)
    assert rows(warehouse, tenant, SALES) == once


def test_upsert_replaces_changed_rows_and_keeps_the_others(warehouse, tenant, tmp_path):
    warehouse.provision(tenant, [SALES])
    day_one = write_silver(tmp_path / "d1.parquet", SALES, sales((D1, 1, "10.00"), (D1, 2, "20.00")))
    changes = write_silver(tmp_path / "d2.parquet", SALES, sales((D1, 2, "25.00"), (D2, 1, "30.00")))

    warehouse.load_table(tenant, SALES, day_one, load_id="run-1")
    result = warehouse.load_table(tenant, SALES, changes, load_id="run-2")

    assert (result.rows_loaded, result.rows_in_table) == (2, 3)
    assert [row[:3] for row in rows(warehouse, tenant, SALES)] == [
        (D1, 1, Decimal("10.00")),
        (D1, 2, Decimal("25.00")),
        (D2, 1, Decimal("30.00")),
    ]


def test_failed_upsert_leaves_the_old_rows(warehouse, tenant, tmp_path):
    warehouse.provision(tenant, [SALES])
    good = write_silver(tmp_path / "good.parquet", SALES, sales((D1, 1, "10.00"), (D1, 2, "20.00")))
    bad_rows = [*sales((D1, 1, "11.00")), {"sale_date": D1, "sale_no": 2, "amount": None}]
    bad = write_silver(tmp_path / "bad.parquet", SALES, bad_rows)
    warehouse.load_table(tenant, SALES, good, load_id="run-1")
    before = rows(warehouse, tenant, SALES)

    with pytest.raises(WarehouseError, match=r"table 'fact_sale'.*NOT NULL constraint failed"):
        warehouse.load_table(tenant, SALES, bad, load_id="run-2")

    assert rows(warehouse, tenant, SALES) == before


def test_provision_adds_the_columns_the_catalog_gained(warehouse, tenant, tmp_path):
    warehouse.provision(tenant, [SALES])
    warehouse.load_table(
        tenant, SALES, write_silver(tmp_path / "s.parquet", SALES, sales((D1, 1, "1.00"))), load_id="r"
    )
    channel = {"name": "channel", "type": "VARCHAR(8)", "nullable": False}
    gained = with_columns(SALES, [*SALES.model_dump()["columns"], channel])

    report = warehouse.provision(tenant, [gained])
    silver = [row | {"channel": "web"} for row in sales((D2, 1, "2.00"))]
    result = warehouse.load_table(
        tenant, gained, write_silver(tmp_path / "g.parquet", gained, silver), load_id="r2"
    )

    assert report.existing == ["fact_sale"]
    assert result.rows_in_table == 2
    assert warehouse.query(tenant, "SELECT channel FROM fact_sale ORDER BY sale_date").rows() == [
        (None,),
        ("web",),
    ]


def test_provision_relaxes_not_null_when_the_catalog_allows_nulls(warehouse, tenant, tmp_path):
    warehouse.provision(tenant, [SALES])
    relaxed = with_columns(SALES, [*SALE_KEYS, {"name": "amount", "type": "DECIMAL(18,2)"}])

    warehouse.provision(tenant, [relaxed])
    silver = write_silver(tmp_path / "s.parquet", relaxed, [{"sale_date": D1, "sale_no": 1, "amount": None}])
    result = warehouse.load_table(tenant, relaxed, silver, load_id="run-1")

    assert result.rows_in_table == 1


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (
            [*SALE_KEYS, {"name": "amount", "type": "DOUBLE", "nullable": False}],
            "column 'amount' changed type in the catalog from DECIMAL(18,2) to DOUBLE",
        ),
        (SALE_KEYS, "column 'amount' was removed from the catalog (it is DECIMAL(18,2) in the database)"),
    ],
    ids=["type-changed", "column-removed"],
)
def test_provision_refuses_incompatible_changes(warehouse, tenant, columns, expected):
    warehouse.provision(tenant, [SALES])
    changed = with_columns(SALES, columns)

    with pytest.raises(WarehouseError) as failure:
        warehouse.provision(tenant, [changed])

    message = str(failure.value)
    assert expected in message
    assert "tenant 'acme'" in message and "'acme_dw'" in message and "table 'fact_sale'" in message


def test_each_tenant_has_its_own_file_and_queries_cannot_reach_another(warehouse, tmp_path):
    acme, globex = make_tenant(tmp_path, "acme"), make_tenant(tmp_path, "globex")
    warehouse.provision(acme, [SALES])
    warehouse.provision(globex, [PRODUCTS])
    globex_file = warehouse.database_file(globex)

    assert warehouse.database_file(acme) != globex_file and globex_file.is_file()
    assert warehouse.query(globex, "SELECT count(*) FROM dim_product").item() == 0
    for reach in (
        "SELECT count(*) FROM dim_product",
        f"ATTACH '{globex_file}' AS other",
        f"SELECT * FROM read_parquet('{tmp_path}/*.parquet')",
    ):
        with pytest.raises(WarehouseError, match="tenant 'acme'"):
            warehouse.query(acme, reach)


def test_types_round_trip(warehouse, tenant, tmp_path):
    warehouse.provision(tenant, [PRODUCTS])
    silver = write_silver(tmp_path / "p.parquet", PRODUCTS, [product("a", "12345678.91")])

    warehouse.load_table(tenant, PRODUCTS, silver, load_id="run-1")
    loaded = warehouse.query(tenant, "SELECT * FROM dim_product")

    assert loaded.schema == pl.Schema(
        {column.name: column.type.polars for column in warehouse_columns(PRODUCTS)}
    )
    assert loaded.row(0, named=True) == product("a", "12345678.91") | LINEAGE


def test_query_and_load_need_a_provisioned_database(warehouse, tenant, tmp_path):
    with pytest.raises(WarehouseError, match="does not exist; provision it first"):
        warehouse.query(tenant, "SELECT 1")
    with pytest.raises(WarehouseError, match="does not exist; provision it first"):
        warehouse.load_table(tenant, SALES, tmp_path / "none.parquet", load_id="run-1")
    assert not warehouse.database_file(tenant).exists()


@pytest.fixture
def locked(warehouse, tenant) -> Iterator[subprocess.Popen]:
    """Another process holding the tenant's provisioned file open for writing until it gets a line."""
    warehouse.provision(tenant, [SALES])
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print(flush=True); input()",
            str(warehouse.database_file(tenant)),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    holder.stdout.readline()  # the file is open
    yield holder
    if holder.poll() is None:
        holder.communicate("\n", timeout=30)


def test_a_locked_file_fails_after_bounded_retries(warehouse, tenant, locked, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(duckdb_warehouse, "sleep", waits.append)

    with pytest.raises(WarehouseError, match=r"tenant 'acme'.*acme_dw\.duckdb.*locked.*40 attempts"):
        warehouse.query(tenant, "SELECT 1")

    assert waits == [0.2, 0.4, 0.8, 1.6] + [3.0] * 35


def test_a_lock_released_while_retrying_is_waited_for(warehouse, tenant, locked, monkeypatch):
    monkeypatch.setattr(duckdb_warehouse, "sleep", lambda _: locked.communicate("\n", timeout=30))

    assert warehouse.query(tenant, "SELECT count(*) FROM fact_sale").item() == 0


def test_backend_name():
    assert DuckDBWarehouse(data_dir="data").backend == "duckdb"
