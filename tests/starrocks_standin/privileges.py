"""Users, passwords and StarRocks 3.x grants, per object type.

Database privileges are checked per statement (AuthorizerStmtVisitor): CREATE TABLE,
CREATE VIEW and CREATE MATERIALIZED VIEW need the privilege of that name on the
database, DROP DATABASE needs DROP and ALTER DATABASE needs ALTER; ``ALL ON DATABASE``
is all of them. Reading or writing tables needs table privileges (``ON ALL TABLES IN
DATABASE`` covers tables created later too); views and materialized views have their
own grants. The admin user has every right. Roles hold grants too; a user's role
counts only once it is a default role (``SET DEFAULT ROLE``), as StarRocks activates
roles at login, and no longer once revoked. Role names must pass
``FeNameFormat.checkRoleName`` (at most 64 characters).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from .errors import StarRocksError, access_denied

PRIVILEGES = {
    "DATABASE": (
        "CREATE TABLE",
        "DROP",
        "ALTER",
        "CREATE VIEW",
        "CREATE FUNCTION",
        "CREATE MATERIALIZED VIEW",
        "CREATE PIPE",
    ),
    "TABLE": ("DELETE", "DROP", "INSERT", "SELECT", "ALTER", "EXPORT", "UPDATE"),
    "VIEW": ("SELECT", "ALTER", "DROP"),
    "MATERIALIZED VIEW": ("ALTER", "REFRESH", "DROP", "SELECT"),
}
"""In StarRocks' order (``DefaultAuthorizationProvider``), which SHOW GRANTS follows."""
PLURALS = {"TABLE": "TABLES", "VIEW": "VIEWS", "MATERIALIZED VIEW": "MATERIALIZED VIEWS"}
ALL_OBJECTS = "*"
_ROLE_NAME = re.compile(r"[a-zA-Z]\w{0,63}|_[a-zA-Z0-9]\w{0,62}", re.ASCII)
"""``FeNameFormat.COMMON_NAME_REGEX``, which ``checkRoleName`` applies."""


def _check_role_name(role: str) -> None:
    if not _ROLE_NAME.fullmatch(role):
        raise StarRocksError(f"Getting analyzing error. Detail message: invalid role format: {role}.")


def _privileges(object_type: str, privileges: list[str]) -> set[str]:
    """``privileges`` of a GRANT or REVOKE, ``ALL`` expanded; refused if one does not apply."""
    allowed = PRIVILEGES[object_type]
    if privileges == ["ALL"]:
        return set(allowed)
    for privilege in privileges:
        if privilege not in allowed:
            raise StarRocksError(
                f"Getting analyzing error. Detail message: Cannot grant or revoke {privilege} on "
                f"'{object_type}' type object."
            )
    return set(privileges)


def _on(object_type: str, database: str, name: str) -> str:
    """The object as SHOW GRANTS prints it."""
    if object_type == "DATABASE":
        return f"DATABASE {database}"
    if name == ALL_OBJECTS:
        return f"ALL {PLURALS[object_type]} IN DATABASE {database}"
    return f"{object_type} {database}.{name}"


