"""Finding a tenant's source files without ever leaving the tenant's folder."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

PARTIAL_SUFFIXES = (".tmp", ".part")
"""Downloads still in progress; they are picked up on a later run once complete."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SourceFile:
    path: Path
    """Absolute path (a link inside the folder keeps its own path, not its target's)."""
    relative_path: str
    """Posix path relative to the folder it was found in; this is what lineage records."""
    size: int
    modified: datetime
    """Modification time, UTC (tz-aware), to the microsecond."""

    @property
    def fingerprint(self) -> str:
        """``<size>-<mtime in µs>``: changes when the file is replaced, for incremental processing."""
        return f"{self.size}-{(self.modified - _EPOCH) // timedelta(microseconds=1)}"


def find_source_files(root: Path, patterns: list[str]) -> list[SourceFile]:
    """Files under ``root`` matching any glob (``**`` included), sorted by relative path.

    A pattern for gzipped files (``*.csv.gz``) also matches the same files unpacked
    (``*.csv``): the Azure landing sync unpacks ``.gz`` downloads, so one mapping serves a
    tenant whether its files arrive locally or from its container.

    Hidden files and folders and partial downloads are skipped. A match whose real
    location is outside ``root`` (a symlink pointing elsewhere) is ignored, so one
    tenant's patterns can never reach another tenant's files. A missing ``root``
    simply has no files.
    """
    root = root.absolute()
    real_root = root.resolve()
    found: dict[str, Path] = {}
    for pattern in _with_unpacked(patterns):
        for match in root.glob(pattern):
            relative = match.relative_to(root)
            if _skipped(relative) or not match.is_file():
                continue
            if match.resolve().is_relative_to(real_root):
                found[relative.as_posix()] = match
    return [_source_file(found[relative], relative) for relative in sorted(found)]


def _with_unpacked(patterns: list[str]) -> list[str]:
    extra = [pattern[: -len(".gz")] for pattern in patterns if pattern.lower().endswith(".gz")]
    return list(dict.fromkeys([*patterns, *extra]))


def _skipped(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts) or relative.name.lower().endswith(
        PARTIAL_SUFFIXES
    )


def _source_file(path: Path, relative_path: str) -> SourceFile:
    stat = path.stat()
    modified = _EPOCH + timedelta(microseconds=stat.st_mtime_ns // 1000)
    return SourceFile(path=path, relative_path=relative_path, size=stat.st_size, modified=modified)
