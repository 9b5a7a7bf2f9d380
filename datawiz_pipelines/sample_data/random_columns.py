"""Deterministic pseudo-random columns: splitmix64 hashes of a row's global index.

Every random value in a fact row is a hash of the seed, the tenant, a stream
name and the row's global index, computed by Polars over whole columns. A row's
content therefore does not depend on the chunk it is generated in, so large
files stream in bounded memory and still come out byte-identical.
"""

from __future__ import annotations

import hashlib

import polars as pl

U64 = pl.UInt64
_GOLDEN = 0x9E3779B97F4A7C15


def stream_key(seed: int, *names: object) -> int:
    """A 64-bit key for the random stream named by ``seed`` and ``names``."""
    digest = hashlib.sha256(repr((seed, *names)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _mix(value: pl.Expr) -> pl.Expr:
    """splitmix64's finaliser over a UInt64 column (Polars' UInt64 arithmetic wraps)."""
    value = (value ^ (value // pl.lit(1 << 30, U64))) * pl.lit(0xBF58476D1CE4E5B9, U64)
    value = (value ^ (value // pl.lit(1 << 27, U64))) * pl.lit(0x94D049BB133111EB, U64)
    return value ^ (value // pl.lit(1 << 31, U64))


def random_bits(index: pl.Expr, key: int) -> pl.Expr:
    """A 64-bit pseudo-random value per element of the UInt64 ``index``."""
    return _mix(index * pl.lit(_GOLDEN, U64) + pl.lit(key, U64))


def _unit(bits: pl.Expr) -> pl.Expr:
    """[0, 1) from the top 53 bits."""
    return (bits // pl.lit(1 << 11, U64)).cast(pl.Float64) / float(1 << 53)


def below(bits: pl.Expr, n: int, shift: int = 0) -> pl.Expr:
    """An integer in [0, n) from the bits above ``shift``."""
    if shift:
        bits = bits // pl.lit(1 << shift, U64)
    return (bits % pl.lit(n, U64)).cast(pl.Int64)


def weighted(bits: pl.Expr, weights: list[float]) -> pl.Expr:
    """An index drawn with ``weights`` (by search in the cumulative distribution)."""
    total = float(sum(weights))
    cumulative, running = [], 0.0
    for weight in weights:
        running += weight
        cumulative.append(running / total)
    cumulative[-1] = 1.0
    found = pl.lit(pl.Series(cumulative, dtype=pl.Float64)).search_sorted(_unit(bits), side="right")
    return found.cast(pl.Int64).clip(0, len(weights) - 1)


def pick(values: list | pl.Series, index: pl.Expr, dtype: pl.DataType | None = None) -> pl.Expr:
    """The elements of ``values`` at the positions ``index`` holds."""
    series = values if isinstance(values, pl.Series) else pl.Series(values, dtype=dtype)
    return pl.lit(series).gather(index)
