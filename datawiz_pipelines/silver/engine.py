"""The silver transform: a tenant's bronze rows mapped onto one catalog table, lazily.

Every stage (parse, compute, validate, filter, look up, de-duplicate) only adds
columns to one shared plan: the typed target columns and a true/false flag per
check. ``rows`` and ``rejected`` are two filters over that plan, so the caller
sinks both in one pass with ``pl.collect_all``; the reason strings are built on
the rejected branch only, where the rows are few.

A rejected row carries every reason it failed, joined with "; ", and the first
failing rule in this order: cast, not_null, the mapping's rules as listed
(accepted_values, range, expression:<name>), relationship, superseded (a later version of the key won; not an error).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.config.column_types import ColumnType
from datawiz_pipelines.config.mapping import (
    AcceptedValuesRule,
    ExpressionRule,
    NotNullRule,
    RangeRule,
    RelationshipRule,
    RowRule,
    TableMapping,
    UniqueRule,
)
from datawiz_pipelines.config.tenant import BusinessRules
from datawiz_pipelines.lineage import (
    LOAD_ID,
    REJECT_REASON,
    REJECTED_RULE,
    ROW_NUMBER,
    SOURCE_FILE,
    SOURCE_MODIFIED,
    SUPERSEDED,
    TABLE_LINEAGE_COLUMNS,
)
from datawiz_pipelines.silver import expressions, parsing
from datawiz_pipelines.silver.errors import Scope, TransformError

_BRONZE_LINEAGE = (ROW_NUMBER, SOURCE_FILE, SOURCE_MODIFIED, LOAD_ID)
_RAW = "__dw_raw_{}"  # source columns, renamed so a source named like a target cannot collide
_TRIMMED = "__dw_trimmed_{}"  # a mapped source value, trimmed, while its target is parsed
_FLAG = "__dw_fail_{}"
_VALID = "__dw_valid"
_KEPT_FILE, _KEPT_ROW, _COUNT = "__dw_kept_file", "__dw_kept_row", "__dw_count"
_REPEATED = "__dw_repeated"
_LATEST = (SOURCE_MODIFIED, SOURCE_FILE, ROW_NUMBER)
"""keep_latest keeps the row that sorts last by these: the newest file version, then file, then row."""


@dataclass(frozen=True)
class TransformResult:
    rows: pl.LazyFrame
    """The catalog columns in catalog order, typed, then the table lineage columns."""
    rejected: pl.LazyFrame
    """The rejected rows' source columns as text, their file and row, the first rule and every reason."""
    column_lineage: dict[str, list[str]]
    """Target column -> the source columns it derives from."""


@dataclass(frozen=True)
class RuleTest:
    """One row rule over a frame: the frame (joined to a reference if the rule needs it),
    which rows break the rule (never null: an unknown result passes, as in SQL CHECK) and why."""

    frame: pl.LazyFrame
    failed: pl.Expr
    reason: pl.Expr


@dataclass(frozen=True)
class _Check:
    rule: str
    flag: str
    reason: pl.Expr


def transform(
    raw: pl.LazyFrame,
    *,
    tenant_id: str,
    table: CatalogTable,
    mapping: TableMapping,
    business_rules: BusinessRules,
    references: Mapping[str, pl.LazyFrame] | None = None,
) -> TransformResult:
    """``raw`` (a bronze frame) mapped onto ``table``: typed rows and quarantined rejects, not yet run.

    Raises TransformError for anything wrong with the mapping or the frame's columns;
    problems in the data become rejected rows instead.
    """
    scope, references = Scope(tenant_id, table.name), references or {}
    problems = mapping.problems_against(table)
    if problems:
        raise scope.error("the mapping does not fit the catalog table: " + "; ".join(problems))
    plan = _Plan(raw, scope=scope, table=table, mapping=mapping)
    plan.map_sources()
    plan.compute(business_rules)
    rules = [
        (index, rule) for index, rule in enumerate(mapping.validations) if not isinstance(rule, UniqueRule)
    ]
    rejecting = [(index, rule) for index, rule in rules if rule.on_fail == "reject"]
    plan.require_values(
        [column for _, rule in rejecting if isinstance(rule, NotNullRule) for column in rule.columns]
    )
    local = [(i, rule) for i, rule in rejecting if not isinstance(rule, NotNullRule | RelationshipRule)]
    lookups = [(i, rule) for i, rule in rejecting if isinstance(rule, RelationshipRule)]
    plan.apply_rules(local, business_rules, references)
    plan.apply_filters(business_rules)
    plan.apply_rules(lookups, business_rules, references)
    if mapping.duplicate_key_policy(table) == "keep_latest":
        plan.keep_latest(business_rules)
    for index, rule in rules:  # check-only rules run after loading; compile them now to fail early
        if rule.on_fail == "check":
            plan.evaluate(index, rule, business_rules, references)
    return TransformResult(rows=plan.rows(), rejected=plan.rejected(), column_lineage=plan.lineage)


