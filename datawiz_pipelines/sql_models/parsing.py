"""Parsing model SQL (StarRocks dialect): one SELECT, the relations it reads, its rendering.

A model file holds one query, ``SELECT ...`` or ``WITH ... SELECT ...``, that may use
the tenant's business rules as ``${name}``. What it reads is found by walking sqlglot's
scopes, so CTE names, subqueries, joins and set operations are all resolved the way the
database resolves them: a CTE is not a table, a table read only inside a subquery is.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, OptimizeError, ParseError
from sqlglot.optimizer.scope import traverse_scope

from datawiz_pipelines.config.tenant import BusinessRules
from datawiz_pipelines.silver.errors import Scope, TransformError
from datawiz_pipelines.silver.expressions import substitute

DIALECT = "starrocks"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_]\w*)\}")


class SqlModelError(ValueError):
    """A model's SQL is invalid, reads what it may not, or cannot be rendered; the message names the file."""


def placeholders(text: str) -> list[str]:
    """The business rules ``text`` uses, in order of first use."""
    return list(dict.fromkeys(PLACEHOLDER.findall(text)))


def parse_select(text: str, *, where: str) -> exp.Query:
    """``text`` as one StarRocks query; ``${...}`` placeholders parse as NULL literals."""
    sql = PLACEHOLDER.sub("NULL", text)
    try:
        statements = [s for s in sqlglot.parse(sql, read=DIALECT, error_level=ErrorLevel.RAISE) if s]
    except ParseError as exc:
        detail = exc.errors[0]["description"] if exc.errors else str(exc)
        line = exc.errors[0].get("line") if exc.errors else None
        at = f" (line {line})" if line else ""
        raise SqlModelError(f"{where}: not valid StarRocks SQL{at}: {detail}") from None
    if len(statements) != 1:
        raise SqlModelError(f"{where}: must hold exactly one SELECT statement, found {len(statements)}")
    (statement,) = statements
    if not isinstance(statement, exp.Query):
        kind = statement.key.upper() if not isinstance(statement, exp.Command) else statement.name.upper()
        raise SqlModelError(
            f"{where}: must be a query (SELECT, or WITH ... SELECT), not a {kind} statement; "
            "the platform creates the view or table itself"
        )
    return statement


def relations_read(query: exp.Query, *, where: str) -> tuple[str, ...]:
    """The tables (or views) ``query`` reads, sorted; CTEs are resolved, not reported.

    Every name must be unqualified (a model reads its own tenant's database only) and
    a plain name, not a table function such as ``FILES(...)``.
    """
    for table in query.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise SqlModelError(
                f"{where}: reads from {table.this.sql(dialect=DIALECT)}; a model may read only "
                "the tenant's own tables and models"
            )
    try:
        scopes = traverse_scope(query)
    except OptimizeError as exc:
        raise SqlModelError(f"{where}: cannot resolve what the query reads: {exc}") from None
    names: set[str] = set()
    for scope in scopes:
        for source in scope.sources.values():
            if not isinstance(source, exp.Table):
                continue
            if source.args.get("db") or source.args.get("catalog"):
                raise SqlModelError(
                    f"{where}: {source.sql(dialect=DIALECT)} names a database; write the bare table "
                    "name: a model reads only its own tenant's database"
                )
            names.add(source.name)
    return tuple(sorted(names))


def substitute_rules(
    text: str, business_rules: BusinessRules, *, tenant_id: str, name: str, where: str
) -> str:
    """``text`` with each ``${rule}`` replaced by the tenant's value as a SQL literal."""
    try:
        return substitute(text, business_rules, scope=Scope(tenant_id, name), where=where)
    except TransformError as exc:
        raise SqlModelError(str(exc)) from None


def render_starrocks(
    text: str, business_rules: BusinessRules, *, tenant_id: str, name: str, where: str
) -> str:
    """The tenant's query in StarRocks SQL as sqlglot writes it: rules substituted, literals normalized, comments dropped (the description becomes the object's COMMENT)."""
    sql = substitute_rules(text, business_rules, tenant_id=tenant_id, name=name, where=where)
    return parse_select(sql, where=where).sql(dialect=DIALECT, pretty=True, comments=False)


def starrocks_to_duckdb(sql: str) -> str:
    """One StarRocks statement transpiled to DuckDB SQL."""
    try:
        (duckdb_sql,) = sqlglot.transpile(sql, read=DIALECT, write="duckdb", error_level=ErrorLevel.RAISE)
    except (ParseError, ValueError) as exc:
        raise SqlModelError(f"cannot transpile to DuckDB: {exc}") from None
    return duckdb_sql
