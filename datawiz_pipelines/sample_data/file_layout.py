"""Where generated files go and when they were last modified.

File names come from the mapping's glob patterns. Modification times are fixed,
from the period a file covers, so the same arguments give the same files.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

from datawiz_pipelines.sample_data.profiles import SNAPSHOT_DAY
from datawiz_pipelines.sample_data.writers import FileKind

SNAPSHOT_MODIFIED = dt.datetime.combine(SNAPSHOT_DAY, dt.time(18, 0))
"""Master data files: the evening of the snapshot day."""
BENCHMARK_MODIFIED = dt.datetime(2024, 4, 1, 1, 0)
"""Single (benchmark) fact files."""


def concrete_path(pattern: str, label: str, kind: FileKind) -> str:
    """A file name that ``pattern`` (a glob) matches, with ``label`` in its first wildcard."""
    if re.search(r"[\[\]]", pattern):
        raise ValueError(f"pattern {pattern!r}: character classes are not supported by the generator")
    parts = [part for part in pattern.split("/") if part != "**"]
    used = False
    out = []
    for position, part in enumerate(parts):
        if "*" in part or "?" in part:
            if not used:
                part = part.replace("*", label, 1)
                used = True
            part = part.replace("*", "").replace("?", "0")
            if position == len(parts) - 1 and part == label:
                part += {"csv": ".csv", "excel": ".xlsx", "parquet": ".parquet"}[kind]
        out.append(part)
    return "/".join(out)


def is_incremental_pattern(pattern: str) -> bool:
    """Whether ``pattern`` names the incremental (daily) files rather than the historical ones."""
    return "increment" in pattern.lower() or "delta" in pattern.lower()


def fact_file_modified(segment_name: str, label: str) -> dt.datetime:
    """Fixed modification times: the morning after the period a file covers."""
    if segment_name == "historical":
        year, month = int(label[:4]), int(label[4:6])
        last = dt.date(year, month, calendar.monthrange(year, month)[1])
        return dt.datetime.combine(last + dt.timedelta(days=1), dt.time(2, 0))
    day = dt.datetime.strptime(label, "%Y%m%d").date()
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(3, 30))