def raise_for_fatal_rejections(
    rejected: pl.LazyFrame, *, tenant_id: str, table: CatalogTable, mapping: TableMapping, limit: int = 5
) -> None:
    """With ``on_cast_error: fail``, a TransformError listing the first cells that could not be cast."""
    if mapping.on_cast_error != "fail":
        return
    casts = rejected.filter(pl.col(REJECTED_RULE) == "cast")
    count, examples = pl.collect_all(
        [
            casts.select(pl.len()),
            casts.sort(SOURCE_FILE, ROW_NUMBER).head(limit).select(SOURCE_FILE, ROW_NUMBER, REJECT_REASON),
        ]
    )
    total = count.item()
    if total:
        lines = [f"file {file}, row {row}: {reason}" for file, row, reason in examples.iter_rows()]
        raise TransformError(
            f"{total} row(s) have values that cannot be cast and on_cast_error is 'fail'; "
            f"the first {len(lines)}:\n  " + "\n  ".join(lines),
            tenant_id=tenant_id,
            table=table.name,
        )


def evaluate_rule(
    frame: pl.LazyFrame,
    rule: RowRule,
    *,
    index: int,
    types: Mapping[str, ColumnType],
    business_rules: BusinessRules,
    references: Mapping[str, pl.LazyFrame],
    scope: Scope,
) -> RuleTest:
    """Rule ``index`` of the mapping's validations over ``frame``, whose target columns are ``types``."""
    where = f"validations.{index} ({rule_name(rule)})"
    if isinstance(rule, ExpressionRule):
        compiled = expressions.compile_condition(
            frame, rule.expr, business_rules=business_rules, columns=types, scope=scope, where=where
        )
        return RuleTest(
            frame,
            compiled.expr.not_().fill_null(False),
            pl.lit(f"expression {rule.name} is false: {rule.expr}"),
        )
    if isinstance(rule, NotNullRule):
        for name in rule.columns:
            _column_type(types, name, scope=scope, where=where)
        nulls = [pl.col(name).is_null() for name in rule.columns]
        reasons = [
            pl.when(pl.col(name).is_null()).then(pl.lit(f"column {name} is null")) for name in rule.columns
        ]
        return RuleTest(
            frame, pl.any_horizontal(nulls), pl.concat_str(reasons, separator="; ", ignore_nulls=True)
        )
    column_type = _column_type(types, rule.column, scope=scope, where=where)
    column = pl.col(rule.column)
    prefix = pl.concat_str(pl.lit(f"column {rule.column}: "), parsing.shown(column))
    if isinstance(rule, AcceptedValuesRule):
        allowed = _typed_values(rule.values, column_type, scope=scope, where=where)
        listing = ", ".join(repr(value) for value in allowed.to_list())
        failed = column.is_not_null() & ~column.is_in(allowed.implode())
        return RuleTest(frame, failed, pl.concat_str(prefix, pl.lit(f" is not one of {listing}")))
    if isinstance(rule, RangeRule):
        return _range_test(frame, rule, column_type, prefix, scope=scope, where=where)
    return _relationship_test(frame, rule, column_type, prefix, references, scope=scope, where=where)


def rule_name(rule: RowRule | UniqueRule) -> str:
    """The rule as rejected rows and check metadata name it: ``range``, ``expression:<name>`` ..."""
    return f"expression:{rule.name}" if isinstance(rule, ExpressionRule) else rule.rule


