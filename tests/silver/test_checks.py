"""Table-level checks over a written silver table: keys, check rules, share rejected."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.config.mapping import TableMapping
from datawiz_pipelines.config.tenant import BusinessRules, ValidationSettings
from datawiz_pipelines.lineage import LOAD_ID, REJECTED_RULE, ROW_NUMBER, SOURCE_FILE, SOURCE_MODIFIED
from datawiz_pipelines.silver.checks import CHECK_NAMES, CheckOutcome, evaluate_checks
from datawiz_pipelines.silver.engine import transform
from datawiz_pipelines.silver.errors import TransformError

DEALERS = CatalogTable.model_validate(
    {
        "name": "dealers",
        "description": "Dealers.",
        "kind": "dimension",
        "load_mode": "replace",
        "keys": ["dealer_code"],
        "references": [{"column": "customer_code", "table": "customers", "to_column": "customer_code"}],
        "columns": [
            {"name": "dealer_code", "type": "VARCHAR(20)", "nullable": False},
            {"name": "customer_code", "type": "VARCHAR(20)"},
            {"name": "city", "type": "VARCHAR(64)"},
            {"name": "credit", "type": "DECIMAL(18,2)"},
        ],
    }
)
SETTINGS = ValidationSettings(max_reject_ratio=0.25)


def rows(dealers: list[str], **columns: list) -> pl.LazyFrame:
    count = len(dealers)
    defaults = {
        "customer_code": ["C1"] * count,
        "city": ["Pune"] * count,
        "credit": [Decimal("1.00")] * count,
    }
    frame = pl.LazyFrame({"dealer_code": dealers, **defaults, **columns})
    return frame.with_columns(pl.col("credit").cast(pl.Decimal(18, 2)))


def rejected(*rules: str) -> pl.LazyFrame:
    return pl.LazyFrame({REJECTED_RULE: list(rules)}, schema={REJECTED_RULE: pl.String})


def checks(
    valid: pl.LazyFrame, quarantined: pl.LazyFrame | None = None, **fields: object
) -> dict[str, CheckOutcome]:
    columns = {name: name for name in DEALERS.column_names}
    mapping = TableMapping.model_validate({"source": {"pattern": "*.csv"}, "columns": columns, **fields})
    outcomes = evaluate_checks(
        valid,
        rejected() if quarantined is None else quarantined,
        table=DEALERS,
        mapping=mapping,
        settings=SETTINGS,
        references={"customers": pl.LazyFrame({"customer_code": ["C1"]})},
        business_rules=BusinessRules(sales_threshold=100),
        tenant_id="tenant1",
    )
    assert tuple(outcome.name for outcome in outcomes) == CHECK_NAMES
    return {outcome.name: outcome for outcome in outcomes}


class TestUniqueKey:
    def test_passes_when_every_key_is_unique(self):
        outcome = checks(rows(["D1", "D2"]))["unique_key"]
        assert (outcome.passed, outcome.severity) == (True, "error")
        assert outcome.description == "Every key (dealer_code) is unique across 2 rows."

    def test_counts_duplicates_and_shows_examples(self):
        outcome = checks(rows(["D1", "D2", "D1", "D3", "D3", "D3"]))["unique_key"]
        assert not outcome.passed
        assert outcome.metadata == {
            "duplicate_keys": 2,
            "duplicate_rows": 5,
            "rows": 6,
            "examples": "(D1); (D3)",
        }
        assert outcome.description == "2 keys (dealer_code) occur more than once, in 5 rows, e.g. (D1); (D3)."


class TestRowRules:
    def test_without_check_rules_it_passes_and_says_so(self):
        outcome = checks(rows(["D1"]), validations=[{"rule": "not_null", "columns": ["city"]}])["row_rules"]
        assert outcome.passed
        assert outcome.description == "No check or unique rules are configured for this table."

    def test_counts_failures_per_rule(self):
        validations = [
            {"rule": "not_null", "columns": ["city"], "on_fail": "check", "severity": "warn"},
            {"rule": "range", "column": "credit", "max": 100, "on_fail": "check"},
            {"rule": "expression", "name": "big", "expr": "credit < ${sales_threshold}", "on_fail": "check"},
            {"rule": "unique", "columns": ["customer_code", "city"], "severity": "warn"},
            {"rule": "accepted_values", "column": "city", "values": ["Pune"], "on_fail": "check"},
            {
                "rule": "relationship",
                "column": "customer_code",
                "to_table": "customers",
                "to_column": "customer_code",
                "on_fail": "check",
            },
        ]
        valid = rows(
            ["D1", "D2", "D3"],
            city=[None, "Pune", "Pune"],
            credit=[Decimal("5"), Decimal("500"), Decimal("1")],
        )
        outcome = checks(valid, validations=validations)["row_rules"]
        assert not outcome.passed
        assert outcome.severity == "error"
        assert outcome.metadata == {
            "rules": 6,
            "rules_failing": 4,
            "validations.0 not_null(city)": 1,
            "validations.1 range(credit)": 1,
            "validations.2 expression:big": 1,
            "validations.3 unique(customer_code, city)": 2,
            "validations.4 accepted_values(city)": 0,
            "validations.5 relationship(customer_code)": 0,
        }
        assert outcome.description.startswith(
            "4 of 6 check rule(s) fail: validations.0 not_null(city) on 1 rows"
        )

    def test_only_warn_rules_failing_make_a_warning(self):
        validations = [
            {"rule": "unique", "columns": ["city"], "severity": "warn"},
            {"rule": "range", "column": "credit", "min": 0, "on_fail": "check"},
        ]
        outcome = checks(rows(["D1", "D2"]), validations=validations)["row_rules"]
        assert (outcome.passed, outcome.severity) == (False, "warn")

    def test_passes_when_every_rule_holds(self):
        validations = [{"rule": "range", "column": "credit", "min": 0, "on_fail": "check"}]
        outcome = checks(rows(["D1"]), validations=validations)["row_rules"]
        assert outcome.passed
        assert outcome.description == "All 1 check rule(s) hold on 1 rows."

    def test_a_rule_over_an_unmapped_column_is_refused(self):
        validations = [{"rule": "expression", "name": "x", "expr": "nope > 1", "on_fail": "check"}]
        with pytest.raises(TransformError, match=r"tenant tenant1, table dealers: validations\.0"):
            checks(rows(["D1"]), validations=validations)


class TestRejectRatio:
    def test_within_the_tenant_threshold(self):
        outcome = checks(rows(["D1", "D2", "D3"]), rejected("cast"))["reject_ratio"]
        assert (outcome.passed, outcome.severity) == (True, "error")
        assert outcome.metadata == {
            "rows_rejected": 1,
            "rows_valid": 3,
            "ratio": 0.25,
            "threshold": 0.25,
            "rejected.cast": 1,
        }
        assert outcome.description == "1 of 4 rows rejected (25.00%), within the limit of 25.00%."

    def test_mapping_threshold_overrides_the_tenant_setting(self):
        outcome = checks(rows(["D1"]), rejected("cast", "not_null", "cast"), max_reject_ratio=0.5)[
            "reject_ratio"
        ]
        assert not outcome.passed
        assert outcome.metadata["rejected.cast"] == 2
        assert outcome.metadata["rejected.not_null"] == 1
        assert outcome.description == "3 of 4 rows rejected (75.00%), above the limit of 50.00%."

    def test_an_empty_table_rejects_nothing(self):
        outcome = checks(rows([]))["reject_ratio"]
        assert outcome.passed
        assert outcome.metadata["ratio"] == 0.0


def test_checks_read_what_the_transform_wrote(tmp_path: Path):
    raw = pl.LazyFrame(
        {
            "Dealer": ["D1", "D1", "D2", None],
            "Credit": ["1", "1", "x", "1"],
            ROW_NUMBER: [1, 2, 3, 4],
            SOURCE_FILE: ["dealers.csv"] * 4,
            SOURCE_MODIFIED: [dt.datetime(2024, 1, 1)] * 4,
            LOAD_ID: ["run-1"] * 4,
        }
    )
    mapping = TableMapping.model_validate(
        {"source": {"pattern": "*.csv"}, "columns": {"dealer_code": "Dealer", "credit": "Credit"}}
    )
    result = transform(
        raw, tenant_id="tenant1", table=DEALERS, mapping=mapping, business_rules=BusinessRules()
    )
    written = {"rows": tmp_path / "rows.parquet", "rejected": tmp_path / "rejected.parquet"}
    pl.collect_all([getattr(result, part).sink_parquet(path, lazy=True) for part, path in written.items()])
    outcomes = evaluate_checks(
        pl.scan_parquet(written["rows"]),
        pl.scan_parquet(written["rejected"]),
        table=DEALERS,
        mapping=mapping,
        settings=SETTINGS,
    )
    unique_key, row_rules, reject_ratio = outcomes
    assert not unique_key.passed  # a replace table defaults to on_duplicate_key: fail
    assert row_rules.passed
    assert reject_ratio.metadata == {
        "rows_rejected": 2,
        "rows_valid": 2,
        "ratio": 0.5,
        "threshold": 0.25,
        "rejected.cast": 1,
        "rejected.not_null": 1,
    }
