"""StarRocks SQL for the post-load SQL models: pure functions, no connection.

What ``StarRocksWarehouse`` runs to implement the model methods of the ``Warehouse``
interface (``warehouse/base.py``). Every SELECT handed in is already StarRocks SQL
(rendered by ``sql_models``); everything here only wraps it in the right statement
and quotes names with backticks (names are checked identifiers).

* Views: ``CREATE OR REPLACE VIEW``; readers never see the view missing.
* Materialized views (asynchronous): created ``REFRESH DEFERRED <scheme>`` and then
  refreshed ``WITH SYNC MODE``, so the asset finishes with data in place. The
  definition's fingerprint rides in the COMMENT; when it changes, a staging MV is built
  and refreshed, then ``ALTER MATERIALIZED VIEW .. SWAP WITH`` puts it in place
  atomically (the query of an MV cannot be altered in place). When it has not changed,
  ``ALTER MATERIALIZED VIEW .. ACTIVE`` (a swap of a base table leaves MVs inactive)
  and a synchronous refresh.
* Derived tables: ``CREATE TABLE <staging> AS SELECT`` then ``ALTER TABLE .. SWAP WITH``
  (or ``RENAME`` the first time); then every MV the swap made inactive is re-activated.
* Row-level security: one view per role (run as the tenant's user, which owns its
  database), then as the admin: ``CREATE ROLE IF NOT EXISTS <tenant>__<role>`` (roles
  are cluster-wide, hence the tenant prefix), ``GRANT SELECT ON VIEW`` of the role's
  own views only, ``GRANT <role> TO USER`` and ``SET DEFAULT ROLE ALL TO`` the listed
  users so the role is active when they log in; ``DROP ROLE`` for the tenant's roles its
  configuration no longer names, and ``REVOKE <role> FROM`` the users holding one it no
  longer lists them for (memberships from ``sys.role_edges``). The views use the default
  ``SECURITY NONE``: SELECT on the view is enough, the role gets nothing on base tables.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlglot import exp

from datawiz_pipelines.config.governance import is_role_name, tenant_role_name
from datawiz_pipelines.config.identifiers import check_identifier
from datawiz_pipelines.warehouse.row_security import RowSecurityPolicy, split_rls_view_name

FINGERPRINT_MARK = "datawiz-sql:"
_FINGERPRINT = re.compile(re.escape(FINGERPRINT_MARK) + r"([0-9a-f]{16})")

INACTIVE_MATERIALIZED_VIEWS_SQL = (
    "SELECT TABLE_NAME FROM information_schema.materialized_views "
    "WHERE TABLE_SCHEMA = %s AND IS_ACTIVE = 'false' ORDER BY TABLE_NAME"
)
"""pymysql parameters: (database,). The MVs a swap of a base table left inactive."""
MATERIALIZED_VIEW_COMMENT_SQL = (
    "SELECT TABLE_COMMENT FROM information_schema.tables WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s"
)
"""pymysql parameters: (database, name). Holds the definition fingerprint
(``fingerprint_in``); ``SHOW CREATE MATERIALIZED VIEW`` shows it too."""
VIEWS_SQL = "SELECT TABLE_NAME FROM information_schema.views WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME"
"""pymysql parameters: (database,). Existing views, to find stale row-security views."""
SHOW_ROLES_SQL = "SHOW ROLES"
"""One column, ``Name``: every role of the cluster, to find a tenant's stale ones (``stale_roles``)."""
ROLE_EDGES_SQL = "SELECT FROM_ROLE, TO_USER FROM sys.role_edges WHERE TO_USER IS NOT NULL"
"""Rows of (role, user identity ``'user'@'host'``): every role granted to a user (``TO_USER`` is
NULL for a role granted to a role). StarRocks 3.1+ (provisioning refuses older servers);
only ``user_admin`` may read it by default."""


def quote(name: str) -> str:
    return f"`{check_identifier(name)}`"


def qualified(database: str, name: str) -> str:
    return f"{quote(database)}.{quote(name)}"


def string_literal(text: str) -> str:
    """A StarRocks string literal (sqlglot escapes quotes and backslashes)."""
    return exp.Literal.string(text).sql(dialect="starrocks")


def account(user: str) -> str:
    return f"'{check_identifier(user)}'@'%'"


def role_name(tenant_id: str, role: str) -> str:
    """The cluster-wide StarRocks role of a tenant's RLS role: ``<tenant>__<role>``."""
    return tenant_role_name(check_identifier(tenant_id), check_identifier(role))


# -- views ---------------------------------------------------------------------------


def create_view_sql(database: str, name: str, select_sql: str, *, description: str = "") -> str:
    comment = f" COMMENT {string_literal(description)}" if description else ""
    return f"CREATE OR REPLACE VIEW {qualified(database, name)}{comment} AS\n{select_sql}"


def drop_view_sql(database: str, name: str) -> str:
    return f"DROP VIEW IF EXISTS {qualified(database, name)}"


# -- materialized views ----------------------------------------------------------------