class _Plan:
    """The shared plan under construction: its frame, the target columns so far, a flag per check."""

    def __init__(self, raw: pl.LazyFrame, *, scope: Scope, table: CatalogTable, mapping: TableMapping):
        self.scope, self.table, self.mapping, self.raw = scope, table, mapping, raw
        self.schema = raw.collect_schema()
        self._require_source_columns()
        self.sources = [name for name in self.schema.names() if name not in _BRONZE_LINEAGE]
        self.raw_names = {name: _RAW.format(i) for i, name in enumerate(self.sources)}
        self.frame = raw.select(
            *(pl.col(name).alias(self.raw_names[name]) for name in self.sources), *_BRONZE_LINEAGE
        )
        self.types: dict[str, ColumnType] = {}
        self.lineage: dict[str, list[str]] = {}
        self.labels: dict[str, str] = {}
        self.cast_flags: dict[str, str] = {}
        self.checks: list[_Check] = []

    def _require_source_columns(self) -> None:
        wanted = [spec.source for spec in self.mapping.columns.values()] + list(_BRONZE_LINEAGE)
        missing = [name for name in dict.fromkeys(wanted) if name not in self.schema]
        if missing:
            available = ", ".join(repr(name) for name in self.schema.names() if name not in _BRONZE_LINEAGE)
            raise self.scope.error(
                f"source column(s) {', '.join(map(repr, missing))} not found in the file; available: {available}"
            )

    def map_sources(self) -> None:
        """Source columns renamed to their targets, trimmed and parsed; a cast check per column.

        Each trimmed source value is computed once, into a temporary column: Polars does not
        share repeated sub-expressions in a streaming plan, and a parse and its cast check
        read their input up to five times (2.3x fewer string scans, about 15% of the silver
        CPU time on a 5M-row fact table). The reasons, built on rejected rows only, still
        read the raw columns, so the temporary columns go once the cast flags are set.
        """
        trimmed, parsed, casts = [], [], []
        for position, (target, spec) in enumerate(self.mapping.columns.items()):
            dtype = self.schema[spec.source]
            source = parsing.clean(pl.col(self.raw_names[spec.source]), dtype, spec)
            name = _TRIMMED.format(position)
            trimmed.append(source.alias(name))
            column_type = self.table.column(target).type
            parsed.append(parsing.parse(pl.col(name), dtype, column_type, spec).alias(target))
            self._define(target, column_type, [spec.source], f"column {target} (source {spec.source!r})")
            casts.append((target, pl.col(name), source))
        self.frame = self.frame.with_columns(trimmed).with_columns(parsed)
        self._add_casts(casts)
        self.frame = self.frame.drop(_TRIMMED.format(position) for position in range(len(trimmed)))

    def compute(self, business_rules: BusinessRules) -> None:
        """Computed columns in order (each may use the ones before it), cast to their catalog type."""
        for computed in self.mapping.computed:
            where = f"computed column {computed.name}"
            compiled = expressions.compile_sql(
                computed.expr,
                business_rules=business_rules,
                columns=self.types,
                scope=self.scope,
                where=where,
            )
            dtype = expressions.result_type(self.frame, compiled, scope=self.scope, where=where)
            column_type = self.table.column(computed.name).type
            value = parsing.clean(compiled.expr, dtype)
            self.frame = self.frame.with_columns(
                parsing.parse(value, dtype, column_type).alias(computed.name)
            )
            sources = [source for name in compiled.columns for source in self.lineage[name]]
            self._define(computed.name, column_type, list(dict.fromkeys(sources)), where)
            self._add_casts([(computed.name, value, value)])

    def require_values(self, columns: list[str]) -> None:
        """Not-null checks: the catalog's non-nullable columns (keys among them) and ``columns``.

        A value that failed to cast is reported as such, not again as null.
        """
        required = [column.name for column in self.table.columns if not column.nullable] + columns
        checks = []
        for name in dict.fromkeys(required):
            _column_type(self.types, name, scope=self.scope, where="not_null")
            failed = pl.col(name).is_null() & ~pl.col(self.cast_flags[name])
            checks.append(("not_null", failed, pl.lit(f"{self.labels[name]} is null")))
        self._add_checks(checks)

    def apply_rules(
        self,
        rules: list[tuple[int, RowRule]],
        business_rules: BusinessRules,
        references: Mapping[str, pl.LazyFrame],
    ) -> None:
        for index, rule in rules:
            test = self.evaluate(index, rule, business_rules, references)
            self.frame = test.frame
            self._add_checks([(rule_name(rule), test.failed, test.reason)])

    def evaluate(
        self, index: int, rule: RowRule, business_rules: BusinessRules, references: Mapping[str, pl.LazyFrame]
    ) -> RuleTest:
        return evaluate_rule(
            self.frame,
            rule,
            index=index,
            types=self.types,
            business_rules=business_rules,
            references=references,
            scope=self.scope,
        )

    def apply_filters(self, business_rules: BusinessRules) -> None:
        """Drop rows outside the business filters (SQL WHERE: only true keeps a row).

        A row whose filter is unknown because it is already invalid (a date that did
        not parse) is kept so it is rejected, not silently dropped.
        """
        conditions = [
            expressions.compile_condition(
                self.frame,
                text,
                business_rules=business_rules,
                columns=self.types,
                scope=self.scope,
                where=f"filters.{index}",
            ).expr
            for index, text in enumerate(self.mapping.filters)
        ]
        if conditions:
            self.frame = self.frame.filter(pl.all_horizontal(conditions).fill_null(self._failed()))

    def keep_latest(self, business_rules: BusinessRules) -> None:
        """Among valid rows sharing a key, all but the latest (see ``_LATEST``) are rejected.

        Which keys occur more than once is found first, on a separate narrow pass over the
        raw keys (parsed as the plan parses them). Rows with a key seen once go straight
        through; only rows with a repeated key are buffered, and their winners (the latest
        valid row of each key) are aggregated and joined back. So the wide frame streams:
        caching it whole for a group-by and a join back, as before, held every row in
        memory (4.1 GB instead of 1.0 GB for 5M rows, at the same CPU time). Rows with a
        repeated key come after the others in the output.
        """
        keys = list(self.table.keys)
        narrow = _Plan(self.raw, scope=self.scope, table=self.table, mapping=self.mapping)
        narrow.map_sources()
        narrow.compute(business_rules)
        repeated = (
            narrow.frame.select(keys)
            .group_by(keys)
            .agg(pl.len().alias(_COUNT))
            .filter(pl.col(_COUNT) > 1)
            .select(*keys, pl.lit(True).alias(_REPEATED))
        )
        frame = self.frame.with_columns((~self._failed()).alias(_VALID)).join(
            repeated, on=keys, how="left", maintain_order="left"
        )
        once = frame.filter(pl.col(_REPEATED).is_null()).with_columns(
            pl.lit(None, self.schema[SOURCE_FILE]).alias(_KEPT_FILE),
            pl.lit(None, self.schema[ROW_NUMBER]).alias(_KEPT_ROW),
        )
        repeats = frame.filter(pl.col(_REPEATED).is_not_null()).cache()
        group = [*keys, _VALID]
        winners = (
            repeats.group_by(group)
            .agg(
                pl.len().alias(_COUNT),
                pl.col(SOURCE_FILE).sort_by(_LATEST).last().alias(_KEPT_FILE),
                pl.col(ROW_NUMBER).sort_by(_LATEST).last().alias(_KEPT_ROW),
            )
            .filter(pl.col(_VALID) & (pl.col(_COUNT) > 1))
            .drop(_COUNT)
        )
        resolved = repeats.join(winners, on=group, how="left", maintain_order="left")
        self.frame = pl.concat([once, resolved], how="vertical_relaxed").drop(_REPEATED)
        superseded = pl.col(_KEPT_FILE).is_not_null() & (
            (pl.col(SOURCE_FILE) != pl.col(_KEPT_FILE)) | (pl.col(ROW_NUMBER) != pl.col(_KEPT_ROW))
        )
        key = pl.concat_str(
            [pl.concat_str(pl.lit(f"{name}="), pl.col(name).cast(pl.String)) for name in self.table.keys],
            separator=", ",
        )
        reason = pl.concat_str(
            pl.lit("duplicate key ("),
            key,
            pl.lit("): a later row replaces it, file "),
            pl.col(_KEPT_FILE),
            pl.lit(" row "),
            pl.col(_KEPT_ROW).cast(pl.String),
        )
        self._add_checks([(SUPERSEDED, superseded, reason)])

    def rows(self) -> pl.LazyFrame:
        catalog = [
            pl.col(column.name)
            if column.name in self.types
            else pl.lit(None, column.type.polars).alias(column.name)
            for column in self.table.columns
        ]
        lineage = [
            pl.col(name).cast(column_type.polars) for name, column_type in TABLE_LINEAGE_COLUMNS.items()
        ]
        return self.frame.filter(~self._failed()).select(*catalog, *lineage)

    def rejected(self) -> pl.LazyFrame:
        return self.frame.filter(self._failed()).select(
            *(pl.col(self.raw_names[name]).cast(pl.String).alias(name) for name in self.sources),
            pl.col(SOURCE_FILE),
            pl.col(ROW_NUMBER),
            pl.coalesce(pl.when(check.flag).then(pl.lit(check.rule)) for check in self.checks).alias(
                REJECTED_RULE
            ),
            pl.concat_str(
                [pl.when(check.flag).then(check.reason) for check in self.checks],
                separator="; ",
                ignore_nulls=True,
            ).alias(REJECT_REASON),
        )

    def _define(self, name: str, column_type: ColumnType, sources: list[str], label: str) -> None:
        self.types[name], self.lineage[name], self.labels[name] = column_type, sources, label

    def _add_casts(self, values: list[tuple[str, pl.Expr, pl.Expr]]) -> None:
        """A cast check per target: its value before parsing was present and is null after.

        Each entry is (target, value before parsing, the same value for the reason): the
        reason may not use temporary columns, as rejected rows are built after they are gone.
        """
        checks = []
        for name, before, shown in values:
            self.cast_flags[name] = _FLAG.format(len(self.checks) + len(checks))
            reason = parsing.failure_reason(self.labels[name], shown, self.types[name])
            checks.append(("cast", before.is_not_null() & pl.col(name).is_null(), reason))
        self._add_checks(checks)

    def _add_checks(self, checks: list[tuple[str, pl.Expr, pl.Expr]]) -> None:
        flags = []
        for rule, failed, reason in checks:
            flag = _FLAG.format(len(self.checks))
            self.checks.append(_Check(rule, flag, reason))
            flags.append(failed.alias(flag))
        self.frame = self.frame.with_columns(flags)

    def _failed(self) -> pl.Expr:
        return pl.any_horizontal(pl.col(check.flag) for check in self.checks)


