"""Fixtures for the ``datawiz`` command's tests: a private project and a way to invoke the CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from datawiz_pipelines.cli import main
from datawiz_pipelines.onboarding import run_status
from datawiz_pipelines.settings import ProjectPaths

Invoke = Callable[..., Result]


@pytest.fixture
def cli(project: ProjectPaths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """``cli("tenants", "list")`` runs ``datawiz`` on the temporary project.

    The working directory is the temporary project (so messages name
    ``tenant_configs/...``), and no Dagster instance is visible unless a test sets
    ``DAGSTER_HOME``.
    """
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setattr(run_status, "PROJECT_ROOT", tmp_path)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke
