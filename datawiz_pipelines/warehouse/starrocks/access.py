"""The tenant's StarRocks user and the grants that confine it to its own database.

StarRocks 3.x grants per object type: ``ALL ON DATABASE`` covers CREATE TABLE,
ALTER, DROP and the like on the database, but not reading or writing the tables
in it; those need ``ON ALL TABLES IN DATABASE``, and views and materialized
views need their own grants. Everything is granted to the user directly, not
through a role, because a role stays inactive until the session activates it
and Stream Load only uses default roles.
"""

from __future__ import annotations

from datawiz_pipelines.warehouse.starrocks.ddl import quote

TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE, ALTER, DROP"
VIEW_PRIVILEGES = "SELECT, ALTER, DROP"
MATERIALIZED_VIEW_PRIVILEGES = "SELECT, ALTER, REFRESH, DROP"


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
        f"GRANT ALL ON DATABASE {db} {to}",
        f"GRANT {TABLE_PRIVILEGES} ON ALL TABLES IN DATABASE {db} {to}",
        f"GRANT {VIEW_PRIVILEGES} ON ALL VIEWS IN DATABASE {db} {to}",
        f"GRANT {MATERIALIZED_VIEW_PRIVILEGES} ON ALL MATERIALIZED VIEWS IN DATABASE {db} {to}",
    ]
