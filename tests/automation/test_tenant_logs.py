"""Per-tenant log files, written by the handler the project's dagster.yaml installs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from dagster import DagsterInstance, StaticPartitionsDefinition, asset, materialize

from datawiz_pipelines.observability.tenant_logs import TenantLogHandler, category_for_step, tenant_log_path
from datawiz_pipelines.run_tags import tenant_of_run
from datawiz_pipelines.settings import ProjectPaths

from .instances import write_dagster_home

pytestmark = pytest.mark.filterwarnings("ignore::dagster.BetaWarning")
TENANTS = StaticPartitionsDefinition(["tenant1", "tenant2"])


def layer_asset(layer: str, upstream: str | None):
    @asset(key=[layer, "probe"], partitions_def=TENANTS, deps=[[upstream, "probe"]] if upstream else [])
    def _probe(context) -> None:
        context.log.info(f"{layer} work for {context.partition_key}")

    return _probe


ASSETS = [layer_asset("bronze", None), layer_asset("silver", "bronze"), layer_asset("warehouse", "silver")]


@pytest.fixture
def project_instance(tmp_path: Path, project: ProjectPaths):
    """An instance configured by the project's dagster.yaml (its python_logs section included)."""
    home = write_dagster_home(tmp_path / "dagster_home")
    with DagsterInstance.from_config(str(home)) as instance:
        yield instance


def read(project: ProjectPaths, tenant_id: str, name: str) -> str:
    path = tenant_log_path(project.logs_dir, tenant_id, name)
    return path.read_text() if path.exists() else ""


def test_each_run_writes_only_its_own_tenants_files_by_step(project, project_instance):
    runs = {
        tenant: materialize(ASSETS, partition_key=tenant, instance=project_instance).run_id[:8]
        for tenant in ("tenant1", "tenant2")
    }
    for tenant, other in (("tenant1", "tenant2"), ("tenant2", "tenant1")):
        extraction = read(project, tenant, "extraction")
        assert f"bronze work for {tenant}" in extraction
        assert "STEP_START" in extraction and "step=bronze__probe" in extraction
        assert f"silver work for {tenant}" in read(project, tenant, "transformation")
        assert f"warehouse work for {tenant}" in read(project, tenant, "loading")
        assert "RUN_SUCCESS" in read(project, tenant, "runs")
        everything = "".join(
            read(project, tenant, name) for name in ("extraction", "transformation", "loading", "runs")
        )
        assert other not in everything and f"run={runs[other]}" not in everything
        assert f"run={runs[tenant]}" in everything
    assert sorted(p.name for p in project.logs_dir.iterdir()) == ["tenant1", "tenant2"]


def test_a_run_with_contradictory_tenant_tags_writes_nowhere(project, project_instance):
    materialize(ASSETS, partition_key="tenant1", instance=project_instance, tags={"tenant": "tenant2"})
    assert not project.logs_dir.exists() or not any(project.logs_dir.iterdir())


def test_a_run_without_tenant_writes_nowhere(project, project_instance):
    @asset
    def unpartitioned(context) -> None:
        context.log.info("no tenant here")

    materialize([unpartitioned], instance=project_instance)
    assert not project.logs_dir.exists() or not any(project.logs_dir.iterdir())


@pytest.mark.parametrize(
    ("step", "file"),
    [
        ("bronze__dim_material", "extraction"),
        ("source_files", "runs"),
        ("landing__sync", "extraction"),
        ("silver__fact_invoice_secondary", "transformation"),
        ("warehouse__dim_material", "loading"),
        ("matviews__secondary_sales_matview", "runs"),
        (None, "runs"),
    ],
)
def test_steps_map_to_log_files(step, file):
    assert category_for_step(step) == file


@pytest.mark.parametrize(
    ("tags", "tenant"),
    [
        ({"tenant": "tenant1"}, "tenant1"),
        ({"dagster/partition": "tenant2"}, "tenant2"),
        ({"tenant": "tenant1", "dagster/partition": "tenant1"}, "tenant1"),
        ({"tenant": "tenant1", "dagster/partition": "tenant2"}, None),
        ({"tenant": "../tenant2"}, None),
        ({"dagster/partition": "Tenant 1"}, None),
        ({}, None),
    ],
)
def test_the_tenant_of_a_run(tags, tenant):
    assert tenant_of_run(tags) == tenant


def test_a_log_path_never_leaves_the_tenant_folder(tmp_path):
    with pytest.raises(ValueError):
        tenant_log_path(tmp_path, "../tenant2", "loading")
    with pytest.raises(ValueError):
        tenant_log_path(tmp_path, "tenant1", "../../etc/passwd")


def test_the_handler_ignores_plain_records(tmp_path):
    handler = TenantLogHandler(logs_dir=tmp_path)
    handler.handle(logging.LogRecord("x", logging.ERROR, __file__, 1, "not from a run", None, None))
    assert list(tmp_path.iterdir()) == []
