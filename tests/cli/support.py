"""Helpers for the ``datawiz`` command's tests."""

from __future__ import annotations

from pathlib import Path

from datawiz_pipelines.settings import ProjectPaths


def write_secrets(paths: ProjectPaths, tenant_id: str, **secrets: str) -> Path:
    """The tenant's ``.env`` with DB_PASSWORD (and any other ``secrets``) set."""
    values = {"DB_PASSWORD": "db-secret-1234", **secrets}
    path = paths.config_dir / "tenants" / tenant_id / ".env"
    path.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    return path


def fingerprint(root: Path, *, skip: tuple[str, ...] = ()) -> dict[str, tuple[int, int, bytes]]:
    """Every file under ``root`` (but those under a ``skip`` prefix): size, mtime and content."""
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns, path.read_bytes())
        for path in sorted(root.rglob("*"))
        if path.is_file() and not str(path.relative_to(root)).startswith(skip)
    }
