"""``datawiz tenants list | provision | enable | disable``."""

from __future__ import annotations

import duckdb
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus

from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.settings import ProjectPaths
from datawiz_pipelines.sql_models.models import load_sql_models
from datawiz_pipelines.storage.tenant_paths import duckdb_warehouse_path

from .support import write_secrets


def test_list_prints_the_registry_as_a_table(cli, project: ProjectPaths):
    result = cli("tenants", "list")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["id", "name", "enabled", "tier", "priority", "database"]
    assert lines[2].split() == [
        "tenant1",
        "Pidilite",
        "Mumbai",
        "Operations",
        "yes",
        "premium",
        "1",
        "datawiz_tenant1",
    ]
    assert lines[4].split()[0:1] + lines[4].split()[-4:] == [
        "tenant3",
        "no",
        "standard",
        "3",
        "datawiz_tenant3",
    ]
    assert "last run" not in result.output  # no Dagster instance here


def test_list_shows_each_tenants_last_run_when_an_instance_is_available(cli, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with DagsterInstance.from_config(str(home)) as instance:
        for tenant_id, status in (("tenant1", "SUCCESS"), ("tenant2", "SUCCESS"), ("tenant2", "FAILURE")):
            instance.add_run(
                DagsterRun(
                    job_name="tenant_etl",
                    status=DagsterRunStatus(status),
                    tags={"dagster/partition": tenant_id},
                )
            )
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    result = cli("tenants", "list")

    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines()[2:]}
    assert result.output.splitlines()[0].endswith("last run")
    assert " SUCCESS " in rows["tenant1"]
    assert " FAILURE " in rows["tenant2"]  # the latest run counts
    assert rows["tenant3"].endswith("never")


def test_provision_creates_the_database_tables_and_models_and_is_idempotent(cli, project: ProjectPaths):
    catalog = ConfigRepository(project.config_dir).catalog

    first = cli("tenants", "provision", "tenant2")

    assert first.exit_code == 0, first.output
    assert "provisioning tenant tenant2 in the duckdb warehouse, database datawiz_tenant2" in first.output
    created = first.output[first.output.index("created (") : first.output.index("already existed (0):")]
    for table in catalog:
        assert f"  {table.name}\n" in created
    models = load_sql_models(project.config_dir, catalog).models  # the shared SQL models
    for model in models.values():
        assert f" {model.name}\n" in created
    database = duckdb_warehouse_path(project.data_dir, "datawiz_tenant2")
    with duckdb.connect(str(database), read_only=True) as con:
        tables = {
            row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
    assert set(catalog.tables) <= tables
    assert set(models) <= tables
    assert sorted(p.name for p in (project.data_dir / "warehouse").iterdir()) == ["datawiz_tenant2.duckdb"]

    second = cli("tenants", "provision", "tenant2")

    assert second.exit_code == 0, second.output
    assert "created (0):" in second.output
    existing = second.output[second.output.index("already existed (") :]
    for table in catalog:
        assert f"  {table.name}\n" in existing


def test_provision_refuses_a_tenant_whose_configuration_is_broken(cli, project: ProjectPaths):
    config = project.config_dir / "tenants" / "tenant3" / "config.yaml"
    config.write_text(config.read_text() + "\nsurprise: 1\n")

    result = cli("tenants", "provision", "tenant3")

    assert result.exit_code == 1
    assert (
        "error: tenant_configs/tenants/tenant3/config.yaml: surprise: Extra inputs are not permitted"
        in result.output
    )
    assert not (project.data_dir / "warehouse").exists()


def test_enable_refuses_a_tenant_that_fails_validation(cli, project: ProjectPaths):
    registry = project.config_dir / "registry.yaml"
    before = registry.read_bytes()

    result = cli("tenants", "enable", "tenant3")

    assert result.exit_code == 1
    assert "error: tenant_configs/tenants/tenant3/.env: file not found" in result.output
    assert "tenant tenant3 was NOT enabled" in result.output
    assert registry.read_bytes() == before


def test_enable_and_disable_flip_one_line_and_keep_the_rest_of_the_registry(cli, project: ProjectPaths):
    registry = project.config_dir / "registry.yaml"
    before = registry.read_text().splitlines()
    write_secrets(project, "tenant3")

    enabled = cli("tenants", "enable", "tenant3")

    assert enabled.exit_code == 0, enabled.output
    assert "tenant tenant3 enabled in tenant_configs/registry.yaml" in enabled.output
    after = registry.read_text().splitlines()
    changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
    assert changed == [
        ("    enabled: false                # registered and configured, but not run", "    enabled: true")
    ]
    assert ConfigRepository(project.config_dir).entry("tenant3").enabled
    assert "already enabled" in cli("tenants", "enable", "tenant3").output

    disabled = cli("tenants", "disable", "tenant1")

    assert disabled.exit_code == 0, disabled.output
    assert not ConfigRepository(project.config_dir).entry("tenant1").enabled
    lines = registry.read_text().splitlines()
    assert len(lines) == len(before)
    assert [line for line in lines if line.startswith("#")] == [
        line for line in before if line.startswith("#")
    ]


def test_disable_of_an_unknown_tenant_is_refused(cli, project: ProjectPaths):
    result = cli("tenants", "disable", "nobody")

    assert result.exit_code == 1
    assert "error: tenant_configs/registry.yaml: tenant 'nobody' is not registered" in result.output


def test_a_registry_in_flow_style_is_not_rewritten(cli, project: ProjectPaths):
    registry = project.config_dir / "registry.yaml"
    registry.write_text(
        "tenants: [{tenant_id: tenant1, tenant_name: One, enabled: true, database_name: datawiz_tenant1,"
        " database_user: tenant1_admin}]\n"
    )
    before = registry.read_bytes()

    result = cli("tenants", "disable", "tenant1")

    assert result.exit_code == 1
    assert "cannot edit the file safely" in result.output and "make the change by hand" in result.output
    assert registry.read_bytes() == before
