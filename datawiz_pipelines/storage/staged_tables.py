"""Staging and atomically publishing a table's parquet parts.

A layer's output for one tenant and table is a folder of parquet *parts*
(bronze: one per source file; silver: ``data`` and ``rejected``). Assets stage
the parts in the tenant's scratch space, in one streaming pass; the IO manager
then publishes the folder by swapping a symbolic link, so readers see the
previous version or the new one, never a mix, and a failed run publishes nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

ROW_GROUP_SIZE = 100_000
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class StagedTable:
    """Parquet parts written to ``directory`` and not yet published."""

    directory: Path
    row_counts: dict[str, int]

    def part(self, name: str) -> Path:
        return self.directory / f"{name}.parquet"


@dataclass(frozen=True)
class PublishedTable:
    """A published table folder; what downstream assets receive as input."""

    directory: Path

    @property
    def parts(self) -> dict[str, Path]:
        return {path.stem: path for path in sorted(self.directory.glob("*.parquet"))}

    def part(self, name: str) -> Path:
        path = self.directory / f"{name}.parquet"
        if not path.is_file():
            raise FileNotFoundError(f"{self.directory} has no part {name!r}")
        return path

    def scan(self, name: str) -> pl.LazyFrame:
        return pl.scan_parquet(self.part(name))


def part_name(text: str) -> str:
    """A file-system-safe part name for ``text`` (e.g. a source file's relative path)."""
    return _UNSAFE.sub("_", text.replace("/", "__")).strip("._") or "part"


def fresh_staging_dir(path: Path) -> Path:
    """An empty folder at ``path`` (whatever an earlier, failed attempt left there is removed)."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def sink_parts(staging_dir: Path, parts: Mapping[str, pl.LazyFrame]) -> None:
    """Sink every part into ``staging_dir`` in one pass over their shared inputs."""
    pl.collect_all(
        [
            frame.sink_parquet(staging_dir / f"{name}.parquet", row_group_size=ROW_GROUP_SIZE, lazy=True)
            for name, frame in parts.items()
        ]
    )


def staged_table(staging_dir: Path) -> StagedTable:
    """The parts in ``staging_dir`` with their row counts (read from parquet footers)."""
    return StagedTable(
        staging_dir,
        {
            path.stem: pl.scan_parquet(path).select(pl.len()).collect().item()
            for path in sorted(staging_dir.glob("*.parquet"))
        },
    )


def publish(staged: StagedTable, target: Path) -> PublishedTable:
    """Make ``staged`` the current version at ``target`` with one atomic rename of a link."""
    versions = target.parent / ".versions"
    versions.mkdir(parents=True, exist_ok=True)
    version = versions / f"{target.name}-{uuid.uuid4().hex[:12]}"
    staged.directory.rename(version)
    previous = target.resolve() if target.is_symlink() else None
    link = target.parent / f".{target.name}.link-{version.name}"
    link.symlink_to(Path(".versions") / version.name, target_is_directory=True)
    os.replace(link, target)
    if previous is not None and previous != version.resolve():
        shutil.rmtree(previous, ignore_errors=True)
    return PublishedTable(target)
