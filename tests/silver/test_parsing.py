"""How one source value becomes a canonical value, or a cast failure (null)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from datawiz_pipelines.config.column_types import ColumnType
from datawiz_pipelines.config.mapping import ColumnMapping
from datawiz_pipelines.silver.parsing import clean, failure_reason, parse


def parsed(values: list, type_text: str, dtype: pl.DataType | None = None, **spec: object) -> list:
    """Each value as the engine parses it: cleaned per the column's mapping, then cast."""
    mapping = ColumnMapping(source="src", **spec)
    frame = pl.LazyFrame({"v": pl.Series(values, dtype=dtype)})
    source_type = frame.collect_schema()["v"]
    value = clean(pl.col("v"), source_type, mapping)
    return (
        frame.select(parse(value, source_type, ColumnType.parse(type_text), mapping))
        .collect()
        .to_series()
        .to_list()
    )


def reason(value: object, type_text: str) -> str:
    target = ColumnType.parse(type_text)
    return pl.select(failure_reason("column c (source 'C')", pl.lit(value), target)).item()


class TestDates:
    def test_compact_sap_dates(self):
        assert parsed(["20230401", "20231301", "01.04.2023"], "DATE", format="%Y%m%d") == [
            dt.date(2023, 4, 1),
            None,
            None,
        ]

    def test_dotted_european_dates(self):
        assert parsed(["01.04.2023", "2023-04-01"], "DATE", format="%d.%m.%Y") == [dt.date(2023, 4, 1), None]

    def test_no_format_reads_iso_dates_and_excel_style_timestamps(self):
        assert parsed(["2023-04-01", "2023-04-01 00:00:00", "1/4/2023"], "DATE") == [
            dt.date(2023, 4, 1),
            dt.date(2023, 4, 1),
            None,
        ]

    def test_datetime_with_format_and_iso(self):
        assert parsed(["20230401101112"], "DATETIME", format="%Y%m%d%H%M%S") == [
            dt.datetime(2023, 4, 1, 10, 11, 12)
        ]
        assert parsed(["2023-04-01T10:11:12.5", "2023-04-01"], "DATETIME") == [
            dt.datetime(2023, 4, 1, 10, 11, 12, 500000),
            dt.datetime(2023, 4, 1),
        ]

    def test_offsets_are_stored_as_naive_utc(self):
        values = ["2023-04-01T10:00:00+05:30"]
        assert parsed(values, "DATETIME", format="%Y-%m-%dT%H:%M:%S%z") == [dt.datetime(2023, 4, 1, 4, 30)]

    def test_native_parquet_dates_and_timestamps(self):
        assert parsed([dt.datetime(2023, 4, 1, 23, 59)], "DATE") == [dt.date(2023, 4, 1)]
        kolkata = dt.datetime(2023, 4, 1, 5, 30, tzinfo=ZoneInfo("Asia/Kolkata"))
        assert parsed([kolkata], "DATETIME") == [dt.datetime(2023, 4, 1)]

    def test_integer_dates_from_parquet_use_the_format(self):
        assert parsed([20230401], "DATE", format="%Y%m%d") == [dt.date(2023, 4, 1)]


