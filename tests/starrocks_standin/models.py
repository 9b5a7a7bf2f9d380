"""Statements behind SQL models, matched on their text (sqlglot keeps most as commands):
views, asynchronous materialized views, CREATE TABLE AS SELECT and RENAME, roles.

* ``CREATE [OR REPLACE] VIEW v [COMMENT '..'] AS <query>``: a DuckDB view; reading it
  needs SELECT on the view only (StarRocks' default ``SECURITY NONE``).
* ``CREATE MATERIALIZED VIEW mv [COMMENT '..'] REFRESH [DEFERRED|IMMEDIATE] ASYNC|MANUAL ..
  AS <query>``: a DuckDB table, empty until ``REFRESH MATERIALIZED VIEW mv [FORCE]
  [WITH SYNC|ASYNC MODE]`` rebuilds it (both modes finish before answering here). A SWAP of
  a base table makes it inactive (``information_schema.materialized_views.IS_ACTIVE``);
  an inactive MV refuses REFRESH until ``ALTER MATERIALIZED VIEW mv ACTIVE``.
* ``ALTER MATERIALIZED VIEW a SWAP WITH b``, ``DROP VIEW`` / ``DROP MATERIALIZED VIEW``.
* ``CREATE TABLE t [COMMENT '..'] [PROPERTIES (..)] AS <query>`` (a DUPLICATE KEY table),
  ``ALTER TABLE a RENAME b``.
* ``CREATE ROLE``, ``DROP ROLE``, ``SHOW ROLES``, ``GRANT <privs> ON VIEW|MATERIALIZED VIEW|TABLE
  x TO ROLE r``, ``GRANT r TO USER u``, ``REVOKE r FROM [USER] u``, ``SET DEFAULT ROLE ALL TO u``,
  ``SHOW GRANTS [FOR u]`` (sqlglot cannot parse the account there).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import sqlglot
from mysql_mimic.results import AllowedResult
from sqlglot import exp

from .catalog import Column, Table, View
from .errors import StarRocksError, unknown_table

if TYPE_CHECKING:
    from .sql import SqlEngine

_NAME = r"(?:`?(\w+)`?\s*\.\s*)?`?(\w+)`?"
_LITERAL = r"'(?:[^'\\]|\\.|'')*'"
_ACCOUNT = r"(?:'(\w+)'\s*@\s*'[^']*'|`?(\w+)`?)"
_FLAGS = re.IGNORECASE | re.DOTALL

_CREATE_VIEW = re.compile(
    rf"\s*CREATE\s+(OR\s+REPLACE\s+)?VIEW\s+(IF\s+NOT\s+EXISTS\s+)?{_NAME}\s*"
    rf"(?:COMMENT\s+({_LITERAL})\s*)?AS\s+(.*)",
    _FLAGS,
)
_CREATE_MV = re.compile(
    rf"\s*CREATE\s+MATERIALIZED\s+VIEW\s+(IF\s+NOT\s+EXISTS\s+)?{_NAME}\s*"
    rf"(?:COMMENT\s+({_LITERAL})\s*)?(.*?)\bAS\s+(.*)",
    _FLAGS,
)
_REFRESH_MV = re.compile(
    rf"\s*REFRESH\s+MATERIALIZED\s+VIEW\s+{_NAME}(\s+FORCE)?(?:\s+WITH\s+(SYNC|ASYNC)\s+MODE)?\s*;?\s*",
    _FLAGS,
)
_ALTER_MV = re.compile(
    rf"\s*ALTER\s+MATERIALIZED\s+VIEW\s+{_NAME}\s+(ACTIVE|INACTIVE|SWAP\s+WITH\s+`?(\w+)`?)\s*;?\s*", _FLAGS
)
_DROP_VIEW = re.compile(rf"\s*DROP\s+(VIEW|MATERIALIZED\s+VIEW)\s+(IF\s+EXISTS\s+)?{_NAME}\s*;?\s*", _FLAGS)
_CTAS = re.compile(
    rf"\s*CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?{_NAME}\s*(?:COMMENT\s+({_LITERAL})\s*)?"
    rf"(?:PROPERTIES\s*\([^)]*\)\s*)?AS\s+(.*)",
    _FLAGS,
)
_RENAME = re.compile(rf"\s*ALTER\s+TABLE\s+{_NAME}\s+RENAME\s+`?(\w+)`?\s*;?\s*", _FLAGS)
_CREATE_ROLE = re.compile(r"\s*CREATE\s+ROLE\s+(IF\s+NOT\s+EXISTS\s+)?`?(\w+)`?\s*;?\s*", _FLAGS)
_DROP_ROLE = re.compile(r"\s*DROP\s+ROLE\s+(IF\s+EXISTS\s+)?`?(\w+)`?\s*;?\s*", _FLAGS)
_SHOW_ROLES = re.compile(r"\s*SHOW\s+ROLES\s*;?\s*", _FLAGS)
_GRANT_TO_ROLE = re.compile(
    rf"\s*GRANT\s+([\w\s,]+?)\s+ON\s+(VIEW|MATERIALIZED\s+VIEW|TABLE)\s+{_NAME}\s+TO\s+ROLE\s+`?(\w+)`?\s*;?\s*",
    _FLAGS,
)
_GRANT_ROLE = re.compile(rf"\s*GRANT\s+`?(\w+)`?\s+TO\s+(?:USER\s+)?{_ACCOUNT}\s*;?\s*", _FLAGS)
_REVOKE_ROLE = re.compile(rf"\s*REVOKE\s+`?(\w+)`?\s+FROM\s+(?:USER\s+)?{_ACCOUNT}\s*;?\s*", _FLAGS)
_DEFAULT_ROLE = re.compile(rf"\s*SET\s+DEFAULT\s+ROLE\s+ALL\s+TO\s+{_ACCOUNT}\s*;?\s*", _FLAGS)
_SHOW_GRANTS = re.compile(rf"\s*SHOW\s+GRANTS(?:\s+FOR\s+(?:USER\s+)?{_ACCOUNT})?\s*;?\s*", _FLAGS)

NOT_MATCHED = object()


def _literal(text: str | None) -> str:
    return sqlglot.parse_one(text, read="starrocks").name if text else ""


def _kind(text: str) -> str:
    return " ".join(text.upper().split())


class ModelStatements:
    def __init__(self, engine: SqlEngine):
        self.engine = engine
        self.catalog, self.privileges = engine.catalog, engine.privileges

    def run(self, user: str, database: str | None, sql: str) -> object:
        """The statement's result, or ``NOT_MATCHED`` when it is none of these."""
        handlers = (
            (_CREATE_VIEW, self._create_view),
            (_CREATE_MV, self._create_mv),
            (_REFRESH_MV, self._refresh_mv),
            (_ALTER_MV, self._alter_mv),
            (_DROP_VIEW, self._drop_view),
            (_CTAS, self._ctas),
            (_RENAME, self._rename),
            (_CREATE_ROLE, self._create_role),
            (_DROP_ROLE, self._drop_role),
            (_SHOW_ROLES, self._show_roles),
            (_GRANT_TO_ROLE, self._grant_to_role),
            (_DEFAULT_ROLE, self._default_role),
            (_GRANT_ROLE, self._grant_role),
            (_REVOKE_ROLE, self._revoke_role),
            (_SHOW_GRANTS, self._show_grants),
        )
        for pattern, handler in handlers:
            match = pattern.fullmatch(sql)
            if match:
                with self.catalog.lock:
                    return handler(user, database, match)
        return NOT_MATCHED

    def _db(self, database: str | None, named: str | None) -> str:
        db = named or database
        if not db:
            raise StarRocksError("No database selected")
        self.catalog.database(db)
        return db

    def _compile(self, user: str, database: str, select_sql: str) -> tuple[str, frozenset[tuple[str, str]]]:
        query = sqlglot.parse_one(select_sql.strip().rstrip(";"), read="starrocks")
        if not isinstance(query, exp.Query):
            raise StarRocksError("Getting syntax error. Detail message: a query is expected after AS.")
        return self.engine._qualified(user, database, query), self.engine.reads(database, query)

    def _taken(self, db: str, name: str) -> bool:
        return name in self.catalog.databases[db] or name in self.catalog.views[db]

    # -- views and materialized views -------------------------------------------------

    def _create_view(self, user: str, database: str | None, m: re.Match) -> AllowedResult:
        or_replace, if_not_exists, db, name, comment, select_sql = m.groups()
        db = self._db(database, db)
        self.privileges.require(user, "DATABASE", db, "", "CREATE VIEW")
        duck_sql, reads = self._compile(user, db, select_sql)
        existing = self.catalog.views[db].get(name)
        if name in self.catalog.databases[db] or (existing and existing.kind != "VIEW"):
            raise StarRocksError(f"Getting analyzing error. Detail message: Table '{name}' already exists.")
        if existing and not or_replace:
            if if_not_exists:
                return None
            raise StarRocksError(f"Getting analyzing error. Detail message: Table '{name}' already exists.")
        view = View(db, name, "VIEW", select_sql, duck_sql, reads, comment=_literal(comment))
        self.catalog.duck.execute(f"CREATE OR REPLACE VIEW {view.duck_name} AS {duck_sql}")
        self.catalog.views[db][name] = view
        return None

    def _create_mv(self, user: str, database: str | None, m: re.Match) -> AllowedResult:
        if_not_exists, db, name, comment, options, select_sql = m.groups()
        db = self._db(database, db)
        self.privileges.require(user, "DATABASE", db, "", "CREATE MATERIALIZED VIEW")
        refresh = re.search(
            r"REFRESH\s+(?:DEFERRED\s+|IMMEDIATE\s+)?(ASYNC.*?|MANUAL)\s*(?:PROPERTIES|$)", options, _FLAGS
        )
        if refresh is None:
            raise StarRocksError("Getting syntax error. Detail message: REFRESH ASYNC or MANUAL is expected.")
        duck_sql, reads = self._compile(user, db, select_sql)
        if self._taken(db, name):
            if if_not_exists:
                return None
            raise StarRocksError(f"Getting analyzing error. Detail message: Table '{name}' already exists.")
        view = View(
            db,
            name,
            "MATERIALIZED VIEW",
            select_sql,
            duck_sql,
            reads,
            comment=_literal(comment),
            refresh=" ".join(refresh[1].split()).upper(),
        )
        self.catalog.duck.execute(f"CREATE TABLE {view.duck_name} AS SELECT * FROM ({duck_sql}) AS q LIMIT 0")
        self.catalog.views[db][name] = view
        if re.search(r"REFRESH\s+IMMEDIATE", options, _FLAGS):
            self._rebuild(view)
        return None

    def _rebuild(self, view: View) -> None:
        self.catalog.duck.execute(f"CREATE OR REPLACE TABLE {view.duck_name} AS {view.duck_sql}")

    def _refresh_mv(self, user: str, database: str | None, m: re.Match) -> AllowedResult:
        db, name = self._db(database, m[1]), m[2]
        view = self.catalog.view(db, name, "MATERIALIZED VIEW")
        self.privileges.require(user, "MATERIALIZED VIEW", db, name, "REFRESH")
        if not view.active:
            raise StarRocksError(
                f"Refresh materialized view failed because [{name}] is not active. You can try to "
                f"active it with ALTER MATERIALIZED VIEW {name} ACTIVE; "
            )
        self._rebuild(view)
        return None

    def _alter_mv(self, user: str, database: str | None, m: re.Match) -> AllowedResult:
        db, name, action, other = self._db(database, m[1]), m[2], _kind(m[3]), m[4]
        view = self.catalog.view(db, name, "MATERIALIZED VIEW")
        self.privileges.require(user, "MATERIALIZED VIEW", db, name, "ALTER")
        if action in ("ACTIVE", "INACTIVE"):
            view.active, view.inactive_reason = (
                action == "ACTIVE",
                "" if action == "ACTIVE" else "user use alter",
            )
            return None
        second = self.catalog.view(db, other, "MATERIALIZED VIEW")
        self.privileges.require(user, "MATERIALIZED VIEW", db, other, "ALTER")
        duck = self.catalog.duck
        duck.execute("BEGIN")
        try:
            duck.execute(f'ALTER TABLE {view.duck_name} RENAME TO "__swap__"')
            duck.execute(f'ALTER TABLE {second.duck_name} RENAME TO "{name}"')
            duck.execute(f'ALTER TABLE "{db}"."main"."__swap__" RENAME TO "{other}"')
        except BaseException:
            duck.execute("ROLLBACK")
            raise
        duck.execute("COMMIT")
        view.name, second.name = other, name
        self.catalog.views[db][name], self.catalog.views[db][other] = second, view
        return None

    def _drop_view(self, user: str, database: str | None, m: re.Match) -> AllowedResult:
        kind, if_exists, db, name = _kind(m[1]), m[2], self._db(database, m[3]), m[4]
        view = self.catalog.views[db].get(name)
        if view is None or view.kind != kind:
            if if_exists and name not in self.catalog.databases[db]:
                return None
            raise unknown_table(db, name)
        self.privileges.require(user, kind, db, name, "DROP")
        self.catalog.duck.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} {view.duck_name}")
        del self.catalog.views[db][name]
        return None

    # -- tables -------------------------------------------------------------------

    def _ctas(self, user: str, database: str | None, m: re.Match) -> AllowedResult:
        if_not_exists, db, name, _comment, select_sql = m.groups()
        db = self._db(database, db)
        self.privileges.require(user, "DATABASE", db, "", "CREATE TABLE")
        duck_sql, _ = self._compile(user, db, select_sql)
        if self._taken(db, name):
            if if_not_exists:
                return None
            raise StarRocksError(f"Getting analyzing error. Detail message: Table '{name}' already exists.")
        duck_name = f'"{db}"."main"."{name}"'
        self.catalog.duck.execute(f"CREATE TABLE {duck_name} AS {duck_sql}")
        described = self.catalog.duck.execute(f"DESCRIBE {duck_name}").fetchall()
        columns = [
            Column(column, exp.DataType.build(kind, dialect="duckdb").sql("starrocks"), True)
            for column, kind, *_ in described
        ]
        self.catalog.databases[db][name] = Table(db, name, columns, "DUPLICATE", [columns[0].name])
        return None

    def _rename(self, user: str, database: str | None, m: re.Match) -> AllowedResult:
        db, name, new_name = self._db(database, m[1]), m[2], m[3]
        self.catalog.table(db, name)
        self.privileges.require(user, "TABLE", db, name, "ALTER")
        self.catalog.rename_table(db, name, new_name)
        return None

    # -- roles ----------------------------------------------------------------------

    def _create_role(self, user: str, database: str | None, m: re.Match) -> AllowedResult:
        self.privileges.require_admin(user, "GRANT")
        self.privileges.create_role(m[2], if_not_exists=bool(m[1]))
        return None

    def _drop_role(self, user: str, database: str | None, m: re.Match) -> AllowedResult:
        self.privileges.require_admin(user, "GRANT")
        self.privileges.drop_role(m[2], if_exists=bool(m[1]))
        return None

    def _show_roles(self, user: str, database: str | None, m: re.Match) -> AllowedResult:
        self.privileges.require_admin(user, "GRANT")
        return [(role,) for role in self.privileges.roles()], ["Name"]

    def _grant_to_role(self, user: str, database: str | None, m: re.Match) -> AllowedResult:
        self.privileges.require_admin(user, "GRANT")
        privileges, kind, db, name, role = m.groups()
        kind, db = _kind(kind), self._db(database, db)
        if kind == "TABLE":
            self.catalog.table(db, name)
        else:
            self.catalog.view(db, name, kind)
        wanted = [_kind(p) for p in privileges.split(",")]
        self.privileges.grant_to_role(role, kind, db, name, wanted)
        return None

    def _grant_role(self, user: str, database: str | None, m: re.Match) -> AllowedResult:
        self.privileges.require_admin(user, "GRANT")
        self.privileges.grant_role(m[1], m[2] or m[3])
        return None

    def _revoke_role(self, user: str, database: str | None, m: re.Match) -> AllowedResult:
        self.privileges.require_admin(user, "GRANT")
        self.privileges.revoke_role(m[1], m[2] or m[3])
        return None

    def _default_role(self, user: str, database: str | None, m: re.Match) -> AllowedResult:
        self.privileges.require_admin(user, "GRANT")
        self.privileges.set_default_roles_all(m[1] or m[2])
        return None

    def _show_grants(self, user: str, database: str | None, m: re.Match) -> AllowedResult:
        """Another user's grants need the SYSTEM GRANT privilege; one's own do not."""
        grantee = m[1] or m[2] or user
        if grantee != user:
            self.privileges.require_admin(user, "GRANT")
        return self.privileges.show_grants(grantee), ["UserIdentity", "Catalog", "Grants"]