def _column_type(types: Mapping[str, ColumnType], name: str, *, scope: Scope, where: str) -> ColumnType:
    if name not in types:
        raise scope.error(f"{where}: column {name} is neither mapped from a source nor computed")
    return types[name]


def _typed_values(
    values: list[str | int | float | bool], column_type: ColumnType, *, scope: Scope, where: str
) -> pl.Series:
    """Configured values read exactly as source text would be, so they compare equal to parsed data.

    Evaluates a literal from the configuration, never the data.
    """
    texts = [str(value).lower() if isinstance(value, bool) else str(value) for value in values]
    typed = pl.select(
        parsing.parse(pl.lit(pl.Series(texts, dtype=pl.String)), pl.String(), column_type)
    ).to_series()
    invalid = [value for value, parsed in zip(values, typed.to_list(), strict=True) if parsed is None]
    if invalid:
        raise scope.error(f"{where}: {', '.join(map(repr, invalid))} cannot be a {column_type} value")
    return typed


def _range_test(
    frame: pl.LazyFrame,
    rule: RangeRule,
    column_type: ColumnType,
    prefix: pl.Expr,
    *,
    scope: Scope,
    where: str,
) -> RuleTest:
    column = pl.col(rule.column)
    below = above = pl.lit(False)
    if rule.min is not None:
        below = column < _bound(rule.min, column_type, scope=scope, where=where)
    if rule.max is not None:
        above = column > _bound(rule.max, column_type, scope=scope, where=where)
    reason = (
        pl.when(below)
        .then(pl.lit(f" is below the minimum {_shown_bound(rule.min)}"))
        .otherwise(pl.lit(f" is above the maximum {_shown_bound(rule.max)}"))
    )
    return RuleTest(frame, (below | above).fill_null(False), pl.concat_str(prefix, reason))


