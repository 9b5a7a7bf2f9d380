"""Where the project's configuration, data and logs live.

Every path the platform touches is derived from three roots, each overridable by
environment so tests and deployments can point the same code at other folders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ProjectPaths:
    config_dir: Path
    data_dir: Path
    logs_dir: Path

    @classmethod
    def from_env(cls) -> ProjectPaths:
        return cls(
            config_dir=_env_path("DATAWIZ_CONFIG_DIR", PROJECT_ROOT / "tenant_configs"),
            data_dir=_env_path("DATAWIZ_DATA_DIR", PROJECT_ROOT / "data"),
            logs_dir=_env_path("DATAWIZ_LOGS_DIR", PROJECT_ROOT / "logs"),
        )


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).resolve() if value else default
