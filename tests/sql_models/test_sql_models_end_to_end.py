"""SQL models through Dagster on DuckDB: after tenant1's ETL its views, materialized views,
derived tables and row-level security views exist with the right rows."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import yaml
from dagster import AssetKey, DagsterInstance, ExecuteInProcessResult

from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.definitions import build_definitions
from datawiz_pipelines.jobs import TENANT_ETL_JOB
from datawiz_pipelines.run_summary import failure_message
from datawiz_pipelines.sample_data.generator import generate_sample_data
from datawiz_pipelines.settings import PROJECT_ROOT, ProjectPaths
from datawiz_pipelines.sql_models.models import SQL_MODEL_GROUPS
from datawiz_pipelines.warehouse.duckdb_warehouse import DuckDBWarehouse

TENANT = "tenant1"
MUMBAI = ["WSS0001", "WSS0002", "WSS0003"]


def run(
    paths: ProjectPaths, instance: DagsterInstance, keys: list[AssetKey] | None = None
) -> ExecuteInProcessResult:
    job = build_definitions(paths, backend="duckdb").resolve_job_def(TENANT_ETL_JOB)
    return job.execute_in_process(
        partition_key=TENANT, instance=instance, asset_selection=keys, raise_on_error=False
    )


def model_keys(paths: ProjectPaths) -> list[AssetKey]:
    graph = build_definitions(paths, backend="duckdb").resolve_asset_graph()
    return sorted(key for key in graph.get_all_asset_keys() if key.path[0] in SQL_MODEL_GROUPS)


def query(paths: ProjectPaths, sql: str) -> pl.DataFrame:
    tenant = ConfigRepository(paths.config_dir).load_tenant(TENANT)
    return DuckDBWarehouse(data_dir=str(paths.data_dir)).query(tenant, sql)


def silver(paths: ProjectPaths, table: str) -> pl.DataFrame:
    return pl.read_parquet(paths.data_dir / TENANT / "silver" / table / "data.parquet")


def materializations(result: ExecuteInProcessResult) -> dict[str, dict]:
    return {
        event.asset_key.to_user_string(): {
            key: value.value
            for key, value in event.step_materialization_data.materialization.metadata.items()
        }
        for event in result.get_asset_materialization_events()
    }


def business_constants(paths: ProjectPaths, threshold: float) -> set[tuple]:
    """The legacy populate_business_constants, by hand: filter values whose sales pass the threshold."""
    materials = silver(paths, "dim_material").select("material_code", "material_group", "sales_group_code")
    sales = silver(paths, "fact_invoice_secondary").join(materials, on="material_code", how="left")
    totals = [
        sales.filter(pl.col(dimension).is_not_null())
        .group_by(dimension)
        .agg(pl.col("net_amount").sum())
        .select(pl.lit(dimension).alias("dimension"), pl.col(dimension).alias("value"), "net_amount")
        for dimension in ("material_group", "sales_group_code", "wss_territory_code")
    ]
    return set(pl.concat(totals).filter(pl.col("net_amount") > threshold).iter_rows())


def table_rows(paths: ProjectPaths, sql: str) -> set[tuple]:
    return set(query(paths, sql).iter_rows())


@pytest.fixture(scope="module")
def etl(tmp_path_factory) -> tuple[ProjectPaths, dict[str, dict]]:
    """tenant1's sample data through the whole tenant_etl job, once for this module."""
    root = tmp_path_factory.mktemp("etl")
    paths = ProjectPaths(root / "tenant_configs", root / "data", root / "logs")
    shutil.copytree(PROJECT_ROOT / "tenant_configs", paths.config_dir, ignore=shutil.ignore_patterns(".env"))
    generate_sample_data(paths.config_dir, paths.data_dir, [TENANT])
    with DagsterInstance.ephemeral() as instance:
        result = run(paths, instance)
    assert result.success, [
        failure_message(e.step_failure_data.error) for e in result.get_step_failure_events()
    ]
    return paths, materializations(result)


