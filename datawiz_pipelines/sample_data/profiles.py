"""What each sample tenant's business looks like: regions, codes, products, names.

The tenants' *file layouts* (names, separators, encodings, date formats, column
names) come from their mappings; a profile only supplies what a mapping cannot
say: how the tenant's codes look, where it sells and what its ERP writes in
columns the mapping does not read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

# ---------------------------------------------------------------------------
# Shared company data: every tenant is a Pidilite operation, so products,
# material groups and sales groups are the same; tenants differ in codes,
# prices and geography.
# ---------------------------------------------------------------------------

SALES_GROUPS: list[tuple[str, str, str]] = [
    # (code, name, division)
    ("S10", "Consumer Adhesives", "Consumer & Bazaar"),
    ("S20", "Industrial Adhesives", "Business to Business"),
    ("S30", "Construction Chemicals", "Consumer & Bazaar"),
    ("S40", "Art & Craft", "Consumer & Bazaar"),
    ("S50", "Trading & Accessories", "Consumer & Bazaar"),
    ("S60", "Packaging Materials", "Operations"),
    ("S70", "Institutional Projects", "Business to Business"),
]
"""Sales group codes; every tenant's ref_sales_group seed lists exactly these."""

MATERIAL_GROUPS: dict[str, str] = {
    # material group -> reporting category (the ref_material_mapping seed)
    "ADHWOOD": "Adhesives",
    "ADHINST": "Adhesives",
    "ADHEPXY": "Adhesives",
    "SEALANT": "Sealants & Waterproofing",
    "WATERPRF": "Sealants & Waterproofing",
    "TILEADH": "Construction Chemicals",
    "ARTCRAFT": "Art & Craft",
    "TOOLS": "Accessories",
    "PACKMAT": "Packaging",
}
"""Material groups; every tenant's ref_material_mapping seed lists exactly these."""

MATERIAL_CATEGORIES: dict[str, str] = {
    "ADHWOOD": "Wood Adhesives",
    "ADHINST": "Instant Adhesives",
    "ADHEPXY": "Epoxy & Putty",
    "SEALANT": "Sealants & Tapes",
    "WATERPRF": "Waterproofing",
    "TILEADH": "Tile Adhesives & Grouts",
    "ARTCRAFT": "Art & Craft",
    "TOOLS": "Tools & Applicators",
    "PACKMAT": "Packaging",
}


@dataclass(frozen=True)
class Product:
    brand: str
    name: str
    material_group: str
    sales_group: str
    material_type: str  # ZFGD finished goods, ZHAW trading goods, ZPKG packaging
    packs: tuple[tuple[float, str, float], ...]  # (pack size, unit, MRP in rupees)
    launched: int  # year


PRODUCTS: list[Product] = [
    Product(
        "Fevicol",
        "Fevicol SH",
        "ADHWOOD",
        "S10",
        "ZFGD",
        ((0.5, "KG", 150), (1, "KG", 285), (5, "KG", 1350), (20, "KG", 5100), (50, "KG", 12400)),
        1963,
    ),
    Product(
        "Fevicol",
        "Fevicol Marine",
        "ADHWOOD",
        "S10",
        "ZFGD",
        ((1, "KG", 420), (5, "KG", 1990), (20, "KG", 7600)),
        1998,
    ),
    Product("Fevicol", "Fevicol Hi-per", "ADHWOOD", "S10", "ZFGD", ((1, "KG", 360), (5, "KG", 1700)), 2008),
    Product(
        "Fevicol",
        "Fevicol HPI Industrial",
        "ADHWOOD",
        "S20",
        "ZFGD",
        ((50, "KG", 14500), (200, "KG", 56000)),
        2011,
    ),
    Product(
        "Fevikwik",
        "Fevikwik Instant Adhesive",
        "ADHINST",
        "S10",
        "ZFGD",
        ((0.5, "G", 5), (2, "G", 10), (5, "G", 25), (20, "G", 95)),
        1985,
    ),
    Product(
        "Araldite",
        "Araldite Standard Epoxy",
        "ADHEPXY",
        "S10",
        "ZFGD",
        ((13, "G", 90), (36, "G", 199), (180, "G", 650)),
        2001,
    ),
    Product("M-Seal", "M-Seal Phataphat", "ADHEPXY", "S10", "ZFGD", ((25, "G", 45), (50, "G", 85)), 2005),
    Product("M-Seal", "M-Seal Regular", "ADHEPXY", "S10", "ZFGD", ((100, "G", 99), (500, "G", 420)), 1990),
    Product(
        "Dr. Fixit",
        "Dr. Fixit LW+",
        "WATERPRF",
        "S30",
        "ZFGD",
        ((0.2, "L", 60), (1, "L", 235), (5, "L", 1050), (20, "L", 3900)),
        2000,
    ),
    Product(
        "Dr. Fixit",
        "Dr. Fixit Raincoat",
        "WATERPRF",
        "S30",
        "ZFGD",
        ((1, "L", 520), (4, "L", 1980), (20, "L", 9200)),
        2004,
    ),
    Product(
        "Dr. Fixit",
        "Dr. Fixit Pidifin 2K",
        "WATERPRF",
        "S30",
        "ZFGD",
        ((5, "KG", 1150), (20, "KG", 4200)),
        2006,
    ),
    Product(
        "Dr. Fixit", "Dr. Fixit Fastflex", "WATERPRF", "S70", "ZFGD", ((1, "KG", 380), (5, "KG", 1720)), 2012
    ),
    Product(
        "Roff", "Roff Tile Adhesive NSA", "TILEADH", "S30", "ZFGD", ((20, "KG", 650), (40, "KG", 1240)), 2010
    ),
    Product(
        "Roff", "Roff Rainbow Tile Grout", "TILEADH", "S30", "ZFGD", ((1, "KG", 210), (5, "KG", 980)), 2013
    ),
    Product("Fevicol", "Fevicol Silicone Sealant", "SEALANT", "S10", "ZFGD", ((280, "ML", 290),), 2015),
    Product(
        "Steelgrip",
        "Steelgrip Insulation Tape",
        "SEALANT",
        "S10",
        "ZFGD",
        ((1, "EA", 25), (10, "EA", 230)),
        2009,
    ),
    Product(
        "Fevicryl",
        "Fevicryl Acrylic Colours Kit",
        "ARTCRAFT",
        "S40",
        "ZFGD",
        ((6, "EA", 199), (12, "EA", 365)),
        1994,
    ),
    Product(
        "Fevicryl",
        "Fevicryl Fabric Glue",
        "ARTCRAFT",
        "S40",
        "ZFGD",
        ((50, "ML", 65), (200, "ML", 210)),
        1997,
    ),
    Product(
        "Fevistik", "Fevistik Glue Stick", "ARTCRAFT", "S40", "ZFGD", ((5, "G", 20), (15, "G", 45)), 2003
    ),
    Product("Hobby Ideas", "Hobby Ideas Craft Kit", "ARTCRAFT", "S40", "ZFGD", ((1, "EA", 499),), 2016),
    Product("Pidilite", "Sealant Applicator Gun", "TOOLS", "S50", "ZHAW", ((1, "EA", 350),), 2014),
    Product("Pidilite", "Glue Spreader", "TOOLS", "S50", "ZHAW", ((1, "EA", 45),), 2010),
    Product("Fevicryl", "Paint Brush Set", "TOOLS", "S50", "ZHAW", ((5, "EA", 120),), 2008),
    Product("Dr. Fixit", "Waterproofing Brush", "TOOLS", "S50", "ZHAW", ((1, "EA", 180),), 2011),
    Product("Pidilite", "Corrugated Box 5-Ply", "PACKMAT", "S60", "ZPKG", ((1, "EA", 35),), 2000),
    Product("Pidilite", "HDPE Container", "PACKMAT", "S60", "ZPKG", ((1, "L", 28), (5, "L", 75)), 2000),
    Product("Pidilite", "Shrink Wrap Roll", "PACKMAT", "S60", "ZPKG", ((1, "KG", 160),), 2002),
]

