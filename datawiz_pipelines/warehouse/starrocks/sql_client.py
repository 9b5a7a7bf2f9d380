"""MySQL-protocol connections to the StarRocks FE, one small pool per login.

Each tenant's pool logs in as the tenant's own user, so StarRocks' grants (not
our code) keep one tenant out of another's database; pools are never shared
between tenants. The admin pool, with its own credentials, only provisions.

Dropped connections and busy servers are retried with backoff; errors the
server reports (access denied, unknown database, syntax) fail at once with
StarRocks' own message. A statement is re-sent after a dropped connection only
when the caller says it is safe to repeat (``ALTER TABLE ... SWAP`` is not).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pymysql
from pydantic import SecretStr

from datawiz_pipelines.warehouse.base import WarehouseError

log = logging.getLogger(__name__)

_CONNECTION_ERRORS = {2003, 2006, 2013, 2055}
"""Client-side codes: cannot connect, server gone away, lost connection."""
_RETRYABLE_SERVER_MESSAGES = ("too many connections", "no queryable replica", "backend node not found")


@dataclass(frozen=True)
class Login:
    """Who connects where; ``owner`` names the login in messages (``tenant acme``, ``admin``)."""

    owner: str
    host: str
    port: int
    user: str
    password: SecretStr
    database: str | None = None


@dataclass(frozen=True)
class Rows:
    columns: list[str]
    rows: list[tuple[Any, ...]]


class _Retryable(Exception):
    pass


@dataclass
class SqlPool:
    """Up to ``max_idle`` idle connections for one login; thread-safe."""

    login: Login
    max_idle: int = 2
    retries: int = 3
    backoff_seconds: float = 0.5
    connect_timeout_seconds: int = 10
    read_timeout_seconds: int = 3600
    _idle: list[pymysql.connections.Connection] = field(default_factory=list, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def fetch(self, sql: str, args: Sequence[Any] | None = None, *, repeatable: bool = True) -> Rows:
        """Run one statement and return its rows (none for DDL)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._run(sql, args, repeatable)
            except _Retryable as problem:
                if attempt > self.retries:
                    raise self._error(sql, f"gave up after {attempt} attempts: {problem}") from None
                pause = self.backoff_seconds * 2 ** (attempt - 1)
                log.warning("StarRocks (%s): %s; retrying in %.1fs", self.login.owner, problem, pause)
                time.sleep(pause)

    def execute(self, sql: str, args: Sequence[Any] | None = None, *, repeatable: bool = True) -> None:
        self.fetch(sql, args, repeatable=repeatable)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _run(self, sql: str, args: Sequence[Any] | None, repeatable: bool) -> Rows:
        with self._connection() as connection:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(sql, args)
                    columns = [column[0] for column in cursor.description or ()]
                    return Rows(columns, list(cursor.fetchall()))
            except pymysql.MySQLError as exc:
                if _is_dropped(exc) and not repeatable:
                    raise self._error(
                        sql, f"the connection dropped mid-statement, so its outcome is unknown: {exc}"
                    ) from None
                raise self._classified(sql, exc) from None

    @contextmanager
    def _connection(self) -> Iterator[pymysql.connections.Connection]:
        """A pooled connection; back to the pool afterwards unless it dropped (pymysql closes those)."""
        connection = self._checkout()
        try:
            yield connection
        finally:
            with self._lock:
                keep = connection.open and len(self._idle) < self.max_idle
                if keep:
                    self._idle.append(connection)
            if not keep and connection.open:
                connection.close()

    def _checkout(self) -> pymysql.connections.Connection:
        with self._lock:
            connection = self._idle.pop() if self._idle else None
        if connection is not None:
            try:
                connection.ping(reconnect=False)
                return connection
            except pymysql.MySQLError:
                if connection.open:
                    connection.close()
        try:
            return pymysql.connect(
                host=self.login.host,
                port=self.login.port,
                user=self.login.user,
                password=self.login.password.get_secret_value(),
                database=self.login.database,
                autocommit=True,
                charset="utf8mb4",
                connect_timeout=self.connect_timeout_seconds,
                read_timeout=self.read_timeout_seconds,
            )
        except pymysql.MySQLError as exc:
            raise self._classified(None, exc) from None

    def _classified(self, sql: str | None, exc: pymysql.MySQLError) -> Exception:
        if _is_dropped(exc) or any(text in _text(exc).lower() for text in _RETRYABLE_SERVER_MESSAGES):
            return _Retryable(_text(exc))
        return self._error(sql, _text(exc))

    def _error(self, sql: str | None, problem: str) -> WarehouseError:
        """Names the login and statement; ``sql`` is the template, never the bound secrets."""
        where = f"StarRocks at {self.login.host}:{self.login.port} for {self.login.owner}"
        if self.login.database:
            where += f" (database {self.login.database}, user {self.login.user})"
        statement = f" running {' '.join(sql.split())[:160]!r}" if sql else " connecting"
        return WarehouseError(f"{where}{statement}: {problem}")


def _is_dropped(exc: pymysql.MySQLError) -> bool:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    return isinstance(exc, pymysql.err.InterfaceError) or code in _CONNECTION_ERRORS


def _text(exc: pymysql.MySQLError) -> str:
    if len(exc.args) >= 2:
        return f"({exc.args[0]}) {exc.args[1]}"
    return str(exc) or type(exc).__name__


class SqlPools:
    """One pool per key (a tenant id, or ``admin``); a changed login replaces its pool."""

    def __init__(self) -> None:
        self._pools: dict[str, SqlPool] = {}
        self._lock = threading.Lock()

    def get(self, key: str, login: Login) -> SqlPool:
        with self._lock:
            old = self._pools.get(key)
            if old is not None and old.login == login:
                return old
            pool = self._pools[key] = SqlPool(login)
        if old is not None:
            old.close()
        return pool

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
