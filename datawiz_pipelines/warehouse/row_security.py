"""Row-level security as per-role filtered views, the same on every backend.

Open-source StarRocks has no row access policies, so a protected relation gets one
view per role, ``rls_<role>__<relation>``, that returns only the rows of the role's
territories (``wss_territory_code``), either from the relation's own column or through
a documented join (``fact_invoice_details.customer_code`` -> ``dim_customer_master``).
On StarRocks the role (``<tenant>__<role>``, roles are cluster-wide) is granted SELECT
on its views only; DuckDB has no users or grants and builds the same views with the
same filter.

The view bodies are written here once, in StarRocks SQL, with sqlglot (literals and
identifiers quoted by the generator, never by string formatting); DuckDB transpiles them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

VIEW_PREFIX = "rls_"
ROLE_SEPARATOR = "__"


@dataclass(frozen=True)
class TerritoryJoin:
    """``relation.column`` must be a ``table.to_column`` whose ``territory_column`` is allowed."""

    column: str
    table: str
    to_column: str


@dataclass(frozen=True)
class RowSecurityRole:
    name: str
    territories: tuple[str, ...] | None
    """The territory codes the role sees; ``None``: every row."""
    users: tuple[str, ...] = ()


@dataclass(frozen=True)
class RowSecurityPolicy:
    """Who sees which rows of one relation (a warehouse table or a SQL model) of one tenant.

    A policy with no roles removes every row-security view of the relation.
    """

    relation: str
    roles: tuple[RowSecurityRole, ...]
    territory_column: str = "wss_territory_code"
    via: TerritoryJoin | None = None

    def view_name(self, role: RowSecurityRole | str) -> str:
        return rls_view_name(role if isinstance(role, str) else role.name, self.relation)

    def select_sql(self, role: RowSecurityRole) -> str:
        """The view body in StarRocks SQL."""
        return self.select(role).sql(dialect="starrocks")

    def select(self, role: RowSecurityRole) -> exp.Select:
        source = exp.Table(this=_identifier(self.relation), alias=exp.TableAlias(this=_identifier("t")))
        query = exp.select(exp.Column(this=exp.Star(), table=_identifier("t"))).from_(source)
        if role.territories is None:
            return query
        allowed = [exp.Literal.string(code) for code in role.territories]
        if self.via is None:
            return query.where(_column(self.territory_column, "t").isin(*allowed))
        keys = (
            exp.select(_column(self.via.to_column))
            .from_(exp.Table(this=_identifier(self.via.table)))
            .where(_column(self.territory_column).isin(*allowed))
        )
        return query.where(_column(self.via.column, "t").isin(query=keys))

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.relation,) if self.via is None else (self.relation, self.via.table)


def rls_view_name(role: str, relation: str) -> str:
    return f"{VIEW_PREFIX}{role}{ROLE_SEPARATOR}{relation}"


def split_rls_view_name(name: str) -> tuple[str, str] | None:
    """``(role, relation)`` of a row-security view name; ``None`` if it is not one.

    Role names never contain a double underscore (see ``config.governance``), so the
    first one after the prefix ends the role.
    """
    if not name.startswith(VIEW_PREFIX):
        return None
    role, separator, relation = name[len(VIEW_PREFIX) :].partition(ROLE_SEPARATOR)
    if not separator or not role or not relation:
        return None
    return role, relation


def _identifier(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def _column(name: str, table: str | None = None) -> exp.Column:
    return exp.Column(this=_identifier(name), table=_identifier(table) if table else None)