FIRST_NAMES = [
    "Rajesh",
    "Suresh",
    "Mahesh",
    "Amit",
    "Sunil",
    "Anil",
    "Vijay",
    "Sanjay",
    "Ramesh",
    "Prakash",
    "Deepak",
    "Manoj",
    "Nitin",
    "Rahul",
    "Vikram",
    "Arjun",
    "Kiran",
    "Priya",
    "Sneha",
    "Pooja",
    "Anjali",
    "Kavita",
    "Meena",
    "Lakshmi",
    "Divya",
    "Harish",
    "Ganesh",
    "Yogesh",
    "Neha",
    "Rohit",
]
SURNAMES = [
    "Shah",
    "Patel",
    "Mehta",
    "Desai",
    "Joshi",
    "Kulkarni",
    "Deshpande",
    "Patil",
    "Jadhav",
    "Pawar",
    "Shinde",
    "Gupta",
    "Agarwal",
    "Jain",
    "Sharma",
    "Verma",
    "Singh",
    "Chauhan",
    "Malhotra",
    "Kapoor",
    "Khanna",
    "Bansal",
    "Goyal",
    "Mittal",
    "Arora",
    "Sethi",
    "Iyer",
    "Nair",
    "Reddy",
    "Rao",
    "Naidu",
    "Pillai",
    "Menon",
    "Krishnan",
    "Gowda",
    "Shetty",
    "Hegde",
    "Chopra",
    "Saxena",
    "Trivedi",
]
BUSINESS_PREFIXES = [
    "Shree",
    "Sri",
    "Jai",
    "New",
    "Om",
    "Sai",
    "Balaji",
    "Ganesh",
    "Laxmi",
    "Mahalaxmi",
    "Ambika",
    "Royal",
    "National",
    "Bharat",
    "Krishna",
    "Durga",
    "Vinayak",
    "Siddhi",
    "Matoshree",
    "Star",
]
DISTRIBUTOR_NOUNS = [
    "Distributors",
    "Agencies",
    "Enterprises",
    "Marketing",
    "Trading Co.",
    "Sales Corporation",
    "Associates",
    "Distributors Pvt Ltd",
    "Traders",
    "Marketing LLP",
]
DEALER_NOUNS = [
    "Hardware",
    "Paints & Hardware",
    "Plywood",
    "Timber Mart",
    "Sanitary & Hardware",
    "Glass & Plywood",
    "Building Materials",
    "Hardware Stores",
    "Traders",
    "Stationers",
    "Art Centre",
    "Tiles & Sanitaryware",
]
TERRITORY_SECTORS = ["Central", "East", "West", "North", "South", "Rural", "Industrial", "Suburban"]


@dataclass(frozen=True)
class State:
    name: str
    code: str  # region code suffix
    zone: str
    cities: tuple[tuple[str, str], ...]  # (city, 3-letter code)


@dataclass(frozen=True)
class InvoiceNumbering:
    prefix: str
    base: int
    width: int


@dataclass(frozen=True)
class TenantProfile:
    """The business behind one sample tenant."""

    key: str
    states: tuple[State, ...]
    territories: int
    customers: int
    dealers: int
    territory_base: int
    customer_code: str  # str.format pattern over {n}
    customer_base: int
    dealer_code: str
    dealer_base: int
    material_codes: dict[str, str]  # material type -> str.format pattern over {n}
    material_base: int
    tsr_code: str
    tsr_base: int
    unknown_material: str  # a well-formed code that is not in the material master
    unknown_customer: str
    primary_invoice: InvoiceNumbering
    secondary_invoice: InvoiceNumbering
    line_step: int = 1  # SAP numbers items 10, 20, 30 ...
    channels: tuple[tuple[str, int], ...] = ()  # (value, weight)
    billing_types: tuple[tuple[str, int], ...] = (("INV", 100),)
    plants: tuple[tuple[str, int], ...] = (("PL01", 100),)
    price_level: float = 1.0  # regional MRP level
    special_customer_names: tuple[str, ...] = ()  # e.g. names that need Latin-1
    extra_columns: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> {column: value}
    line_terminator: str = "\n"


HISTORY_START = dt.date(2023, 3, 1)
HISTORY_END = dt.date(2024, 3, 31)
INCREMENTAL_DAYS = (dt.date(2024, 4, 1), dt.date(2024, 4, 2), dt.date(2024, 4, 3))
SNAPSHOT_DAY = INCREMENTAL_DAYS[-1]
"""Master data is the snapshot of the evening of the last incremental day."""

