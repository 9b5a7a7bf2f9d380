"""Tenant SQL: business rules become literals, and mistakes fail before any data is read."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from datawiz_pipelines.config.tenant import BusinessRules
from datawiz_pipelines.silver.errors import Scope, TransformError
from datawiz_pipelines.silver.expressions import compile_condition, compile_sql, sql_literal, substitute

SCOPE = Scope("tenant1", "fact_invoice_secondary")
RULES = BusinessRules.model_validate(
    {"date_filter_start": "20230401", "material_type_filter": ["ZFGD", "ZHAW"], "sales_threshold": 10000}
)
SALES = pl.LazyFrame(
    {
        "invoice_date": [dt.date(2023, 3, 31), dt.date(2023, 4, 1), dt.date(2023, 4, 2)],
        "material_type": ["ZFGD", "ZPKG", "ZHAW"],
        "net_amount": [5.0, 20000.0, 12000.0],
    }
)


def kept(text: str, rules: BusinessRules = RULES) -> list[str]:
    """material_type of the SALES rows meeting the condition ``text``."""
    condition = compile_condition(
        SALES,
        text,
        business_rules=rules,
        columns=SALES.collect_schema().names(),
        scope=SCOPE,
        where="filters.0",
    )
    return SALES.filter(condition.expr).collect()["material_type"].to_list()


class TestLiterals:
    @pytest.mark.parametrize(
        ("value", "literal"),
        [
            ("O'Brien", "'O''Brien'"),
            (42, "42"),
            (0.5, "0.5"),
            (True, "TRUE"),
            (dt.date(2023, 4, 1), "DATE '2023-04-01'"),
            (dt.datetime(2023, 4, 1, 6, 30), "TIMESTAMP '2023-04-01 06:30:00'"),
            (dt.datetime(2023, 4, 1, 6, 30, tzinfo=dt.UTC), "TIMESTAMP '2023-04-01 06:30:00'"),
            (["ZFGD", "Z'X"], "('ZFGD', 'Z''X')"),
            ([1, 2.5], "(1, 2.5)"),
        ],
    )
    def test_values_as_sql(self, value, literal):
        assert sql_literal(value) == literal

    @pytest.mark.parametrize(
        "text", ["x' OR '1'='1", "a\\' OR 1=1 --", "\\", "${date_filter_start}", "line\nbreak", "😀 ü"]
    )
    def test_any_string_reads_back_unchanged(self, text):
        assert pl.select(pl.sql_expr(sql_literal(text))).item() == text

    @pytest.mark.parametrize(
        ("value", "message"), [([], "empty list"), (None, "not set"), ({"a": 1}, "no SQL literal")]
    )
    def test_values_without_a_literal_are_refused(self, value, message):
        with pytest.raises(ValueError, match=message):
            sql_literal(value)


class TestBusinessRuleFilters:
    def test_date_filter_start_compares_as_a_date(self):
        assert kept("invoice_date >= ${date_filter_start}") == ["ZPKG", "ZHAW"]

    def test_material_type_filter_is_an_in_list(self):
        assert kept("material_type IN ${material_type_filter}") == ["ZFGD", "ZHAW"]

    def test_numbers_and_tenant_specific_rules(self):
        rules = RULES.model_copy(update={"excluded_types": ["ZPKG"]})
        assert kept("net_amount >= ${sales_threshold} AND material_type NOT IN ${excluded_types}", rules) == [
            "ZHAW"
        ]

    def test_an_injection_attempt_in_a_rule_stays_a_literal(self):
        rules = BusinessRules(material_type_filter=["ZFGD') OR ('1'='1", "x' OR '1'='1"])
        assert kept("material_type IN ${material_type_filter}", rules) == []

    def test_a_placeholder_inside_a_value_is_not_substituted_again(self):
        rules = BusinessRules.model_validate({"label": "${date_filter_start}"})
        assert substitute("${label}", rules, scope=SCOPE, where="filters.0") == "'${date_filter_start}'"


class TestMistakes:
    def test_unknown_business_rule_is_named(self):
        with pytest.raises(
            TransformError, match=r"tenant tenant1, table fact_invoice_secondary: filters.0: "
        ):
            kept("invoice_date >= ${start_date}")
        with pytest.raises(TransformError, match=r"unknown business rule \$\{start_date\}"):
            kept("invoice_date >= ${start_date}")

    def test_unset_or_empty_rule_is_refused_rather_than_matching_nothing(self):
        with pytest.raises(TransformError, match="business rule material_type_filter is an empty list"):
            kept("material_type IN ${material_type_filter}", BusinessRules())
        with pytest.raises(TransformError, match="business rule date_filter_start is not set"):
            kept("invoice_date >= ${date_filter_start}", BusinessRules())

    def test_unknown_column_is_named_with_the_available_ones(self):
        with pytest.raises(
            TransformError, match=r"unknown column.*amount; available: invoice_date, material_type"
        ):
            compile_sql(
                "amount * 2",
                business_rules=RULES,
                columns=["invoice_date", "material_type"],
                scope=SCOPE,
                where="computed column x",
            )

    def test_invalid_sql_is_refused(self):
        with pytest.raises(TransformError, match="is not a valid SQL expression"):
            kept("net_amount > ; DROP TABLE sales")

    def test_a_filter_must_be_a_condition(self):
        with pytest.raises(TransformError, match="must be a condition"):
            kept("net_amount * 2")

    def test_type_errors_surface_at_plan_time(self):
        with pytest.raises(TransformError, match="cannot be evaluated"):
            kept("invoice_date >= '2023-04-01'")


def test_compiled_sql_lists_the_columns_it_reads():
    compiled = compile_sql(
        "net_amount + coalesce(net_amount, 0) > ${sales_threshold} OR material_type = 'X'",
        business_rules=RULES,
        columns=SALES.collect_schema().names(),
        scope=SCOPE,
        where="computed column x",
    )
    assert compiled.columns == ("net_amount", "material_type")
