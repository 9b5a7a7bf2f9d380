"""Keeping ``data/<tenant>/source_files`` a faithful mirror of the tenant's container and prefix.

A blob is downloaded when it is new or its etag changed, into the tenant's scratch
space, unpacked there (``.gz``, ``.zip``) and moved into place with ``os.replace``, so
bronze never sees half a file. Each landed file takes the blob's Last-Modified time as
its modification time, with microseconds derived from the etag (Last-Modified has whole
seconds only): the file's fingerprint changes with every blob version, even two uploaded
within one second, and a fresh download reproduces it exactly. A blob gone from the container
has its local files removed and is reported. Progress is recorded blob by blob in the
ledger, so an interrupted sync resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from datawiz_pipelines.bronze.source_files import PARTIAL_SUFFIXES, SourceFile, find_source_files
from datawiz_pipelines.landing.azure import AzureLocation
from datawiz_pipelines.landing.errors import LandingError, UnpackError
from datawiz_pipelines.landing.ledger import FileVersion, Ledger, MirroredBlob
from datawiz_pipelines.landing.unpack import is_hidden, safe_relative_path, unpack

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class UnpackLimits:
    max_bytes: int
    max_members: int


@dataclass
class SyncReport:
    """What one sync of a container did, for asset metadata (no secrets)."""

    container: str
    prefix: str
    account_host: str
    listed: int = 0
    unchanged: int = 0
    downloaded: list[dict[str, Any]] = field(default_factory=list)
    deleted_upstream: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    origins: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Landed file -> (blob name, etag) it came from."""

    def as_metadata(self) -> dict[str, Any]:
        return {
            "account_host": self.account_host,
            "container": self.container,
            "prefix": self.prefix,
            "blobs_listed": self.listed,
            "blobs_unchanged": self.unchanged,
            "blobs_downloaded": self.downloaded,
            "blobs_deleted_upstream": self.deleted_upstream,
            "blobs_refused": self.refused,
            "blobs_skipped": self.skipped,
        }


@dataclass(frozen=True)
class _Listed:
    name: str
    relative: str
    etag: str


def sync_container(
    location: AzureLocation,
    landing: Path,
    ledger: Ledger,
    scratch: Path,
    *,
    limits: UnpackLimits,
    retry: dict[str, Any],
    run_id: str,
    warn: Callable[[str], None],
    exclude_prefix: str | None = None,
) -> SyncReport:
    """Mirror ``location`` (container + prefix) into ``landing``; raises LandingError on access problems.

    Blobs under ``exclude_prefix`` (the backup archive, when it lies inside the prefix) are left out.
    """
    from datawiz_pipelines.landing.blob_client import AzureError, container_client, describe_azure_error

    report = SyncReport(location.container, location.prefix, location.host)
    mirror = ledger.blobs()
    with container_client(location, **retry) as container:
        try:
            blobs = sorted(container.list_blobs(name_starts_with=location.prefix), key=lambda b: b.name)
        except AzureError as exc:
            raise describe_azure_error(exc, location, f"listing {location.prefix or '/'}") from None
        listed: list[_Listed] = []
        for blob in blobs:
            if exclude_prefix and blob.name.startswith(exclude_prefix):
                continue
            relative = blob.name[len(location.prefix) :]
            problem = _skip_reason(relative)
            if problem:
                report.skipped[blob.name] = problem
                continue
            listed.append(_Listed(blob.name, relative, _etag(blob.etag)))
        report.listed = len(listed)
        claims: dict[str, str] = {}
        pending: list[_Listed] = []
        for item in listed:
            known = mirror.get(item.name)
            if known and known.etag == item.etag and _intact(known, landing):
                report.unchanged += 1
                if known.problem:
                    report.refused[item.name] = known.problem
                for file in known.local_files:
                    claims[file] = item.name
                    report.origins[file] = (item.name, item.etag)
            else:
                pending.append(item)
        for item in pending:
            _download(
                container,
                location,
                item,
                mirror.get(item.name),
                landing,
                ledger,
                scratch,
                limits,
                run_id,
                claims,
                report,
                warn,
            )
        names = {item.name for item in listed}
        for name, known in sorted(mirror.items()):
            if name not in names:
                for file in known.local_files:
                    if claims.get(file) in (None, name):
                        (landing / file).unlink(missing_ok=True)
                ledger.forget_blob(name)
                report.deleted_upstream.append(name)
                warn(f"{location.where}: blob {name!r} was deleted upstream; its local copy was removed")
    return report