class TestNumbers:
    def test_decimal_comma_with_dot_thousands(self):
        values = ["1.234,56", "1234,5", "12.345.678,9", "-0,5"]
        assert parsed(values, "DECIMAL(18,2)", decimal_comma=True) == [
            Decimal("1234.56"),
            Decimal("1234.50"),
            Decimal("12345678.90"),
            Decimal("-0.50"),
        ]

    def test_a_dot_that_cannot_be_grouping_is_a_failure_not_a_factor_of_ten(self):
        assert parsed(["1.5", "1,2,3"], "DECIMAL(18,2)", decimal_comma=True) == [None, None]

    def test_thousands_separator_accepts_western_and_indian_grouping(self):
        values = ["1,250,000.00", "12,34,567.5", "1,5"]
        assert parsed(values, "DECIMAL(18,2)", thousands_separator=",") == [
            Decimal("1250000.00"),
            Decimal("1234567.50"),
            None,
        ]

    def test_decimals_round_half_away_from_zero(self):
        assert parsed(["1.005", "-1.005", "2.675", "0.125"], "DECIMAL(18,2)") == [
            Decimal("1.01"),
            Decimal("-1.01"),
            Decimal("2.68"),
            Decimal("0.13"),
        ]

    def test_floats_round_as_written_not_as_their_binary_value(self):
        assert parsed([1.005, 2.675], "DECIMAL(18,2)") == [Decimal("1.01"), Decimal("2.68")]

    def test_round_option_rounds_below_the_scale(self):
        assert parsed(["1.25", "1.24"], "DECIMAL(18,2)", round=1) == [Decimal("1.30"), Decimal("1.20")]

    def test_native_decimals_are_rescaled_exactly(self):
        assert parsed([Decimal("10.1250")], "DECIMAL(18,2)", dtype=pl.Decimal(18, 4)) == [Decimal("10.13")]

    def test_value_beyond_precision_is_a_failure(self):
        assert parsed(["9999999999999999.99", "99999999999999999"], "DECIMAL(18,2)") == [
            Decimal("9999999999999999.99"),
            None,
        ]

    def test_integers_accept_zero_padding_and_whole_decimals(self):
        assert parsed(["000010", "12.0", "1e2", "-7"], "INT") == [10, 12, 100, -7]

    def test_an_integer_with_a_fraction_needs_round(self):
        assert parsed(["12.5"], "INT") == [None]
        assert parsed(["12.5", "-12.5", "12.4"], "INT", round=0) == [13, -13, 12]

    def test_integer_out_of_range_is_a_failure(self):
        assert parsed(["127", "128"], "TINYINT") == [127, None]
        assert parsed([2**40], "INT") == [None]

    def test_doubles_round_and_refuse_infinity(self):
        assert parsed(["1.23456", "inf", "x"], "DOUBLE", round=2) == [1.23, None, None]

    def test_text_is_trimmed_before_parsing(self):
        assert parsed([" 42 "], "BIGINT") == [42]
        assert parsed([" 42 "], "BIGINT", trim=False) == [None]


class TestText:
    def test_trim_and_blank_as_missing(self):
        assert parsed(["  A1 ", "   ", ""], "VARCHAR(10)") == ["A1", None, None]
        assert parsed(["  A1 "], "VARCHAR(10)", trim=False) == ["  A1 "]

    def test_varchar_limit_counts_utf8_bytes_like_starrocks(self):
        assert parsed(["abcde", "abcdé", "abcdef"], "VARCHAR(5)") == ["abcde", None, None]

    def test_native_values_become_text(self):
        assert parsed([dt.date(2023, 4, 1)], "VARCHAR(10)") == ["2023-04-01"]


class TestBooleans:
    def test_default_words_any_case(self):
        assert parsed(["TRUE", "yes", "0", "N", "maybe"], "BOOLEAN") == [True, True, False, False, None]

    def test_tenant_words_replace_the_defaults(self):
        assert parsed(["Y", "n", "yes"], "BOOLEAN", true_values=["Y"], false_values=["N"]) == [
            True,
            False,
            None,
        ]

    def test_native_booleans_and_numbers(self):
        assert parsed([True, None], "BOOLEAN") == [True, None]
        assert parsed([1, 0], "BOOLEAN") == [True, False]


@pytest.mark.parametrize(
    ("value", "type_text", "expected"),
    [
        ("abc", "DECIMAL(18,2)", "column c (source 'C'): cannot parse 'abc' as DECIMAL(18,2)"),
        ("abcdé", "VARCHAR(5)", "column c (source 'C'): 'abcdé' exceeds VARCHAR(5) (6 bytes)"),
        ("x" * 70, "DATE", f"column c (source 'C'): cannot parse '{'x' * 60}...' as DATE"),
    ],
)
def test_failure_reasons_name_column_source_value_and_type(value, type_text, expected):
    assert reason(value, type_text) == expected
