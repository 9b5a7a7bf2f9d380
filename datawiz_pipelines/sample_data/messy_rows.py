"""What makes the sample input messy: deliberately bad rows and re-sent corrections.

A handful of bad rows per fact table (see ``BAD_AMOUNT`` and ``bad_row_kinds``)
break the rules the tenants' mappings enforce, so rejection has something to
reject. The incremental files also re-send a few historical lines (same key,
amounts revised by -5%), so the incremental tables' keep_latest de-duplication
has something to do.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass

import polars as pl

from datawiz_pipelines.config.mapping import TableMapping
from datawiz_pipelines.sample_data.facts import FactGenerator, Segment
from datawiz_pipelines.sample_data.profiles import TenantProfile
from datawiz_pipelines.sample_data.writers import ROW_ID, FileKind

BAD_AMOUNT = "#N/A"
"""What an unparseable amount looks like in the sample files (an Excel error leaked into an export)."""


def bad_row_kinds(table: str, kind: FileKind) -> list[str]:
    """The deliberately bad rows a fact file gets, each rejected by the tenant's rules:

    - ``bad_amount``: the net (or gross) amount is ``BAD_AMOUNT`` (cast error; text files only)
    - ``bad_date``: an invoice date that does not exist, e.g. 31 February (cast error; text only)
    - ``unknown_material`` / ``unknown_customer``: a well-formed code missing from the master
      data (relationship rule)
    - ``missing_dealer`` / ``missing_customer``: an empty required code (not_null rule)
    """
    text = kind == "csv"
    if table == "fact_invoice_secondary":
        return (
            ["bad_amount", "unknown_material", "missing_dealer"]
            if text
            else ["unknown_material", "missing_dealer"]
        )
    return ["bad_date", "unknown_customer"] if text else ["unknown_material", "missing_customer"]


def _kept_by_rules(frame: pl.DataFrame, rules: dict) -> pl.Series:
    """Rows the sample business rules' filters keep, so bad rows reach validation."""
    keep = pl.lit(True)
    if rules.get("date_filter_start") and "invoice_date" in frame.columns:
        keep = keep & (pl.col("invoice_date") >= pl.lit(rules["date_filter_start"]))
    if rules.get("material_type_filter") and "material_type" in frame.columns:
        keep = keep & pl.col("material_type").is_in(list(rules["material_type_filter"]))
    if rules.get("excluded_plants") and "plant_code" in frame.columns:
        keep = keep & ~pl.col("plant_code").is_in(list(rules["excluded_plants"]))
    return frame.select(keep.alias("keep"))["keep"]


def _spread_rows(
    generator: FactGenerator,
    segment: Segment,
    count: int,
    rules: dict,
    *,
    window: tuple[float, float],
    exclude: set[int],
) -> list[int]:
    """``count`` row indices spread over the ``window`` share of ``segment`` that the rules keep."""
    if count <= 0 or segment.rows == 0:
        return []
    low = segment.start + int(segment.rows * window[0])
    high = max(low + 1, segment.start + int(segment.rows * window[1]))
    probe = min(64, max(8, (high - low) // count), high - low)
    firsts = [low + (high - low) * k // count for k in range(count)]
    candidates = sorted({i for first in firsts for i in range(first, min(first + probe, segment.stop))})
    frame = generator.frame(pl.Series(candidates, dtype=pl.UInt64), segment)
    kept = frame.filter(_kept_by_rules(frame, rules))[ROW_ID].to_list()  # ascending
    chosen: set[int] = set()
    for first in firsts:
        position = bisect.bisect_left(kept, first)
        while position < len(kept) and kept[position] < first + probe:
            if kept[position] not in exclude and kept[position] not in chosen:
                chosen.add(kept[position])
                break
            position += 1
    return sorted(chosen)


@dataclass(frozen=True)
class BadRows:
    """The global row indices that get each kind of bad value."""

    by_kind: dict[str, list[int]]

    @property
    def all(self) -> set[int]:
        return {index for indices in self.by_kind.values() for index in indices}

    def canonical(self, frame: pl.DataFrame, profile: TenantProfile) -> pl.DataFrame:
        """Apply the bad values that live in canonical columns."""
        row = pl.col(ROW_ID)
        changes = []
        for kind, column, value in (
            ("unknown_material", "material_code", profile.unknown_material),
            ("unknown_customer", "customer_code", profile.unknown_customer),
            ("missing_dealer", "dealer_code", None),
            ("missing_customer", "customer_code", None),
        ):
            indices = self.by_kind.get(kind)
            if indices and column in frame.columns:
                changes.append((column, row.is_in(indices), value))
        for column, hit, value in changes:
            frame = frame.with_columns(
                pl.when(hit).then(pl.lit(value, dtype=pl.String)).otherwise(pl.col(column)).alias(column)
            )
        return frame

    def textual(self, frame: pl.DataFrame, mapping: TableMapping) -> pl.DataFrame:
        """Apply the bad values that only exist as text (after rendering)."""
        row = pl.col(ROW_ID)
        amount = next((c for c in ("net_amount", "gross_amount", "quantity") if c in mapping.columns), None)
        if self.by_kind.get("bad_amount") and amount:
            source = mapping.columns[amount].source
            frame = frame.with_columns(
                pl.when(row.is_in(self.by_kind["bad_amount"]))
                .then(pl.lit(BAD_AMOUNT))
                .otherwise(pl.col(source))
                .alias(source)
            )
        if self.by_kind.get("bad_date") and "invoice_date" in mapping.columns:
            spec = mapping.columns["invoice_date"]
            impossible = _impossible_date(spec.format or "%Y-%m-%d")
            frame = frame.with_columns(
                pl.when(row.is_in(self.by_kind["bad_date"]))
                .then(pl.lit(impossible))
                .otherwise(pl.col(spec.source))
                .alias(spec.source)
            )
        return frame


def _impossible_date(fmt: str) -> str:
    """31 February 2024 written in ``fmt``."""
    return dt.date(2024, 2, 1).strftime(fmt.replace("%d", "31").replace("%m", "02"))


def choose_bad_rows(
    generator: FactGenerator, segment: Segment, kinds: list[str], per_kind: int, rules: dict
) -> BadRows:
    """``per_kind`` rows of each kind, spread over the later part of ``segment`` where the filters keep them."""
    indices = _spread_rows(
        generator, segment, per_kind * len(kinds), rules, window=(0.3, 0.95), exclude=set()
    )
    by_kind = {kind: indices[position :: len(kinds)] for position, kind in enumerate(kinds)}
    return BadRows(by_kind)


def corrections(
    generator: FactGenerator,
    historical: Segment,
    count: int,
    rules: dict,
    exclude: set[int],
) -> pl.DataFrame:
    """Historical lines re-sent in the incremental files with amounts revised by -5%."""
    indices = _spread_rows(generator, historical, count, rules, window=(0.9, 1.0), exclude=exclude)
    if not indices:
        return generator.frame(pl.Series([], dtype=pl.UInt64), historical)
    frame = generator.frame(pl.Series(indices, dtype=pl.UInt64), historical)
    amounts = [
        c for c in ("gross_amount", "discount_amount", "net_amount", "tax_amount") if c in frame.columns
    ]
    return frame.with_columns([((pl.col(c) * 95 + 50) // 100).alias(c) for c in amounts])
