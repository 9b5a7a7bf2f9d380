"""The code location as the Dagster UI and CLI see it."""

from __future__ import annotations

from dagster import AssetKey, Definitions

from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.definitions import build_definitions
from datawiz_pipelines.settings import ProjectPaths


def test_definitions_load(project: ProjectPaths):
    Definitions.validate_loadable(build_definitions(project, backend="duckdb"))


def test_every_catalog_table_is_a_bronze_silver_and_warehouse_asset(project: ProjectPaths):
    graph = build_definitions(project, backend="duckdb").resolve_asset_graph()
    tables = [table.name for table in ConfigRepository(project.config_dir).catalog]
    expected = {AssetKey([layer, table]) for table in tables for layer in ("bronze", "silver", "warehouse")}
    layers = {"bronze", "silver", "warehouse"}  # SQL models: tests/sql_models/test_assets.py
    assert {key for key in graph.get_all_asset_keys() if key.path[0] in layers} == expected
    for table in tables:
        silver = graph.get(AssetKey(["silver", table]))
        assert AssetKey(["bronze", table]) in silver.parent_keys
        assert silver.group_name == "silver"
        assert AssetKey(["silver", table]) in graph.get(AssetKey(["warehouse", table])).parent_keys


def test_tenants_are_the_partitions_including_disabled_ones(project: ProjectPaths):
    graph = build_definitions(project, backend="duckdb").resolve_asset_graph()
    partitions = graph.get(AssetKey(["warehouse", "dim_material"])).partitions_def
    assert partitions.get_partition_keys() == ["tenant1", "tenant2", "tenant3"]


def test_the_warehouse_kind_names_the_backend_and_keys_do_not_change(project: ProjectPaths):
    duck = build_definitions(project, backend="duckdb").resolve_asset_graph()
    key = AssetKey(["warehouse", "fact_invoice_details"])
    assert "duckdb" in duck.get(key).kinds


def test_silver_validation_checks_are_blocking(project: ProjectPaths):
    graph = build_definitions(project, backend="duckdb").resolve_asset_graph()
    checks = graph.get_check_keys_for_assets({AssetKey(["silver", "fact_invoice_secondary"])})
    assert {check.name for check in checks} == {"unique_key", "row_rules", "reject_ratio"}
    assert all(graph.get_check_spec(check).blocking for check in checks)
