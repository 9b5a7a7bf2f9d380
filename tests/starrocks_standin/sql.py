"""StarRocks statements, parsed by sqlglot's StarRocks dialect and run against the catalog.

Covers what the platform sends (SQL-model statements are in ``models``): CREATE DATABASE / TABLE (key model, partition,
distribution and properties checked as StarRocks checks them), CREATE / ALTER
USER, GRANT, REVOKE, ALTER TABLE ... SWAP WITH / ADD COLUMN, DROP TABLE, TRUNCATE,
INSERT (upserting into PRIMARY KEY tables), SELECT (of ``sys`` views too) and SHOW USERS. Every
statement is checked against the user's grants first. DROP DATABASE and ALTER
DATABASE are checked (DROP / ALTER on the database) and then refused as unsupported:
the platform never sends them, tests only need to see who may.
"""

from __future__ import annotations

import polars as pl
from mysql_mimic import ColumnType as WireType
from mysql_mimic import ResultColumn
from mysql_mimic.results import AllowedResult
from sqlglot import exp
from sqlglot.dialects import Dialect
from sqlglot.tokens import Token, TokenType

from .catalog import Catalog
from .create_table import column_from_def, table_from_create
from .errors import StarRocksError, access_denied, unknown_database, unsupported
from .info_schema import query_sys
from .models import ModelStatements
from .privileges import Privileges
from .values import polars_type

_WIRE_TYPES = {
    "BOOLEAN": WireType.TINY,
    "TINYINT": WireType.TINY,
    "SMALLINT": WireType.SHORT,
    "INTEGER": WireType.LONG,
    "BIGINT": WireType.LONGLONG,
    "HUGEINT": WireType.LONGLONG,
    "FLOAT": WireType.FLOAT,
    "DOUBLE": WireType.DOUBLE,
    "DATE": WireType.DATE,
    "TIMESTAMP": WireType.DATETIME,
}

_ALL_OBJECTS_OF_TYPE = {"TABLES": "TABLE", "VIEWS": "VIEW", "MATERIALIZED VIEWS": "MATERIALIZED VIEW"}


def _wire_type(duckdb_type: str) -> WireType:
    if duckdb_type.startswith("DECIMAL"):
        return WireType.NEWDECIMAL
    return _WIRE_TYPES.get(duckdb_type, WireType.STRING)


