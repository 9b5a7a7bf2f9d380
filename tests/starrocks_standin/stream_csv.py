"""A Stream Load CSV body read the way the BE reads it.

Headers honoured: ``format`` (``csv``, or ``gzip`` for gzipped CSV: the BE picks
compressed CSV by format), ``columns`` (names), ``column_separator`` (default tab),
``row_delimiter`` (default ``\\n``; both accept ``\\xHH``), ``enclose``, ``escape``,
``skip_header``, ``trim_space``, ``strict_mode``, ``max_filter_ratio``, ``timeout``;
``timezone`` is accepted (no time functions are evaluated here). ``compression`` is
for JSON and leaves CSV alone, as in the BE: a gzipped body sent as ``format: csv``
is read as text, so its rows are filtered. ``\\N`` (not enclosed) is NULL, an empty
field is an empty string; a doubled enclose character inside an enclosure is one
literal character. Headers whose meaning the stand-in does not implement are
refused rather than ignored.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from .catalog import Column, Table
from .values import from_text, max_bytes

UNIMPLEMENTED_HEADERS = (
    "where",
    "partitions",
    "temporary_partitions",
    "jsonpaths",
    "json_root",
    "strip_outer_array",
    "partial_update",
    "partial_update_mode",
    "merge_condition",
)
MAX_TIMEOUT_SECONDS = 259200


class LoadRejected(Exception):
    """The load cannot start (bad headers or body); the message is the BE's."""


@dataclass(frozen=True)
class ParsedLoad:
    rows: pl.DataFrame
    total: int
    filtered: int
    errors: list[str]
    load_bytes: int


def _separator(value: str) -> str:
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m[1], 16)), value)


def _flag(headers: Mapping[str, str], name: str) -> bool:
    value = (headers.get(name) or "false").lower()
    if value not in ("true", "false"):
        raise LoadRejected(f"Invalid {name} value: {value}")
    return value == "true"


def _field_pattern(separator: str, delimiter: str, enclose: str | None, escape: str | None) -> re.Pattern:
    stop = f"(?:{re.escape(separator)}|{re.escape(delimiter)})"
    escaped = f"{re.escape(escape)}." if escape else None
    plain = f"(?:{escaped}|(?!{stop}).)" if escaped else f"(?:(?!{stop}).)"
    alternatives = []
    if enclose:
        quote = re.escape(enclose)
        excluded = quote + (re.escape(escape) if escape else "")
        inner = f"(?:[^{excluded}]|{quote}{quote}" + (f"|{escaped}" if escaped else "") + ")*"
        alternatives.append(f"{quote}(?P<enclosed>{inner}){quote}(?={stop}|\\Z)")
    alternatives.append(f"(?P<plain>{plain}*)")
    return re.compile(f"(?:{'|'.join(alternatives)})(?P<end>{stop}|\\Z)", re.DOTALL)


def split_records(
    text: str, separator: str, delimiter: str, enclose: str | None, escape: str | None, trim: bool
) -> list[tuple[list[str | None], str]]:
    """Records as (fields, raw text); a field is None for ``\\N``."""
    pattern = _field_pattern(separator, delimiter, enclose, escape)
    unescape = re.compile(f"{re.escape(escape)}(.)", re.DOTALL) if escape else None
    records: list[tuple[list[str | None], str]] = []
    fields: list[str | None] = []
    start = position = 0
    while position < len(text):
        match = pattern.match(text, position)
        assert match is not None
        if enclose and match["enclosed"] is not None:
            value: str | None = match["enclosed"].replace(enclose * 2, enclose)
        else:
            plain = match["plain"].strip(" ") if trim else match["plain"]
            value = None if plain == "\\N" else plain
        if value is not None and unescape is not None:
            value = unescape.sub(r"\1", value)
        fields.append(value)
        position = match.end()
        if match["end"] != separator:
            records.append((fields, text[start:position].removesuffix(delimiter)))
            fields, start = [], position
    if fields:
        records.append(([*fields, ""], text[start:]))
    return records