@pytest.fixture
def copy(etl, tmp_path: Path) -> ProjectPaths:
    """The configuration and warehouse after the ETL run, to change without touching the module's."""
    paths = ProjectPaths(tmp_path / "tenant_configs", tmp_path / "data", tmp_path / "logs")
    shutil.copytree(etl[0].config_dir, paths.config_dir)
    shutil.copytree(etl[0].data_dir / "warehouse", paths.data_dir / "warehouse")
    for table in ("fact_invoice_secondary", "dim_material"):  # for the hand-computed expectations
        shutil.copytree(
            etl[0].data_dir / TENANT / "silver" / table, paths.data_dir / TENANT / "silver" / table
        )
    return paths


def test_every_model_is_materialized_by_tenant_etl(etl):
    paths, materialized = etl
    assert {key.to_user_string() for key in model_keys(paths)} <= set(materialized)
    constants = materialized["derived/business_constants"]
    assert constants["sql_source"] == "tenant_configs/sql/derived/business_constants.sql"
    assert constants["action"] == "created" and constants["dagster/row_count"] > 0
    assert "WHERE\n  net_sales > 10000.0" in constants["sql"]
    assert [column.name for column in constants["dagster/column_schema"].columns] == [
        "dimension",
        "value",
        "net_sales",
        "sales_rank",
    ]


def test_views_join_facts_with_dimensions_and_seeds(etl):
    paths, _ = etl
    facts = silver(paths, "fact_invoice_secondary")
    view = query(paths, "SELECT * FROM secondary_sales_view")
    assert view.height == facts.height
    assert view["territory_name"].null_count() == 0
    assert view["reporting_category"].drop_nulls().n_unique() > 1  # from the ref_material_mapping seed
    primary = query(paths, "SELECT count(*) AS n, count(business_unit) AS bu FROM primary_sales_view")
    assert (
        primary.row(0) == (silver(paths, "fact_invoice_details").height, primary["bu"][0])
        and primary["bu"][0] > 0
    )


def test_the_materialized_view_aggregates_secondary_sales(etl):
    paths, materialized = etl
    materials = silver(paths, "dim_material").select("material_code", "material_group")
    expected = (
        silver(paths, "fact_invoice_secondary")
        .join(materials, on="material_code", how="left")
        .group_by(
            pl.col("invoice_date").dt.truncate("1mo").alias("sales_month"),
            "wss_territory_code",
            "material_group",
        )
        .agg(pl.len().alias("invoice_lines"), pl.col("net_amount").sum())
    )
    actual = query(
        paths,
        "SELECT sales_month, wss_territory_code, material_group, invoice_lines, net_amount "
        "FROM secondary_sales_matview",
    )
    assert set(actual.iter_rows()) == set(expected.iter_rows())
    assert materialized["matviews/secondary_sales_matview"]["dagster/row_count"] == expected.height


def test_business_constants_equal_a_hand_computed_aggregate(etl):
    paths, _ = etl
    actual = table_rows(paths, "SELECT dimension, value, net_sales FROM business_constants")
    expected = business_constants(paths, 10000)
    assert actual == expected
    assert {row[0] for row in actual} == {"material_group", "sales_group_code", "wss_territory_code"}


def test_the_tsr_hierarchy_has_every_territory(etl):
    paths, _ = etl
    hierarchy = query(paths, "SELECT * FROM tsr_hierarchy")
    assert hierarchy.height == query(paths, "SELECT count(*) AS n FROM dim_hierarchy")["n"][0]
    assert (
        hierarchy["distributors"].sum()
        == query(paths, "SELECT count(*) AS n FROM dim_customer_master")["n"][0]
    )
    assert hierarchy.columns[:4] == ["zone", "region_code", "area_code", "wss_territory_code"]


def test_a_role_sees_only_its_territories(etl):
    paths, materialized = etl
    facts = silver(paths, "fact_invoice_secondary")
    mumbai = query(paths, "SELECT * FROM rls_mumbai_metro__fact_invoice_secondary")
    assert set(mumbai["wss_territory_code"]) == set(MUMBAI)
    assert mumbai.height == facts.filter(pl.col("wss_territory_code").is_in(MUMBAI)).height > 0
    national = query(paths, "SELECT count(*) AS n FROM rls_national_sales__fact_invoice_secondary")
    assert national["n"][0] == facts.height
    # primary sales carry no territory: filtered through the distributor's
    customers = query(paths, "SELECT customer_code, wss_territory_code FROM dim_customer_master")
    allowed = customers.filter(pl.col("wss_territory_code").is_in(MUMBAI))["customer_code"]
    primary = query(paths, "SELECT customer_code FROM rls_mumbai_metro__fact_invoice_details")
    assert set(primary["customer_code"]) <= set(allowed) and primary.height > 0
    view = query(paths, "SELECT DISTINCT wss_territory_code FROM rls_central_zone__secondary_sales_view")
    assert set(view["wss_territory_code"]) <= {f"WSS00{n}" for n in (15, 16, 17, 18, 33, 34, 35, 36)}
    views = materialized["security/fact_invoice_secondary"]["views"]
    assert views["rls_mumbai_metro__fact_invoice_secondary"]["rows"] == mumbai.height


