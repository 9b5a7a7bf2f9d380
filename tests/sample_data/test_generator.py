"""The sample-data generator: deterministic, laid out as the mappings expect,
referentially consistent, with a few deliberate bad rows and corrections."""

from __future__ import annotations

import gzip
import io
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml

from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.config.mapping import TableMapping
from datawiz_pipelines.sample_data import BAD_AMOUNT, generate_sample_data, write_fact_csv, write_fact_file
from datawiz_pipelines.sample_data.file_layout import concrete_path
from datawiz_pipelines.sample_data.profiles import MATERIAL_GROUPS, SALES_GROUPS, profile_for
from datawiz_pipelines.settings import PROJECT_ROOT

CONFIG_DIR = PROJECT_ROOT / "tenant_configs"
TENANTS = ("tenant1", "tenant2")
FACT_ROWS = 1_200
KEYS = ["invoice_date", "invoice_no", "line_no"]


@pytest.fixture(scope="module")
def repository() -> ConfigRepository:
    return ConfigRepository(CONFIG_DIR)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict[str, list[Path]]]:
    data_dir = tmp_path_factory.mktemp("data")
    written = generate_sample_data(CONFIG_DIR, data_dir, TENANTS, fact_rows=FACT_ROWS)
    return data_dir, written


# --------------------------------------------------------------------------- reading back


def read_source(path: Path, mapping: TableMapping, *, canonical: bool = True) -> pl.DataFrame:
    """A source file read with the mapping's own reader options; values stay as written (text)."""
    name = path.name.lower()
    if name.endswith(".parquet") or mapping.source.format == "parquet":
        frame = pl.read_parquet(path)
    elif name.endswith(".xlsx") or mapping.source.format == "excel":
        options = mapping.source.excel
        frame = pl.read_excel(
            path,
            sheet_name=options.sheet if isinstance(options.sheet, str) else None,
            sheet_id=None if isinstance(options.sheet, str) else options.sheet + 1,
            has_header=options.has_header,
            read_options={"header_row": options.skip_rows},
        )
    else:
        options = mapping.source.csv
        raw = path.read_bytes()
        if name.endswith(".gz"):
            raw = gzip.decompress(raw)
        text = raw.decode(options.encoding)
        frame = pl.read_csv(
            io.BytesIO(text.encode("utf-8")),
            separator=options.separator,
            quote_char=options.quote_char,
            has_header=options.has_header,
            skip_rows=options.skip_rows,
            null_values=options.null_values,
            infer_schema=False,
        )
    if not canonical:
        return frame
    return frame.select(pl.col(spec.source).alias(target) for target, spec in mapping.columns.items())


def read_table(landing: Path, mapping: TableMapping) -> pl.DataFrame:
    paths = sorted({path for pattern in mapping.source.patterns for path in landing.glob(pattern)})
    assert paths, f"no files for {mapping.source.patterns}"
    frames = [
        read_source(path, mapping).with_columns(_file=pl.lit(str(path.relative_to(landing))))
        for path in paths
    ]
    return pl.concat(frames, how="vertical_relaxed")


def landing(data_dir: Path, tenant_id: str) -> Path:
    return data_dir / tenant_id / "source_files"


def tables(repository: ConfigRepository, data_dir: Path, tenant_id: str) -> dict[str, pl.DataFrame]:
    tenant = repository.load_tenant(tenant_id)
    return {
        name: read_table(landing(data_dir, tenant_id), mapping)
        for name, mapping in tenant.mappings.items()
        if repository.catalog[name].source == "landing"
    }


def codes(frame: pl.DataFrame, column: str) -> set[str]:
    return set(frame[column].drop_nulls().cast(pl.String).to_list())


# --------------------------------------------------------------------------- determinism


