"""Shared fixtures: a private copy of the project's configuration and data per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dagster import DagsterInstance

from datawiz_pipelines.settings import PROJECT_ROOT, ProjectPaths

STARROCKS_ENV = (
    "DATAWIZ_STARROCKS_HOST",
    "DATAWIZ_STARROCKS_PORT",
    "DATAWIZ_STARROCKS_HTTP_PORT",
    "DATAWIZ_STARROCKS_ADMIN_USER",
    "DATAWIZ_STARROCKS_ADMIN_PASSWORD",
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ProjectPaths:
    """The repository's tenant_configs copied into a temporary project, with empty data."""
    paths = ProjectPaths(
        config_dir=tmp_path / "tenant_configs", data_dir=tmp_path / "data", logs_dir=tmp_path / "logs"
    )
    shutil.copytree(PROJECT_ROOT / "tenant_configs", paths.config_dir, ignore=shutil.ignore_patterns(".env"))
    paths.data_dir.mkdir()
    monkeypatch.setenv("DATAWIZ_CONFIG_DIR", str(paths.config_dir))
    monkeypatch.setenv("DATAWIZ_DATA_DIR", str(paths.data_dir))
    monkeypatch.setenv("DATAWIZ_LOGS_DIR", str(paths.logs_dir))
    monkeypatch.delenv("DATAWIZ_WAREHOUSE", raising=False)
    for name in STARROCKS_ENV:  # the shared defaults' database address, not the caller's server
        monkeypatch.delenv(name, raising=False)
    return paths


@pytest.fixture
def instance() -> DagsterInstance:
    with DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral
