"""A tenant's master data (territories, sales groups, materials, distributors, dealers).

Small, so built row by row with a ``random.Random`` seeded per tenant. Dealers
belong to a distributor and take its territory; materials belong to the sales
groups every tenant's ``ref_sales_group`` seed lists.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

import polars as pl

from datawiz_pipelines.sample_data.profiles import (
    BUSINESS_PREFIXES,
    DEALER_NOUNS,
    DISTRIBUTOR_NOUNS,
    FIRST_NAMES,
    MATERIAL_CATEGORIES,
    PRODUCTS,
    SALES_GROUPS,
    SURNAMES,
    TERRITORY_SECTORS,
    TenantProfile,
)
from datawiz_pipelines.sample_data.writers import SCALE

DIMENSION_TABLES = (
    "dim_hierarchy",
    "dim_sales_group",
    "dim_material",
    "dim_material_mapping",
    "dim_customer_master",
    "dim_dealer_master",
)


def money(rupees: float) -> int:
    """Rupees as a canonical DECIMAL (an integer in units of 1/SCALE)."""
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
    def __init__(self, rng: random.Random) -> None:
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
                    "pack_size": money(size),
                    "mrp": money(price),
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
                "credit_limit": money(50_000 * rng.randrange(4, 101)),
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
