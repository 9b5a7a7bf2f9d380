"""Deterministic, referentially consistent sample source files for the tenants.

Every tenant's files are written exactly as its mappings describe them (file
names from the patterns, separators, encodings, date formats, decimal commas,
gzip, Excel, Parquet), so the pipeline reads them the way it reads the real
thing. What a mapping cannot say (how codes look, which cities, which plants)
comes from the tenant's profile in ``profiles.py``.

Determinism: every random value is a hash (splitmix64) of the seed, the tenant,
a stream name and the row's global index, computed by Polars over whole
columns. A row's content does not depend on the chunk it is generated in, so
large files stream in bounded memory and still come out byte-identical; files
get fixed modification times from the period they cover.

Referential consistency: facts draw customers, dealers, materials and
territories from the generated dimensions; dealers belong to a distributor
and take its territory; materials belong to the sales groups every tenant's
``ref_sales_group`` seed lists. The only exceptions are the deliberately bad
rows (see ``BAD_AMOUNT`` and ``bad_row_kinds``), a handful per fact table,
which the mappings' rules reject.

Facts have a historical segment (monthly files, 2023-03 to 2024-03) and an
incremental one (daily files, 2024-04-01 to 2024-04-03). The incremental files
also re-send a few historical lines (same key, amounts revised by -5%), so the
incremental tables' keep_latest de-duplication has something to do.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import hashlib
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import polars as pl

from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.config.loader import ConfigRepository, Tenant
from datawiz_pipelines.config.mapping import TableMapping
from datawiz_pipelines.sample_data.profiles import (
    BUSINESS_PREFIXES,
    DEALER_NOUNS,
    DISTRIBUTOR_NOUNS,
    FIRST_NAMES,
    HISTORY_END,
    HISTORY_START,
    INCREMENTAL_DAYS,
    MATERIAL_CATEGORIES,
    PRODUCTS,
    SALES_GROUPS,
    SNAPSHOT_DAY,
    SURNAMES,
    TERRITORY_SECTORS,
    TenantProfile,
    profile_for,
)
from datawiz_pipelines.sample_data.writers import (
    ROW_ID,
    SCALE,
    CsvSink,
    ExcelSink,
    FileKind,
    FileSink,
    ParquetSink,
    file_kind,
    render,
)
from datawiz_pipelines.settings import ProjectPaths
from datawiz_pipelines.storage.tenant_paths import TenantPaths

FACT_TABLES = ("fact_invoice_details", "fact_invoice_secondary")
DIMENSION_TABLES = (
    "dim_hierarchy",
    "dim_sales_group",
    "dim_material",
    "dim_material_mapping",
    "dim_customer_master",
    "dim_dealer_master",
)
BAD_AMOUNT = "#N/A"
"""What an unparseable amount looks like in the sample files (an Excel error leaked into an export)."""
INCREMENTAL_SHARE = 0.1
"""Share of a fact table's rows that arrive in the incremental files."""
CHUNK_ROWS = 250_000
GST_PERCENT = 18
BENCHMARK_FIRST_ROW = 120_000_000
"""Global row index a benchmark file starts at, far past the sample's rows, so its invoice keys are new."""

_U64 = pl.UInt64
_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
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


# --------------------------------------------------------------------------- hashing


def _mix64(value: int) -> int:
    value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9 & _MASK
    value = (value ^ (value >> 27)) * 0x94D049BB133111EB & _MASK
    return value ^ (value >> 31)