def test_a_tenants_changes_take_effect_on_the_next_run(copy: ProjectPaths, instance: DagsterInstance):
    tenant_dir = copy.config_dir / "tenants" / TENANT
    config = yaml.safe_load((tenant_dir / "config.yaml").read_text())
    config["business_rules"]["sales_threshold"] = 500000
    config["sql_models"] = {"disabled": ["derived/tsr_hierarchy"]}
    del config["row_level_security"]["roles"]["central_zone"]
    (tenant_dir / "config.yaml").write_text(yaml.safe_dump(config))
    override = tenant_dir / "sql" / "views" / "secondary_sales_view.sql"
    override.parent.mkdir(parents=True)
    override.write_text(
        "-- tenant1 shows dealers by name only.\n"
        "SELECT f.invoice_no, d.dealer_name, f.wss_territory_code, f.net_amount\n"
        "FROM fact_invoice_secondary f JOIN dim_dealer_master d ON d.dealer_code = f.dealer_code\n"
    )

    result = run(copy, instance, model_keys(copy))

    assert result.success
    materialized = materializations(result)
    assert "derived/tsr_hierarchy" not in materialized
    assert "tsr_hierarchy" not in set(
        query(copy, "SELECT table_name FROM information_schema.tables")["table_name"]
    )
    assert table_rows(
        copy, "SELECT dimension, value, net_sales FROM business_constants"
    ) == business_constants(copy, 500000)
    assert query(copy, "SELECT * FROM secondary_sales_view").columns == [
        "invoice_no",
        "dealer_name",
        "wss_territory_code",
        "net_amount",
    ]
    assert materialized["views/secondary_sales_view"]["tenant_override"] is True
    assert materialized["views/secondary_sales_view"]["sql_source"].endswith(
        "tenants/tenant1/sql/views/secondary_sales_view.sql"
    )
    assert materialized["matviews/secondary_sales_matview"]["action"] == "refreshed"
    views = set(query(copy, "SELECT view_name FROM duckdb_views() WHERE NOT internal")["view_name"])
    assert not {view for view in views if view.startswith("rls_central_zone__")}
    assert "rls_mumbai_metro__secondary_sales_view" in views
    assert materialized["security/secondary_sales_view"]["dropped_views"] == [
        "rls_central_zone__secondary_sales_view"
    ]


def test_an_override_reading_an_undeclared_table_is_refused(copy: ProjectPaths, instance: DagsterInstance):
    before = query(copy, "SELECT * FROM tsr_hierarchy")
    override = copy.config_dir / "tenants" / TENANT / "sql" / "derived" / "tsr_hierarchy.sql"
    override.parent.mkdir(parents=True)
    override.write_text(
        "SELECT wss_territory_code, SUM(net_amount) AS net FROM fact_invoice_secondary GROUP BY 1\n"
    )

    result = run(copy, instance, [AssetKey(["derived", "tsr_hierarchy"])])

    assert not result.success
    (failure,) = result.get_step_failure_events()
    message = failure_message(failure.step_failure_data.error)
    assert "WarehouseError: tenant tenant1, derived/tsr_hierarchy: " in message
    assert (
        "tenants/tenant1/sql/derived/tsr_hierarchy.sql: reads fact_invoice_secondary, which the shared model"
        in message
    )
    assert query(copy, "SELECT * FROM tsr_hierarchy").equals(before)


def test_decimal_sums_keep_their_scale(etl):
    paths, _ = etl
    (net_sales,) = query(paths, "SELECT net_sales FROM business_constants LIMIT 1").row(0)
    assert isinstance(net_sales, Decimal) and net_sales.as_tuple().exponent == -2
