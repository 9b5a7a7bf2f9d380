"""The whole stand-in: MySQL port, FE, leader FE and BE HTTP ports, on 127.0.0.1 ephemeral ports."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from .be_http import BackendHandler
from .catalog import Catalog
from .faults import Fault
from .fe_http import FrontendHandler, LeaderHandler
from .http_base import HttpState, RecordedRequest, serve
from .mysql_server import MysqlEndpoint
from .privileges import Privileges
from .sql import SqlEngine


@dataclass
class StandIn:
    """A running stand-in. ``host`` serves everything; each role has its own port.
    ``leader_port`` is a second FE, the leader once ``follower()`` is called."""

    host: str
    mysql_port: int
    fe_port: int
    be_port: int
    leader_port: int
    state: HttpState = field(repr=False)
    engine: SqlEngine = field(repr=False)

    def arm(self, *faults: Fault) -> None:
        self.state.faults.arm(*faults)

    def requests(self, server: str | None = None) -> list[RecordedRequest]:
        with self.state.lock:
            return [r for r in self.state.requests if server in (None, r.server)]

    def rows(self, database: str, table: str) -> list[tuple]:
        """The table's rows, ordered, read directly (no grants involved)."""
        target = self.state.catalog.table(database, table)
        return self.state.catalog.query(f"SELECT * FROM {target.duck_name} ORDER BY ALL")[2]

    def label_state(self, database: str, label: str) -> str:
        return self.state.labels.state(database, label)

    def follower(self) -> None:
        """Make ``fe_port`` a follower FE: ``get_load_state`` answers 307 to ``leader_port``."""
        self.state.follower = True

    def pretend_version(self, version: str) -> None:
        """Answer ``current_version()`` with ``version`` (``3.0.9 a1b2c3d``)."""
        self.engine.version = version


def _handler(base: type, state: HttpState) -> type:
    return type(base.__name__, (base,), {"state": state})


@contextmanager
def running_standin(admin_user: str = "root", admin_password: str = "") -> Iterator[StandIn]:
    """Start MySQL, FE and BE on ephemeral 127.0.0.1 ports; always stop them afterwards."""
    catalog = Catalog()
    privileges = Privileges(admin_user, admin_password)
    state = HttpState(catalog, privileges)
    engine = SqlEngine(catalog, privileges)
    mysql = MysqlEndpoint(engine)
    servers = []
    try:
        mysql.start()
        for handler in (BackendHandler, FrontendHandler, LeaderHandler):
            servers.append(serve(_handler(handler, state)))
        state.be_port, fe_port, state.leader_port = (server.server_address[1] for server, _ in servers)
        yield StandIn("127.0.0.1", mysql.port, fe_port, state.be_port, state.leader_port, state, engine)
    finally:
        state.labels.stop()
        for server, thread in servers:
            server.shutdown()
            server.server_close()
            thread.join(5)
        mysql.stop()
        catalog.close()
