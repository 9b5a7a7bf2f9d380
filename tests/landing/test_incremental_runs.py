"""Incremental runs through Dagster (the ``tenant_etl`` job) with the file ledger.

A small local tenant maps two tables: ``dim_material`` (replace) and
``fact_invoice_secondary`` (incremental, keep_latest, looks materials up). Each test
changes its landing folder between runs and checks what was read, how the warehouse
was loaded, what the ledger says, and that the warehouse equals a full recompute.
"""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from dagster import DagsterInstance, JobDefinition

from datawiz_pipelines.cli.run import reprocess_run_config, run_command
from datawiz_pipelines.landing.ledger import Ledger
from datawiz_pipelines.settings import ProjectPaths
from datawiz_pipelines.warehouse.duckdb_warehouse import DuckDBWarehouse

from .conftest import (
    add_tenant,
    assert_same_tables,
    at,
    full_recompute,
    gz,
    materialization,
    materials_csv,
    run_etl,
    sales_csv,
    selection,
    succeeded,
    warehouse_tables,
    write_file,
)

TENANT = "inc1"
FACT = "fact_invoice_secondary"
DAY1 = [
    ("20240401", "I1", 1, "M1", 1, 10),
    ("20240401", "I1", 2, "M2", 2, 20),
    ("20240401", "I2", 1, "M9", 1, 5),  # M9 is no material: rejected by the relationship rule
]
DAY2 = [("20240402", "I3", 1, "M1", 3, 30), ("20240402", "I4", 1, "M3", 4, 40)]


@pytest.fixture
def landing(project: ProjectPaths) -> Path:
    add_tenant(project, TENANT)
    root = project.data_dir / TENANT / "source_files"
    write_file(root, "master/materials.csv", materials_csv(["M1", "M2", "M3"]), at(1))
    write_file(root, "sales/day1.csv", sales_csv(DAY1), at(1))
    write_file(root, "sales/2024/day2.csv.gz", gz(sales_csv(DAY2)), at(2))
    return root


def facts(project: ProjectPaths) -> pl.DataFrame:
    return warehouse_tables(project, TENANT)[FACT]


def amounts(project: ProjectPaths) -> dict[tuple[str, int], float]:
    frame = facts(project)
    return {(i, n): float(a) for i, n, a in frame.select("invoice_no", "line_no", "net_amount").iter_rows()}


def test_only_new_files_are_read_and_their_rows_upserted(
    project: ProjectPaths, instance: DagsterInstance, landing: Path, tmp_path: Path
):
    first = run_etl(project, instance, TENANT)
    assert succeeded(first)
    assert materialization(first, "warehouse", FACT)["load_mode"] == "replace"
    assert amounts(project) == {("I1", 1): 10, ("I1", 2): 20, ("I3", 1): 30, ("I4", 1): 40}

    write_file(
        landing,
        "sales/day3.csv",
        sales_csv([("20240401", "I1", 1, "M1", 1, 11), ("20240403", "I5", 1, "M2", 5, 50)]),
        at(3),
    )
    second = run_etl(project, instance, TENANT)
    assert succeeded(second)

    bronze = materialization(second, "bronze", FACT)
    assert (bronze["files_parsed"], bronze["files_reused"], bronze["files_new"]) == (1, 2, ["sales/day3.csv"])
    assert materialization(second, "bronze", "dim_material")["files_parsed"] == 0
    silver = materialization(second, "silver", FACT)
    assert (silver["load_plan"], silver["rows_to_upsert"]) == ("upsert", 2)
    warehouse = materialization(second, "warehouse", FACT)
    assert (warehouse["load_mode"], warehouse["rows_loaded"], warehouse["files_loaded"]) == (
        "upsert",
        2,
        ["sales/day3.csv"],
    )
    assert amounts(project) == {("I1", 1): 11, ("I1", 2): 20, ("I3", 1): 30, ("I4", 1): 40, ("I5", 1): 50}

    processed = Ledger(project.data_dir / TENANT / "ledger.sqlite").processed(FACT)
    assert processed["sales/day3.csv"].run_id == second.run_id
    assert processed["sales/day1.csv"].run_id == first.run_id  # not reloaded
    assert processed["sales/day1.csv"].mapping_version == 1 and processed["sales/day3.csv"].rows == 2
    assert_same_tables(warehouse_tables(project, TENANT), full_recompute(project, TENANT, tmp_path))