_WEST = (
    State(
        "Maharashtra",
        "MH",
        "WEST",
        (
            ("Mumbai", "MUM"),
            ("Thane", "THN"),
            ("Navi Mumbai", "NMB"),
            ("Pune", "PUN"),
            ("Nashik", "NSK"),
            ("Nagpur", "NGP"),
            ("Aurangabad", "AUR"),
            ("Kolhapur", "KOP"),
        ),
    ),
    State(
        "Gujarat",
        "GJ",
        "WEST",
        (("Ahmedabad", "AMD"), ("Surat", "SUR"), ("Vadodara", "BRC"), ("Rajkot", "RJT")),
    ),
    State("Goa", "GA", "WEST", (("Panaji", "PNJ"), ("Margao", "MRG"))),
    State("Madhya Pradesh", "MP", "CENTRAL", (("Indore", "IDR"), ("Bhopal", "BPL"), ("Jabalpur", "JBP"))),
    State("Chhattisgarh", "CG", "CENTRAL", (("Raipur", "RPR"),)),
)
_NORTH = (
    State("Delhi", "DL", "NORTH", (("New Delhi", "NDL"), ("Delhi", "DEL"))),
    State(
        "Haryana",
        "HR",
        "NORTH",
        (("Gurugram", "GGN"), ("Faridabad", "FBD"), ("Panipat", "PNP"), ("Ambala", "AMB")),
    ),
    State("Punjab", "PB", "NORTH", (("Ludhiana", "LDH"), ("Amritsar", "ATQ"), ("Jalandhar", "JUC"))),
    State(
        "Uttar Pradesh",
        "UP",
        "NORTH",
        (
            ("Noida", "NOI"),
            ("Ghaziabad", "GZB"),
            ("Lucknow", "LKO"),
            ("Kanpur", "KNP"),
            ("Agra", "AGR"),
            ("Varanasi", "VNS"),
        ),
    ),
    State("Rajasthan", "RJ", "CENTRAL", (("Jaipur", "JAI"), ("Jodhpur", "JDH"), ("Udaipur", "UDR"))),
)
_SOUTH = (
    State("Tamil Nadu", "TN", "SOUTH", (("Chennai", "MAA"), ("Coimbatore", "CJB"), ("Madurai", "IXM"))),
    State(
        "Karnataka",
        "KA",
        "SOUTH",
        (("Bengaluru", "BLR"), ("Mysuru", "MYS"), ("Hubballi", "HBX"), ("Mangaluru", "IXE")),
    ),
    State("Kerala", "KL", "SOUTH", (("Kochi", "COK"), ("Thiruvananthapuram", "TRV"), ("Kozhikode", "CCJ"))),
    State("Telangana", "TS", "SOUTH", (("Hyderabad", "HYD"), ("Warangal", "WGL"))),
    State("Andhra Pradesh", "AP", "SOUTH", (("Visakhapatnam", "VTZ"), ("Vijayawada", "VGA"))),
)


def _erp_profile(
    *,
    key: str,
    states: tuple[State, ...],
    territories: int,
    customers: int,
    dealers: int,
    territory_base: int,
    customer_prefix: str,
    customer_base: int,
    dealer_prefix: str,
    dealer_base: int,
    material_base: int,
    branch: str,
    stock_transfer_percent: int,
    plants: tuple[tuple[str, int], ...],
    price_level: float,
) -> TenantProfile:
    """A tenant on the non-SAP ERP (tenant2, tenant3): prefixed codes, invoices numbered per
    ``branch``, spelled-out channels, tax invoices plus a share of stock transfers."""
    return TenantProfile(
        key=key,
        states=states,
        territories=territories,
        customers=customers,
        dealers=dealers,
        territory_base=territory_base,
        customer_code=f"{customer_prefix}{{n:05d}}",
        customer_base=customer_base,
        dealer_code=f"{dealer_prefix}{{n:06d}}",
        dealer_base=dealer_base,
        material_codes={"ZFGD": "FG-{n:05d}", "ZHAW": "TG-{n:05d}", "ZPKG": "PK-{n:05d}"},
        material_base=material_base,
        tsr_code="TSR-{n:04d}",
        tsr_base=1,
        unknown_material="FG-99999",
        unknown_customer=f"{customer_prefix}99999",
        primary_invoice=InvoiceNumbering(f"INV/{branch}/", 0, 7),
        secondary_invoice=InvoiceNumbering(f"SI-{branch}-", 0, 8),
        channels=(("General Trade", 70), ("Modern Trade", 10), ("Institutional", 12), ("Projects", 8)),
        billing_types=(("TAX", 100 - stock_transfer_percent), ("STO", stock_transfer_percent)),
        plants=plants,
        price_level=price_level,
    )


