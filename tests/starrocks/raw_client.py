"""Plain pymysql / requests calls at the stand-in, for checking it against the facts page
without going through the code under test."""

from __future__ import annotations

import base64
from typing import Any

import pymysql
import requests
from starrocks_standin import StandIn

from .support import ADMIN_PASSWORD


def sql(
    standin: StandIn,
    statement: str,
    *,
    user: str = "root",
    password: str = ADMIN_PASSWORD,
    database: str | None = None,
) -> list[tuple[Any, ...]]:
    connection = pymysql.connect(
        host=standin.host,
        port=standin.mysql_port,
        user=user,
        password=password,
        database=database,
        autocommit=True,
        ssl_disabled=True,
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
            return list(cursor.fetchall())
    finally:
        connection.close()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def tenant_database(
    standin: StandIn, database: str, user: str, password: str, *, table_grants: bool = True
) -> None:
    """A database with one PRIMARY KEY and one DUPLICATE KEY table, and a user with rights on it."""
    sql(standin, f"CREATE DATABASE IF NOT EXISTS {database}")
    sql(standin, f"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{password}'")
    sql(standin, f"GRANT ALL ON DATABASE {database} TO USER '{user}'@'%'")
    if table_grants:
        sql(standin, f"GRANT SELECT, INSERT ON ALL TABLES IN DATABASE {database} TO USER '{user}'@'%'")
    sql(
        standin,
        f"CREATE TABLE {database}.pk (k VARCHAR(8) NOT NULL, v INT NULL, s VARCHAR(20) NULL) "
        "PRIMARY KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES ('replication_num' = '1')",
    )
    sql(
        standin,
        f"CREATE TABLE {database}.dup (k VARCHAR(8) NOT NULL, v INT NULL, s VARCHAR(20) NULL) "
        "DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES ('replication_num' = '1')",
    )


def put(host: str, port: int, path: str, headers: dict[str, str], body: bytes) -> requests.Response:
    """A plain HTTP PUT whose redirect is returned, not followed."""
    return requests.put(
        f"http://{host}:{port}{path}", headers=headers, data=body, allow_redirects=False, timeout=10
    )


def put_fe(standin: StandIn, path: str, headers: dict[str, str], body: bytes = b"") -> requests.Response:
    return put(standin.host, standin.fe_port, path, headers, body)


def put_be(standin: StandIn, path: str, headers: dict[str, str], body: bytes) -> requests.Response:
    return put(standin.host, standin.be_port, path, headers, body)
