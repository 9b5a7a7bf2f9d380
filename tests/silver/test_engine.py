"""The silver transform as a tenant relies on it: typed rows, quarantined rejects with reasons."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.config.mapping import TableMapping
from datawiz_pipelines.config.tenant import BusinessRules
from datawiz_pipelines.lineage import (
    LOAD_ID,
    REJECT_REASON,
    REJECTED_RULE,
    ROW_NUMBER,
    SOURCE_FILE,
    SOURCE_MODIFIED,
)
from datawiz_pipelines.silver.engine import TransformResult, raise_for_fatal_rejections, transform
from datawiz_pipelines.silver.errors import TransformError

JAN, FEB = dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 1)

SALES = CatalogTable.model_validate(
    {
        "name": "sales",
        "description": "Invoice lines.",
        "kind": "fact",
        "load_mode": "incremental",
        "keys": ["invoice_no", "line_no"],
        "references": [{"column": "customer_code", "table": "customers", "to_column": "customer_code"}],
        "columns": [
            {"name": "invoice_no", "type": "VARCHAR(10)", "nullable": False},
            {"name": "line_no", "type": "INT", "nullable": False},
            {"name": "invoice_date", "type": "DATE"},
            {"name": "customer_code", "type": "VARCHAR(10)"},
            {"name": "material_type", "type": "VARCHAR(8)"},
            {"name": "net_amount", "type": "DECIMAL(18,2)"},
            {"name": "tax_amount", "type": "DECIMAL(18,2)"},
            {"name": "total_amount", "type": "DECIMAL(18,2)"},
            {"name": "is_return", "type": "BOOLEAN"},
        ],
    }
)
COLUMNS = {
    "invoice_no": "InvNo",
    "line_no": "Pos",
    "invoice_date": {"source": "Date", "format": "%Y%m%d"},
    "net_amount": "NetAmt",
}


def bronze(file: str = "sales.csv", modified: dt.datetime = JAN, **columns: list) -> pl.LazyFrame:
    """A bronze frame: the source columns as given, plus the lineage bronze adds."""
    rows = len(next(iter(columns.values())))
    return pl.LazyFrame(
        {
            **columns,
            ROW_NUMBER: list(range(1, rows + 1)),
            SOURCE_FILE: [file] * rows,
            SOURCE_MODIFIED: [modified] * rows,
            LOAD_ID: ["run-1"] * rows,
        }
    )


def sales(**columns: list) -> pl.LazyFrame:
    """Bronze sales lines with sensible defaults for the columns not given."""
    rows = len(next(iter(columns.values())))
    defaults = {"InvNo": [f"I{i}" for i in range(rows)], "Pos": ["10"] * rows, "Date": ["20240105"] * rows}
    return bronze(**{**defaults, "NetAmt": ["1.00"] * rows, **columns})


def mapping(**fields: object) -> TableMapping:
    return TableMapping.model_validate({"source": {"pattern": "*.csv"}, "columns": COLUMNS, **fields})


def run(
    raw: pl.LazyFrame, table_mapping: TableMapping, **options: object
) -> tuple[pl.DataFrame, pl.DataFrame]:
    result = transform_sales(raw, table_mapping, **options)
    rows, rejected = pl.collect_all([result.rows, result.rejected])
    return rows, rejected


def transform_sales(raw: pl.LazyFrame, table_mapping: TableMapping, **options: object) -> TransformResult:
    options.setdefault("business_rules", BusinessRules())
    return transform(raw, tenant_id="tenant1", table=SALES, mapping=table_mapping, **options)


def reasons(rejected: pl.DataFrame) -> dict[int, tuple[str, str]]:
    """Row number -> (rule, reason) of each rejected row."""
    return {
        row: (rule, reason)
        for row, rule, reason in rejected.select(ROW_NUMBER, REJECTED_RULE, REJECT_REASON).iter_rows()
    }


class TestOutputShape:
    def test_rows_have_the_catalog_columns_typed_then_lineage(self):
        rows, _ = run(sales(NetAmt=["12.50"]), mapping())
        assert rows.schema == pl.Schema(
            {
                **{column.name: column.type.polars for column in SALES.columns},
                SOURCE_FILE: pl.String(),
                SOURCE_MODIFIED: pl.Datetime("us"),
                LOAD_ID: pl.String(),
            }
        )
        assert rows.row(0, named=True) | {"total_amount": "unmapped"} == {
            "invoice_no": "I0",
            "line_no": 10,
            "invoice_date": dt.date(2024, 1, 5),
            "customer_code": None,
            "material_type": None,
            "net_amount": Decimal("12.50"),
            "tax_amount": None,
            "total_amount": "unmapped",
            "is_return": None,
            SOURCE_FILE: "sales.csv",
            SOURCE_MODIFIED: JAN,
            LOAD_ID: "run-1",
        }

    def test_rejected_keeps_every_source_column_as_text_with_file_and_row(self):
        raw = sales(NetAmt=["abc"], Unmapped=[7])
        _, rejected = run(raw, mapping())
        sources = ["InvNo", "Pos", "Date", "NetAmt", "Unmapped"]
        assert rejected.columns == [*sources, SOURCE_FILE, ROW_NUMBER, REJECTED_RULE, REJECT_REASON]
        assert rejected.row(0)[:7] == ("I0", "10", "20240105", "abc", "7", "sales.csv", 1)

    def test_a_source_named_like_a_target_is_no_conflict(self):
        table_mapping = mapping(columns={"invoice_no": "line_no", "line_no": "invoice_no"})
        rows, _ = run(bronze(line_no=["A7"], invoice_no=["3"]), table_mapping)
        assert rows.select("invoice_no", "line_no").row(0) == ("A7", 3)

    def test_column_lineage_follows_computed_columns_back_to_sources(self):
        table_mapping = mapping(
            columns={**COLUMNS, "tax_amount": "Tax"},
            computed=[{"name": "total_amount", "expr": "net_amount + coalesce(tax_amount, 0)"}],
        )
        result = transform_sales(sales(Tax=["1"]), table_mapping)
        assert result.column_lineage == {
            "invoice_no": ["InvNo"],
            "line_no": ["Pos"],
            "invoice_date": ["Date"],
            "net_amount": ["NetAmt"],
            "tax_amount": ["Tax"],
            "total_amount": ["NetAmt", "Tax"],
        }

    def test_parquet_sources_keep_their_native_types(self):
        raw = bronze(
            InvNo=["I1"],
            Pos=[10],
            Date=[dt.date(2024, 1, 5)],
            NetAmt=pl.Series([Decimal("1.2350")], dtype=pl.Decimal(18, 4)),
        )
        rows, _ = run(raw, mapping())
        assert rows.select("line_no", "invoice_date", "net_amount").row(0) == (
            10,
            dt.date(2024, 1, 5),
            Decimal("1.24"),
        )


class TestCastFailures:
    def test_bad_value_is_rejected_naming_column_source_and_value(self):
        rows, rejected = run(sales(NetAmt=["1.00", "abc"]), mapping())
        assert rows["invoice_no"].to_list() == ["I0"]
        assert reasons(rejected) == {
            2: ("cast", "column net_amount (source 'NetAmt'): cannot parse 'abc' as DECIMAL(18,2)")
        }

    def test_varchar_overflow_is_a_cast_failure(self):
        _, rejected = run(sales(InvNo=["I1", "INVOICE-0000001"]), mapping())
        assert reasons(rejected) == {
            2: (
                "cast",
                "column invoice_no (source 'InvNo'): 'INVOICE-0000001' exceeds VARCHAR(10) (15 bytes)",
            )
        }

    def test_dates_decimal_comma_rounding_and_booleans_together(self):
        table_mapping = mapping(
            columns={
                **COLUMNS,
                "invoice_date": {"source": "Date", "format": "%d.%m.%Y"},
                "net_amount": {"source": "NetAmt", "decimal_comma": True, "round": 1},
                "is_return": {"source": "Ret", "true_values": ["R"], "false_values": ["-"]},
            }
        )
        raw = sales(Date=["01.04.2023", "31.04.2023"], NetAmt=["1.234,45", "2,00"], Ret=["r", "-"])
        rows, rejected = run(raw, table_mapping)
        assert rows.select("invoice_date", "net_amount", "is_return").rows() == [
            (dt.date(2023, 4, 1), Decimal("1234.50"), True)
        ]
        assert reasons(rejected)[2] == (
            "cast",
            "column invoice_date (source 'Date'): cannot parse '31.04.2023' as DATE",
        )

    def test_on_cast_error_fail_raises_naming_file_row_column_source_and_value(self):
        table_mapping = mapping(on_cast_error="fail")
        result = transform_sales(sales(NetAmt=["1", "abc", "2", "x9"]), table_mapping)
        with pytest.raises(TransformError) as raised:
            raise_for_fatal_rejections(
                result.rejected, tenant_id="tenant1", table=SALES, mapping=table_mapping, limit=1
            )
        message = str(raised.value)
        assert message.startswith("tenant tenant1, table sales: 2 row(s) have values that cannot be cast")
        assert (
            "file sales.csv, row 2: column net_amount (source 'NetAmt'): cannot parse 'abc' as DECIMAL(18,2)"
            in message
        )
        assert "x9" not in message  # limit=1

    def test_on_cast_error_reject_or_clean_data_never_raises(self):
        bad = transform_sales(sales(NetAmt=["abc"]), mapping())
        raise_for_fatal_rejections(bad.rejected, tenant_id="tenant1", table=SALES, mapping=mapping())
        clean = transform_sales(sales(NetAmt=["1"]), mapping(on_cast_error="fail"))
        raise_for_fatal_rejections(
            clean.rejected, tenant_id="tenant1", table=SALES, mapping=mapping(on_cast_error="fail")
        )


class TestComputedAndFilters:
    def test_computed_column_is_cast_to_its_catalog_type(self):
        table_mapping = mapping(
            columns={**COLUMNS, "tax_amount": "Tax"},
            computed=[{"name": "total_amount", "expr": "net_amount * 1.005 + coalesce(tax_amount, 0)"}],
        )
        rows, _ = run(sales(NetAmt=["1.00", "10.00"], Tax=[None, "0.10"]), table_mapping)
        assert rows["total_amount"].to_list() == [Decimal("1.01"), Decimal("10.15")]

    def test_computed_value_that_does_not_fit_is_rejected(self):
        table_mapping = mapping(
            computed=[{"name": "material_type", "expr": "concat(invoice_no, '-LONG-SUFFIX')"}]
        )
        _, rejected = run(sales(NetAmt=["1"]), table_mapping)
        assert reasons(rejected)[1] == (
            "cast",
            "computed column material_type: 'I0-LONG-SUFFIX' exceeds VARCHAR(8) (14 bytes)",
        )

    def test_computed_column_over_an_unknown_column_is_refused(self):
        table_mapping = mapping(computed=[{"name": "total_amount", "expr": "net_amount + gst"}])
        with pytest.raises(TransformError, match=r"computed column total_amount: .*unknown column.*gst"):
            transform_sales(sales(NetAmt=["1"]), table_mapping)

    def test_business_rule_filters_drop_rows_without_rejecting_them(self):
        table_mapping = mapping(
            columns={**COLUMNS, "material_type": "Type"},
            filters=["invoice_date >= ${date_filter_start}", "material_type IN ${material_type_filter}"],
        )
        rules = BusinessRules(date_filter_start=dt.date(2023, 4, 1), material_type_filter=["ZFGD"])
        raw = sales(
            Date=["20230331", "20230401", "20230402", "20230403"], Type=["ZFGD", "ZFGD", "ZPKG", None]
        )
        rows, rejected = run(raw, table_mapping, business_rules=rules)
        assert rows["invoice_no"].to_list() == ["I1"]
        assert rejected.is_empty()

    def test_a_row_the_filter_cannot_judge_because_it_is_invalid_is_rejected_not_dropped(self):
        table_mapping = mapping(filters=["invoice_date >= ${date_filter_start}"])
        rules = BusinessRules(date_filter_start=dt.date(2023, 4, 1))
        _, rejected = run(sales(Date=["2023-13-01", "20230101"]), table_mapping, business_rules=rules)
        assert list(reasons(rejected)) == [1]

    def test_an_injection_attempt_in_a_business_rule_stays_a_literal(self):
        table_mapping = mapping(
            columns={**COLUMNS, "material_type": "Type"}, filters=["material_type IN ${material_type_filter}"]
        )
        rules = BusinessRules(material_type_filter=["X') OR TRUE OR ('"])
        rows, _ = run(sales(Type=["ZFGD"]), table_mapping, business_rules=rules)
        assert rows.is_empty()


def customer_relationship() -> TableMapping:
    """Sales whose customer_code (source column Cust) must be a customer_code of the customers table."""
    return mapping(
        columns={**COLUMNS, "customer_code": "Cust"},
        validations=[
            {
                "rule": "relationship",
                "column": "customer_code",
                "to_table": "customers",
                "to_column": "customer_code",
            }
        ],
    )


class TestRowRules:
    def test_null_key_is_always_rejected(self):
        _, rejected = run(sales(InvNo=["I1", "  "]), mapping())
        assert reasons(rejected) == {2: ("not_null", "column invoice_no (source 'InvNo') is null")}

    def test_not_null_rule(self):
        table_mapping = mapping(validations=[{"rule": "not_null", "columns": ["net_amount"]}])
        _, rejected = run(sales(NetAmt=["1", None]), table_mapping)
        assert reasons(rejected) == {2: ("not_null", "column net_amount (source 'NetAmt') is null")}

    def test_a_cast_failure_is_not_reported_again_as_null(self):
        table_mapping = mapping(validations=[{"rule": "not_null", "columns": ["net_amount"]}])
        _, rejected = run(sales(NetAmt=["abc"]), table_mapping)
        assert (
            reasons(rejected)[1][1]
            == "column net_amount (source 'NetAmt'): cannot parse 'abc' as DECIMAL(18,2)"
        )

    def test_accepted_values(self):
        table_mapping = mapping(
            columns={**COLUMNS, "material_type": "Type"},
            validations=[{"rule": "accepted_values", "column": "material_type", "values": ["ZFGD", "ZHAW"]}],
        )
        _, rejected = run(sales(Type=["ZFGD", "zfgd", None]), table_mapping)
        assert reasons(rejected) == {
            2: ("accepted_values", "column material_type: 'zfgd' is not one of 'ZFGD', 'ZHAW'")
        }

    def test_range_on_numbers_and_iso_dates(self):
        table_mapping = mapping(
            validations=[
                {"rule": "range", "column": "net_amount", "min": 0, "max": 100},
                {"rule": "range", "column": "invoice_date", "min": "2020-01-01"},
            ]
        )
        raw = sales(NetAmt=["-1", "100", "100.01"], Date=["20240101", "20191231", "20240101"])
        _, rejected = run(raw, table_mapping)
        assert reasons(rejected) == {
            1: ("range", "column net_amount: '-1.00' is below the minimum 0"),
            2: ("range", "column invoice_date: '2019-12-31' is below the minimum 2020-01-01"),
            3: ("range", "column net_amount: '100.01' is above the maximum 100"),
        }

    def test_expression_rule_rejects_only_false_rows(self):
        table_mapping = mapping(
            columns={**COLUMNS, "tax_amount": "Tax"},
            validations=[{"rule": "expression", "name": "tax_below_net", "expr": "tax_amount <= net_amount"}],
        )
        _, rejected = run(sales(NetAmt=["10", "10", "10"], Tax=["1", "11", None]), table_mapping)
        assert reasons(rejected) == {
            2: ("expression:tax_below_net", "expression tax_below_net is false: tax_amount <= net_amount")
        }

    def test_relationship_against_a_reference_frame(self):
        customers = pl.LazyFrame({"customer_code": ["C1", "C2", "C2", None]})
        rows, rejected = run(
            sales(Cust=["C1", "C9", None, "C2"]), customer_relationship(), references={"customers": customers}
        )
        assert rows["customer_code"].to_list() == ["C1", None, "C2"]
        assert reasons(rejected) == {
            2: ("relationship", "column customer_code: 'C9' is not in customers.customer_code")
        }

    def test_relationship_without_its_reference_frame_is_refused(self):
        with pytest.raises(TransformError, match="needs the reference table customers"):
            transform_sales(sales(Cust=["C1"]), customer_relationship())

    def test_a_row_failing_several_rules_is_rejected_once_with_every_reason(self):
        table_mapping = mapping(
            columns={**COLUMNS, "material_type": "Type"},
            validations=[
                {"rule": "accepted_values", "column": "material_type", "values": ["ZFGD"]},
                {"rule": "range", "column": "net_amount", "min": 0},
            ],
        )
        _, rejected = run(sales(Date=["bad"], Type=["ZPKG"], NetAmt=["-5"]), table_mapping)
        assert reasons(rejected) == {
            1: (
                "cast",
                "column invoice_date (source 'Date'): cannot parse 'bad' as DATE; "
                "column material_type: 'ZPKG' is not one of 'ZFGD'; "
                "column net_amount: '-5.00' is below the minimum 0",
            )
        }

    def test_check_rules_do_not_reject(self):
        table_mapping = mapping(
            validations=[{"rule": "range", "column": "net_amount", "min": 0, "on_fail": "check"}]
        )
        rows, rejected = run(sales(NetAmt=["-5"]), table_mapping)
        assert (rows.height, rejected.height) == (1, 0)

    def test_a_broken_check_rule_fails_before_any_data_is_read(self):
        table_mapping = mapping(
            validations=[{"rule": "expression", "name": "x", "expr": "nope > 0", "on_fail": "check"}]
        )
        with pytest.raises(TransformError, match=r"validations\.0 .*unknown column.*nope"):
            transform_sales(sales(NetAmt=["1"]), table_mapping)


class TestDuplicateKeys:
    def test_keep_latest_keeps_the_newest_file_version(self):
        old = sales(InvNo=["I1", "I2"], NetAmt=["1", "2"])
        new = bronze(
            file="sales_feb.csv", modified=FEB, InvNo=["I1"], Pos=["10"], Date=["20240105"], NetAmt=["9"]
        )
        rows, rejected = run(pl.concat([new, old]), mapping())
        assert sorted(rows.select("invoice_no", "net_amount").rows()) == [
            ("I1", Decimal("9.00")),
            ("I2", Decimal("2.00")),
        ]
        assert rejected.select(SOURCE_FILE, ROW_NUMBER, REJECTED_RULE, REJECT_REASON).rows() == [
            (
                "sales.csv",
                1,
                "superseded",
                "duplicate key (invoice_no=I1, line_no=10): a later row replaces it, file sales_feb.csv row 1",
            )
        ]

    def test_keep_latest_breaks_ties_by_file_then_row(self):
        rows, rejected = run(sales(InvNo=["I1", "I1"], NetAmt=["1", "2"]), mapping())
        assert rows["net_amount"].to_list() == [Decimal("2.00")]
        assert rejected[ROW_NUMBER].to_list() == [1]

    def test_an_invalid_row_never_displaces_a_valid_one(self):
        old = sales(InvNo=["I1"], NetAmt=["1"])
        new = bronze(
            file="sales_feb.csv", modified=FEB, InvNo=["I1"], Pos=["10"], Date=["20240105"], NetAmt=["bad"]
        )
        rows, rejected = run(pl.concat([old, new]), mapping())
        assert rows["net_amount"].to_list() == [Decimal("1.00")]
        assert rejected[REJECTED_RULE].to_list() == ["cast"]

    def test_fail_policy_keeps_duplicates_for_the_unique_key_check(self):
        rows, rejected = run(sales(InvNo=["I1", "I1"]), mapping(on_duplicate_key="fail"))
        assert (rows.height, rejected.height) == (2, 0)


def test_missing_source_column_names_tenant_table_missing_and_available():
    with pytest.raises(TransformError) as raised:
        transform_sales(sales(NetAmount=["1"]).drop("NetAmt"), mapping())
    assert str(raised.value) == (
        "tenant tenant1, table sales: source column(s) 'NetAmt' not found in the file; "
        "available: 'InvNo', 'Pos', 'Date', 'NetAmount'"
    )


def test_both_outputs_sink_in_one_collect_all(tmp_path: Path):
    raw_file = tmp_path / "bronze.parquet"
    sales(NetAmt=["1", "abc", "3"]).sink_parquet(raw_file)
    result = transform_sales(pl.scan_parquet(raw_file), mapping())
    pl.collect_all(
        [
            result.rows.sink_parquet(tmp_path / "rows.parquet", lazy=True),
            result.rejected.sink_parquet(tmp_path / "rejected.parquet", lazy=True),
        ]
    )
    assert pl.read_parquet(tmp_path / "rows.parquet")["net_amount"].to_list() == [
        Decimal("1.00"),
        Decimal("3.00"),
    ]
    assert pl.read_parquet(tmp_path / "rejected.parquet")[ROW_NUMBER].to_list() == [2]
