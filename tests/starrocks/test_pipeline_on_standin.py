"""``DATAWIZ_WAREHOUSE=starrocks``: the same definitions as on DuckDB, and the whole pipeline
for both sample tenants through the stand-in, table for table equal to the DuckDB run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import yaml
from click.testing import CliRunner
from dagster import EnvVar, ExecuteInProcessResult
from starrocks_standin import StandIn, running_standin

from datawiz_pipelines.cli import main
from datawiz_pipelines.config.errors import ConfigError
from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.config.tenant import DatabaseSettings
from datawiz_pipelines.definitions import build_definitions
from datawiz_pipelines.settings import ProjectPaths
from datawiz_pipelines.warehouse.base import WarehouseError
from datawiz_pipelines.warehouse.starrocks import StarRocksWarehouse

from .pipeline import (
    SAMPLE_TENANTS,
    TableContent,
    differences,
    intrusions,
    load_labels,
    new_project,
    on_starrocks,
    retried_upsert,
    starrocks_tables,
)
from .support import ADMIN_PASSWORD, tenant_password

# -- selection -------------------------------------------------------------------------------


def test_starrocks_definitions_have_the_duckdb_asset_keys_and_lineage(project: ProjectPaths) -> None:
    duck = build_definitions(project, backend="duckdb").resolve_asset_graph()
    star = build_definitions(project, backend="starrocks").resolve_asset_graph()

    keys = duck.get_all_asset_keys()
    assert star.get_all_asset_keys() == keys
    assert star.asset_check_keys == duck.asset_check_keys
    warehouse_kinds = 0
    for key in keys:
        ours, theirs = star.get(key), duck.get(key)
        assert ours.parent_keys == theirs.parent_keys, key
        assert ours.group_name == theirs.group_name, key
        assert ours.partitions_def == theirs.partitions_def, key
        assert ours.kinds - {"starrocks"} == theirs.kinds - {"duckdb"}, key
        assert ("starrocks" in ours.kinds) == ("duckdb" in theirs.kinds), key
        warehouse_kinds += "starrocks" in ours.kinds
    assert warehouse_kinds >= len(ConfigRepository(project.config_dir).catalog.tables)


def test_the_environment_selects_starrocks_at_the_shared_address_overridden(
    project: ProjectPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = project.config_dir / "tenants/tenant2/config.yaml"
    data = yaml.safe_load(config.read_text())
    data["database"] = {"host": "other-cluster.internal"}  # tenant2 is on another cluster
    config.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("DATAWIZ_WAREHOUSE", "starrocks")
    monkeypatch.setenv("DATAWIZ_STARROCKS_HOST", "starrocks.internal")
    monkeypatch.setenv("DATAWIZ_STARROCKS_PORT", "19030")
    monkeypatch.setenv("DATAWIZ_STARROCKS_HTTP_PORT", "18030")
    monkeypatch.setenv("DATAWIZ_STARROCKS_ADMIN_USER", "etl_admin")
    monkeypatch.setenv("DATAWIZ_STARROCKS_ADMIN_PASSWORD", "admin-Secret-env")

    defs = build_definitions(project)

    warehouse = defs.resources["warehouse"]
    assert isinstance(warehouse, StarRocksWarehouse)
    assert (warehouse.host, warehouse.port, warehouse.http_port) == ("starrocks.internal", 19030, 18030)
    assert warehouse.admin_user == "etl_admin"
    assert isinstance(warehouse.admin_password, EnvVar)  # read at run time, never a literal
    assert "admin-Secret-env" not in repr(warehouse) + repr(warehouse.model_dump())
    repository = ConfigRepository(project.config_dir)
    tenant1, tenant2 = repository.load_tenant("tenant1"), repository.load_tenant("tenant2")
    assert tenant1.settings.database == DatabaseSettings(
        host="starrocks.internal", port=19030, http_port=18030
    )
    assert tenant2.settings.database.host == "other-cluster.internal"
    with warehouse.process_config_and_initialize_cm() as ready:
        assert ready.admin_password == "admin-Secret-env"
        with pytest.raises(
            WarehouseError, match="tenant tenant2 is configured for StarRocks at other-cluster"
        ):
            ready.provision(tenant2, [])


def test_without_environment_the_shared_defaults_serve(project: ProjectPaths) -> None:
    warehouse = build_definitions(project, backend="starrocks").resources["warehouse"]
    shared = DatabaseSettings.model_validate(
        ConfigRepository(project.config_dir).shared_defaults()["database"]
    )
    assert (warehouse.host, warehouse.port, warehouse.http_port) == (
        shared.host,
        shared.port,
        shared.http_port,
    )
    assert (warehouse.admin_user, warehouse.admin_password) == ("root", "")


def test_a_bad_port_in_the_environment_names_the_variable(
    project: ProjectPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATAWIZ_STARROCKS_HTTP_PORT", "80a")
    with pytest.raises(ConfigError, match=r"DATAWIZ_STARROCKS_HTTP_PORT='80a': expected a port number"):
        ConfigRepository(project.config_dir).load_tenant("tenant1")


# -- the whole pipeline through the stand-in ----------------------------------------------------


@dataclass
class Runs:
    duckdb: ProjectPaths
    starrocks: ProjectPaths
    standin: StandIn
    expected: dict[str, dict[str, TableContent]]
    """Each tenant's DuckDB tables after its run."""
    first: ExecuteInProcessResult
    """tenant1's first run (tenant2's ran in a child process)."""
    after_first: dict[str, dict[str, TableContent]]
    """Each tenant's StarRocks tables after its first run."""
    rerun: ExecuteInProcessResult
    """tenant1's second run."""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    """Both tenants on StarRocks, tenant2's run in a child process at the same time as
    tenant1's (two tenants load side by side, as the run queue allows), then tenant1 again;
    meanwhile, in another child, the same runs on DuckDB (same configuration, same source
    files). One set of runs for every test below; the children use the other core."""
    star = new_project(tmp_path_factory.mktemp("pipeline") / "starrocks")
    passwords = {tenant_id: tenant_password(tenant_id) for tenant_id in SAMPLE_TENANTS}
    with running_standin(admin_user="root", admin_password=ADMIN_PASSWORD) as standin:
        server = {
            "DATAWIZ_STARROCKS_HOST": standin.host,
            "DATAWIZ_STARROCKS_PORT": str(standin.mysql_port),
            "DATAWIZ_STARROCKS_HTTP_PORT": str(standin.fe_port),
            "DATAWIZ_STARROCKS_ADMIN_USER": "root",
            "DATAWIZ_STARROCKS_ADMIN_PASSWORD": ADMIN_PASSWORD,
        }
        with on_starrocks(star, server, passwords) as pipeline:
            pipeline.run_in_background(["tenant2"])
            first = pipeline.run("tenant1")
            after_first = {"tenant1": starrocks_tables(star, "tenant1")}
            rerun = pipeline.run("tenant1")
            pipeline.wait()
            after_first["tenant2"] = starrocks_tables(star, "tenant2")
            expected = pipeline.duckdb_tables()
            yield Runs(pipeline.duckdb, star, standin, expected, first, after_first, rerun)