PROFILES: dict[str, TenantProfile] = {
    "tenant1": TenantProfile(
        key="sap-west",
        states=_WEST,
        territories=48,
        customers=120,
        dealers=900,
        territory_base=1,
        customer_code="{n:010d}",
        customer_base=1_000_100,
        dealer_code="{n:010d}",
        dealer_base=2_000_000,
        material_codes={"ZFGD": "{n:018d}", "ZHAW": "{n:018d}", "ZPKG": "{n:018d}"},
        material_base=10_012_340,
        tsr_code="{n:08d}",  # SAP personnel number
        tsr_base=104_500,
        unknown_material="000000000099999999",
        unknown_customer="0009999999",
        primary_invoice=InvoiceNumbering("", 9_000_000_000, 10),
        secondary_invoice=InvoiceNumbering("", 5_100_000_000, 10),
        line_step=10,
        channels=(("GT", 70), ("MT", 10), ("INST", 12), ("PROJ", 8)),
        billing_types=(("ZF2", 95), ("ZDEP", 5)),
        plants=(("P101", 50), ("P104", 30), ("P110", 20)),
        price_level=1.0,
        special_customer_names=(
            "Müller & Söhne Industriebedarf Pvt Ltd",
            "Café Décor Interiors LLP",
            "Brücke Engineering Supplies",
            "Société Générale de Colles (India)",
            "Señor Tiles & Sanitaryware",
        ),
        extra_columns={"fact_invoice_details": {"MANDT": "100"}, "fact_invoice_secondary": {"MANDT": "100"}},
        line_terminator="\r\n",
    ),
    "tenant2": _erp_profile(
        key="erp-north",
        states=_NORTH,
        territories=30,
        customers=80,
        dealers=500,
        territory_base=1001,
        customer_prefix="DB",
        customer_base=10_001,
        dealer_prefix="DLR",
        dealer_base=100_001,
        material_base=20_010,
        branch="DL",
        stock_transfer_percent=4,
        plants=(("DL01", 60), ("GZB1", 37), ("DLTS", 3)),
        price_level=1.03,
    ),
    "tenant3": _erp_profile(
        key="erp-south",
        states=_SOUTH,
        territories=20,
        customers=50,
        dealers=300,
        territory_base=2001,
        customer_prefix="SD",
        customer_base=30_001,
        dealer_prefix="SDL",
        dealer_base=300_001,
        material_base=30_010,
        branch="CH",
        stock_transfer_percent=3,
        plants=(("CH01", 55), ("BL01", 42), ("CHTS", 3)),
        price_level=0.98,
    ),
}

DEFAULT_PROFILE = TenantProfile(
    key="generic",
    states=_WEST[:2] + _NORTH[:1],
    territories=12,
    customers=30,
    dealers=150,
    territory_base=9001,
    customer_code="C{n:06d}",
    customer_base=1,
    dealer_code="D{n:06d}",
    dealer_base=1,
    material_codes={"ZFGD": "M{n:06d}", "ZHAW": "M{n:06d}", "ZPKG": "M{n:06d}"},
    material_base=1,
    tsr_code="TSR{n:04d}",
    tsr_base=1,
    unknown_material="M999999",
    unknown_customer="C999999",
    primary_invoice=InvoiceNumbering("P", 0, 9),
    secondary_invoice=InvoiceNumbering("S", 0, 9),
    channels=(("GT", 80), ("MT", 20)),
)
"""Used for any tenant without its own profile (e.g. one onboarded from _template)."""


def profile_for(tenant_id: str) -> TenantProfile:
    return PROFILES.get(tenant_id, DEFAULT_PROFILE)
