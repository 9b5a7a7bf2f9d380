"""The whole ETL for the sample tenants, through Dagster, on the embedded DuckDB warehouse."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml
from dagster import DagsterInstance, ExecuteInProcessResult

from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.definitions import build_definitions
from datawiz_pipelines.jobs import TENANT_ETL_JOB
from datawiz_pipelines.run_summary import failure_message
from datawiz_pipelines.sample_data.generator import generate_sample_data
from datawiz_pipelines.settings import ProjectPaths
from datawiz_pipelines.sql_models.models import load_sql_models
from datawiz_pipelines.storage.tenant_paths import duckdb_warehouse_path

SAMPLE_TENANTS = ("tenant1", "tenant2")


def run_tenant(paths: ProjectPaths, instance: DagsterInstance, tenant_id: str) -> ExecuteInProcessResult:
    job = build_definitions(paths, backend="duckdb").resolve_job_def(TENANT_ETL_JOB)
    return job.execute_in_process(partition_key=tenant_id, instance=instance, raise_on_error=False)


def warehouse_tables(paths: ProjectPaths, tenant_id: str) -> dict[str, pl.DataFrame]:
    """Every table of the tenant's warehouse (catalog tables, then derived tables and
    materialized views), sorted, without the per-run load id."""
    entry = ConfigRepository(paths.config_dir).entry(tenant_id)
    with duckdb.connect(
        str(duckdb_warehouse_path(paths.data_dir, entry.database_name)), read_only=True
    ) as db:
        names = [
            row[0]
            for row in db.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'main' AND table_type = 'BASE TABLE'"
            ).fetchall()
        ]
        return {
            name: db.sql(f'SELECT * FROM "{name}"').pl().drop("_dw_load_id", strict=False).sort(pl.all())
            for name in names
        }


def sql_model_tables(paths: ProjectPaths) -> set[str]:
    """The tables SQL models build (derived tables; materialized views are tables on DuckDB)."""
    repository = ConfigRepository(paths.config_dir)
    models = load_sql_models(paths.config_dir, repository.catalog)
    return {model.name for model in models.models.values() if model.kind in ("matviews", "derived")}


def checksum(frame: pl.DataFrame) -> str:
    return hashlib.sha256(frame.write_csv().encode()).hexdigest()


def tree_fingerprint(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def sample_project(project: ProjectPaths) -> ProjectPaths:
    generate_sample_data(project.config_dir, project.data_dir, SAMPLE_TENANTS)
    return project


def test_both_sample_tenants_land_every_table(sample_project: ProjectPaths, instance: DagsterInstance):
    catalog = ConfigRepository(sample_project.config_dir).catalog
    for tenant_id in SAMPLE_TENANTS:
        result = run_tenant(sample_project, instance, tenant_id)
        assert result.success, [e.message for e in result.get_step_failure_events()]
        tables = warehouse_tables(sample_project, tenant_id)
        assert set(tables) == {table.name for table in catalog} | sql_model_tables(sample_project)
        for table in catalog:
            silver = pl.read_parquet(
                sample_project.data_dir / tenant_id / "silver" / table.name / "data.parquet"
            )
            assert tables[table.name].height == silver.height > 0, table.name
            assert tables[table.name].columns[: len(table.column_names)] == table.column_names


def test_facts_keep_the_latest_correction_and_no_duplicate_keys(
    sample_project: ProjectPaths, instance: DagsterInstance
):
    assert run_tenant(sample_project, instance, "tenant1").success
    facts = warehouse_tables(sample_project, "tenant1")["fact_invoice_secondary"]
    keys = ["invoice_date", "invoice_no", "line_no"]
    assert facts.select(keys).is_duplicated().sum() == 0
    assert facts["invoice_date"].dtype == pl.Date
    assert facts["net_amount"].dtype == pl.Decimal(18, 2)
    corrected = facts.filter(pl.col("_dw_source_file").str.contains("incremental"))
    assert corrected.height > 0


def test_a_rerun_leaves_identical_tables(sample_project: ProjectPaths, instance: DagsterInstance):
    assert run_tenant(sample_project, instance, "tenant2").success
    first = {name: checksum(frame) for name, frame in warehouse_tables(sample_project, "tenant2").items()}
    assert run_tenant(sample_project, instance, "tenant2").success
    second = {name: checksum(frame) for name, frame in warehouse_tables(sample_project, "tenant2").items()}
    assert first == second


def test_a_failing_blocking_check_leaves_the_warehouse_table_untouched(
    sample_project: ProjectPaths, instance: DagsterInstance
):
    assert run_tenant(sample_project, instance, "tenant1").success
    before = warehouse_tables(sample_project, "tenant1")["dim_material"]

    mapping_path = sample_project.config_dir / "tenants/tenant1/mappings/dim_material.yaml"
    mapping = yaml.safe_load(mapping_path.read_text())
    source = sample_project.data_dir / "tenant1" / "source_files" / mapping["source"]["pattern"]
    source.with_name("again_" + source.name).write_bytes(source.read_bytes())
    mapping["source"]["pattern"] = [mapping["source"]["pattern"], "master/again_*.csv"]
    mapping["on_duplicate_key"] = "fail"  # every material now arrives twice
    mapping_path.write_text(yaml.safe_dump(mapping))

    result = run_tenant(sample_project, instance, "tenant1")

    assert not result.success
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert any(
        e.check_name == "unique_key" and e.asset_key.path == ["silver", "dim_material"] for e in failed
    )
    assert warehouse_tables(sample_project, "tenant1")["dim_material"].equals(before)


def test_a_tenant2_run_touches_no_tenant1_path_or_database(
    sample_project: ProjectPaths, instance: DagsterInstance
):
    assert run_tenant(sample_project, instance, "tenant1").success
    tenant1_files = tree_fingerprint(sample_project.data_dir / "tenant1")
    database = duckdb_warehouse_path(sample_project.data_dir, "datawiz_tenant1")
    tenant1_database = (database.stat().st_size, database.stat().st_mtime_ns)

    assert run_tenant(sample_project, instance, "tenant2").success

    assert tree_fingerprint(sample_project.data_dir / "tenant1") == tenant1_files
    assert (database.stat().st_size, database.stat().st_mtime_ns) == tenant1_database


def test_a_disabled_tenant_fails_at_once_naming_the_registry(
    sample_project: ProjectPaths, instance: DagsterInstance
):
    result = run_tenant(sample_project, instance, "tenant3")

    assert not result.success
    assert not result.get_asset_materialization_events()
    messages = [failure_message(event.step_failure_data.error) for event in result.get_step_failure_events()]
    assert messages
    assert all(
        "tenant3" in m and "is disabled in" in m and "tenant_configs/registry.yaml" in m for m in messages
    )