def test_a_changed_or_deleted_file_rebuilds_the_table_without_its_old_rows(
    project: ProjectPaths, instance: DagsterInstance, landing: Path, tmp_path: Path
):
    assert succeeded(run_etl(project, instance, TENANT))

    # same name, new content: line I4 is gone
    write_file(landing, "sales/2024/day2.csv.gz", gz(sales_csv(DAY2[:1])), at(4))
    changed = run_etl(project, instance, TENANT)
    assert succeeded(changed)
    assert materialization(changed, "bronze", FACT)["files_changed"] == ["sales/2024/day2.csv.gz"]
    assert materialization(changed, "bronze", FACT)["files_parsed"] == 1
    warehouse = materialization(changed, "warehouse", FACT)
    assert warehouse["load_mode"] == "replace" and "changed" in warehouse["load_reason"]
    assert ("I4", 1) not in amounts(project)

    (landing / "sales/day1.csv").unlink()
    deleted = run_etl(project, instance, TENANT)
    assert succeeded(deleted)
    assert materialization(deleted, "source_files")["files_deleted_upstream"] == ["sales/day1.csv"]
    assert materialization(deleted, "bronze", FACT)["files_deleted_upstream"] == ["sales/day1.csv"]
    assert materialization(deleted, "warehouse", FACT)["load_mode"] == "replace"
    warnings = [
        entry.user_message for entry in instance.all_logs(deleted.run_id) if entry.level == logging.WARNING
    ]
    assert any("sales/day1.csv" in m and "deleted upstream" in m for m in warnings)
    assert amounts(project) == {("I3", 1): 30}
    assert "sales/day1.csv" in Ledger(project.data_dir / TENANT / "ledger.sqlite").deleted(FACT)
    assert_same_tables(warehouse_tables(project, TENANT), full_recompute(project, TENANT, tmp_path))


def test_any_sequence_of_incremental_runs_equals_a_full_recompute(
    project: ProjectPaths, instance: DagsterInstance, landing: Path, tmp_path: Path
):
    assert succeeded(run_etl(project, instance, TENANT))
    write_file(
        landing,
        "sales/day3.csv",
        sales_csv([("20240401", "I1", 1, "M1", 1, 11), ("20240403", "I5", 1, "M2", 5, 50)]),
        at(3),
    )
    assert succeeded(run_etl(project, instance, TENANT))
    # a late file, older than the others: its correction of I3 must lose to day2's newer row
    write_file(
        landing,
        "sales/late.csv",
        sales_csv([("20240402", "I3", 1, "M1", 3, 99), ("20240402", "I6", 1, "M1", 6, 60)]),
        at(1, hour=1),
    )
    late = run_etl(project, instance, TENANT)
    assert succeeded(late)
    assert materialization(late, "warehouse", FACT)["load_mode"] == "upsert"
    assert amounts(project)[("I3", 1)] == 30
    assert_same_tables(warehouse_tables(project, TENANT), full_recompute(project, TENANT, tmp_path))

    # the materials change: M3 leaves, M9 arrives; facts are judged again against them
    write_file(landing, "master/materials.csv", materials_csv(["M1", "M2", "M9"]), at(5))
    dimension = run_etl(project, instance, TENANT)
    assert succeeded(dimension)
    warehouse = materialization(dimension, "warehouse", FACT)
    assert warehouse["load_mode"] == "replace" and "reference keys" in warehouse["load_reason"]
    assert ("I4", 1) not in amounts(project) and ("I2", 1) in amounts(project)
    assert_same_tables(warehouse_tables(project, TENANT), full_recompute(project, TENANT, tmp_path))