def snapshot(data_dir: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(path.relative_to(data_dir)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(data_dir.rglob("*"))
        if path.is_file()
    }


def test_same_arguments_give_identical_files(tmp_path, generated):
    data_dir, _ = generated
    again = tmp_path / "again"
    generate_sample_data(CONFIG_DIR, again, TENANTS, fact_rows=FACT_ROWS)
    first, second = snapshot(data_dir), snapshot(again)
    assert first.keys() == second.keys()
    different = [name for name in first if first[name] != second[name]]
    assert not different, f"content or mtime differs: {different}"


def test_seed_changes_the_data(tmp_path, generated):
    data_dir, _ = generated
    other = tmp_path / "other"
    generate_sample_data(CONFIG_DIR, other, ["tenant2"], fact_rows=FACT_ROWS, seed=8)
    name = "tenant2/source_files/masters/Dealer_Master.csv"
    assert (data_dir / name).read_bytes() != (other / name).read_bytes()


def test_rows_do_not_depend_on_chunking(tmp_path):
    whole = write_fact_csv(tmp_path / "whole.csv", 2_000, config_dir=CONFIG_DIR, chunk_rows=5_000)
    chunked = write_fact_csv(tmp_path / "chunked.csv", 2_000, config_dir=CONFIG_DIR, chunk_rows=333)
    zipped = write_fact_csv(tmp_path / "zipped.csv.gz", 2_000, config_dir=CONFIG_DIR, chunk_rows=333)
    assert whole.read_bytes() == chunked.read_bytes() == gzip.decompress(zipped.read_bytes())
    assert whole.read_bytes().count(b"\r\n") == 2_001  # header + rows, SAP line ends


def test_no_temporary_files_are_left(generated):
    data_dir, written = generated
    assert not [path for path in data_dir.rglob("*") if path.name.endswith(".partial")]
    assert sorted(path for paths in written.values() for path in paths) == sorted(
        path for path in data_dir.rglob("*") if path.is_file()
    )


def test_modification_times_are_fixed(generated):
    data_dir, _ = generated
    root = landing(data_dir, "tenant1")
    historical = root / "historical/secondary_sales/ZSEC_SALES_202306.csv.gz"
    incremental = root / "incremental/secondary_sales/ZSEC_SALES_20240401.csv.gz"
    master = root / "master/KNA1_CUSTOMERS.csv"
    assert historical.stat().st_mtime == 1688176800  # 2023-07-01 02:00 UTC
    assert master.stat().st_mtime == 1712167200  # 2024-04-03 18:00 UTC
    assert incremental.stat().st_mtime == 1712028600  # 2024-04-02 03:30 UTC, after every historical file


# --------------------------------------------------------------------------- layout


@pytest.mark.parametrize("tenant_id", TENANTS)
def test_every_mapping_pattern_matches_a_generated_file(repository, generated, tenant_id):
    data_dir, written = generated
    root = landing(data_dir, tenant_id)
    tenant = repository.load_tenant(tenant_id)
    matched: set[Path] = set()
    for table, mapping in tenant.mappings.items():
        if repository.catalog[table].source != "landing":
            continue
        for pattern in mapping.source.patterns:
            found = set(root.glob(pattern))
            assert found, f"{tenant_id}/{table}: pattern {pattern!r} matches no file"
            matched |= found
    assert matched == set(written[tenant_id]), "every generated file belongs to a mapping"


@pytest.mark.parametrize("tenant_id", TENANTS)
def test_facts_have_historical_and_incremental_files(repository, generated, tenant_id):
    data_dir, _ = generated
    for table in ("fact_invoice_details", "fact_invoice_secondary"):
        files = set(
            read_table(landing(data_dir, tenant_id), repository.load_tenant(tenant_id).mappings[table])[
                "_file"
            ]
        )
        assert any(name.startswith("historical/") for name in files)
        assert any(name.startswith("incremental/") for name in files)


def test_tenant1_files_look_like_sap_exports(repository, generated):
    data_dir, _ = generated
    root = landing(data_dir, "tenant1")
    customers = (root / "master/KNA1_CUSTOMERS.csv").read_bytes()
    assert "Müller".encode("latin-1") in customers
    with pytest.raises(UnicodeDecodeError):
        customers.decode("utf-8")
    secondary = gzip.decompress((root / "historical/secondary_sales/ZSEC_SALES_202310.csv.gz").read_bytes())
    header, first = secondary.decode().split("\r\n")[:2]
    assert header.split(";")[:4] == ["MANDT", "FKDAT", "BELNR", "POSNR"]
    assert first.split(";")[1].startswith("202310")  # %Y%m%d
    billing = read_source(
        root / "historical/billing/VBRP_202310.csv",
        repository.load_tenant("tenant1").mappings["fact_invoice_details"],
    )
    assert billing["net_amount"].str.contains(r"^\d{1,3}(\.\d{3})*,\d{4}$").all()  # 1.234,5678
    assert (billing["line_no"].cast(pl.Int32) % 10 == 0).all()  # SAP item numbers
    dealers = pl.read_excel(root / "master/ZSD_DEALER_MASTER.xlsx", sheet_name="Dealers")
    assert dealers["DEALER_ID"].dtype == pl.String and dealers["DEALER_ID"].str.starts_with("000").all()


def test_tenant2_files_look_like_the_other_erp(repository, generated):
    data_dir, _ = generated
    root = landing(data_dir, "tenant2")
    secondary = (root / "historical/secondary_sales/Secondary_Sales_202310.csv").read_bytes()
    assert secondary.startswith(b"\xef\xbb\xbfInvoice Date,Invoice No,Line No,")
    assert b"\r\n" not in secondary
    first = secondary.decode("utf-8-sig").splitlines()[1].split(",")
    assert first[0].endswith(".10.2023")  # %d.%m.%Y
    primary = pl.read_parquet(root / "historical/primary_sales/Primary_Sales_202310.parquet")
    assert primary.schema["Invoice Date"] == pl.Date
    assert isinstance(primary.schema["Gross Value"], pl.Decimal)
    customers = (root / "masters/Distributor_Master.csv").read_bytes().decode("utf-8-sig")
    assert '"1,' in customers or '",' in customers  # thousands separators force quoting
    materials = read_source(
        root / "masters/Material_Master.xlsx", repository.load_tenant("tenant2").mappings["dim_material"]
    )
    assert (
        materials.height
        == len(pl.read_excel(root / "masters/Material_Master.xlsx", sheet_name="Materials")) - 2
    )
    assert materials["mrp"].dtype.is_numeric()


def test_concrete_path_matches_its_pattern(tmp_path):
    for pattern, kind in [
        ("historical/secondary_sales/ZSEC_SALES_*.csv.gz", "csv"),
        ("incoming/*/sales_*.csv", "csv"),
        ("exports/**/*", "parquet"),
        ("master/KNA1_CUSTOMERS.csv", "csv"),
        ("masters/Material_??.xlsx", "excel"),
    ]:
        path = tmp_path / concrete_path(pattern, "202403", kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        assert path in set(tmp_path.glob(pattern)), pattern


# --------------------------------------------------------------------------- consistency


@pytest.mark.parametrize("tenant_id", TENANTS)
def test_dimensions_reference_each_other(repository, generated, tenant_id):
    data_dir, _ = generated
    t = tables(repository, data_dir, tenant_id)
    territories = codes(t["dim_hierarchy"], "wss_territory_code")
    customers = codes(t["dim_customer_master"], "customer_code")
    assert t["dim_hierarchy"]["wss_territory_code"].is_unique().all()
    assert t["dim_customer_master"]["customer_code"].is_unique().all()
    assert t["dim_dealer_master"]["dealer_code"].is_unique().all()
    assert t["dim_material"]["material_code"].is_unique().all()
    assert codes(t["dim_customer_master"], "wss_territory_code") <= territories
    assert codes(t["dim_dealer_master"], "customer_code") <= customers
    assert codes(t["dim_dealer_master"], "wss_territory_code") <= territories
    # a dealer sits in its distributor's territory
    dealers = t["dim_dealer_master"].join(
        t["dim_customer_master"].select("customer_code", territory="wss_territory_code"), on="customer_code"
    )
    assert (dealers["wss_territory_code"] == dealers["territory"]).all()
    assert codes(t["dim_material"], "sales_group_code") <= codes(t["dim_sales_group"], "sales_group_code")
    assert codes(t["dim_material_mapping"], "material_code") == codes(t["dim_material"], "material_code")
    assert codes(t["dim_material_mapping"], "mapped_material_code") <= codes(
        t["dim_material"], "material_code"
    )
    assert {"ZFGD", "ZHAW", "ZPKG"} == codes(t["dim_material"], "material_type")


@pytest.mark.parametrize("tenant_id", TENANTS)
def test_facts_reference_existing_master_data(repository, generated, tenant_id):
    data_dir, _ = generated
    t = tables(repository, data_dir, tenant_id)
    profile = profile_for(tenant_id)
    materials = codes(t["dim_material"], "material_code")
    customers = codes(t["dim_customer_master"], "customer_code")
    dealers = codes(t["dim_dealer_master"], "dealer_code")
    territories = codes(t["dim_hierarchy"], "wss_territory_code")
    secondary, primary = t["fact_invoice_secondary"], t["fact_invoice_details"]
    # the only strangers are the deliberately bad rows
    assert codes(secondary, "material_code") - materials == {profile.unknown_material}
    assert codes(secondary, "customer_code") <= customers
    assert codes(secondary, "dealer_code") <= dealers
    assert codes(secondary, "wss_territory_code") <= territories
    assert codes(primary, "material_code") - materials <= {profile.unknown_material}
    assert codes(primary, "customer_code") - customers <= {profile.unknown_customer}
    # a secondary line's distributor, dealer and territory agree with the dealer master
    joined = secondary.drop_nulls("dealer_code").join(
        t["dim_dealer_master"].select(
            "dealer_code", dealer_customer="customer_code", dealer_territory="wss_territory_code"
        ),
        on="dealer_code",
    )
    assert (joined["customer_code"] == joined["dealer_customer"]).all()
    assert (joined["wss_territory_code"] == joined["dealer_territory"]).all()
    # a line's material type is the material's
    typed = secondary.join(
        t["dim_material"].select("material_code", master_type="material_type"), on="material_code"
    )
    assert (typed["material_type"] == typed["master_type"]).all()


@pytest.mark.parametrize("tenant_id", TENANTS)
def test_seeds_agree_with_the_generated_master_data(repository, generated, tenant_id):
    data_dir, _ = generated
    tenant = repository.load_tenant(tenant_id)
    t = tables(repository, data_dir, tenant_id)
    sales_groups = read_table(tenant.seeds_dir, tenant.mappings["ref_sales_group"])
    material_groups = read_table(tenant.seeds_dir, tenant.mappings["ref_material_mapping"])
    assert codes(sales_groups, "sales_group_code") == codes(t["dim_sales_group"], "sales_group_code")
    assert codes(sales_groups, "sales_group_code") == {code for code, _, _ in SALES_GROUPS}
    assert codes(material_groups, "material_group") == set(MATERIAL_GROUPS)
    assert codes(t["dim_material"], "material_group") <= codes(material_groups, "material_group")


def test_values_fit_the_rules(repository, generated):
    data_dir, _ = generated
    for tenant_id in TENANTS:
        tenant = repository.load_tenant(tenant_id)
        t = tables(repository, data_dir, tenant_id)
        for table, mapping in tenant.mappings.items():
            if table not in t:
                continue
            for rule in mapping.validations:
                if rule.rule == "accepted_values":
                    values = codes(t[table], rule.column)
                    assert values <= {str(v) for v in rule.values}, (
                        f"{tenant_id}.{table}.{rule.column}: {values}"
                    )
        widths = {
            c.name: c.type.length
            for c in repository.catalog["fact_invoice_secondary"].columns
            if c.type.length
        }
        for column, width in widths.items():
            lengths = t["fact_invoice_secondary"][column].cast(pl.String).str.len_chars().max()
            assert lengths is None or lengths <= width, f"{tenant_id}: {column} wider than VARCHAR({width})"


# --------------------------------------------------------------------------- bad rows and corrections


def test_deliberately_bad_rows_exist_and_pass_the_filters(repository, generated):
    data_dir, _ = generated
    t1 = tables(repository, data_dir, "tenant1")
    t2 = tables(repository, data_dir, "tenant2")
    p1, p2 = profile_for("tenant1"), profile_for("tenant2")

    secondary = t1["fact_invoice_secondary"]
    bad = secondary.filter(
        (pl.col("net_amount") == BAD_AMOUNT)
        | (pl.col("material_code") == p1.unknown_material)
        | pl.col("dealer_code").is_null()
    )
    assert bad.height == 3
    assert (secondary["net_amount"] == BAD_AMOUNT).sum() == 1
    # the rules must reject them, so the filters must keep them
    assert (bad["invoice_date"] >= "20230401").all() and (bad["material_type"] == "ZFGD").all()

    primary = t1["fact_invoice_details"]
    assert (primary["invoice_date"] == "20240231").sum() == 1  # 31 February
    assert (primary["customer_code"] == p1.unknown_customer).sum() == 1

    secondary2 = t2["fact_invoice_secondary"]
    assert (secondary2["net_amount"] == BAD_AMOUNT).sum() == 1
    assert (secondary2["material_code"] == p2.unknown_material).sum() == 1
    assert secondary2["dealer_code"].null_count() == 1  # written as NULL, a null_values token
    primary2 = t2["fact_invoice_details"]  # typed parquet: no text errors possible
    assert (primary2["material_code"] == p2.unknown_material).sum() == 1
    assert primary2["customer_code"].null_count() == 1
    assert (primary2.filter(pl.col("customer_code").is_null())["plant_code"] != "DLTS").all()

    for frame in (secondary, primary, secondary2, primary2):
        assert 0 < 3 / frame.height < 0.02  # well under the 5% (tenant2: 2%) reject limit


@pytest.mark.parametrize("tenant_id", TENANTS)
def test_incremental_files_correct_some_historical_lines(repository, generated, tenant_id):
    data_dir, _ = generated
    t = tables(repository, data_dir, tenant_id)
    for table in ("fact_invoice_secondary", "fact_invoice_details"):
        frame = t[table].with_columns(pl.col(KEYS).cast(pl.String))
        amount = "net_amount" if "net_amount" in frame.columns else "gross_amount"
        historical = frame.filter(pl.col("_file").str.starts_with("historical/"))
        incremental = frame.filter(pl.col("_file").str.starts_with("incremental/"))
        assert historical.select(KEYS).is_unique().all()
        assert incremental.select(KEYS).is_unique().all()
        both = historical.join(incremental, on=KEYS, suffix="_new")
        assert both.height >= 3, f"{table}: no corrections"
        assert (both[amount].cast(pl.String) != both[f"{amount}_new"].cast(pl.String)).all()
        assert incremental.height > both.height  # plus genuinely new lines


# --------------------------------------------------------------------------- big files and other tenants


def test_write_fact_file_rows_and_bad_rows(tmp_path):
    path = write_fact_csv(tmp_path / "ZSEC_SALES_BENCH.csv.gz", 5_000, config_dir=CONFIG_DIR, bad_rows=3)
    text = gzip.decompress(path.read_bytes()).decode()
    lines = text.split("\r\n")
    assert len(lines) == 5_002 and lines[-1] == ""
    assert text.count(f";{BAD_AMOUNT};") == 1
    assert path.stat().st_mtime == 1711933200  # 2024-04-01 01:00 UTC

    parquet = write_fact_file(
        tmp_path / "Primary_Sales_BENCH.parquet",
        4_000,
        table="fact_invoice_details",
        tenant_id="tenant2",
        config_dir=CONFIG_DIR,
    )
    frame = pl.read_parquet(parquet)
    assert frame.height == 4_000 and frame["Distributor Code"].null_count() == 0
    with pytest.raises(ValueError, match=r"\.csv"):
        write_fact_csv(tmp_path / "x.parquet", 10, config_dir=CONFIG_DIR)
    with pytest.raises(ValueError, match="reads csv files, not parquet"):
        write_fact_file(tmp_path / "x.parquet", 10, config_dir=CONFIG_DIR)
    assert not list(tmp_path.glob("*x.parquet*"))


def test_big_file_keys_are_apart_from_the_sample(repository, generated, tmp_path):
    data_dir, _ = generated
    mapping = repository.load_tenant("tenant1").mappings["fact_invoice_secondary"]
    sample = read_table(landing(data_dir, "tenant1"), mapping)
    big = read_source(write_fact_csv(tmp_path / "big.csv", 3_000, config_dir=CONFIG_DIR), mapping)
    assert not set(big["invoice_no"]) & set(sample["invoice_no"])
    assert set(big["material_code"]) <= codes(sample, "material_code") | codes(
        read_table(landing(data_dir, "tenant1"), repository.load_tenant("tenant1").mappings["dim_material"]),
        "material_code",
    )


def test_a_tenant_onboarded_from_the_template_gets_data(tmp_path):
    config = tmp_path / "tenant_configs"
    shutil.copytree(CONFIG_DIR, config, ignore=shutil.ignore_patterns(".env"))
    shutil.copytree(config / "tenants" / "_template", config / "tenants" / "tenant_new")
    registry = yaml.safe_load((config / "registry.yaml").read_text())
    registry["tenants"].append(
        {
            "tenant_id": "tenant_new",
            "tenant_name": "New",
            "database_name": "datawiz_tenant_new",
            "database_user": "tenant_new_admin",
        }
    )
    (config / "registry.yaml").write_text(yaml.safe_dump(registry))
    written = generate_sample_data(config, tmp_path / "data", ["tenant_new"], fact_rows=300)["tenant_new"]
    root = landing(tmp_path / "data", "tenant_new")
    tenant = ConfigRepository(config).load_tenant("tenant_new")
    for table, mapping in tenant.mappings.items():
        if table.startswith("ref_"):
            continue
        frame = read_table(root, mapping)
        assert frame.height > 0, table
    assert root / "historical/fact_invoice_secondary/202403.csv" in written


def test_a_failed_write_leaves_neither_the_file_nor_its_temporary(tmp_path, monkeypatch):
    from datawiz_pipelines.sample_data.facts import FactGenerator

    real_rows = FactGenerator.rows
    calls = []

    def failing_rows(self, start, stop, segment):
        calls.append(start)
        if len(calls) > 1:
            raise RuntimeError("disk full")
        return real_rows(self, start, stop, segment)

    target = tmp_path / "big.csv.gz"
    target.write_bytes(b"previous content")
    monkeypatch.setattr(FactGenerator, "rows", failing_rows)
    with pytest.raises(RuntimeError, match="disk full"):
        write_fact_csv(target, 1_000, config_dir=CONFIG_DIR, chunk_rows=300)
    assert target.read_bytes() == b"previous content"  # replaced only by a complete file
    assert [path.name for path in tmp_path.iterdir()] == ["big.csv.gz"]
