"""SQL models in the asset graph: keys, groups, kinds, schedule tags and lineage parsed from SQL."""

from __future__ import annotations

import pytest
import yaml
from dagster import AssetKey, materialize

from datawiz_pipelines.assets.sql_models import build_sql_model_assets
from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.definitions import build_definitions
from datawiz_pipelines.jobs import JOB_TAG, SCHEDULE_TAG, TENANT_ETL_JOB
from datawiz_pipelines.partitions import tenant_partitions
from datawiz_pipelines.resources.tenant_config import TenantConfigResource
from datawiz_pipelines.settings import PROJECT_ROOT, ProjectPaths
from datawiz_pipelines.sql_models.models import load_sql_models
from datawiz_pipelines.warehouse.base import Warehouse

MODEL_KEYS = {
    AssetKey(["views", "secondary_sales_view"]),
    AssetKey(["views", "primary_sales_view"]),
    AssetKey(["matviews", "secondary_sales_matview"]),
    AssetKey(["derived", "business_constants"]),
    AssetKey(["derived", "tsr_hierarchy"]),
}
SECURITY_KEYS = {
    AssetKey(["security", relation])
    for relation in (
        "fact_invoice_secondary",
        "fact_invoice_details",
        "dim_customer_master",
        "dim_dealer_master",
        "secondary_sales_view",
        "primary_sales_view",
    )
}


@pytest.fixture(scope="module")
def definitions():
    root = PROJECT_ROOT
    return build_definitions(
        ProjectPaths(root / "tenant_configs", root / "data", root / "logs"), backend="duckdb"
    )


def warehouse(*tables: str) -> set[AssetKey]:
    return {AssetKey(["warehouse", table]) for table in tables}


def test_every_model_and_protectable_relation_is_one_tenant_partitioned_asset(definitions):
    graph = definitions.resolve_asset_graph()
    keys = {
        key
        for key in graph.get_all_asset_keys()
        if key.path[0] in ("views", "matviews", "derived", "security")
    }
    assert keys == MODEL_KEYS | SECURITY_KEYS
    for key in keys:
        node = graph.get(key)
        assert node.group_name == key.path[0]
        assert node.kinds == {"sql", "duckdb"}
        assert node.partitions_def.get_partition_keys() == ["tenant1", "tenant2", "tenant3"]


def test_upstreams_are_the_tables_the_sql_reads(definitions):
    graph = definitions.resolve_asset_graph()
    parents = {key: graph.get(key).parent_keys for key in MODEL_KEYS | SECURITY_KEYS}
    assert parents[AssetKey(["views", "secondary_sales_view"])] == warehouse(
        "fact_invoice_secondary",
        "dim_customer_master",
        "dim_dealer_master",
        "dim_material",
        "ref_material_mapping",
        "dim_sales_group",
        "ref_sales_group",
        "dim_hierarchy",
    )
    assert parents[AssetKey(["derived", "business_constants"])] == warehouse(
        "fact_invoice_secondary", "dim_material"
    )
    assert parents[AssetKey(["derived", "tsr_hierarchy"])] == warehouse(
        "dim_hierarchy", "dim_customer_master", "dim_dealer_master"
    )
    assert parents[AssetKey(["security", "fact_invoice_details"])] == warehouse(
        "fact_invoice_details", "dim_customer_master"
    )
    assert parents[AssetKey(["security", "secondary_sales_view"])] == {
        AssetKey(["views", "secondary_sales_view"])
    }


def test_matview_refresh_and_derived_tables_run_in_the_evening(definitions):
    graph = definitions.resolve_asset_graph()
    tags = {key: graph.get(key).tags for key in MODEL_KEYS | SECURITY_KEYS}
    matview = tags[AssetKey(["matviews", "secondary_sales_matview"])]
    assert (matview[SCHEDULE_TAG], matview[JOB_TAG]) == ("evening", "evening_matview_refresh")
    assert tags[AssetKey(["derived", "business_constants"])][JOB_TAG] == "evening_business_constants"
    assert tags[AssetKey(["derived", "tsr_hierarchy"])][JOB_TAG] == "evening_tsr_hierarchy"
    untagged = [key for key in tags if key.path[0] in ("views", "security")]
    assert all(SCHEDULE_TAG not in tags[key] for key in untagged)


def test_tenant_etl_builds_the_models_after_the_tables(definitions):
    selected = definitions.resolve_job_def(TENANT_ETL_JOB).asset_layer.selected_asset_keys
    assert selected >= MODEL_KEYS | SECURITY_KEYS
    assert warehouse("fact_invoice_secondary") <= selected


def test_definitions_do_not_grow_with_tenants(project: ProjectPaths):
    """A thousand registered tenants are a thousand partitions of the same assets."""
    registry_path = project.config_dir / "registry.yaml"
    registry = yaml.safe_load(registry_path.read_text())
    base = len(build_definitions(project, backend="duckdb").resolve_asset_graph().get_all_asset_keys())
    registry["tenants"] += [
        {
            "tenant_id": f"bulk{i:04d}",
            "tenant_name": f"Bulk {i}",
            "database_name": f"dw_bulk{i:04d}",
            "database_user": f"bulk{i:04d}_user",
        }
        for i in range(1000)
    ]
    registry_path.write_text(yaml.safe_dump(registry))
    graph = build_definitions(project, backend="duckdb").resolve_asset_graph()
    assert len(graph.get_all_asset_keys()) == base
    assert (
        len(graph.get(AssetKey(["views", "primary_sales_view"])).partitions_def.get_partition_keys()) == 1003
    )


class StubWarehouse(Warehouse):
    """A backend that loads tables but has no SQL-model support yet."""

    @property
    def backend(self) -> str:
        return "stub"

    def provision(self, tenant, tables):
        raise NotImplementedError

    def load_table(self, tenant, table, silver_file, *, load_id):
        raise NotImplementedError

    def query(self, tenant, sql):
        raise NotImplementedError


def test_a_backend_without_sql_models_skips_them_instead_of_failing(project: ProjectPaths):
    assert not StubWarehouse().builds_sql_models
    assert build_definitions(project, backend="duckdb").resources["warehouse"].builds_sql_models
    repository = ConfigRepository(project.config_dir)
    assets = build_sql_model_assets(
        load_sql_models(project.config_dir, repository.catalog),
        tenant_partitions(repository.registry),
        "stub",
    )
    keys = {AssetKey(["views", "primary_sales_view"]), AssetKey(["security", "fact_invoice_secondary"])}
    result = materialize(
        [assets_def for assets_def in assets if assets_def.key in keys],
        partition_key="tenant1",
        resources={
            "tenants": TenantConfigResource(config_dir=str(project.config_dir)),
            "warehouse": StubWarehouse(),
        },
    )
    assert result.success
    assert result.get_asset_materialization_events() == []