def test_reprocess_one_file_a_date_range_or_everything(
    project: ProjectPaths, instance: DagsterInstance, landing: Path
):
    assert succeeded(run_etl(project, instance, TENANT))

    one = run_etl(
        project,
        instance,
        TENANT,
        run_config={"resources": {"reprocess": {"config": {"files": ["sales/day1.csv"]}}}},
    )
    assert succeeded(one)
    bronze = materialization(one, "bronze", FACT)
    assert (bronze["files_parsed"], bronze["files_reprocessed"]) == (1, ["sales/day1.csv"])
    assert materialization(one, "bronze", "dim_material")["files_parsed"] == 0
    assert materialization(one, "warehouse", FACT)["load_mode"] == "replace"
    assert "reprocess" in materialization(one, "warehouse", FACT)["load_reason"]

    since = run_etl(project, instance, TENANT, tags={"datawiz/reprocess_since": "2024-04-02"})
    assert succeeded(since)
    assert materialization(since, "bronze", FACT)["files_reprocessed"] == ["sales/2024/day2.csv.gz"]
    assert materialization(since, "bronze", "dim_material")["files_parsed"] == 0

    everything = run_etl(project, instance, TENANT, tags={"datawiz/reprocess": "full"})
    assert succeeded(everything)
    assert materialization(everything, "bronze", FACT)["files_parsed"] == 2
    assert materialization(everything, "bronze", "dim_material")["files_parsed"] == 1

    typo = run_etl(
        project,
        instance,
        TENANT,
        run_config={"resources": {"reprocess": {"config": {"files": ["sales/dayX.csv"]}}}},
    )
    assert not typo.success and not typo.get_asset_materialization_events()
    [failure] = typo.get_step_failure_events()
    assert "sales/dayX.csv" in str(failure.step_failure_data.error.message) + str(
        failure.step_failure_data.error.cause
    )


def test_a_failed_warehouse_load_leaves_the_ledger_so_the_next_run_redoes_it(
    project: ProjectPaths,
    instance: DagsterInstance,
    landing: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    assert succeeded(run_etl(project, instance, TENANT))
    ledger = Ledger(project.data_dir / TENANT / "ledger.sqlite")
    before = ledger.processed(FACT)
    write_file(landing, "sales/day3.csv", sales_csv([("20240403", "I5", 1, "M2", 5, 50)]), at(3))

    original = DuckDBWarehouse.load_table

    def failing(self, tenant, table, silver_file, **kwargs):
        if table.name == FACT:
            raise RuntimeError("the warehouse is down")
        return original(self, tenant, table, silver_file, **kwargs)

    monkeypatch.setattr(DuckDBWarehouse, "load_table", failing)
    assert not run_etl(project, instance, TENANT).success
    assert ledger.processed(FACT) == before
    monkeypatch.setattr(DuckDBWarehouse, "load_table", original)

    again = run_etl(project, instance, TENANT)
    assert succeeded(again)
    assert materialization(again, "bronze", FACT)["files_parsed"] == 0  # its part was kept
    assert materialization(again, "warehouse", FACT)["files_loaded"] == ["sales/day3.csv"]
    assert "sales/day3.csv" in ledger.processed(FACT)
    assert amounts(project)[("I5", 1)] == 50


def test_the_cli_passes_reprocess_requests(
    project: ProjectPaths, landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    (tmp_path / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    results = []
    original = JobDefinition.execute_in_process

    def only_test_tables(self, **kwargs):
        results.append(original(self, asset_selection=selection(), **kwargs))
        return results[-1]

    monkeypatch.setattr(JobDefinition, "execute_in_process", only_test_tables)
    runner = CliRunner()
    again = runner.invoke(run_command, ["--tenant", TENANT, "--reprocess-file", "sales/day1.csv"])
    assert again.exit_code == 0, again.output
    assert materialization(results[-1], "bronze", FACT)["files_reprocessed"] == ["sales/day1.csv"]
    since = runner.invoke(run_command, ["--tenant", TENANT, "--since", "2024-04-02", "--until", "2024-04-30"])
    assert since.exit_code == 0, since.output
    assert materialization(results[-1], "bronze", FACT)["files_reprocessed"] == ["sales/2024/day2.csv.gz"]
    assert reprocess_run_config(full=True)["resources"] == {"reprocess": {"config": {"full": True}}}
    bad = runner.invoke(run_command, ["--tenant", TENANT, "--since", "2024-05-01", "--until", "2024-04-01"])
    assert bad.exit_code != 0 and "after --until" in bad.output
