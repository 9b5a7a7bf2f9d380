"""Unpacking downloaded ``.gz`` and ``.zip`` files safely.

A gzip file becomes the file without ``.gz``; every member of a zip file lands next to
the archive, at its path inside the archive (``in/batch.zip`` holding ``day1.csv`` gives
``in/day1.csv``). Nothing is trusted from the archive itself:

* member names must be relative, without ``..``, drive letters or backslashes, and stay
  inside the landing folder (zip-slip);
* the bytes actually written are counted while streaming, and unpacking stops past
  ``max_bytes`` in total (zip and gzip bombs), whatever sizes the archive declares;
* a zip may hold at most ``max_members`` files.

Directories, hidden members and macOS resource forks (``__MACOSX/``) are skipped.
"""

from __future__ import annotations

import gzip
import re
import shutil
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from datawiz_pipelines.landing.errors import UnpackError

CHUNK = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class Unpacked:
    relative_path: str
    """Where the file lands, relative to the landing folder."""
    path: Path
    """The unpacked bytes, in scratch space, ready to be moved into place."""


def safe_relative_path(name: str) -> PurePosixPath | None:
    """``name`` as a relative path that cannot leave its folder, or None if it could."""
    if not name or "\\" in name or "\x00" in name or name.startswith("/") or _DRIVE.match(name):
        return None
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not parts or any(part == ".." for part in parts):
        return None
    return PurePosixPath(*parts)


def is_hidden(relative: PurePosixPath) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in relative.parts)


def landed_name(relative: str) -> str:
    """The local name a downloaded file gets once unpacked (``a.csv.gz`` -> ``a.csv``)."""
    return relative[: -len(".gz")] if relative.lower().endswith(".gz") else relative


def unpack(
    downloaded: Path, relative: str, scratch: Path, *, max_bytes: int, max_members: int
) -> list[Unpacked]:
    """The files ``downloaded`` (the blob at landing path ``relative``) lands as.

    A plain file is returned as is; raises UnpackError for an unsafe or oversized archive
    (nothing of it is returned, so nothing of it lands).
    """
    lower = relative.lower()
    if lower.endswith(".zip"):
        return _unzip(downloaded, relative, scratch, max_bytes=max_bytes, max_members=max_members)
    if lower.endswith(".gz"):
        target = scratch / "gunzip"
        try:
            with gzip.open(downloaded, "rb") as source, target.open("wb") as out:
                _copy_capped(source, out, max_bytes, what=f"{relative} (gzip)")
        except (OSError, EOFError, zlib.error) as exc:
            raise UnpackError(f"{relative} is not a valid gzip file: {exc}") from None
        return [Unpacked(landed_name(relative), target)]
    return [Unpacked(relative, downloaded)]


def _unzip(
    downloaded: Path, relative: str, scratch: Path, *, max_bytes: int, max_members: int
) -> list[Unpacked]:
    folder = PurePosixPath(relative).parent
    try:
        archive = zipfile.ZipFile(downloaded)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnpackError(f"{relative} is not a valid zip file: {exc}") from None
    with archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        if len(members) > max_members:
            raise UnpackError(f"{relative} holds {len(members)} files; at most {max_members} are unpacked")
        declared = sum(info.file_size for info in members)
        if declared > max_bytes:
            raise UnpackError(
                f"{relative} would unpack to {declared:,} bytes, over the limit of {max_bytes:,} bytes"
            )
        landed: list[Unpacked] = []
        seen: set[str] = set()
        budget = max_bytes
        for index, info in enumerate(members):
            member = safe_relative_path(info.filename)
            if member is None:
                raise UnpackError(
                    f"{relative}: member {info.filename!r} would be written outside the landing "
                    "folder (zip-slip); nothing from this archive was landed"
                )
            if is_hidden(member):
                continue
            target_relative = (folder / member).as_posix()
            if target_relative in seen:
                raise UnpackError(f"{relative}: member {info.filename!r} appears twice")
            seen.add(target_relative)
            target = scratch / f"member-{index}"
            try:
                with archive.open(info) as source, target.open("wb") as out:
                    budget -= _copy_capped(source, out, budget, what=relative)
            except (zipfile.BadZipFile, RuntimeError, OSError, EOFError, zlib.error) as exc:
                raise UnpackError(f"{relative}: member {info.filename!r} cannot be read: {exc}") from None
            landed.append(Unpacked(target_relative, target))
    return landed


def _copy_capped(source: IO[bytes], target: IO[bytes], limit: int, *, what: str) -> int:
    """Copy in chunks, stopping as soon as more than ``limit`` bytes came out."""
    written = 0
    while chunk := source.read(min(CHUNK, limit - written + 1)):
        written += len(chunk)
        if written > limit:
            raise UnpackError(f"{what} unpacks to more than the limit of {limit:,} bytes; not landed")
        target.write(chunk)
    return written


def remove_quietly(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
