"""``datawiz tenants new``: a tenant from the template, registered disabled, or nothing at all."""

from __future__ import annotations

import stat

import pytest
import yaml

from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.settings import ProjectPaths

from .support import fingerprint

NEW = (
    "tenants",
    "new",
    "acme",
    "--name",
    "Acme Paints: Pune",
    "--azure-container",
    "acme-pune-prod",
    "--azure-prefix",
    "exports/",
    "--timezone",
    "Europe/Berlin",
    "--tier",
    "basic",
    "--priority",
    "7",
    "--no-input",
)


def test_new_copies_the_template_fills_it_in_and_registers_the_tenant_disabled(cli, project: ProjectPaths):
    registry_before = (project.config_dir / "registry.yaml").read_text()

    result = cli(*NEW)

    assert result.exit_code == 0, result.output
    assert "created tenant acme" in result.output
    registry_after = (project.config_dir / "registry.yaml").read_text()
    assert registry_after.startswith(registry_before)  # comments, order and entries untouched
    added = yaml.safe_load(registry_after)["tenants"][-1]
    assert added == {
        "tenant_id": "acme",
        "tenant_name": "Acme Paints: Pune",
        "enabled": False,
        "database_name": "datawiz_acme",
        "database_user": "acme_admin",
        "azure_container": "acme-pune-prod",
        "azure_folder_prefix": "exports/",
        "schedule_priority": 7,
        "tier": "basic",
    }
    tenant = ConfigRepository(project.config_dir).load_tenant("acme")
    assert tenant.settings.tenant_id == "acme"
    assert tenant.settings.scheduler.timezone == "Europe/Berlin"
    assert tenant.settings.observability.service_name == "datawiz-acme"
    template = project.config_dir / "tenants" / "_template"
    assert set(tenant.mappings) == {path.stem for path in (template / "mappings").glob("*.yaml")}
    folder = project.config_dir / "tenants" / "acme"
    assert {p.name for p in (folder / "seeds").iterdir()} == {p.name for p in (template / "seeds").iterdir()}
    env = folder / ".env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert "DB_PASSWORD=change-me" in env.read_text()  # placeholders, to be filled in
    assert "acme_admin" in env.read_text() and "acme-pune-prod" in env.read_text()
    assert (project.data_dir / "acme" / "source_files" / "masters").is_dir()
    assert (project.data_dir / "acme" / "source_files" / "historical" / "fact_invoice_secondary").is_dir()
    assert (project.logs_dir / "acme").is_dir()
    assert not [p for p in (project.config_dir / "tenants").iterdir() if p.name.startswith(".")]


def test_new_asks_for_what_the_options_do_not_say(cli, project: ProjectPaths):
    result = cli("tenants", "new", "beta", input="Beta Chemicals\n\nbeta_login\n\n\n\n")

    assert result.exit_code == 0, result.output
    entry = ConfigRepository(project.config_dir).entry("beta")
    assert (entry.tenant_name, entry.database_name, entry.database_user) == (
        "Beta Chemicals",
        "datawiz_beta",
        "beta_login",
    )
    assert entry.azure_container is None and not entry.enabled


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad-Id", "--name", "X"], "'Bad-Id' is not a valid identifier"),
        (["_template", "--name", "X"], "is not a valid identifier"),
        (["tenant1", "--name", "X"], "tenant 'tenant1' is already registered"),
        (["acme", "--name", "X", "--database-name", "datawiz_tenant2"], "already used by tenant 'tenant2'"),
        (["acme", "--name", "X", "--database-user", "Robert'); DROP"], "--database-user"),
        (["acme", "--name", "X", "--timezone", "Mars/Olympus"], "unknown timezone 'Mars/Olympus'"),
        (["acme", "--name", "X", "--azure-container", "Not_A_Container"], "--azure-container"),
        (["acme", "--name", ""], "a tenant name is required"),
    ],
)
def test_new_refuses_bad_or_taken_values_without_touching_anything(cli, project: ProjectPaths, args, message):
    before = fingerprint(project.config_dir.parent)

    result = cli("tenants", "new", *args, "--no-input")

    assert result.exit_code == 2, result.output
    assert message in result.output
    assert fingerprint(project.config_dir.parent) == before


def test_new_refuses_a_folder_that_exists_but_is_not_registered(cli, project: ProjectPaths):
    (project.config_dir / "tenants" / "acme").mkdir()

    result = cli(*NEW)

    assert result.exit_code == 2
    assert "tenant_configs/tenants/acme already exists" in result.output
    assert "acme" not in ConfigRepository(project.config_dir).registry.tenant_ids


def test_new_reports_a_broken_registry_and_writes_nothing(cli, project: ProjectPaths):
    registry = project.config_dir / "registry.yaml"
    registry.write_text(registry.read_text() + "\n  - {broken: [yaml\n")
    before = fingerprint(project.config_dir.parent)

    result = cli(*NEW)

    assert result.exit_code == 1
    assert "tenant_configs/registry.yaml: line" in result.output and "invalid YAML" in result.output
    assert fingerprint(project.config_dir.parent) == before