def _shown_bound(value: float | str | None) -> str:
    """A bound as the tenant wrote it: YAML's ``min: 0`` arrives as 0.0."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _bound(value: float | str, column_type: ColumnType, *, scope: Scope, where: str) -> pl.Expr:
    """A range bound: any number for a numeric column (its precision does not limit a bound),
    else a value of the column's type, such as an ISO date."""
    if not column_type.is_numeric:
        return pl.lit(_typed_values([value], column_type, scope=scope, where=where).item())
    try:
        return pl.lit(float(value))
    except ValueError:
        raise scope.error(f"{where}: bound {value!r} is not a number") from None


def _relationship_test(
    frame: pl.LazyFrame,
    rule: RelationshipRule,
    column_type: ColumnType,
    prefix: pl.Expr,
    references: Mapping[str, pl.LazyFrame],
    *,
    scope: Scope,
    where: str,
) -> RuleTest:
    """Membership in the reference's distinct keys, read now into a Polars Series.

    The keys are held in memory either way (a join's build side holds them too), but
    ``is_in`` leaves the frame as it is, where a left join copies every column of every
    row: with four lookups on a 5M-row fact table that was a fifth of the silver CPU time.
    """
    reference = references.get(rule.to_table)
    if reference is None:
        raise scope.error(f"{where}: needs the reference table {rule.to_table}, which was not given")
    if rule.to_column not in reference.collect_schema():
        raise scope.error(f"{where}: reference table {rule.to_table} has no column {rule.to_column}")
    keys = (
        reference.select(pl.col(rule.to_column).cast(column_type.polars, strict=False))
        .drop_nulls()
        .unique()
        .collect()
        .to_series()
    )
    failed = pl.col(rule.column).is_not_null() & ~pl.col(rule.column).is_in(keys.implode())
    reason = pl.concat_str(prefix, pl.lit(f" is not in {rule.to_table}.{rule.to_column}"))
    return RuleTest(frame, failed, reason)
