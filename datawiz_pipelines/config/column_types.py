"""Canonical column types and their forms in Polars, DuckDB and StarRocks."""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

_TYPE = re.compile(
    r"^(?P<name>VARCHAR|STRING|TINYINT|SMALLINT|INT|BIGINT|LARGEINT|FLOAT|DOUBLE|DECIMAL|"
    r"DATE|DATETIME|BOOLEAN)(\((?P<args>\s*\d+\s*(,\s*\d+\s*)?)\))?$"
)
_INTEGER_TYPES = {
    "TINYINT": pl.Int8,
    "SMALLINT": pl.Int16,
    "INT": pl.Int32,
    "BIGINT": pl.Int64,
    "LARGEINT": pl.Int128,
}
_DUCKDB_NAMES = {"STRING": "VARCHAR", "LARGEINT": "HUGEINT", "DATETIME": "TIMESTAMP"}


@dataclass(frozen=True)
class ColumnType:
    """A parsed canonical type such as ``DECIMAL(18,2)`` or ``VARCHAR(64)``."""

    name: str
    length: int | None = None
    precision: int | None = None
    scale: int | None = None

    @classmethod
    def parse(cls, text: str) -> ColumnType:
        match = _TYPE.fullmatch(text.strip().upper())
        if not match:
            raise ValueError(
                f"unknown type {text!r}: use VARCHAR(n), STRING, TINYINT, SMALLINT, INT, "
                "BIGINT, LARGEINT, FLOAT, DOUBLE, DECIMAL(p,s), DATE, DATETIME or BOOLEAN"
            )
        name = match["name"]
        args = [int(part) for part in match["args"].split(",")] if match["args"] else []
        if name == "VARCHAR":
            if len(args) != 1 or not 1 <= args[0] <= 1_048_576:
                raise ValueError(f"{text!r}: VARCHAR needs a length from 1 to 1048576")
            return cls(name, length=args[0])
        if name == "DECIMAL":
            if len(args) != 2 or not (1 <= args[0] <= 38 and 0 <= args[1] <= args[0]):
                raise ValueError(f"{text!r}: DECIMAL needs (precision 1..38, scale 0..precision)")
            return cls(name, precision=args[0], scale=args[1])
        if args:
            raise ValueError(f"{text!r}: {name} takes no arguments")
        return cls(name)

    def __str__(self) -> str:
        if self.name == "VARCHAR":
            return f"VARCHAR({self.length})"
        if self.name == "DECIMAL":
            return f"DECIMAL({self.precision},{self.scale})"
        return self.name

    @property
    def polars(self) -> pl.DataType:
        if self.name in ("VARCHAR", "STRING"):
            return pl.String()
        if self.name in _INTEGER_TYPES:
            return _INTEGER_TYPES[self.name]()
        if self.name == "FLOAT":
            return pl.Float32()
        if self.name == "DOUBLE":
            return pl.Float64()
        if self.name == "DECIMAL":
            return pl.Decimal(self.precision, self.scale)
        if self.name == "DATE":
            return pl.Date()
        if self.name == "DATETIME":
            return pl.Datetime("us")
        return pl.Boolean()

    @property
    def duckdb(self) -> str:
        return _DUCKDB_NAMES.get(self.name, str(self))

    @property
    def starrocks(self) -> str:
        return str(self)

    @property
    def is_temporal(self) -> bool:
        return self.name in ("DATE", "DATETIME")

    @property
    def is_numeric(self) -> bool:
        return self.name in _INTEGER_TYPES or self.name in ("FLOAT", "DOUBLE", "DECIMAL")
