"""Helpers for the automation tests: editing a temporary project's tenant configuration."""

from __future__ import annotations

from pathlib import Path

import yaml

from datawiz_pipelines.settings import ProjectPaths


def edit_yaml(path: Path, **sections: object) -> None:
    """Set ``sections`` in the YAML file at ``path``; a mapping is merged into the existing one."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for section, values in sections.items():
        if isinstance(values, dict) and isinstance(data.get(section), dict):
            data[section].update(values)
        else:
            data[section] = values
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def tenant_config(project: ProjectPaths, tenant_id: str) -> Path:
    return project.config_dir / "tenants" / tenant_id / "config.yaml"