def fingerprint(select_sql: str, refresh: str) -> str:
    """16 hex digits identifying a materialized view's definition (query and refresh scheme)."""
    return hashlib.sha256(f"{refresh}\n{select_sql}".encode()).hexdigest()[:16]


def fingerprint_in(text: str | None) -> str | None:
    """The fingerprint in a COMMENT or ``SHOW CREATE MATERIALIZED VIEW`` output, if any."""
    match = _FINGERPRINT.search(text or "")
    return match[1] if match else None


def create_materialized_view_sql(
    database: str,
    name: str,
    select_sql: str,
    *,
    refresh: str = "ASYNC",
    description: str = "",
    replication_num: int = 1,
) -> str:
    """``REFRESH DEFERRED``: the caller refreshes it at once ``WITH SYNC MODE``."""
    mark = f"{FINGERPRINT_MARK}{fingerprint(select_sql, refresh)}"
    comment = f"{description} [{mark}]" if description else f"[{mark}]"
    return (
        f"CREATE MATERIALIZED VIEW {qualified(database, name)}\n"
        f"COMMENT {string_literal(comment)}\n"
        f"REFRESH DEFERRED {refresh}\n"
        f'PROPERTIES ("replication_num" = "{int(replication_num)}")\n'
        f"AS\n{select_sql}"
    )


def refresh_materialized_view_sql(database: str, name: str, *, force: bool = False, sync: bool = True) -> str:
    return (
        f"REFRESH MATERIALIZED VIEW {qualified(database, name)}"
        f"{' FORCE' if force else ''}{' WITH SYNC MODE' if sync else ''}"
    )


def activate_materialized_view_sql(database: str, name: str) -> str:
    return f"ALTER MATERIALIZED VIEW {qualified(database, name)} ACTIVE"


def swap_materialized_view_sql(database: str, name: str, other: str) -> str:
    return f"ALTER MATERIALIZED VIEW {qualified(database, name)} SWAP WITH {quote(other)}"


def drop_materialized_view_sql(database: str, name: str) -> str:
    return f"DROP MATERIALIZED VIEW IF EXISTS {qualified(database, name)}"


def show_create_materialized_view_sql(database: str, name: str) -> str:
    return f"SHOW CREATE MATERIALIZED VIEW {qualified(database, name)}"


def materialized_view_statements(
    database: str,
    name: str,
    select_sql: str,
    *,
    exists: bool,
    existing_fingerprint: str | None,
    staging: str,
    refresh: str = "ASYNC",
    description: str = "",
    replication_num: int = 1,
) -> tuple[str, list[str]]:
    """(action, statements) that leave ``name`` defined by ``select_sql`` and freshly refreshed.

    ``exists``/``existing_fingerprint`` come from ``MATERIALIZED_VIEW_COMMENT_SQL``;
    ``staging`` is a fresh name (e.g. ``<name>__staging_<hex>``) used only when replacing.
    """
    create = {"refresh": refresh, "description": description, "replication_num": replication_num}
    if not exists:
        return "created", [
            create_materialized_view_sql(database, name, select_sql, **create),
            refresh_materialized_view_sql(database, name),
        ]
    if existing_fingerprint == fingerprint(select_sql, refresh):
        return "refreshed", [
            activate_materialized_view_sql(database, name),
            refresh_materialized_view_sql(database, name),
        ]
    return "replaced", [
        drop_materialized_view_sql(database, staging),
        create_materialized_view_sql(database, staging, select_sql, **create),
        refresh_materialized_view_sql(database, staging),
        swap_materialized_view_sql(database, name, staging),
        drop_materialized_view_sql(database, staging),
    ]


def reactivate_statements(database: str, inactive: Iterable[str]) -> list[str]:
    """``ALTER .. ACTIVE`` for each MV ``INACTIVE_MATERIALIZED_VIEWS_SQL`` returned."""
    return [activate_materialized_view_sql(database, name) for name in inactive]


# -- derived tables --------------------------------------------------------------------


def create_table_as_sql(
    database: str, name: str, select_sql: str, *, description: str = "", replication_num: int = 1
) -> str:
    comment = f"COMMENT {string_literal(description)}\n" if description else ""
    return (
        f"CREATE TABLE {qualified(database, name)}\n{comment}"
        f'PROPERTIES ("replication_num" = "{int(replication_num)}")\n'
        f"AS\n{select_sql}"
    )


def drop_table_sql(database: str, name: str) -> str:
    return f"DROP TABLE IF EXISTS {qualified(database, name)}"


def replace_table_statements(
    database: str,
    name: str,
    select_sql: str,
    *,
    exists: bool,
    staging: str,
    description: str = "",
    replication_num: int = 1,
) -> list[str]:
    """Build ``staging`` from the query, then swap it in (or rename it, the first time).

    Readers see the old table until the synchronous SWAP; a failure before it leaves the
    old table as it was. Afterwards run ``INACTIVE_MATERIALIZED_VIEWS_SQL`` and
    ``reactivate_statements``: the SWAP makes MVs reading the table inactive.
    """
    build = [
        drop_table_sql(database, staging),
        create_table_as_sql(
            database, staging, select_sql, description=description, replication_num=replication_num
        ),
    ]
    if not exists:
        return [*build, f"ALTER TABLE {qualified(database, staging)} RENAME {quote(name)}"]
    return [
        *build,
        f"ALTER TABLE {qualified(database, name)} SWAP WITH {quote(staging)}",
        drop_table_sql(database, staging),
    ]