def _columns(table: Table, header: str | None) -> list[Column]:
    if not header:
        return list(table.columns)
    names = [name.strip().strip("`") for name in header.split(",")]
    if any("=" in name for name in names):
        raise LoadRejected("the stand-in does not implement column expressions in 'columns'")
    unknown = [name for name in names if table.column(name) is None]
    if unknown:
        raise LoadRejected(f"Unknown column '{unknown[0]}' in '{table.name}'")
    columns = [table.column(name) for name in names]
    missing = [c.name for c in table.columns if not c.nullable and c.name not in names]
    if missing:
        raise LoadRejected(f"Column has no default value. column: {missing[0]}")
    return columns  # type: ignore[return-value]


def parse_load(table: Table, headers: Mapping[str, str], body: bytes) -> tuple[ParsedLoad, float]:
    """The rows to load, and the ``max_filter_ratio`` they are judged by."""
    for name in UNIMPLEMENTED_HEADERS:
        if headers.get(name):
            raise LoadRejected(f"the stand-in does not implement the '{name}' header")
    data_format = (headers.get("format") or "csv").lower()
    if data_format == "gzip":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError):
            raise LoadRejected("Failed to decompress gzip data") from None
    elif data_format != "csv":
        raise LoadRejected(f"the stand-in reads csv and gzip only, not format {data_format}")
    timeout = int(headers.get("timeout") or 600)
    if not 1 <= timeout <= MAX_TIMEOUT_SECONDS:
        raise LoadRejected(
            f"Invalid timeout: '{timeout}'. Expected values should be between 1 and 259200 seconds"
        )
    strict = _flag(headers, "strict_mode")
    ratio = float(headers.get("max_filter_ratio") or 0)
    columns = _columns(table, headers.get("columns"))
    records = split_records(
        body.decode("utf-8", "replace"),
        _separator(headers.get("column_separator") or "\t"),
        _separator(headers.get("row_delimiter") or "\n"),
        headers.get("enclose") or None,
        headers.get("escape") or None,
        _flag(headers, "trim_space"),
    )[int(headers.get("skip_header") or 0) :]
    return _typed(columns, records, strict, len(body)), ratio


def _typed(
    columns: list[Column], records: list[tuple[list[str | None], str]], strict: bool, load_bytes: int
) -> ParsedLoad:
    errors = [
        f"Error: Value count does not match column count. Expect {len(columns)}, but got {len(fields)}. Row: {raw}"
        for fields, raw in records
        if len(fields) != len(columns)
    ]
    good = [(fields, raw) for fields, raw in records if len(fields) == len(columns)]
    text = pl.DataFrame(
        [fields for fields, _ in good], schema={c.name: pl.String for c in columns}, orient="row"
    )
    raw_rows = [raw for _, raw in good]
    nothing = pl.Series([False] * len(good), dtype=pl.Boolean)
    keep = ~nothing
    typed = []
    for column in columns:
        converted = from_text(column, text[column.name])
        # Too long strings are always filtered; other failures only in strict mode (else NULL).
        bad = converted.failed if strict or max_bytes(column) else nothing
        null = nothing if column.nullable else converted.values.is_null() & ~bad
        for index in (bad | null).arg_true().to_list():
            reason = (
                f"NULL value in non-nullable column '{column.name}'"
                if null[index]
                else f"Value '{text[column.name][index]}' is invalid for column '{column.name}' of type {column.type}"
            )
            errors.append(f"Error: {reason}. Row: {raw_rows[index]}")
        keep &= ~(bad | null)
        typed.append(converted.values)
    rows = pl.DataFrame(typed).filter(keep) if typed else pl.DataFrame()
    return ParsedLoad(rows, len(records), len(records) - rows.height, errors, load_bytes)
