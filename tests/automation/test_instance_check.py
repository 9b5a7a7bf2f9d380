"""The registry's limits against the instance's dagster.yaml: a mismatch is visible, never silent."""

from __future__ import annotations

import logging

import yaml
from click.testing import CliRunner

from datawiz_pipelines.cli import main as datawiz
from datawiz_pipelines.config.registry import GlobalConfig
from datawiz_pipelines.definitions import build_definitions
from datawiz_pipelines.instance_check import check_instance_config, expected_instance_settings

from .instances import PROJECT_INSTANCE, write_dagster_home
from .support import edit_yaml


def project_registry_limits(project) -> GlobalConfig:
    return GlobalConfig(**yaml.safe_load((project.config_dir / "registry.yaml").read_text())["global_config"])


def test_the_project_instance_enforces_the_project_registry(project):
    instance = yaml.safe_load(PROJECT_INSTANCE.read_text())
    assert check_instance_config(project_registry_limits(project), instance) == []


def test_the_expected_sections_pass_their_own_check():
    limits = GlobalConfig(max_concurrent_tenants=5, tenant_timeout=3600)
    assert check_instance_config(limits, expected_instance_settings(limits)) == []


def test_every_mismatch_is_named():
    limits = GlobalConfig(max_concurrent_tenants=4, tenant_timeout=600, fail_fast=True)
    problems = check_instance_config(limits, {"run_monitoring": {"enabled": False}})
    text = "\n".join(problems)
    assert "max_concurrent_runs is not set, but the registry's max_concurrent_tenants is 4" in text
    assert "no limit of 1 per unique value of the 'dagster/partition' tag" in text
    assert "tenant_timeout is not enforced" in text
    assert "transient failures are not retried" in text
    assert "no TenantLogHandler" in text
    assert "fail_fast is true" in text


def test_a_changed_registry_is_reported_by_the_cli_and_at_definitions_load(
    project, tmp_path, monkeypatch, caplog
):
    edit_yaml(project.config_dir / "registry.yaml", global_config={"max_concurrent_tenants": 5})
    monkeypatch.setenv("DAGSTER_HOME", str(write_dagster_home(tmp_path / "home")))

    result = CliRunner().invoke(datawiz, ["check-instance"])
    assert result.exit_code == 1
    assert "max_concurrent_runs is 2, but the registry's max_concurrent_tenants is 5" in result.output
    assert "max_concurrent_runs: 5" in result.output  # the section to paste

    with caplog.at_level(logging.WARNING, logger="datawiz_pipelines.instance_check"):
        build_definitions(project, backend="duckdb")
    assert "max_concurrent_tenants is 5" in caplog.text


def test_a_matching_instance_passes_the_cli(project, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(write_dagster_home(tmp_path / "home")))
    result = CliRunner().invoke(datawiz, ["check-instance"])
    assert result.exit_code == 0, result.output
    assert "enforces the registry's global_config" in result.output
