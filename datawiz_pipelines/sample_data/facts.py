"""Fact rows (primary and secondary sales lines) as a pure function of their global index.

Facts draw customers, dealers, materials and territories from the generated
dimensions. Rows come in blocks of twelve invoice lines split into at most
three invoices; a table's rows form a historical segment (monthly files,
2023-03 to 2024-03) and an incremental one (daily files, 2024-04-01 to
2024-04-03).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import polars as pl

from datawiz_pipelines.sample_data.dimensions import Dimensions, money
from datawiz_pipelines.sample_data.profiles import (
    HISTORY_END,
    HISTORY_START,
    INCREMENTAL_DAYS,
    TenantProfile,
)
from datawiz_pipelines.sample_data.random_columns import U64, below, pick, random_bits, stream_key, weighted
from datawiz_pipelines.sample_data.writers import ROW_ID, SCALE

FACT_TABLES = ("fact_invoice_details", "fact_invoice_secondary")
INCREMENTAL_SHARE = 0.1
"""Share of a fact table's rows that arrive in the incremental files."""
GST_PERCENT = 18

_LINES_PER_BLOCK = 12
_INVOICES_PER_BLOCK = 3
# Ways to split a block of 12 invoice lines into at most 3 invoices.
_COMPOSITIONS = (
    (4, 4, 4),
    (3, 5, 4),
    (6, 6),
    (2, 3, 7),
    (5, 2, 5),
    (1, 4, 7),
    (8, 4),
    (12,),
    (3, 3, 6),
    (7, 1, 4),
)


@dataclass(frozen=True)
class Segment:
    """A run of global row indices whose invoices spread evenly over [first_day, last_day]."""

    name: str  # "historical" or "incremental"
    start: int  # first global row index, a multiple of the block size
    rows: int
    first_day: dt.date
    last_day: dt.date

    @property
    def stop(self) -> int:
        return self.start + self.rows

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def labels(self) -> list[str]:
        """File labels: months (YYYYMM) for historical, days (YYYYMMDD) for incremental."""
        if self.name == "historical":
            labels, day = [], self.first_day.replace(day=1)
            while day <= self.last_day:
                labels.append(f"{day:%Y%m}")
                day = (day + dt.timedelta(days=32)).replace(day=1)
            return labels
        return [f"{self.first_day + dt.timedelta(days=offset):%Y%m%d}" for offset in range(self.days)]

    def label_expr(self, date: pl.Expr) -> pl.Expr:
        return date.dt.strftime("%Y%m" if self.name == "historical" else "%Y%m%d")


