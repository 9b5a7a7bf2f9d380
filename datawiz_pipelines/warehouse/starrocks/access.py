"""The tenant's StarRocks user and the grants that confine it to its own database.

StarRocks 3.x grants per object type. At database level the tenant gets only what
creating objects needs (``DATABASE_PRIVILEGES``), not ``ALL``, which adds ALTER
(rename, quota) and DROP of the database itself. Reading and writing the tables
needs ``ON ALL TABLES IN DATABASE`` (tables created later included), and views and
materialized views need their own grants. Everything is granted to the user
directly, not through a role, because a role stays inactive until the session
activates it and Stream Load only uses default roles.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from datawiz_pipelines.warehouse.starrocks.ddl import quote

DATABASE_PRIVILEGES = ("CREATE TABLE", "CREATE VIEW", "CREATE MATERIALIZED VIEW")
"""What StarRocks checks on the database for CREATE TABLE (staging tables, CREATE TABLE AS),
CREATE VIEW and CREATE MATERIALIZED VIEW; every other statement is checked on the object."""
TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE, ALTER, DROP"
VIEW_PRIVILEGES = "SELECT, ALTER, DROP"
MATERIALIZED_VIEW_PRIVILEGES = "SELECT, ALTER, REFRESH, DROP"

_DATABASE_GRANT = re.compile(r"GRANT (?P<privileges>.+?) ON DATABASE `?(?P<database>[^`\s]+)`? TO ", re.I)


def account(user: str) -> str:
    """``'user'@'%'``: the tenant may connect from any host; its password is what protects it."""
    return f"'{user}'@'%'"


CREATE_USER_SQL = "CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s"
ALTER_USER_SQL = "ALTER USER %s@%s IDENTIFIED BY %s"
"""Both take (user, host, password) as bound parameters, so the password never
appears in the statement text that errors and logs show."""


def password_args(user: str, password: str) -> list[str]:
    return [user, "%", password]


def grant_statements(database: str, user: str) -> list[str]:
    """Everything the tenant's pipelines need in its database, and nothing outside it."""
    db = quote(database)
    to = f"TO USER {account(user)}"
    return [
        f"GRANT {', '.join(DATABASE_PRIVILEGES)} ON DATABASE {db} {to}",
        f"GRANT {TABLE_PRIVILEGES} ON ALL TABLES IN DATABASE {db} {to}",
        f"GRANT {VIEW_PRIVILEGES} ON ALL VIEWS IN DATABASE {db} {to}",
        f"GRANT {MATERIALIZED_VIEW_PRIVILEGES} ON ALL MATERIALIZED VIEWS IN DATABASE {db} {to}",
    ]


def show_grants_sql(user: str) -> str:
    """Rows of (UserIdentity, Catalog, Grants); Grants reads like
    ``GRANT CREATE TABLE, DROP, ALTER, ... ON DATABASE db TO USER 'u'@'%'``."""
    return f"SHOW GRANTS FOR {account(user)}"


def revoke_statements(database: str, user: str, grants: Iterable[str]) -> list[str]:
    """``REVOKE`` of the database-level privileges the user holds beyond ``DATABASE_PRIVILEGES``,
    such as the ``ALL`` earlier provisioning granted; none when there are none.

    ``grants`` is the Grants column of ``show_grants_sql``. Run after ``grant_statements``:
    the user never lacks what it needs, even for a moment. Only privileges the user holds
    are named, because StarRocks refuses to revoke a privilege type its version does not
    know (``CREATE PIPE`` came with 3.2).
    """
    surplus: list[str] = []
    for grant in grants:
        match = _DATABASE_GRANT.match(grant)
        if match is None or match["database"] != database:
            continue
        for privilege in (" ".join(p.split()).upper() for p in match["privileges"].split(",")):
            if privilege not in DATABASE_PRIVILEGES and privilege not in surplus:
                surplus.append(privilege)
    if not surplus:
        return []
    return [f"REVOKE {', '.join(surplus)} ON DATABASE {quote(database)} FROM USER {account(user)}"]
