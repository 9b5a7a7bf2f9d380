"""Turning text (CSV fields) and query results into typed column values, as StarRocks does.

A value that does not convert is a *conversion failure*: strict mode filters its
row; otherwise it becomes NULL (and the row is filtered only if the column is
NOT NULL). A string longer than its VARCHAR (in bytes) is always filtered.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from .catalog import Column

STRING_BYTES = 65533
_INTEGERS = {
    "TINYINT": pl.Int8,
    "SMALLINT": pl.Int16,
    "INT": pl.Int32,
    "BIGINT": pl.Int64,
    "LARGEINT": pl.Int128,
}
_TRUE = ("1", "true")
_FALSE = ("0", "false")


def polars_type(column: Column) -> pl.DataType:
    base = column.base
    if base in _INTEGERS:
        return _INTEGERS[base]()
    if base == "DECIMAL":
        precision, scale = column.params()
        return pl.Decimal(precision, scale)
    return {
        "FLOAT": pl.Float32(),
        "DOUBLE": pl.Float64(),
        "DATE": pl.Date(),
        "DATETIME": pl.Datetime("us"),
        "BOOLEAN": pl.Boolean(),
    }.get(base, pl.String())


def max_bytes(column: Column) -> int | None:
    if column.base == "VARCHAR":
        return column.params()[0]
    return STRING_BYTES if column.base == "STRING" else None


@dataclass(frozen=True)
class Converted:
    values: pl.Series
    failed: pl.Series
    """True where a non-NULL text did not convert (or a string is too long)."""


def from_text(column: Column, text: pl.Series) -> Converted:
    """Convert a String series (None = NULL) to the column's type."""
    base = column.base
    if base in ("VARCHAR", "STRING"):
        values = text
        failed = text.str.len_bytes() > max_bytes(column)
    else:
        if base == "DATE":
            values = text.str.to_date("%Y-%m-%d", strict=False)
        elif base == "DATETIME":
            values = pl.select(
                pl.coalesce(
                    text.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", strict=False),
                    text.str.to_datetime("%Y-%m-%d", time_unit="us", strict=False),
                )
            ).to_series()
        elif base == "BOOLEAN":
            lowered = text.str.to_lowercase()
            values = pl.select(
                pl.when(lowered.is_in(_TRUE)).then(True).when(lowered.is_in(_FALSE)).then(False)
            ).to_series()
        else:
            values = text.cast(polars_type(column), strict=False)
        failed = values.is_null() & text.is_not_null()
    return Converted(values.alias(column.name), failed.fill_null(False).alias(column.name))