@dataclass
class Privileges:
    admin_user: str
    admin_password: str
    _passwords: dict[str, str] = field(default_factory=dict)
    _grants: dict[tuple[str, str, str, str], set[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _roles: dict[str, dict[tuple[str, str, str], set[str]]] = field(default_factory=dict)
    _user_roles: dict[str, set[str]] = field(default_factory=dict)
    _default_roles: dict[str, set[str]] = field(default_factory=dict)

    def roles(self) -> list[str]:
        with self._lock:
            return sorted(self._roles)

    def create_role(self, role: str, *, if_not_exists: bool) -> None:
        _check_role_name(role)
        with self._lock:
            if role in self._roles:
                if if_not_exists:
                    return
                raise StarRocksError(f"Operation CREATE ROLE failed for {role} : role already exists")
            self._roles[role] = {}

    def drop_role(self, role: str, *, if_exists: bool) -> None:
        _check_role_name(role)
        with self._lock:
            if role not in self._roles:
                if if_exists:
                    return
                raise StarRocksError(f"Getting analyzing error. Detail message: cannot find role {role}.")
            del self._roles[role]
            for roles in (*self._user_roles.values(), *self._default_roles.values()):
                roles.discard(role)

    def grant_to_role(
        self, role: str, object_type: str, database: str, name: str, privileges: list[str]
    ) -> None:
        _check_role_name(role)
        wanted = _privileges(object_type, privileges)
        with self._lock:
            if role not in self._roles:
                raise StarRocksError(f"Getting analyzing error. Detail message: cannot find role {role}.")
            self._roles[role].setdefault((object_type, database, name), set()).update(wanted)

    def grant_role(self, role: str, user: str) -> None:
        with self._lock:
            self._known_role_and_user(role, user)
            self._user_roles.setdefault(user, set()).add(role)

    def revoke_role(self, role: str, user: str) -> None:
        """As ``UserPrivilegeCollectionV2.revokeRole``: the role stops being a default role
        too, and revoking a role the user does not hold is no error."""
        with self._lock:
            self._known_role_and_user(role, user)
            for roles in (self._user_roles, self._default_roles):
                roles.get(user, set()).discard(role)

    def _known_role_and_user(self, role: str, user: str) -> None:
        """GRANT and REVOKE of a role share their analysis (``visitGrantRevokeRoleStatement``)."""
        _check_role_name(role)
        if role not in self._roles:
            raise StarRocksError(f"Getting analyzing error. Detail message: cannot find role {role}.")
        self._known_user(user)

    def role_edges(self) -> list[tuple[str, None, str]]:
        """``sys.role_edges`` rows (FROM_ROLE, TO_ROLE, TO_USER) of roles granted to users, the
        user as ``UserIdentity.toString`` writes it; roles are never granted to roles here."""
        with self._lock:
            return sorted(
                (role, None, f"'{user}'@'%'") for user, roles in self._user_roles.items() for role in roles
            )

    def set_default_roles_all(self, user: str) -> None:
        """``SET DEFAULT ROLE ALL TO user``: every role granted so far becomes active at login."""
        with self._lock:
            self._known_user(user)
            self._default_roles[user] = set(self._user_roles.get(user, ()))

    def _held(self, user: str, object_type: str, database: str, name: str) -> set[str]:
        """Privileges on the object from the user's grants and its active (default) roles."""
        held: set[str] = set()
        for candidate in (name, ALL_OBJECTS):
            held |= self._grants.get((user, object_type, database, candidate), set())
            for role in self._default_roles.get(user, ()):
                held |= self._roles.get(role, {}).get((object_type, database, candidate), set())
        return held

    def password(self, user: str) -> str | None:
        if user == self.admin_user:
            return self.admin_password
        with self._lock:
            return self._passwords.get(user)

    def users(self) -> list[str]:
        with self._lock:
            return sorted({self.admin_user, *self._passwords})

    def set_password(self, user: str, password: str, *, create: bool, if_not_exists: bool = False) -> None:
        with self._lock:
            exists = user in self._passwords or user == self.admin_user
            if create and exists:
                if if_not_exists:
                    return
                raise StarRocksError(f"Operation CREATE USER failed for '{user}'@'%' : user already exists")
            if not create and not exists:
                raise StarRocksError(f"Operation ALTER USER failed for '{user}'@'%' : user not exists")
            self._passwords[user] = password

    def grant(self, user: str, object_type: str, database: str, name: str, privileges: list[str]) -> None:
        wanted = _privileges(object_type, privileges)
        with self._lock:
            self._known_user(user)
            self._grants.setdefault((user, object_type, database, name), set()).update(wanted)

    def revoke(self, user: str, object_type: str, database: str, name: str, privileges: list[str]) -> None:
        """As ``PrivilegeCollectionV2.revoke``: privileges not held are ignored, but an object the
        user holds nothing on is an error, unless it holds nothing of that object type at all."""
        unwanted = _privileges(object_type, privileges)
        with self._lock:
            self._known_user(user)
            key = (user, object_type, database, name)
            if key not in self._grants:
                if any(other[:2] == key[:2] for other in self._grants):
                    raise StarRocksError(
                        f"There is no such grant defined on {_on(object_type, database, name)}"
                    )
                return
            held = self._grants[key] - unwanted
            if held:
                self._grants[key] = held
            else:
                del self._grants[key]

    def show_grants(self, user: str) -> list[tuple[str, str | None, str]]:
        """``SHOW GRANTS FOR user``: (UserIdentity, Catalog, Grants), roles first."""
        account = f"'{user}'@'%'"
        with self._lock:
            self._known_user(user)
            roles = ", ".join(f"'{role}'" for role in sorted(self._user_roles.get(user, ())))
            rows: list[tuple[str, str | None, str]] = []
            if roles:
                rows.append((account, None, f"GRANT {roles} TO {account}"))
            for (grantee, object_type, database, name), held in sorted(self._grants.items()):
                if grantee == user:
                    listed = ", ".join(p for p in PRIVILEGES[object_type] if p in held)
                    on = _on(object_type, database, name)
                    rows.append((account, "default_catalog", f"GRANT {listed} ON {on} TO USER {account}"))
            return rows

    def _known_user(self, user: str) -> None:
        if user not in self._passwords:
            raise StarRocksError(f"Getting analyzing error. Detail message: cannot find user '{user}'@'%'.")

    def allows(self, user: str, object_type: str, database: str, name: str, privilege: str) -> bool:
        if user == self.admin_user:
            return True
        with self._lock:
            return privilege in self._held(user, object_type, database, name)

    def require(self, user: str, object_type: str, database: str, name: str, privilege: str) -> None:
        if not self.allows(user, object_type, database, name, privilege):
            shown = database if object_type == "DATABASE" else name
            raise access_denied(privilege, object_type, shown)

    def require_admin(self, user: str, what: str) -> None:
        if user != self.admin_user:
            raise access_denied(what, "SYSTEM", "")

    def sees_database(self, user: str, database: str) -> bool:
        """Any right in the database makes it visible (SHOW DATABASES, USE)."""
        if user == self.admin_user:
            return True
        with self._lock:
            if any(key[0] == user and key[2] == database and rights for key, rights in self._grants.items()):
                return True
            return any(
                key[1] == database and rights
                for role in self._default_roles.get(user, ())
                for key, rights in self._roles.get(role, {}).items()
            )

    def sees_table(self, user: str, database: str, table: str, object_type: str = "TABLE") -> bool:
        if user == self.admin_user:
            return True
        with self._lock:
            return bool(self._held(user, object_type, database, table))