def _align(index: int) -> int:
    return -(-index // _LINES_PER_BLOCK) * _LINES_PER_BLOCK


def historical_segment(rows: int, *, first_row: int = 0) -> Segment:
    """``rows`` historical rows from ``first_row`` (rounded up to a whole block)."""
    return Segment("historical", _align(first_row), rows, HISTORY_START, HISTORY_END)


def fact_segments(rows: int) -> tuple[Segment, Segment]:
    """A table's historical and incremental segments (the latter gets INCREMENTAL_SHARE of ``rows``)."""
    incremental = round(rows * INCREMENTAL_SHARE) if rows >= 10 else 0
    historical = historical_segment(rows - incremental)
    return historical, Segment(
        "incremental", _align(historical.stop), incremental, INCREMENTAL_DAYS[0], INCREMENTAL_DAYS[-1]
    )


def _block_tables() -> tuple[list[int], list[int]]:
    offsets, lines = [], []
    for composition in _COMPOSITIONS:
        for invoice, size in enumerate(composition):
            offsets += [invoice] * size
            lines += list(range(1, size + 1))
    return offsets, lines


_BLOCK_OFFSETS, _BLOCK_LINES = _block_tables()


class FactGenerator:
    """Rows of one fact table for one tenant as a pure function of their global index."""

    def __init__(self, table: str, profile: TenantProfile, dimensions: Dimensions, tenant_seed: int) -> None:
        if table not in FACT_TABLES:
            raise ValueError(f"no generator for fact table {table!r}; known: {FACT_TABLES}")
        self.table = table
        self.profile = profile
        self.dims = dimensions
        self.keys = {
            name: stream_key(tenant_seed, table, name) for name in ("block", "invoice", "line", "qty")
        }

    @cached_property
    def _materials(self) -> pl.DataFrame:
        materials = self.dims["dim_material"]
        mrp = materials["mrp"]
        return materials.select(
            "material_code",
            "material_type",
            "mrp",
            max_units=pl.when(mrp < money(100)).then(48).when(mrp < money(1000)).then(24).otherwise(6),
        )

    def frame(self, index: pl.Series, segment: Segment) -> pl.DataFrame:
        """Canonical rows for the global row ``index`` values, all inside ``segment``."""
        materials = self._materials
        profile = self.profile
        first_invoice = segment.start // _LINES_PER_BLOCK * _INVOICES_PER_BLOCK
        invoices = max(1, _align(segment.rows) // _LINES_PER_BLOCK * _INVOICES_PER_BLOCK)
        row = pl.col(ROW_ID)
        block = row // pl.lit(_LINES_PER_BLOCK, U64)
        slot = below(random_bits(block, self.keys["block"]), len(_COMPOSITIONS)) * _LINES_PER_BLOCK + (
            row % pl.lit(_LINES_PER_BLOCK, U64)
        ).cast(pl.Int64)
        frame = pl.DataFrame({ROW_ID: index.cast(U64)}).with_columns(
            invoice=block * _INVOICES_PER_BLOCK + pick(_BLOCK_OFFSETS, slot, pl.UInt64),
            line=pick(_BLOCK_LINES, slot, pl.Int32),
        )
        invoice = pl.col("invoice")
        day = (invoice.cast(pl.Int64) - first_invoice) * segment.days // invoices
        frame = frame.with_columns(
            inv_bits=random_bits(invoice, self.keys["invoice"]),
            line_bits=random_bits(row, self.keys["line"]),
            qty_bits=random_bits(row, self.keys["qty"]),
            invoice_date=(pl.lit(segment.first_day).cast(pl.Int32) + day.clip(0, segment.days - 1)).cast(
                pl.Date
            ),
        ).with_columns(
            material=weighted(pl.col("line_bits"), self.dims.material_weights),
        )
        frame = frame.with_columns(
            material_code=pick(materials["material_code"], pl.col("material")),
            material_type=pick(materials["material_type"], pl.col("material")),
            mrp=pick(materials["mrp"], pl.col("material")),
            units=1
            + (pl.col("qty_bits") % pl.lit(1 << 16, U64)).cast(pl.Int64)
            % pick(materials["max_units"], pl.col("material")),
            line_no=pl.col("line") * profile.line_step,
        )
        numbering = (
            profile.primary_invoice if self.table == "fact_invoice_details" else profile.secondary_invoice
        )
        number = (invoice.cast(pl.Int64) + numbering.base).cast(pl.String).str.zfill(numbering.width)
        frame = frame.with_columns(invoice_no=pl.concat_str(pl.lit(numbering.prefix), number))
        if self.table == "fact_invoice_secondary":
            return self._secondary(frame)
        return self._primary(frame)

    def _secondary(self, frame: pl.DataFrame) -> pl.DataFrame:
        dealers = self.dims["dim_dealer_master"]
        dealer = weighted(pl.col("inv_bits"), self.dims.dealer_weights)
        seconds = 9 * 3600 + below(pl.col("inv_bits"), 12 * 3600, shift=7)
        price = pl.col("mrp") * 78 // 100  # dealer price: 78% of MRP
        net = pl.col("units") * price
        return frame.with_columns(dealer=dealer).select(
            ROW_ID,
            "invoice_date",
            "invoice_no",
            "line_no",
            customer_code=pick(dealers["customer_code"], pl.col("dealer")),
            dealer_code=pick(dealers["dealer_code"], pl.col("dealer")),
            material_code="material_code",
            material_type="material_type",
            wss_territory_code=pick(dealers["wss_territory_code"], pl.col("dealer")),
            quantity=pl.col("units") * SCALE,
            net_amount=net,
            tax_amount=(net * GST_PERCENT + 50) // 100,
            created_at=pl.col("invoice_date").cast(pl.Datetime("us")) + pl.duration(seconds=seconds),
        )

    def _primary(self, frame: pl.DataFrame) -> pl.DataFrame:
        profile = self.profile
        customers = self.dims["dim_customer_master"]
        customer = weighted(pl.col("inv_bits"), self.dims.customer_weights)
        billing = weighted(
            random_bits(pl.col("inv_bits"), 1), [weight for _, weight in profile.billing_types]
        )
        plant = weighted(random_bits(pl.col("inv_bits"), 2), [weight for _, weight in profile.plants])
        discount_bp = pick([0, 0, 200, 350, 500], below(pl.col("line_bits"), 5, shift=3), pl.Int64)
        units = pl.col("units") * 6  # distributors buy in cases of six
        gross = units * (pl.col("mrp") * 62 // 100)  # distributor price: 62% of MRP
        discount = gross * discount_bp // 10_000
        net = gross - discount
        return frame.select(
            ROW_ID,
            "invoice_date",
            "invoice_no",
            "line_no",
            customer_code=pick(customers["customer_code"], customer),
            material_code="material_code",
            billing_type=pick([value for value, _ in profile.billing_types], billing),
            plant_code=pick([value for value, _ in profile.plants], plant),
            quantity=units * SCALE,
            gross_amount=gross,
            discount_amount=discount,
            tax_amount=(net * GST_PERCENT + 50) // 100,
            net_amount=net,
        )

    def rows(self, start: int, stop: int, segment: Segment) -> pl.DataFrame:
        return self.frame(pl.int_range(start, stop, dtype=pl.UInt64, eager=True), segment)
