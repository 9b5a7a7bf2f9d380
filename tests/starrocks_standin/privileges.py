"""Users, passwords and StarRocks 3.x grants, per object type.

``ALL ON DATABASE`` gives database-level rights only; reading or writing tables
needs table privileges (``ON ALL TABLES IN DATABASE`` covers tables created
later too); views and materialized views have their own grants. The admin
user has every right. Roles hold grants too; a user's role counts only once it is a
default role (``SET DEFAULT ROLE``), as StarRocks activates roles at login.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .errors import StarRocksError, access_denied

PRIVILEGES = {
    "DATABASE": {
        "CREATE TABLE",
        "CREATE VIEW",
        "CREATE FUNCTION",
        "CREATE MATERIALIZED VIEW",
        "ALTER",
        "DROP",
    },
    "TABLE": {"SELECT", "INSERT", "UPDATE", "DELETE", "ALTER", "DROP", "EXPORT"},
    "VIEW": {"SELECT", "ALTER", "DROP"},
    "MATERIALIZED VIEW": {"SELECT", "ALTER", "REFRESH", "DROP"},
}
ALL_OBJECTS = "*"


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
        with self._lock:
            if role in self._roles:
                if if_not_exists:
                    return
                raise StarRocksError(f"Operation CREATE ROLE failed for {role} : role already exists")
            self._roles[role] = {}

    def drop_role(self, role: str, *, if_exists: bool) -> None:
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
        allowed = PRIVILEGES[object_type]
        wanted = allowed if privileges == ["ALL"] else set(privileges)
        if wanted - allowed:
            raise StarRocksError(
                f"Getting syntax error. Detail message: Cannot grant {', '.join(sorted(wanted - allowed))} "
                f"on {object_type}."
            )
        with self._lock:
            if role not in self._roles:
                raise StarRocksError(f"Getting analyzing error. Detail message: cannot find role {role}.")
            self._roles[role].setdefault((object_type, database, name), set()).update(wanted)

    def grant_role(self, role: str, user: str) -> None:
        with self._lock:
            if role not in self._roles:
                raise StarRocksError(f"Getting analyzing error. Detail message: cannot find role {role}.")
            if user not in self._passwords:
                raise StarRocksError(
                    f"Getting analyzing error. Detail message: cannot find user '{user}'@'%'."
                )
            self._user_roles.setdefault(user, set()).add(role)

    def set_default_roles_all(self, user: str) -> None:
        """``SET DEFAULT ROLE ALL TO user``: every role granted so far becomes active at login."""
        with self._lock:
            if user not in self._passwords:
                raise StarRocksError(
                    f"Getting analyzing error. Detail message: cannot find user '{user}'@'%'."
                )
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
        allowed = PRIVILEGES[object_type]
        wanted = allowed if privileges == ["ALL"] else set(privileges)
        invalid = sorted(wanted - allowed)
        if invalid:
            raise StarRocksError(
                f"Getting syntax error. Detail message: Cannot grant {', '.join(invalid)} on {object_type}."
            )
        with self._lock:
            if user not in self._passwords:
                raise StarRocksError(
                    f"Getting analyzing error. Detail message: cannot find user '{user}'@'%'."
                )
            self._grants.setdefault((user, object_type, database, name), set()).update(wanted)

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
