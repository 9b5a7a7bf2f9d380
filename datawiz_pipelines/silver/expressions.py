"""Tenant SQL (computed columns, filters, expression rules) compiled by Polars' SQL.

Mappings carry SQL text, never Python: ``pl.sql_expr`` turns it into an
expression over the target columns, so a mapping cannot run code. ``${name}``
placeholders become the tenant's business rules written as SQL literals, so a
rule's value is always data and can never change the shape of the expression.
Every problem is found while the plan is built, before any data is read.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from collections.abc import Collection
from dataclasses import dataclass

import polars as pl

from datawiz_pipelines.config.tenant import BusinessRules
from datawiz_pipelines.silver.errors import Scope

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_]\w*)\}")


@dataclass(frozen=True)
class CompiledSql:
    """A tenant's SQL text, its Polars expression and the target columns it reads."""

    text: str
    expr: pl.Expr
    columns: tuple[str, ...]


def sql_literal(value: object) -> str:
    """``value`` as a Polars SQL literal; ValueError (worded to follow a rule's name) if it has none."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | decimal.Decimal) or (isinstance(value, float) and math.isfinite(value)):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:  # stored naive in UTC, like every timestamp in silver
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, list | tuple):
        if not value:
            raise ValueError("is an empty list, and IN () would match nothing")
        return "(" + ", ".join(sql_literal(item) for item in value) + ")"
    if value is None:
        raise ValueError("is not set")
    raise ValueError(f"has no SQL literal form ({type(value).__name__} {value!r})")


def substitute(text: str, business_rules: BusinessRules, *, scope: Scope, where: str) -> str:
    """``text`` with every ``${name}`` replaced by that business rule as a literal (one pass)."""
    values = business_rules.model_dump()

    def literal(match: re.Match[str]) -> str:
        name = match[1]
        if name not in values:
            known = ", ".join(sorted(values))
            raise scope.error(f"{where}: unknown business rule ${{{name}}} (known: {known})")
        try:
            return sql_literal(values[name])
        except ValueError as exc:
            raise scope.error(f"{where}: business rule {name} {exc}") from None

    return _PLACEHOLDER.sub(literal, text)


def compile_sql(
    text: str,
    *,
    business_rules: BusinessRules,
    columns: Collection[str],
    scope: Scope,
    where: str,
) -> CompiledSql:
    """``text`` compiled over ``columns``; a TransformError if it is not valid SQL or reads another column."""
    sql = substitute(text, business_rules, scope=scope, where=where)
    try:
        expr = pl.sql_expr(sql)
    except pl.exceptions.PolarsError as exc:
        raise scope.error(f"{where}: {text!r} is not a valid SQL expression: {exc}") from None
    used = tuple(dict.fromkeys(expr.meta.root_names()))
    unknown = [name for name in used if name not in columns]
    if unknown:
        raise scope.error(
            f"{where}: {text!r} refers to unknown column(s) {', '.join(unknown)}; "
            f"available: {', '.join(columns)}"
        )
    return CompiledSql(text, expr, used)


def result_type(frame: pl.LazyFrame, compiled: CompiledSql, *, scope: Scope, where: str) -> pl.DataType:
    """The type ``compiled`` yields over ``frame``, resolved now so type errors surface before any data is read."""
    try:
        return frame.select(compiled.expr).collect_schema().dtypes()[0]
    except pl.exceptions.PolarsError as exc:
        message = str(exc).split("\n\n")[0]
        raise scope.error(f"{where}: {compiled.text!r} cannot be evaluated: {message}") from None


def compile_condition(
    frame: pl.LazyFrame,
    text: str,
    *,
    business_rules: BusinessRules,
    columns: Collection[str],
    scope: Scope,
    where: str,
) -> CompiledSql:
    """Like ``compile_sql``, and the expression must be true/false, as a filter or rule needs."""
    compiled = compile_sql(text, business_rules=business_rules, columns=columns, scope=scope, where=where)
    dtype = result_type(frame, compiled, scope=scope, where=where)
    if dtype != pl.Boolean:
        raise scope.error(f"{where}: {text!r} must be a condition (true/false), not {dtype}")
    return compiled