class SqlEngine:
    def __init__(self, catalog: Catalog, privileges: Privileges):
        self.catalog, self.privileges = catalog, privileges
        self.version = "3.5.21 standin"
        """What ``current_version()`` answers: ``<major.minor.patch> <commit>``."""
        self.tokenizer = Dialect.get_or_raise("starrocks").tokenizer_class()
        self.models = ModelStatements(self)

    # -- sessions ---------------------------------------------------------------

    def use(self, user: str, database: str) -> None:
        with self.catalog.lock:
            if database not in self.catalog.databases:
                raise unknown_database(database)
        if not self.privileges.sees_database(user, database):
            raise access_denied("ANY", "DATABASE", database)

    def execute(self, user: str, database: str | None, statement: exp.Expression) -> AllowedResult:
        handlers = (
            (exp.Create, self._create),
            (exp.Drop, self._drop),
            (exp.Alter, self._alter),
            (exp.Insert, self._insert),
            (exp.TruncateTable, self._truncate),
            (exp.Query, self._select),
            (exp.Command, self._command),
        )
        for kind, handler in handlers:
            if isinstance(statement, kind):
                return handler(user, database, statement)
        raise unsupported(type(statement).__name__.upper())

    def _where(self, table: exp.Table, database: str | None) -> tuple[str, str]:
        db = table.db or database
        if not db:
            raise StarRocksError("No database selected")
        return db, table.name

    # -- DDL --------------------------------------------------------------------

    def _create(self, user: str, database: str | None, statement: exp.Create) -> AllowedResult:
        kind = statement.args.get("kind", "").upper()
        if_not_exists = bool(statement.args.get("exists"))
        if kind == "DATABASE":
            self.privileges.require_admin(user, "CREATE DATABASE")
            self.catalog.create_database(statement.this.name, if_not_exists=if_not_exists)
            return None
        if kind != "TABLE" or not isinstance(statement.this, exp.Schema):
            raise unsupported(f"CREATE {kind}")
        db, name = self._where(statement.this.this, database)
        self.catalog.database(db)
        self.privileges.require(user, "DATABASE", db, "", "CREATE TABLE")
        self.catalog.create_table(table_from_create(db, name, statement), if_not_exists=if_not_exists)
        return None

    def _drop(self, user: str, database: str | None, statement: exp.Drop) -> AllowedResult:
        kind = statement.args.get("kind", "").upper()
        targets = statement.args.get("tables") or [statement.this]
        if kind == "DATABASE":
            name = targets[0].name
            if name not in self.catalog.databases and statement.args.get("exists"):
                return None
            return self._database_statement(user, name, "DROP")
        if kind != "TABLE":
            raise unsupported(f"DROP {statement.args.get('kind')}")
        for table in targets:
            db, name = self._where(table, database)
            self.catalog.database(db)
            self.privileges.require(user, "TABLE", db, name, "DROP")
            self.catalog.drop_table(db, name, if_exists=bool(statement.args.get("exists")))
        return None

    def _alter(self, user: str, database: str | None, statement: exp.Alter) -> AllowedResult:
        db, name = self._where(statement.this, database)
        self.catalog.table(db, name)
        self.privileges.require(user, "TABLE", db, name, "ALTER")
        actions = statement.args.get("actions") or []
        if len(actions) == 1 and isinstance(actions[0], exp.SwapTable):
            other = actions[0].this.name
            self.catalog.table(db, other)
            self.privileges.require(user, "TABLE", db, other, "ALTER")
            self.catalog.swap(db, name, other)
            return None
        if actions and all(isinstance(a, exp.ColumnDef) for a in actions):
            additions = []
            for action in actions:
                position = action.args.get("position")
                after = (
                    position.this.name
                    if position is not None and position.args.get("position") == "AFTER"
                    else None
                )
                additions.append((column_from_def(action), after))
            self.catalog.add_columns(db, name, additions)
            return None
        raise unsupported("this ALTER TABLE clause")

    def _database_statement(self, user: str, database: str, privilege: str) -> AllowedResult:
        """DROP / ALTER DATABASE: the privilege is checked, then the statement is refused."""
        self.catalog.database(database)
        self.privileges.require(user, "DATABASE", database, "", privilege)
        raise unsupported(f"{privilege} DATABASE")

    def _truncate(self, user: str, database: str | None, statement: exp.TruncateTable) -> AllowedResult:
        for table in statement.expressions:
            db, name = self._where(table, database)
            target = self.catalog.table(db, name)
            self.privileges.require(user, "TABLE", db, name, "DELETE")
            self.catalog.query(f"DELETE FROM {target.duck_name}")
        return None

    # -- DML and queries --------------------------------------------------------

    def _qualified(self, user: str, database: str | None, query: exp.Expression) -> str:
        """``query`` in DuckDB SQL with every table qualified, after checking SELECT on each."""
        ctes = {cte.alias for cte in query.find_all(exp.CTE)}

        def qualify(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Table) and node.name and node.name not in ctes:
                db, name = self._where(node, database)
                view = self.catalog.views.get(db, {}).get(name)
                if view is not None:
                    # SECURITY NONE: SELECT on the view is enough, whatever it reads.
                    self.privileges.require(user, view.kind, db, name, "SELECT")
                else:
                    self.catalog.table(db, name)
                    self.privileges.require(user, "TABLE", db, name, "SELECT")
                node = node.copy()
                node.set("db", exp.to_identifier(db))
            return node

        return query.transform(qualify).sql(dialect="duckdb")

    def reads(self, database: str | None, query: exp.Expression) -> frozenset[tuple[str, str]]:
        """(database, name) of every table or view ``query`` reads."""
        ctes = {cte.alias for cte in query.find_all(exp.CTE)}
        return frozenset(
            self._where(table, database)
            for table in query.find_all(exp.Table)
            if table.name and table.name not in ctes
        )

    def _select(self, user: str, database: str | None, statement: exp.Query) -> AllowedResult:
        if any(table.db.lower() == "sys" for table in statement.find_all(exp.Table)):
            return query_sys(self.privileges, user, statement)
        names, types, rows = self.catalog.query(self._qualified(user, database, statement))
        return rows, [ResultColumn(name, _wire_type(kind)) for name, kind in zip(names, types, strict=True)]

    def _insert(self, user: str, database: str | None, statement: exp.Insert) -> AllowedResult:
        target = statement.this.this if isinstance(statement.this, exp.Schema) else statement.this
        db, name = self._where(target, database)
        table = self.catalog.table(db, name)
        self.privileges.require(user, "TABLE", db, name, "INSERT")
        listed = (
            [e.name for e in statement.this.expressions] if isinstance(statement.this, exp.Schema) else None
        )
        columns = [table.column(n) for n in listed] if listed else table.columns
        if any(column is None for column in columns):
            raise StarRocksError(
                f"Getting analyzing error. Detail message: Unknown column in table '{name}'."
            )
        source = statement.expression
        if isinstance(source, exp.Values):
            source = exp.select("*").from_(source.as_("v"))
        _, _, rows = self.catalog.query(self._qualified(user, database, source))
        frame = pl.DataFrame(rows, schema=[c.name for c in columns], orient="row", infer_schema_length=None)
        try:
            frame = frame.select(pl.col(c.name).cast(polars_type(c)) for c in columns)
        except pl.exceptions.PolarsError:
            raise StarRocksError("Insert has filtered data in strict mode") from None
        if any(frame[c.name].null_count() for c in columns if not c.nullable):
            raise StarRocksError("Insert has filtered data in strict mode")
        self.catalog.write(table, frame)
        return None

    # -- statements sqlglot leaves as commands ------------------------------------

    def _command(self, user: str, database: str | None, statement: exp.Command) -> AllowedResult:
        tokens = self.tokenizer.tokenize(f"{statement.this} {statement.text('expression')}")
        words = [t.text.upper() for t in tokens]
        if words[:2] == ["SHOW", "USERS"]:
            self.privileges.require_admin(user, "GRANT")
            return [(f"'{u}'@'%'",) for u in self.privileges.users()], ["User"]
        if words[:2] in (["CREATE", "USER"], ["ALTER", "USER"]):
            self.privileges.require_admin(user, "GRANT")
            return self._user(words[0] == "CREATE", tokens[2:])
        if words[:1] in (["GRANT"], ["REVOKE"]):
            self.privileges.require_admin(user, "GRANT")
            return self._grant(tokens[1:], revoke=words[0] == "REVOKE")
        if words[:2] == ["ALTER", "DATABASE"]:
            return self._database_statement(user, tokens[2].text, "ALTER")
        raise unsupported(" ".join(words[:2]))

    def _user(self, create: bool, tokens: list[Token]) -> AllowedResult:
        if_not_exists = [t.text.upper() for t in tokens[:3]] == ["IF", "NOT", "EXISTS"]
        rest = tokens[3:] if if_not_exists else tokens
        user, rest = _account(rest)
        if [t.text.upper() for t in rest[:2]] != ["IDENTIFIED", "BY"] or len(rest) < 3:
            raise unsupported("users without IDENTIFIED BY")
        self.privileges.set_password(user, rest[2].text, create=create, if_not_exists=if_not_exists)
        return None

    def _grant(self, tokens: list[Token], *, revoke: bool) -> AllowedResult:
        """``GRANT <privileges> ON <object> TO [USER] <account>``, or REVOKE ... FROM."""
        on = next(i for i, t in enumerate(tokens) if t.token_type == TokenType.ON)
        privileges = " ".join(t.text.upper() if t.token_type != TokenType.COMMA else "," for t in tokens[:on])
        wanted = [p.strip() for p in privileges.split(",")]
        to = next(i for i, t in enumerate(tokens) if t.text.upper() == ("FROM" if revoke else "TO"))
        target = [t.text for t in tokens[on + 1 : to]]
        upper = [word.upper() for word in target]
        if upper[:1] == ["ALL"] and upper[-3:-1] == ["IN", "DATABASE"]:
            kind = " ".join(upper[1:-3])
            if kind not in _ALL_OBJECTS_OF_TYPE:
                raise unsupported(f"GRANT ON {' '.join(upper)}")
            object_type = _ALL_OBJECTS_OF_TYPE[kind]
            db, name = target[-1], "*"
        elif upper[:1] == ["DATABASE"] and len(target) == 2:
            object_type, db, name = "DATABASE", target[1], ""
        elif upper[:1] == ["TABLE"] and len(target) == 4 and target[2] == ".":
            object_type, db, name = "TABLE", target[1], target[3]
        else:
            raise unsupported(f"GRANT ON {' '.join(target)}")
        self.catalog.database(db)
        rest = tokens[to + 1 :]
        if rest and rest[0].text.upper() == "USER":
            rest = rest[1:]
        user, _ = _account(rest)
        change = self.privileges.revoke if revoke else self.privileges.grant
        change(user, object_type, db, name, wanted)
        return None


def _account(tokens: list[Token]) -> tuple[str, list[Token]]:
    """``'user'@'host'`` (or a bare name) at the head of ``tokens``; the host is not modelled."""
    if len(tokens) >= 3 and tokens[1].text == "@":
        return tokens[0].text, tokens[3:]
    return tokens[0].text, tokens[1:]
