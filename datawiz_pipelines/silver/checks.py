"""Table-level checks on a silver table once both its parts are written.

Row rules that reject act row by row in the transform; what can only be judged
over the whole table (key uniqueness, ``on_fail: check`` rules, the share of
rows rejected) is judged here, in one ``pl.collect_all`` over the written parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import polars as pl

from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.config.mapping import ExpressionRule, NotNullRule, RowRule, TableMapping, UniqueRule
from datawiz_pipelines.config.tenant import BusinessRules, ValidationSettings
from datawiz_pipelines.lineage import REJECTED_RULE, SUPERSEDED
from datawiz_pipelines.silver.engine import evaluate_rule, raise_for_fatal_rejections, rule_name
from datawiz_pipelines.silver.errors import Scope

if TYPE_CHECKING:
    from datawiz_pipelines.config.loader import Tenant

CHECK_NAMES = ("unique_key", "row_rules", "reject_ratio")
CHECK_DESCRIPTIONS = {
    "unique_key": "No two rows share the table's key.",
    "row_rules": "The mapping's on_fail: check rules and unique rules hold on every row.",
    "reject_ratio": "The share of rejected rows stays within the tenant's max_reject_ratio.",
}
_COUNT = "__dw_count"
_EXAMPLES = 3
_Rules = list[tuple[int, RowRule | UniqueRule]]


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    severity: Literal["error", "warn"]
    description: str
    metadata: dict[str, int | float | str]


def evaluate_checks(
    rows: pl.LazyFrame,
    rejected: pl.LazyFrame,
    *,
    table: CatalogTable,
    mapping: TableMapping,
    settings: ValidationSettings,
    references: Mapping[str, pl.LazyFrame] | None = None,
    business_rules: BusinessRules | None = None,
    tenant_id: str = "(unknown)",
) -> list[CheckOutcome]:
    """The outcome of each check in CHECK_NAMES, in that order.

    Pass the tenant's ``business_rules`` (and ``tenant_id`` for error messages)
    when a check rule's expression uses ``${name}``.
    """
    scope = Scope(tenant_id, table.name)
    rules = [
        (index, rule)
        for index, rule in enumerate(mapping.validations)
        if isinstance(rule, UniqueRule) or rule.on_fail == "check"
    ]
    key_duplicates = _duplicate_groups(rows, table.keys)
    queries = [
        rows.select(pl.len()),
        key_duplicates.select(pl.len(), pl.col(_COUNT).sum()),
        key_duplicates.head(_EXAMPLES),
        rejected.group_by(REJECTED_RULE).agg(pl.len()).sort(REJECTED_RULE),
        *_rule_failure_counts(
            rows, rules, table, mapping, business_rules or BusinessRules(), references or {}, scope
        ),
    ]
    valid, duplicates, examples, rejections, *rule_results = pl.collect_all(queries)
    valid_rows = valid.item()
    counts = {
        name: value or 0 for result in rule_results for name, value in result.row(0, named=True).items()
    }
    failures = {f"validations.{index} {_label(rule)}": int(counts[str(index)]) for index, rule in rules}
    return [
        _unique_key(table.keys, valid_rows, duplicates.row(0), examples),
        _row_rules(rules, failures, valid_rows),
        _reject_ratio(valid_rows, dict(rejections.iter_rows()), _threshold(mapping, settings)),
    ]


def check_written_parts(
    rows: pl.LazyFrame,
    rejected: pl.LazyFrame,
    *,
    tenant: Tenant,
    table: CatalogTable,
    mapping: TableMapping,
    references: Mapping[str, pl.LazyFrame],
) -> list[CheckOutcome]:
    """What the silver asset runs on its written ``data`` and ``rejected`` parts: a
    TransformError if ``on_cast_error: fail`` and a value did not cast, then every check."""
    raise_for_fatal_rejections(rejected, tenant_id=tenant.tenant_id, table=table, mapping=mapping)
    return evaluate_checks(
        rows,
        rejected,
        table=table,
        mapping=mapping,
        settings=tenant.settings.validation,
        references=references,
        business_rules=tenant.settings.business_rules,
        tenant_id=tenant.tenant_id,
    )


def _duplicate_groups(rows: pl.LazyFrame, columns: list[str]) -> pl.LazyFrame:
    """The values of ``columns`` held by more than one row, with how many (nulls never clash, as in SQL)."""
    return (
        rows.drop_nulls(columns)
        .group_by(columns)
        .agg(pl.len().alias(_COUNT))
        .filter(pl.col(_COUNT) > 1)
        .sort(columns)
    )


def _rule_failure_counts(
    rows: pl.LazyFrame,
    rules: _Rules,
    table: CatalogTable,
    mapping: TableMapping,
    business_rules: BusinessRules,
    references: Mapping[str, pl.LazyFrame],
    scope: Scope,
) -> list[pl.LazyFrame]:
    """One-row queries whose columns, named by rule index, count each rule's failing rows:
    one per unique rule, one for all other rules together."""
    provided = [*mapping.columns, *(computed.name for computed in mapping.computed)]
    types = {name: table.column(name).type for name in provided}
    frame, failed, queries = rows, [], []
    for index, rule in rules:
        if isinstance(rule, UniqueRule):
            queries.append(
                _duplicate_groups(rows, rule.columns).select(pl.col(_COUNT).sum().alias(str(index)))
            )
            continue
        test = evaluate_rule(
            frame,
            rule,
            index=index,
            types=types,
            business_rules=business_rules,
            references=references,
            scope=scope,
        )
        frame = test.frame
        failed.append(test.failed.sum().alias(str(index)))
    if failed:
        queries.append(frame.select(failed))
    return queries


def _unique_key(
    keys: list[str], valid_rows: int, duplicates: tuple[int, int | None], examples: pl.DataFrame
) -> CheckOutcome:
    groups, rows = duplicates[0], duplicates[1] or 0
    key = ", ".join(keys)
    metadata: dict[str, int | float | str] = {
        "duplicate_keys": groups,
        "duplicate_rows": rows,
        "rows": valid_rows,
    }
    if not groups:
        description = f"Every key ({key}) is unique across {valid_rows:,} rows."
    else:
        shown = "; ".join(
            "(" + ", ".join(str(value) for value in example[:-1]) + ")" for example in examples.iter_rows()
        )
        metadata["examples"] = shown
        description = f"{groups:,} keys ({key}) occur more than once, in {rows:,} rows, e.g. {shown}."
    return CheckOutcome("unique_key", not groups, "error", description, metadata)


def _row_rules(rules: _Rules, failures: dict[str, int], valid_rows: int) -> CheckOutcome:
    if not rules:
        return CheckOutcome(
            "row_rules", True, "warn", "No check or unique rules are configured for this table.", {"rules": 0}
        )
    failing = [(rule, label) for (_, rule), label in zip(rules, failures, strict=True) if failures[label]]
    severity = "error" if any(rule.severity == "error" for rule, _ in failing) else "warn"
    metadata: dict[str, int | float | str] = {"rules": len(rules), "rules_failing": len(failing), **failures}
    if not failing:
        description = f"All {len(rules)} check rule(s) hold on {valid_rows:,} rows."
    else:
        listed = ", ".join(f"{label} on {failures[label]:,} rows" for _, label in failing)
        description = f"{len(failing)} of {len(rules)} check rule(s) fail: {listed}."
    return CheckOutcome("row_rules", not failing, severity, description, metadata)


def _reject_ratio(valid_rows: int, by_rule: dict[str, int], threshold: float) -> CheckOutcome:
    by_rule = {rule: count for rule, count in by_rule.items() if rule != SUPERSEDED}
    rejected = sum(by_rule.values())
    total = valid_rows + rejected
    ratio = rejected / total if total else 0.0
    passed = ratio <= threshold
    metadata: dict[str, int | float | str] = {
        "rows_rejected": rejected,
        "rows_valid": valid_rows,
        "ratio": ratio,
        "threshold": threshold,
        **{f"rejected.{rule}": count for rule, count in by_rule.items()},
    }
    verdict = "within" if passed else "above"
    description = (
        f"{rejected:,} of {total:,} rows rejected ({ratio:.2%}), {verdict} the limit of {threshold:.2%}."
    )
    return CheckOutcome("reject_ratio", passed, "error", description, metadata)


def _threshold(mapping: TableMapping, settings: ValidationSettings) -> float:
    return mapping.max_reject_ratio if mapping.max_reject_ratio is not None else settings.max_reject_ratio


def _label(rule: RowRule | UniqueRule) -> str:
    """How metadata names a rule: ``range(quantity)``, ``unique(a, b)``, ``expression:<name>``."""
    if isinstance(rule, ExpressionRule):
        return rule_name(rule)
    columns = rule.columns if isinstance(rule, NotNullRule | UniqueRule) else [rule.column]
    return f"{rule.rule}({', '.join(columns)})"
