"""SQL connections: one pool per login, retries only where a retry is safe, clear errors."""

from __future__ import annotations

import socket

import pytest
from pydantic import SecretStr
from starrocks_standin import StandIn

from datawiz_pipelines.warehouse.base import WarehouseError
from datawiz_pipelines.warehouse.starrocks.sql_client import Login, SqlPool, SqlPools

from .raw_client import tenant_database
from .support import ADMIN_PASSWORD


def login(standin: StandIn, **changes: object) -> Login:
    values = {
        "owner": "tenant acme",
        "host": standin.host,
        "port": standin.mysql_port,
        "user": "u1",
        "password": SecretStr("u1-pw"),
        "database": "db1",
    }
    return Login(**(values | changes))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_pool_reuses_its_connections(standin: StandIn) -> None:
    tenant_database(standin, "db1", "u1", "u1-pw")
    pool = SqlPool(login(standin))
    ids = {pool.fetch("SELECT CONNECTION_ID()").rows[0][0] for _ in range(3)}
    assert len(ids) == 1
    pool.close()


def test_permanent_errors_fail_at_once_naming_the_tenant(standin: StandIn) -> None:
    tenant_database(standin, "db1", "u1", "u1-pw")
    pool = SqlPool(login(standin, password=SecretStr("wrong")), retries=3, backoff_seconds=5)
    with pytest.raises(WarehouseError) as error:
        pool.fetch("SELECT 1")
    message = str(error.value)
    assert message.startswith(
        f"StarRocks at 127.0.0.1:{standin.mysql_port} for tenant acme (database db1, user u1)"
    )
    assert "(1045) Access denied for user u1" in message and "wrong" not in message


def test_unknown_database_fails_with_the_starrocks_message(standin: StandIn) -> None:
    pool = SqlPool(login(standin, user="root", password=SecretStr(ADMIN_PASSWORD), database="missing_db"))
    with pytest.raises(WarehouseError, match=r"\(1064\) Unknown database 'missing_db'"):
        pool.fetch("SELECT 1")


def test_unreachable_server_is_retried_with_backoff_then_reported() -> None:
    pool = SqlPool(
        Login("tenant acme", "127.0.0.1", closed_port(), "u1", SecretStr("pw")),
        retries=2,
        backoff_seconds=0.01,
    )
    with pytest.raises(
        WarehouseError, match=r"running 'SELECT 1': gave up after 3 attempts: \(2003\) Can't connect"
    ):
        pool.fetch("SELECT 1")


def test_statement_errors_show_the_template_not_bound_values(standin: StandIn) -> None:
    pool = SqlPool(login(standin, user="root", password=SecretStr(ADMIN_PASSWORD), database=None))
    with pytest.raises(WarehouseError) as error:
        pool.execute("CREATE USER %s@%s IDENTIFIED BY %s", ["root", "%", "s3cret-value"])
    assert "IDENTIFIED BY %s" in str(error.value) and "s3cret-value" not in str(error.value)


def test_pools_are_per_key_and_replaced_when_the_login_changes(standin: StandIn) -> None:
    pools = SqlPools()
    acme, globex = login(standin), login(standin, owner="tenant globex", user="u2")
    assert pools.get("acme", acme) is pools.get("acme", acme)
    assert pools.get("globex", globex) is not pools.get("acme", acme)
    rotated = login(standin, password=SecretStr("rotated"))
    assert pools.get("acme", rotated).login == rotated
    pools.close()