def _download(
    container: Any,
    location: AzureLocation,
    item: _Listed,
    previous: MirroredBlob | None,
    landing: Path,
    ledger: Ledger,
    scratch: Path,
    limits: UnpackLimits,
    run_id: str,
    claims: dict[str, str],
    report: SyncReport,
    warn: Callable[[str], None],
) -> None:
    from datawiz_pipelines.landing.blob_client import AzureError, describe_azure_error

    work = scratch / f"blob-{len(report.downloaded) + len(report.refused)}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    try:
        raw = work / "download"
        try:
            downloader = container.download_blob(item.name, max_concurrency=1)
            with raw.open("wb") as out:
                downloader.readinto(out)
        except AzureError as exc:
            raise describe_azure_error(exc, location, f"downloading {item.name!r}") from None
        properties = downloader.properties
        etag, modified = _etag(properties.etag), properties.last_modified
        old_files = previous.local_files if previous else []
        problem = None
        try:
            landed = unpack(
                raw, item.relative, work, max_bytes=limits.max_bytes, max_members=limits.max_members
            )
            taken = [
                f"{u.relative_path} (from blob {claims[u.relative_path]!r})"
                for u in landed
                if claims.get(u.relative_path, item.name) != item.name
            ]
            if taken:
                problem = f"would overwrite {', '.join(taken)}"
        except UnpackError as exc:
            problem, landed = str(exc), []
        if problem:
            landed = []
            report.refused[item.name] = problem
            warn(f"{location.where}: blob {item.name!r} was not landed: {problem}")
        for unpacked in landed:
            target = _inside(landing, unpacked.relative_path, location)
            before = (target.stat().st_size, target.stat().st_mtime_ns) if target.is_file() else None
            os.replace(unpacked.path, target)
            _set_modified(target, modified, etag, before)
            claims[unpacked.relative_path] = item.name
            report.origins[unpacked.relative_path] = (item.name, etag)
        files = [unpacked.relative_path for unpacked in landed]
        for stale in set(old_files) - set(files):
            if claims.get(stale) in (None, item.name):
                (landing / stale).unlink(missing_ok=True)
        ledger.record_blob(
            MirroredBlob(item.name, etag, properties.size, modified.isoformat(), files, problem), run_id
        )
        if not problem:
            report.downloaded.append(
                {
                    "blob": item.name,
                    "etag": etag,
                    "bytes": properties.size,
                    "last_modified": modified.isoformat(),
                    "landed": files,
                }
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def scan_landing(landing: Path) -> list[SourceFile]:
    """Every file in the landing folder (hidden files and partial downloads excluded)."""
    return find_source_files(landing, ["**/*"])


def file_version(file: SourceFile, rows: int | None = None) -> FileVersion:
    return FileVersion(file.relative_path, file.size, file.modified.isoformat(), file.fingerprint, rows)


def _skip_reason(relative: str) -> str | None:
    if relative.endswith("/"):
        return "folder marker"
    safe = safe_relative_path(relative)
    if safe is None:
        return "unsafe name (absolute, '..', or backslashes)"
    if is_hidden(safe):
        return "hidden"
    if safe.name.lower().endswith(PARTIAL_SUFFIXES):
        return "partial upload"
    return None


def _etag(value: str) -> str:
    return value.strip('"')


def _intact(blob: MirroredBlob, landing: Path) -> bool:
    return all((landing / file).is_file() for file in blob.local_files)


def _inside(landing: Path, relative: str, location: AzureLocation) -> Path:
    target = landing / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.parent.resolve().is_relative_to(landing.resolve()):
        raise LandingError(f"{location.where}: {relative!r} would land outside the landing folder")
    return target


def _set_modified(path: Path, modified: datetime, etag: str, previous: tuple[int, int] | None) -> None:
    """Set the landed file's time to the blob's Last-Modified plus an etag-derived fraction.

    Last-Modified has whole seconds, so two versions uploaded within one second would
    look alike; the microseconds below the second are derived from the etag, so every
    blob version lands with its own, reproducible time (a fresh download gives the same
    fingerprint). Should a new version still land with the previous copy's size and time,
    the time is nudged so the fingerprint changes.
    """
    whole = (modified - _EPOCH) // timedelta(seconds=1)
    fraction = int(hashlib.sha256(etag.encode()).hexdigest(), 16) % 1_000_000
    ns = (whole * 1_000_000 + fraction) * 1000
    if previous is not None and previous == (path.stat().st_size, ns):
        ns += 1000
    os.utime(path, ns=(ns, ns))