@pytest.mark.parametrize("tenant_id", SAMPLE_TENANTS)
def test_every_table_holds_the_rows_and_values_of_the_duckdb_run(runs: Runs, tenant_id: str) -> None:
    catalog = ConfigRepository(runs.starrocks.config_dir).catalog
    star, duck = runs.after_first[tenant_id], runs.expected[tenant_id]
    # catalog tables, derived tables and materialized views (tables on DuckDB); no staging table
    assert set(catalog.tables) < set(star) == set(duck)
    assert differences(duck, star) == []
    assert all(star[name].row_count > 0 for name in catalog.tables)


def test_the_run_records_starrocks_as_the_backend(runs: Runs) -> None:
    materialized = {
        event.step_materialization_data.materialization.asset_key.path[1]: (
            event.step_materialization_data.materialization.metadata
        )
        for event in runs.first.get_asset_materialization_events()
        if event.step_materialization_data.materialization.asset_key.path[0] == "warehouse"
    }
    catalog = ConfigRepository(runs.starrocks.config_dir).catalog
    assert set(materialized) == set(catalog.tables)
    for name, metadata in materialized.items():
        assert metadata["warehouse_backend"].value == "starrocks"
        assert metadata["dagster/row_count"].value == runs.after_first["tenant1"][name].row_count
        assert metadata["dagster/table_name"].value == f"datawiz_tenant1.{name}"


def test_a_rerun_changes_nothing_and_reloads_nothing_it_loaded(runs: Runs) -> None:
    assert differences(runs.after_first["tenant1"], starrocks_tables(runs.starrocks, "tenant1")) == []
    catalog = ConfigRepository(runs.starrocks.config_dir).catalog
    first, again = load_labels(runs.first), load_labels(runs.rerun)
    for table in catalog:
        if table.load_mode == "incremental":  # no new file: nothing sent again
            assert first[table.name] and again[table.name] == [], table.name
        else:  # replaced through a fresh staging table, whose labels are its own
            assert len(again[table.name]) == len(first[table.name]) > 0, table.name


def test_a_retried_upsert_reuses_its_labels_and_adds_no_rows(runs: Runs) -> None:
    before = starrocks_tables(runs.starrocks, "tenant1")["fact_invoice_secondary"]
    first, second = retried_upsert(runs.starrocks, "tenant1", "fact_invoice_secondary")

    assert second.details["labels"] == first.details["labels"]
    assert all(load["already_loaded"] for load in second.details["stream_loads"])
    assert first.rows_in_table == second.rows_in_table == before.row_count
    after = starrocks_tables(runs.starrocks, "tenant1")["fact_invoice_secondary"]
    assert after.checksum == before.checksum


def test_tenant1_can_neither_read_nor_write_tenant2s_database(runs: Runs) -> None:
    before = starrocks_tables(runs.starrocks, "tenant2")

    refusals = intrusions(runs.starrocks, "tenant1", "tenant2")

    assert len(refusals) == 7
    assert all("Access denied" in refusal for refusal in refusals), refusals
    assert "tenant tenant1" in refusals[-1] and "INSERT privilege(s)" in refusals[-1]
    assert differences(before, starrocks_tables(runs.starrocks, "tenant2")) == []
    assert "intruder" not in runs.standin.state.catalog.databases["datawiz_tenant2"]


def test_tenant2_cannot_reach_tenant1s_database_either(runs: Runs) -> None:
    refusals = intrusions(runs.starrocks, "tenant2", "tenant1")
    assert all("Access denied" in refusal for refusal in refusals), refusals


def test_datawiz_tenants_provision_reads_the_admin_password_from_the_environment(runs: Runs) -> None:
    result = CliRunner().invoke(main, ["tenants", "provision", "tenant1"], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert "provisioning tenant tenant1 in the starrocks warehouse" in result.output
    assert "database datawiz_tenant1" in result.output.split("already existed")[1]
    assert ADMIN_PASSWORD not in result.output