def drop_model_sql(database: str, name: str, object_type: str) -> str:
    """``object_type`` as in ``warehouse.base.SqlObjectType``."""
    drops = {"view": drop_view_sql, "materialized_view": drop_materialized_view_sql, "table": drop_table_sql}
    return drops[object_type](database, name)


# -- row-level security ----------------------------------------------------------------


@dataclass(frozen=True)
class RowSecurityStatements:
    tenant: list[str] = field(default_factory=list)
    """Run as the tenant's user: drop stale views of the relation, create the role views."""
    admin: list[str] = field(default_factory=list)
    """Run as the admin (roles and grants need it): roles, view grants, user grants."""
    roles: dict[str, str] = field(default_factory=dict)
    """RLS role -> StarRocks role."""


def row_security_statements(
    database: str,
    tenant_id: str,
    policy: RowSecurityPolicy,
    *,
    existing_views: Iterable[str] = (),
    activate_for_users: bool = True,
) -> RowSecurityStatements:
    """Everything that applies ``policy`` to one relation of one tenant.

    ``existing_views``: the database's views (``VIEWS_SQL``), so views of roles the policy
    no longer has are dropped. Dropping a view drops its grants; roles the tenant no longer
    configures are found by ``stale_roles``.
    """
    wanted = {policy.view_name(role): role for role in policy.roles}
    statements = RowSecurityStatements()
    for view in sorted(existing_views):
        parts = split_rls_view_name(view)
        if parts and parts[1] == policy.relation and view not in wanted:
            statements.tenant.append(drop_view_sql(database, view))
    for view, role in wanted.items():
        territories = "all" if role.territories is None else ", ".join(role.territories)
        description = (
            f"Row-level security: {policy.relation} rows of territories {territories} (role {role.name})"
        )
        statements.tenant.append(
            create_view_sql(database, view, policy.select_sql(role), description=description)
        )
        starrocks_role = role_name(tenant_id, role.name)
        statements.roles[role.name] = starrocks_role
        statements.admin.extend(
            [
                f"CREATE ROLE IF NOT EXISTS {starrocks_role}",
                f"GRANT SELECT ON VIEW {qualified(database, view)} TO ROLE {starrocks_role}",
            ]
        )
        for user in role.users:
            statements.admin.append(f"GRANT {starrocks_role} TO USER {account(user)}")
            if activate_for_users:
                statements.admin.append(f"SET DEFAULT ROLE ALL TO {account(user)}")
    return statements


def is_tenant_role(tenant_id: str, starrocks_role: str) -> bool:
    """Whether ``starrocks_role`` is one of the tenant's: ``<tenant>__<role>`` with ``<role>`` a
    possible role name, so another tenant's roles (``acme__x__y`` of tenant ``acme__x``,
    ``acme___y`` of ``acme_``) and roles created by hand under other names never are."""
    prefix = tenant_role_name(tenant_id, "")
    return starrocks_role.startswith(prefix) and is_role_name(starrocks_role[len(prefix) :])


def stale_roles(tenant_id: str, configured: Iterable[str], existing_roles: Iterable[str]) -> list[str]:
    """The tenant's StarRocks roles (of ``SHOW ROLES``) for RLS roles ``configured`` no longer names."""
    keep = {role_name(tenant_id, role) for role in configured}
    return [role for role in sorted(existing_roles) if is_tenant_role(tenant_id, role) and role not in keep]


def drop_role_sql(role: str) -> str:
    return f"DROP ROLE IF EXISTS {role}"


def stale_memberships(
    tenant_id: str, configured: Mapping[str, Iterable[str]], edges: Iterable[tuple[str, str]]
) -> dict[str, list[str]]:
    """StarRocks role -> the user identities holding it that ``configured`` (RLS role -> users)
    no longer lists for it; ``edges`` are the rows of ``ROLE_EDGES_SQL``.

    Only the tenant's roles that ``configured`` names count: the others are not the tenant's
    (``is_tenant_role``) or are stale roles, dropped with their memberships.
    """
    listed = {
        role_name(tenant_id, role): {account(user) for user in users} for role, users in configured.items()
    }
    stale: dict[str, list[str]] = {}
    for role, user in sorted(edges):
        if is_tenant_role(tenant_id, role) and role in listed and user not in listed[role]:
            stale.setdefault(role, []).append(user)
    return stale


def revoke_role_sql(role: str, user: str) -> str:
    """``user`` as ``sys.role_edges`` shows it (``'user'@'host'``), which REVOKE takes as is."""
    return f"REVOKE {role} FROM USER {user}"