def _stream_key(seed: int, *names: object) -> int:
    digest = hashlib.sha256(repr((seed, *names)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _mix(value: pl.Expr) -> pl.Expr:
    """splitmix64's finaliser over a UInt64 column (Polars' UInt64 arithmetic wraps)."""
    value = (value ^ (value // pl.lit(1 << 30, _U64))) * pl.lit(0xBF58476D1CE4E5B9, _U64)
    value = (value ^ (value // pl.lit(1 << 27, _U64))) * pl.lit(0x94D049BB133111EB, _U64)
    return value ^ (value // pl.lit(1 << 31, _U64))


def _random(index: pl.Expr, key: int) -> pl.Expr:
    """A 64-bit pseudo-random value per element of the UInt64 ``index``."""
    return _mix(index * pl.lit(_GOLDEN, _U64) + pl.lit(key, _U64))


def _unit(bits: pl.Expr) -> pl.Expr:
    """[0, 1) from the top 53 bits."""
    return (bits // pl.lit(1 << 11, _U64)).cast(pl.Float64) / float(1 << 53)


def _below(bits: pl.Expr, n: int, shift: int = 0) -> pl.Expr:
    """An integer in [0, n) from the bits above ``shift``."""
    if shift:
        bits = bits // pl.lit(1 << shift, _U64)
    return (bits % pl.lit(n, _U64)).cast(pl.Int64)


def _weighted(bits: pl.Expr, weights: list[float]) -> pl.Expr:
    """An index drawn with ``weights`` (by search in the cumulative distribution)."""
    total = float(sum(weights))
    cumulative, running = [], 0.0
    for weight in weights:
        running += weight
        cumulative.append(running / total)
    cumulative[-1] = 1.0
    found = pl.lit(pl.Series(cumulative, dtype=pl.Float64)).search_sorted(_unit(bits), side="right")
    return found.cast(pl.Int64).clip(0, len(weights) - 1)


def _pick(values: list | pl.Series, index: pl.Expr, dtype: pl.DataType | None = None) -> pl.Expr:
    series = values if isinstance(values, pl.Series) else pl.Series(values, dtype=dtype)
    return pl.lit(series).gather(index)


# --------------------------------------------------------------------------- dimensions


def _money(rupees: float) -> int:
    return round(rupees * SCALE)


@dataclass(frozen=True)
class Dimensions:
    """One tenant's master data, as canonical frames (see ``writers`` for units)."""

    tables: dict[str, pl.DataFrame]
    material_weights: list[float]
    customer_weights: list[float]
    dealer_weights: list[float]

    def __getitem__(self, table: str) -> pl.DataFrame:
        return self.tables[table]


class _Names:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def person(self) -> str:
        return f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(SURNAMES)}"

    def distributor(self) -> str:
        style = self.rng.randrange(3)
        noun = self.rng.choice(DISTRIBUTOR_NOUNS)
        if style == 0:
            return f"{self.rng.choice(SURNAMES)} {noun}"
        if style == 1:
            return f"{self.rng.choice(BUSINESS_PREFIXES)} {self.rng.choice(SURNAMES)} {noun}"
        return f"{self.rng.choice(SURNAMES)} & Sons {noun}"

    def dealer(self) -> str:
        if self.rng.randrange(2):
            return f"{self.rng.choice(BUSINESS_PREFIXES)} {self.rng.choice(DEALER_NOUNS)}"
        return f"{self.rng.choice(SURNAMES)} {self.rng.choice(DEALER_NOUNS)}"


def _date(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def build_dimensions(profile: TenantProfile, tenant_seed: int) -> Dimensions:
    """The tenant's master data; small, so built row by row with a seeded ``random.Random``."""
    rng = random.Random(tenant_seed)
    names = _Names(rng)

    # Territories: spread over the profile's cities, several per big city.
    cities = [(state, city, code) for state in profile.states for city, code in state.cities]
    territory_rows = []
    per_city: dict[str, int] = {}
    for index in range(profile.territories):
        state, city, city_code = cities[index % len(cities)]
        sector = TERRITORY_SECTORS[per_city.get(city, 0) % len(TERRITORY_SECTORS)]
        per_city[city] = per_city.get(city, 0) + 1
        territory_rows.append(
            {
                "wss_territory_code": f"WSS{profile.territory_base + index:04d}",
                "territory_name": f"{city} {sector}",
                "area_code": f"A-{city_code}",
                "region_code": f"R-{state.code}",
                "zone": state.zone,
                "tsr_code": profile.tsr_code.format(n=profile.tsr_base + index // 2),  # two territories each
                "tsr_name": names.person(),
                "_city": city,
                "_state": state.name,
            }
        )
    territories = pl.DataFrame(territory_rows)

    sales_groups = pl.DataFrame(
        {
            "sales_group_code": [code for code, _, _ in SALES_GROUPS],
            "sales_group_name": [name for _, name, _ in SALES_GROUPS],
            "division": [division for _, _, division in SALES_GROUPS],
        }
    )

    # Materials: every pack of every product; the first pack is the reporting code.
    material_rows, mapping_rows, weights = [], [], []
    number = 0
    for product_index, product in enumerate(PRODUCTS):
        reporting_code = None
        for size, unit, mrp in product.packs:
            code = profile.material_codes[product.material_type].format(n=profile.material_base + number * 10)
            number += 1
            reporting_code = reporting_code or code
            size_text = f"{size:g}"
            price = round(mrp * profile.price_level * (1 + rng.uniform(-0.02, 0.02)), 0)
            launch = _date(rng, dt.date(product.launched, 1, 1), dt.date(product.launched, 12, 31))
            material_rows.append(
                {
                    "material_code": code,
                    "material_description": f"{product.name} {size_text} {unit}",
                    "material_type": product.material_type,
                    "material_group": product.material_group,
                    "sales_group_code": product.sales_group,
                    "base_uom": unit,
                    "pack_size": _money(size),
                    "mrp": _money(price),
                    "launch_date": launch,
                }
            )
            mapping_rows.append(
                {
                    "material_code": code,
                    "mapped_material_code": reporting_code,
                    "brand": product.brand,
                    "category": MATERIAL_CATEGORIES[product.material_group],
                    "valid_from": max(launch, dt.date(2022, 4, 1)),
                }
            )
            base = {"ZFGD": 10.0, "ZHAW": 8.0, "ZPKG": 4.0}[product.material_type]
            weights.append(base / (1 + (product_index % 7)) ** 0.5 * rng.uniform(0.5, 1.5))
    materials = pl.DataFrame(material_rows).with_columns(pl.col("launch_date").cast(pl.Date))
    material_mapping = pl.DataFrame(mapping_rows).with_columns(pl.col("valid_from").cast(pl.Date))

    # Distributors: at least one per territory, the rest spread at random.
    customer_rows, customer_weights = [], []
    specials = list(profile.special_customer_names)
    channel_values = [value for value, _ in profile.channels] or ["GT"]
    channel_weights = [weight for _, weight in profile.channels] or [1]
    for index in range(profile.customers):
        territory = territory_rows[
            index if index < len(territory_rows) else rng.randrange(len(territory_rows))
        ]
        channel = rng.choices(channel_values, channel_weights)[0]
        name = names.distributor()
        if specials and index % 23 == 7:
            name = specials.pop(0)
            channel = channel_values[min(2, len(channel_values) - 1)]
        customer_rows.append(
            {
                "customer_code": profile.customer_code.format(n=profile.customer_base + index),
                "customer_name": name,
                "channel": channel,
                "city": territory["_city"],
                "state": territory["_state"],
                "wss_territory_code": territory["wss_territory_code"],
                "credit_limit": _money(50_000 * rng.randrange(4, 101)),
                "created_on": _date(rng, dt.date(2008, 4, 1), dt.date(2022, 12, 31)),
            }
        )
        customer_weights.append(rng.paretovariate(1.6))
    customers = pl.DataFrame(customer_rows).with_columns(pl.col("created_on").cast(pl.Date))

    # Dealers: each served by one distributor, in its territory.
    dealer_rows, dealer_weights = [], []
    for index in range(profile.dealers):
        customer = customer_rows[index if index < len(customer_rows) else rng.randrange(len(customer_rows))]
        dealer_rows.append(
            {
                "dealer_code": profile.dealer_code.format(n=profile.dealer_base + index),
                "dealer_name": names.dealer(),
                "customer_code": customer["customer_code"],
                "wss_territory_code": customer["wss_territory_code"],
                "city": customer["city"],
                "is_active": rng.random() < 0.93,
            }
        )
        dealer_weights.append(rng.paretovariate(1.3))
    dealers = pl.DataFrame(dealer_rows)

    return Dimensions(
        tables={
            "dim_hierarchy": territories.drop("_city", "_state"),
            "dim_sales_group": sales_groups,
            "dim_material": materials,
            "dim_material_mapping": material_mapping,
            "dim_customer_master": customers,
            "dim_dealer_master": dealers,
        },
        material_weights=weights,
        customer_weights=customer_weights,
        dealer_weights=dealer_weights,
    )


# --------------------------------------------------------------------------- facts


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


def fact_segments(rows: int, *, first_row: int = 0) -> list[Segment]:
    incremental = round(rows * INCREMENTAL_SHARE) if rows >= 10 else 0
    historical = rows - incremental
    first_row = _align(first_row)
    segments = [Segment("historical", first_row, historical, HISTORY_START, HISTORY_END)]
    segments.append(
        Segment(
            "incremental",
            _align(first_row + historical),
            incremental,
            INCREMENTAL_DAYS[0],
            INCREMENTAL_DAYS[-1],
        )
    )
    return segments


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

    def __init__(self, table: str, profile: TenantProfile, dimensions: Dimensions, tenant_seed: int):
        if table not in FACT_TABLES:
            raise ValueError(f"no generator for fact table {table!r}; known: {FACT_TABLES}")
        self.table = table
        self.profile = profile
        self.dims = dimensions
        self.keys = {
            name: _stream_key(tenant_seed, table, name) for name in ("block", "invoice", "line", "qty")
        }

    @cached_property
    def _materials(self) -> pl.DataFrame:
        materials = self.dims["dim_material"]
        mrp = materials["mrp"]
        return materials.select(
            "material_code",
            "material_type",
            "mrp",
            max_units=pl.when(mrp < _money(100)).then(48).when(mrp < _money(1000)).then(24).otherwise(6),
        )

    def frame(self, index: pl.Series, segment: Segment) -> pl.DataFrame:
        """Canonical rows for the global row ``index`` values, all inside ``segment``."""
        materials = self._materials
        profile = self.profile
        first_invoice = segment.start // _LINES_PER_BLOCK * _INVOICES_PER_BLOCK
        invoices = max(1, _align(segment.rows) // _LINES_PER_BLOCK * _INVOICES_PER_BLOCK)
        row = pl.col(ROW_ID)
        block = row // pl.lit(_LINES_PER_BLOCK, _U64)
        slot = _below(_random(block, self.keys["block"]), len(_COMPOSITIONS)) * _LINES_PER_BLOCK + (
            row % pl.lit(_LINES_PER_BLOCK, _U64)
        ).cast(pl.Int64)
        frame = pl.DataFrame({ROW_ID: index.cast(_U64)}).with_columns(
            invoice=block * _INVOICES_PER_BLOCK + _pick(_BLOCK_OFFSETS, slot, pl.UInt64),
            line=_pick(_BLOCK_LINES, slot, pl.Int32),
        )
        invoice = pl.col("invoice")
        day = (invoice.cast(pl.Int64) - first_invoice) * segment.days // invoices
        frame = frame.with_columns(
            inv_bits=_random(invoice, self.keys["invoice"]),
            line_bits=_random(row, self.keys["line"]),
            qty_bits=_random(row, self.keys["qty"]),
            invoice_date=(pl.lit(segment.first_day).cast(pl.Int32) + day.clip(0, segment.days - 1)).cast(
                pl.Date
            ),
        ).with_columns(
            material=_weighted(pl.col("line_bits"), self.dims.material_weights),
        )
        frame = frame.with_columns(
            material_code=_pick(materials["material_code"], pl.col("material")),
            material_type=_pick(materials["material_type"], pl.col("material")),
            mrp=_pick(materials["mrp"], pl.col("material")),
            units=1
            + (pl.col("qty_bits") % pl.lit(1 << 16, _U64)).cast(pl.Int64)
            % _pick(materials["max_units"], pl.col("material")),
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
        dealer = _weighted(pl.col("inv_bits"), self.dims.dealer_weights)
        seconds = 9 * 3600 + _below(pl.col("inv_bits"), 12 * 3600, shift=7)
        price = pl.col("mrp") * 78 // 100  # dealer price: 78% of MRP
        net = pl.col("units") * price
        return frame.with_columns(dealer=dealer).select(
            ROW_ID,
            "invoice_date",
            "invoice_no",
            "line_no",
            customer_code=_pick(dealers["customer_code"], pl.col("dealer")),
            dealer_code=_pick(dealers["dealer_code"], pl.col("dealer")),
            material_code="material_code",
            material_type="material_type",
            wss_territory_code=_pick(dealers["wss_territory_code"], pl.col("dealer")),
            quantity=pl.col("units") * SCALE,
            net_amount=net,
            tax_amount=(net * GST_PERCENT + 50) // 100,
            created_at=pl.col("invoice_date").cast(pl.Datetime("us")) + pl.duration(seconds=seconds),
        )

    def _primary(self, frame: pl.DataFrame) -> pl.DataFrame:
        profile = self.profile
        customers = self.dims["dim_customer_master"]
        customer = _weighted(pl.col("inv_bits"), self.dims.customer_weights)
        billing = _weighted(_random(pl.col("inv_bits"), 1), [weight for _, weight in profile.billing_types])
        plant = _weighted(_random(pl.col("inv_bits"), 2), [weight for _, weight in profile.plants])
        discount_bp = _pick([0, 0, 200, 350, 500], _below(pl.col("line_bits"), 5, shift=3), pl.Int64)
        units = pl.col("units") * 6  # distributors buy in cases of six
        gross = units * (pl.col("mrp") * 62 // 100)  # distributor price: 62% of MRP
        discount = gross * discount_bp // 10_000
        net = gross - discount
        return frame.select(
            ROW_ID,
            "invoice_date",
            "invoice_no",
            "line_no",
            customer_code=_pick(customers["customer_code"], customer),
            material_code="material_code",
            billing_type=_pick([value for value, _ in profile.billing_types], billing),
            plant_code=_pick([value for value, _ in profile.plants], plant),
            quantity=units * SCALE,
            gross_amount=gross,
            discount_amount=discount,
            tax_amount=(net * GST_PERCENT + 50) // 100,
            net_amount=net,
        )

    def rows(self, start: int, stop: int, segment: Segment) -> pl.DataFrame:
        return self.frame(pl.int_range(start, stop, dtype=pl.UInt64, eager=True), segment)


# --------------------------------------------------------------------------- bad rows and corrections


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
    indices = _spread_rows(
        generator, segment, per_kind * len(kinds), rules, window=(0.3, 0.95), exclude=set()
    )
    by_kind = {kind: indices[position :: len(kinds)] for position, kind in enumerate(kinds)}
    return BadRows(by_kind)


def _corrections(
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


# --------------------------------------------------------------------------- file layout


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


def _is_incremental_pattern(pattern: str) -> bool:
    return "increment" in pattern.lower() or "delta" in pattern.lower()


def _modified(segment_name: str, label: str) -> dt.datetime:
    """Fixed modification times: the morning after the period a file covers."""
    if segment_name == "historical":
        year, month = int(label[:4]), int(label[4:6])
        last = dt.date(year, month, calendar.monthrange(year, month)[1])
        return dt.datetime.combine(last + dt.timedelta(days=1), dt.time(2, 0))
    day = dt.datetime.strptime(label, "%Y%m%d").date()
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(3, 30))


SNAPSHOT_MODIFIED = dt.datetime.combine(SNAPSHOT_DAY, dt.time(18, 0))
BENCHMARK_MODIFIED = dt.datetime(2024, 4, 1, 1, 0)


# --------------------------------------------------------------------------- tenant generation


def tenant_seed(seed: int, tenant_id: str) -> int:
    return _stream_key(seed, "tenant", tenant_id)


class TenantGenerator:
    """Writes one tenant's landing files."""

    def __init__(
        self,
        tenant: Tenant,
        catalog: dict[str, CatalogTable],
        *,
        seed: int = 7,
        chunk_rows: int = CHUNK_ROWS,
        compresslevel: int = 6,
    ):
        self.tenant = tenant
        self.catalog = catalog
        self.profile = profile_for(tenant.tenant_id)
        self.seed = tenant_seed(seed, tenant.tenant_id)
        self.chunk_rows = chunk_rows
        self.compresslevel = compresslevel
        self.rules = tenant.settings.business_rules.model_dump()

    @cached_property
    def dimensions(self) -> Dimensions:
        return build_dimensions(self.profile, self.seed)

    def mapping(self, table: str) -> TableMapping:
        mapping = self.tenant.mapping(table)
        if mapping is None:
            raise ValueError(f"tenant {self.tenant.tenant_id!r} has no mapping for {table!r}")
        return mapping

    def sink(self, path: Path, table: str, modified: dt.datetime, kind: FileKind) -> FileSink:
        mapping = self.mapping(table)
        if kind == "csv":
            return CsvSink(
                path,
                modified,
                mapping,
                line_terminator=self.profile.line_terminator,
                compresslevel=self.compresslevel,
            )
        if kind == "parquet":
            return ParquetSink(path, modified)
        return ExcelSink(path, modified, mapping, title=self.catalog[table].description)

    def _render(
        self, frame: pl.DataFrame, table: str, kind: FileKind, keep: tuple[str, ...] = ()
    ) -> pl.DataFrame:
        return render(
            frame,
            self.catalog[table],
            self.mapping(table),
            kind,
            extra_columns=self.profile.extra_columns.get(table),
            keep=keep,
        )

    # ----------------------------------------------------------------- dimensions

    def write_dimension(self, landing: Path, table: str) -> list[Path]:
        mapping = self.mapping(table)
        frame = self.dimensions[table]
        patterns = mapping.source.patterns
        written: list[Path] = []
        for position, pattern in enumerate(patterns):
            kind = file_kind(pattern, mapping)
            path = landing / concrete_path(pattern, f"{SNAPSHOT_DAY:%Y%m%d}", kind)
            part = frame[
                position * frame.height // len(patterns) : (position + 1) * frame.height // len(patterns)
            ]
            sink = self.sink(path, table, SNAPSHOT_MODIFIED, kind)
            try:
                sink.write(self._render(part, table, kind))
            except BaseException:
                sink.abort()
                raise
            written.append(sink.close())
        return written

    # ----------------------------------------------------------------- facts

    def _fact_targets(
        self, table: str, segments: list[Segment]
    ) -> dict[tuple[str, str], tuple[Path, FileKind]]:
        """(segment, label) -> the file that gets those rows."""
        mapping = self.mapping(table)
        patterns = mapping.source.patterns
        incremental = [p for p in patterns if _is_incremental_pattern(p)]
        historical = [p for p in patterns if not _is_incremental_pattern(p)]
        targets = {}
        for segment in segments:
            group = (
                (incremental or historical) if segment.name == "incremental" else (historical or incremental)
            )
            for position, label in enumerate(segment.labels):
                pattern = group[position % len(group)]
                kind = file_kind(pattern, mapping)
                targets[segment.name, label] = (Path(concrete_path(pattern, label, kind)), kind)
        return targets

    def write_fact(self, landing: Path, table: str, rows: int) -> list[Path]:
        """The table's historical (monthly) and incremental (daily) files, with bad rows and corrections."""
        generator = FactGenerator(table, self.profile, self.dimensions, self.seed)
        historical, incremental = fact_segments(rows)
        targets = self._fact_targets(table, [historical, incremental])
        sinks: dict[Path, FileSink] = {}
        per_label: dict[tuple[str, str], FileSink] = {}
        for (segment_name, label), (relative, kind) in targets.items():
            if relative not in sinks:
                sinks[relative] = self.sink(landing / relative, table, _modified(segment_name, label), kind)
            per_label[segment_name, label] = sinks[relative]
        try:
            text_only = {kind for _, kind in targets.values()} == {"csv"}
            bad = choose_bad_rows(
                generator,
                historical,
                bad_row_kinds(table, "csv" if text_only else "parquet"),
                max(1, historical.rows // 20_000),
                self.rules,
            )
            for segment in (historical, incremental):
                self._stream(generator, segment, bad, lambda label, s=segment: per_label[s.name, label])
            corrections = _corrections(
                generator, historical, max(3, incremental.rows // 20), self.rules, bad.all
            )
            if incremental.rows and corrections.height:
                labels = incremental.labels
                for position, label in enumerate(labels):
                    part = corrections[position :: len(labels)]
                    if "created_at" in part.columns:  # re-recorded on the day of the file
                        stamp = dt.datetime.strptime(label, "%Y%m%d").replace(hour=10, minute=15)
                        part = part.with_columns(created_at=pl.lit(stamp, dtype=pl.Datetime("us")))
                    sink = per_label["incremental", label]
                    sink.write(self._render(part, table, _sink_kind(sink)))
            empty = generator.rows(0, 0, historical)
            for sink in sinks.values():
                if sink.rows == 0:  # a period without rows still gets its file (header only)
                    sink.write(self._render(empty, table, _sink_kind(sink)))
        except BaseException:
            for sink in sinks.values():
                sink.abort()
            raise
        return [sink.close() for sink in sinks.values()]

    def write_single_fact_file(
        self, path: Path, table: str, rows: int, *, first_row: int, bad_rows: int
    ) -> Path:
        """``rows`` historical rows of ``table`` in one file (any name the tenant's mapping reads)."""
        generator = FactGenerator(table, self.profile, self.dimensions, self.seed)
        segment = Segment("historical", _align(first_row), rows, HISTORY_START, HISTORY_END)
        mapping = self.mapping(table)
        kind = file_kind(path, mapping)
        named = file_kind(
            path, mapping.model_copy(update={"source": mapping.source.model_copy(update={"format": "auto"})})
        )
        if kind != named:
            raise ValueError(
                f"{path}: {self.tenant.tenant_id}'s {table} mapping reads {kind} files, not {named}"
            )
        sink = self.sink(path, table, BENCHMARK_MODIFIED, kind)
        try:
            kinds = bad_row_kinds(table, kind)
            per_kind = -(-bad_rows // len(kinds)) if bad_rows > 0 else 0
            bad = (
                choose_bad_rows(generator, segment, kinds, per_kind, self.rules) if per_kind else BadRows({})
            )
            self._stream(generator, segment, bad, lambda _label: sink)
            if sink.rows == 0:
                sink.write(self._render(generator.rows(0, 0, segment), table, kind))
        except BaseException:
            sink.abort()
            raise
        return sink.close()

    def _stream(self, generator: FactGenerator, segment: Segment, bad: BadRows, sink_for) -> None:
        """Generate ``segment`` chunk by chunk and hand each period's rows to ``sink_for(label)``."""
        table = generator.table
        mapping = self.mapping(table)
        for start in range(segment.start, segment.stop, self.chunk_rows):
            frame = generator.rows(start, min(start + self.chunk_rows, segment.stop), segment)
            frame = bad.canonical(frame, self.profile).with_columns(
                _label=segment.label_expr(pl.col("invoice_date"))
            )
            for (label,), part in frame.partition_by("_label", maintain_order=True, as_dict=True).items():
                sink = sink_for(label)
                kind = _sink_kind(sink)
                rendered = self._render(part, table, kind, keep=(ROW_ID,))
                if kind == "csv":
                    rendered = bad.textual(rendered, mapping)
                sink.write(rendered.drop(ROW_ID))

    def write_all(self, landing: Path, fact_rows: int) -> list[Path]:
        written: list[Path] = []
        for table in (*DIMENSION_TABLES, *FACT_TABLES):
            if self.tenant.mapping(table) is None or self.catalog[table].source != "landing":
                continue
            if table in FACT_TABLES:
                rows = fact_rows if table == "fact_invoice_secondary" else fact_rows // 2
                written += self.write_fact(landing, table, rows)
            else:
                written += self.write_dimension(landing, table)
        return written


def _sink_kind(sink: FileSink) -> FileKind:
    if isinstance(sink, CsvSink):
        return "csv"
    if isinstance(sink, ParquetSink):
        return "parquet"
    return "excel"


# --------------------------------------------------------------------------- public API


def _repository(config_dir: Path | None) -> ConfigRepository:
    return ConfigRepository(
        Path(config_dir) if config_dir is not None else ProjectPaths.from_env().config_dir
    )


def generate_sample_data(
    config_dir: Path,
    data_dir: Path,
    tenant_ids: Iterable[str],
    *,
    fact_rows: int = 2_000,
    seed: int = 7,
) -> dict[str, list[Path]]:
    """Write each tenant's sample source files under ``data_dir/<tenant>/source_files/``.

    Every table the tenant maps from its landing zone gets files named and
    formatted as its mapping expects. ``fact_rows`` is the number of secondary
    sales lines (primary sales get half as many), about 90% in the monthly
    historical files and 10% in the daily incremental ones, plus a few
    corrections of historical lines and a few deliberately bad rows. The same
    arguments always give byte-identical files with the same modification
    times. Files are written under a temporary name and renamed; nothing else
    in the landing folder is touched. Disabled tenants can be generated too.

    Returns the files written, per tenant.
    """
    if fact_rows < 0:
        raise ValueError("fact_rows must not be negative")
    repository = _repository(config_dir)
    catalog = repository.catalog.tables
    written: dict[str, list[Path]] = {}
    for tenant_id in tenant_ids:
        tenant = repository.load_tenant(tenant_id)
        landing = TenantPaths(Path(data_dir), tenant_id).landing
        written[tenant_id] = TenantGenerator(tenant, catalog, seed=seed).write_all(landing, fact_rows)
    return written


def write_fact_file(
    path: Path,
    rows: int,
    *,
    table: str = "fact_invoice_secondary",
    tenant_id: str = "tenant1",
    config_dir: Path | None = None,
    seed: int = 7,
    bad_rows: int = 0,
    first_row: int = BENCHMARK_FIRST_ROW,
    chunk_rows: int = CHUNK_ROWS,
    compresslevel: int = 1,
) -> Path:
    """One big fact file for benchmarks, in the tenant's format for ``table``.

    ``rows`` lines spread over the historical period, written in chunks of
    ``chunk_rows`` (bounded memory; byte-identical for the same arguments).
    The format follows ``path``'s name as the mapping would read it (``.csv``,
    ``.csv.gz``, ``.parquet``, ``.xlsx``) with the mapping's CSV options; drop
    the file where one of the mapping's patterns matches it to feed the
    pipeline. It references the master data ``generate_sample_data`` writes for
    the same tenant and seed; ``first_row`` (default far beyond the sample's
    rows) keeps its invoice keys apart from the sample's. ``bad_rows`` adds
    that many deliberately bad rows (0 = a clean file). gzip uses
    ``compresslevel`` (1 = fastest).
    """
    repository = _repository(config_dir)
    tenant = repository.load_tenant(tenant_id)
    generator = TenantGenerator(
        tenant, repository.catalog.tables, seed=seed, chunk_rows=chunk_rows, compresslevel=compresslevel
    )
    return generator.write_single_fact_file(Path(path), table, rows, first_row=first_row, bad_rows=bad_rows)


def write_fact_csv(path: Path, rows: int, **options) -> Path:
    """``write_fact_file`` for a delimited file (``.csv`` or ``.csv.gz``); see there for ``options``."""
    name = Path(path).name.lower()
    if not name.endswith((".csv", ".csv.gz", ".txt", ".txt.gz")):
        raise ValueError(f"{path}: write_fact_csv writes .csv or .csv.gz files")
    return write_fact_file(path, rows, **options)
