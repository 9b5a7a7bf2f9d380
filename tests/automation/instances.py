"""Dagster instances for tests, configured like the project's dagster.yaml but stored in a temp folder."""

from __future__ import annotations

from pathlib import Path

import yaml

from datawiz_pipelines.settings import PROJECT_ROOT

PROJECT_INSTANCE = PROJECT_ROOT / "dagster.yaml"


def project_instance_config(home: Path, **overrides: object) -> dict:
    """The project's dagster.yaml with every storage path moved under ``home``."""
    config = yaml.safe_load(PROJECT_INSTANCE.read_text(encoding="utf-8"))
    config["local_artifact_storage"]["config"]["base_dir"] = str(home)
    config["storage"] = {"sqlite": {"base_dir": str(home / "storage")}}
    config["compute_logs"]["config"]["base_dir"] = str(home / "compute_logs")
    config.update(overrides)
    return config


def write_dagster_home(home: Path, **overrides: object) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(project_instance_config(home, **overrides)))
    return home
