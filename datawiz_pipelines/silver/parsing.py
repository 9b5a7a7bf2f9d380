"""Per-column parsing: one bronze value to its canonical type, or null when it cannot be.

Parsers never raise on data. The engine calls a value a cast failure when it was
present before parsing and is null after it, so one comparison finds every bad
cell without a second pass.

Numbers are exact: text is read as ``Decimal(38, ·)`` and rounded half away from
zero (1.005 -> 1.01, -1.005 -> -1.01), the commercial rule tenants reconcile
against, not Polars' half-to-even cast. Floats from parquet go through their
shortest text form first, so 1.005 rounds as written, not as its binary
approximation 1.00499999... A value that does not fit the target's precision
or range is a cast failure, never wrapped or truncated.
"""

from __future__ import annotations

import polars as pl

from datawiz_pipelines.config.column_types import ColumnType
from datawiz_pipelines.config.mapping import ColumnMapping

ROUND_MODE = "half_away_from_zero"
ISO_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f")
"""Tried in turn when a DATE/DATETIME column has no format (Excel writes dates as the second)."""
STRING_BYTES = 65533
"""StarRocks' STRING limit; VARCHAR(n) limits likewise count UTF-8 bytes, not characters."""
_INTEGER_WIDE = pl.Decimal(38, 18)
"""Holds every BIGINT with room to tell 12 from 12.5; larger LARGEINTs parse as plain integers only."""
_SHOWN_CHARS = 60
_DEFAULT = ColumnMapping(source="(default)")


def clean(value: pl.Expr, dtype: pl.DataType, spec: ColumnMapping | None = None) -> pl.Expr:
    """``value`` trimmed, with blank text as null so '   ' counts as missing, like an empty CSV field."""
    if dtype != pl.String or not (spec or _DEFAULT).trim:
        return value
    trimmed = value.str.strip_chars()
    return pl.when(trimmed != "").then(trimmed)


def parse(
    value: pl.Expr, dtype: pl.DataType, target: ColumnType, spec: ColumnMapping | None = None
) -> pl.Expr:
    """``value`` (of ``dtype``) as ``target.polars``, null where it cannot be read."""
    spec = spec or _DEFAULT
    if target.name in ("VARCHAR", "STRING"):
        return _bounded_text(value.cast(pl.String), target)
    if target.is_numeric:
        return _number(value, dtype, target, spec)
    if target.is_temporal:
        if dtype.is_temporal():
            return value.cast(target.polars)
        return _temporal(_as_text(value, dtype), target, spec)
    return value if dtype == pl.Boolean else _boolean(_as_text(value, dtype), spec)


def failure_reason(label: str, value: pl.Expr, target: ColumnType) -> pl.Expr:
    """Why ``value`` did not become ``target``: ``<label>: cannot parse 'abc' as DECIMAL(18,2)``."""
    if target.name in ("VARCHAR", "STRING"):
        size = value.cast(pl.String).str.len_bytes().cast(pl.String)
        return pl.concat_str(
            pl.lit(f"{label}: "), shown(value), pl.lit(f" exceeds {target} ("), size, pl.lit(" bytes)")
        )
    return pl.concat_str(pl.lit(f"{label}: cannot parse "), shown(value), pl.lit(f" as {target}"))


def shown(value: pl.Expr) -> pl.Expr:
    """``value`` quoted for a message, cut short so a huge cell cannot swamp the reason."""
    text = value.cast(pl.String)
    short = pl.when(text.str.len_chars() > _SHOWN_CHARS).then(text.str.slice(0, _SHOWN_CHARS) + pl.lit("..."))
    return pl.concat_str(pl.lit("'"), short.otherwise(text), pl.lit("'"))


def _as_text(value: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    return value if dtype == pl.String else value.cast(pl.String)


def _bounded_text(text: pl.Expr, target: ColumnType) -> pl.Expr:
    limit = target.length if target.name == "VARCHAR" else STRING_BYTES
    return pl.when(text.str.len_bytes() <= limit).then(text)


def _number(value: pl.Expr, dtype: pl.DataType, target: ColumnType, spec: ColumnMapping) -> pl.Expr:
    """Exact targets go through a wide Decimal so rounding is ours, not the cast's (see module doc)."""
    if dtype == pl.String:
        value = _plain_number(value, spec)
    elif not (dtype.is_integer() or isinstance(dtype, pl.Decimal)):
        value = value.cast(pl.String)  # floats by their shortest text; booleans, dates: never a number
        dtype = pl.String()
    if target.name in ("FLOAT", "DOUBLE"):
        number = value.cast(pl.Float64, strict=False)
        if spec.round is not None:
            number = number.round(spec.round, mode=ROUND_MODE)
        number = number.cast(target.polars)
        return pl.when(number.is_finite()).then(number)
    if target.name == "DECIMAL":
        wide = value.cast(pl.Decimal(38, 38 - target.precision + target.scale), strict=False)
        digits = target.scale if spec.round is None else min(spec.round, target.scale)
        return wide.round(digits, mode=ROUND_MODE).cast(target.polars, strict=False)
    wide = value.cast(_INTEGER_WIDE, strict=False)
    # A fraction needs an explicit `round`; otherwise 12.5 pieces is a cast failure, not 12 or 13.
    whole = (
        wide.round(0, mode=ROUND_MODE)
        if spec.round is not None
        else pl.when(wide.round(0) == wide).then(wide)
    )
    from_wide = whole.cast(target.polars, strict=False)
    if isinstance(dtype, pl.Decimal):  # a direct Decimal -> integer cast would truncate
        return from_wide
    return pl.coalesce(value.cast(target.polars, strict=False), from_wide)


def _plain_number(text: pl.Expr, spec: ColumnMapping) -> pl.Expr:
    """Number text with grouping removed and '.' as the decimal mark.

    A grouping separator counts only between groups of 2-3 digits ending in a group
    of 3 (1.234.567 or Indian 12,34,567), so with decimal comma '1.5' is a cast
    failure rather than silently fifteen.
    """
    separator = spec.thousands_separator or ("." if spec.decimal_comma else None)
    mark = "," if spec.decimal_comma else "."
    if separator:
        sep, dec = _regex_char(separator), _regex_char(mark)
        grouped = rf"^[+-]?\d{{1,3}}(?:{sep}\d{{2,3}})*{sep}\d{{3}}(?:{dec}\d*)?$"
        ungrouped = text.str.replace_all(separator, "", literal=True)
        text = pl.when(~text.str.contains(separator, literal=True) | text.str.contains(grouped)).then(
            ungrouped
        )
    if spec.decimal_comma:
        text = text.str.replace(",", ".", literal=True)
    return text


def _regex_char(char: str) -> str:
    return f"\\x{{{ord(char):X}}}"


def _temporal(text: pl.Expr, target: ColumnType, spec: ColumnMapping) -> pl.Expr:
    formats = [spec.format] if spec.format else ISO_FORMATS
    # Each result is cast before coalescing: a %z format yields UTC-aware stamps, stored naive in UTC.
    return pl.coalesce(
        [text.str.strptime(pl.Datetime("us"), fmt, strict=False).cast(target.polars) for fmt in formats]
    )


def _boolean(text: pl.Expr, spec: ColumnMapping) -> pl.Expr:
    lowered = text.str.to_lowercase()
    true_values = [value.lower() for value in spec.true_values]
    false_values = [value.lower() for value in spec.false_values]
    return pl.when(lowered.is_in(true_values)).then(True).when(lowered.is_in(false_values)).then(False)
