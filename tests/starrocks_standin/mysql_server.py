"""The FE's MySQL-protocol port, served by mysql-mimic on its own event-loop thread."""

from __future__ import annotations

import asyncio
import logging
import re
import threading

from mysql_mimic import IdentityProvider, MysqlServer, NativePasswordAuthPlugin, Session, User
from mysql_mimic.control import LocalControl
from mysql_mimic.results import AllowedResult
from mysql_mimic.schema import BaseInfoSchema
from sqlglot import exp

from .info_schema import StarRocksInfoSchema
from .models import NOT_MATCHED
from .privileges import Privileges
from .sql import SqlEngine

_NO_PASSWORD_MATCHES = "00" * 20


class _QuietCommandFallback(logging.Filter):
    """sqlglot logs statements it keeps as commands (CREATE USER ... IDENTIFIED BY 'pw'):
    a server does not log passwords, so the stand-in drops those records."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Falling back to parsing as a 'Command'" not in record.getMessage()


logging.getLogger("sqlglot").addFilter(_QuietCommandFallback())


class Accounts(IdentityProvider):
    """Logins checked with mysql_native_password against the stand-in's users."""

    def __init__(self, privileges: Privileges):
        self.privileges = privileges

    def get_plugins(self) -> list[NativePasswordAuthPlugin]:
        return [NativePasswordAuthPlugin()]

    async def get_user(self, username: str) -> User:
        password = self.privileges.password(username)
        if password is None:
            auth = _NO_PASSWORD_MATCHES
        else:
            auth = NativePasswordAuthPlugin.create_auth_string(password) if password else None
        return User(name=username, auth_string=auth, auth_plugin=NativePasswordAuthPlugin.name)


_CURRENT_VERSION = re.compile(r"\s*SELECT\s+current_version\(\)\s*;?\s*", re.IGNORECASE)


class StarRocksSession(Session):
    dialect = "starrocks"

    def __init__(self, engine: SqlEngine):
        super().__init__()
        self.engine = engine
        self._handshake_database_checked = False

    async def handle_query(self, sql: str, attrs: dict[str, str]) -> AllowedResult:
        # The database named at login is checked with the first statement: mysql-mimic has
        # already answered the handshake by then (real StarRocks refuses the login itself).
        if not self._handshake_database_checked:
            self._handshake_database_checked = True
            if self.database:
                self.engine.use(self.username or "", self.database)
        if _CURRENT_VERSION.fullmatch(sql):  # mysql-mimic would answer its own MySQL version
            return [(self.engine.version,)], ["current_version()"]
        result = self.engine.models.run(self.username or "", self.database, sql)
        if result is not NOT_MATCHED:
            return result  # type: ignore[return-value]
        return await super().handle_query(sql, attrs)

    async def use(self, database: str) -> None:
        self.engine.use(self.username or "", database)
        self.database = database

    async def query(self, expression: exp.Expression, sql: str, attrs: dict[str, str]) -> AllowedResult:
        return self.engine.execute(self.username or "", self.database, expression)

    async def schema(self) -> BaseInfoSchema:
        return StarRocksInfoSchema(self.engine.catalog, self.engine.privileges, self.username or "")


class MysqlEndpoint:
    """Starts mysql-mimic on 127.0.0.1 (ephemeral port) in a thread; ``stop`` ends both."""

    def __init__(self, engine: SqlEngine):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="standin-mysql", daemon=True)
        self.control = LocalControl()
        self.server = MysqlServer(
            session_factory=lambda: StarRocksSession(engine),
            identity_provider=Accounts(engine.privileges),
            control=self.control,
        )
        self.port = 0

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(
            self.server.start_server(host="127.0.0.1", port=0), self.loop
        ).result(10)
        self.port = self.server.sockets()[0].getsockname()[1]

    def stop(self) -> None:
        async def close() -> None:
            self.server.close()
            for connection_id in list(self.control._connections):
                await self.control.kill(connection_id)
            pending = asyncio.all_tasks() - {asyncio.current_task()}
            if pending:
                await asyncio.wait(pending, timeout=5)

        if self.thread.is_alive():
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
        self.loop.close()
