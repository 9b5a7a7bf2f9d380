"""Reprocessing on request: one file, a date range, or everything.

A request comes from the run config of the ``reprocess`` resource (the UI's launchpad,
``datawiz run --reprocess-file/--since/--until/--full``) or from run tags (a sensor,
a schedule or the UI's "Launch run" tags); both are merged.

What it does: bronze reads the selected files again instead of reusing their parts,
and every table that has a selected file is rebuilt from all its files (silver from
every part, the warehouse table replaced), exactly like a first load. ``full``
selects every file of every table.

Run config::

    resources:
      reprocess:
        config: {full: false, files: ["incremental/sales_2024-01-05.csv"], since: "2024-01-01", until: null}

Tags: ``datawiz/reprocess: full``, ``datawiz/reprocess_files: a.csv,b/*.csv``,
``datawiz/reprocess_since: 2024-01-01``, ``datawiz/reprocess_until: 2024-01-31``.
Files are paths relative to the tenant's landing (or seeds) folder, as recorded in
``_dw_source_file``, or globs of them; dates select files by modification date (UTC).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

FULL_TAG = "datawiz/reprocess"
FILES_TAG = "datawiz/reprocess_files"
SINCE_TAG = "datawiz/reprocess_since"
UNTIL_TAG = "datawiz/reprocess_until"


class ReprocessRequestError(ValueError):
    pass


@dataclass(frozen=True)
class ReprocessRequest:
    full: bool = False
    files: tuple[str, ...] = ()
    since: dt.date | None = None
    until: dt.date | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise ReprocessRequestError(f"reprocess since {self.since} is after until {self.until}")

    @property
    def empty(self) -> bool:
        return not (self.full or self.files or self.since or self.until)

    def selects(self, relative_path: str, modified: dt.datetime) -> bool:
        """Whether the file at ``relative_path`` (modified at ``modified``, UTC) is to be read again."""
        if self.full:
            return True
        if any(fnmatchcase(relative_path, pattern) for pattern in self.files):
            return True
        if self.since or self.until:
            day = modified.astimezone(dt.UTC).date()
            return (self.since is None or day >= self.since) and (self.until is None or day <= self.until)
        return False

    def describe(self) -> str:
        if self.full:
            return "full reprocess"
        parts = []
        if self.files:
            parts.append("files " + ", ".join(self.files))
        if self.since or self.until:
            parts.append(f"files modified {self.since or '...'} to {self.until or '...'}")
        return "reprocess " + "; ".join(parts) if parts else "no reprocess"

    def merged(self, other: ReprocessRequest) -> ReprocessRequest:
        """Both requests at once; a date range may be given in only one of them."""
        ranges = [r for r in (self, other) if r.since or r.until]
        if len(ranges) > 1:
            raise ReprocessRequestError(
                "a reprocess date range is given both in run config and in run tags; give it once"
            )
        dates = ranges[0] if ranges else self
        return ReprocessRequest(
            full=self.full or other.full,
            files=tuple(dict.fromkeys(self.files + other.files)),
            since=dates.since,
            until=dates.until,
        )

    @classmethod
    def from_values(
        cls,
        *,
        full: bool = False,
        files: list[str] | tuple[str, ...] = (),
        since: str | None = None,
        until: str | None = None,
    ) -> ReprocessRequest:
        return cls(
            full=full,
            files=tuple(file.strip() for file in files if file.strip()),
            since=_date(since, "since"),
            until=_date(until, "until"),
        )

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> ReprocessRequest:
        full = tags.get(FULL_TAG, "").strip().lower()
        if full not in ("", "full", "true"):
            raise ReprocessRequestError(f"run tag {FULL_TAG}={tags[FULL_TAG]!r}: expected 'full'")
        return cls.from_values(
            full=bool(full),
            files=tags.get(FILES_TAG, "").split(","),
            since=tags.get(SINCE_TAG) or None,
            until=tags.get(UNTIL_TAG) or None,
        )


def _date(value: str | None, name: str) -> dt.date | None:
    if value is None or not str(value).strip():
        return None
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ReprocessRequestError(f"reprocess {name}: {value!r} is not a date (YYYY-MM-DD)") from None
