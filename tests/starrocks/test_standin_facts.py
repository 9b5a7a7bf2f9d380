"""The stand-in checked against shared/reference/starrocks-facts.md, point by point.

Each test names the facts-page section it checks. Calls go through plain
requests / pymysql, not the code under test.
"""

from __future__ import annotations

import gzip
import json
import re

import pymysql
import pytest
import requests
from starrocks_standin import StandIn

from .raw_client import basic, put_be, put_fe, sql, tenant_database

LOAD = "/api/db1/dup/_stream_load"
PASSWORD = "u1-pw"


@pytest.fixture
def db1(standin: StandIn) -> StandIn:
    tenant_database(standin, "db1", "u1", PASSWORD)
    return standin


def headers(**extra: str) -> dict[str, str]:
    return {
        "Authorization": basic("u1", PASSWORD),
        "Expect": "100-continue",
        "column_separator": ",",
        **extra,
    }


def load(standin: StandIn, body: bytes, path: str = LOAD, **extra: str) -> dict:
    response = put_be(standin, path, headers(**extra), body)
    assert response.status_code == 200, "the BE always answers HTTP 200"
    return response.json()


# -- Stream Load (HTTP): the FE ----------------------------------------------------------


def test_fe_bad_login_is_401_with_basic_challenge(db1: StandIn) -> None:
    for auth in ({}, {"Authorization": basic("u1", "wrong")}):
        response = put_fe(db1, LOAD, {"Expect": "100-continue", **auth})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Basic realm=""'


def test_fe_without_expect_continue_answers_200_failed(db1: StandIn) -> None:
    response = put_fe(db1, LOAD, {"Authorization": basic("u1", PASSWORD)})
    assert response.status_code == 200
    assert response.json() == {
        "Status": "FAILED",
        "Message": "class com.starrocks.common.DdlException: There is no 100-continue header",
    }


def test_fe_checks_insert_privilege_after_login(standin: StandIn) -> None:
    tenant_database(standin, "db1", "u1", PASSWORD, table_grants=False)
    response = put_fe(standin, LOAD, headers())
    assert response.status_code == 401
    assert "INSERT privilege(s) on TABLE dup" in response.json()["msg"]


def test_fe_redirects_307_to_the_be_with_same_path_and_query_and_closes(db1: StandIn) -> None:
    response = put_fe(db1, LOAD + "?x=1", headers(), b"ignored")
    assert response.status_code == 307
    assert response.headers["Location"] == f"http://127.0.0.1:{db1.be_port}{LOAD}?x=1"
    assert db1.be_port != db1.fe_port
    assert response.headers["Connection"] == "close"
    assert db1.requests("be") == [], "the FE does not forward anything itself"


def test_fe_does_not_check_that_database_or_table_exist(standin: StandIn) -> None:
    auth = {"Authorization": basic("root", ""), "Expect": "100-continue"}
    sql(standin, "CREATE DATABASE db1")
    for path, message in (
        ("/api/nodb/t/_stream_load", "unknown database, database=nodb"),
        ("/api/db1/not_there/_stream_load", 'unknown table "db1.not_there"'),
    ):
        admin = {**auth, "Authorization": basic("root", "admin-Secret-7x")}
        assert put_fe(standin, path, admin).status_code == 307
        answer = put_be(standin, path, admin, b"1\n").json()
        assert (answer["Status"], answer["Message"]) == ("Fail", message)


def test_requests_drops_authorization_on_the_cross_port_redirect(db1: StandIn) -> None:
    """Why the client follows the 307 by hand: requests strips the header, the BE refuses."""
    response = requests.put(
        f"http://{db1.host}:{db1.fe_port}{LOAD}", headers=headers(), data=b"a,1,x\n", timeout=10
    )
    assert response.status_code == 200
    assert response.json()["Status"] == "Fail"
    assert response.json()["Message"] == "no valid Basic authorization"
    assert "authorization" not in db1.requests("be")[0].headers


# -- Stream Load (HTTP): the BE ----------------------------------------------------------


def test_be_without_authorization_fails_in_json(db1: StandIn) -> None:
    response = put_be(db1, LOAD, {"Expect": "100-continue", "label": "x"}, b"a,1,x\n")
    assert response.status_code == 200
    assert (response.json()["Status"], response.json()["Message"]) == ("Fail", "no valid Basic authorization")


def test_be_generates_a_uuid_label_when_none_is_given(db1: StandIn) -> None:
    answer = load(db1, b"a,1,x\n")
    assert answer["Status"] == "Success"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", answer["Label"])


def test_success_answer_has_the_documented_fields_in_order(db1: StandIn) -> None:
    answer = load(db1, b"a,1,x\nb,2,y\n", label="ok1")
    assert list(answer) == [
        "TxnId", "Label", "Status", "Message", "NumberTotalRows", "NumberLoadedRows", "NumberFilteredRows",
        "NumberUnselectedRows", "LoadBytes", "LoadTimeMs", "BeginTxnTimeMs", "StreamLoadPlanTimeMs",
        "ReadDataTimeMs", "WriteDataTimeMs", "CommitAndPublishTimeMs",
    ]  # fmt: skip
    assert (answer["Status"], answer["Message"]) == ("Success", "OK")
    assert (answer["NumberTotalRows"], answer["NumberLoadedRows"], answer["LoadBytes"]) == (2, 2, 12)


def test_csv_null_empty_enclose_and_columns(db1: StandIn) -> None:
    body = b'a,\\N,""\nb,2,\n"c",3,"x,""y""\nz"\n'
    answer = load(db1, body, enclose='"', columns="k,v,s")
    assert answer["NumberLoadedRows"] == 3
    assert db1.rows("db1", "dup") == [("a", None, ""), ("b", 2, ""), ("c", 3, 'x,"y"\nz')]


def test_default_column_separator_is_tab_and_columns_header_reorders(db1: StandIn) -> None:
    response = put_be(db1, LOAD, {**headers(), "column_separator": "", "columns": "s,k"}, b"hello\tk1\n")
    assert response.json()["Status"] == "Success"
    assert db1.rows("db1", "dup") == [("k1", None, "hello")]


def test_gzipped_csv_is_format_gzip_and_compression_leaves_csv_alone(db1: StandIn) -> None:
    """The BE picks compressed CSV by format (gzip -> FORMAT_CSV_GZ); ``compression`` is for
    JSON, so gzip bytes sent as ``format: csv`` are read as text and their rows filtered."""
    body = gzip.compress(b"a,1,x\nb,2,y\n", mtime=0)
    assert load(db1, body, format="gzip")["NumberLoadedRows"] == 2
    answer = load(db1, body, format="csv", compression="gzip")
    assert (answer["Status"], answer["Message"]) == ("Fail", "too many filtered rows")
    assert answer["NumberLoadedRows"] == 0
    assert db1.rows("db1", "dup") == [("a", 1, "x"), ("b", 2, "y")]


def test_too_many_filtered_rows_fails_with_error_url(db1: StandIn) -> None:
    answer = load(db1, b"a,1,x\nb,notanint,y\nc,3\n", label="bad1", strict_mode="true")
    assert (answer["Status"], answer["Message"]) == ("Fail", "too many filtered rows")
    assert (answer["NumberTotalRows"], answer["NumberFilteredRows"], answer["NumberLoadedRows"]) == (3, 2, 0)
    assert list(answer)[-1] == "ErrorURL"
    assert re.fullmatch(
        rf"http://127\.0\.0\.1:{db1.be_port}/api/_load_error_log\?file=error_log_\w+", answer["ErrorURL"]
    )
    log = requests.get(answer["ErrorURL"], timeout=10).text
    assert "Value count does not match column count" in log and "notanint" in log
    assert db1.rows("db1", "dup") == []
    assert load(db1, b"a,1,x\n", label="bad1")["Status"] == "Success", "labels of aborted loads can be reused"


def test_strict_mode_off_turns_bad_values_into_null(db1: StandIn) -> None:
    answer = load(db1, b"a,notanint,x\n", strict_mode="false")
    assert answer["Status"] == "Success"
    assert db1.rows("db1", "dup") == [("a", None, "x")]


def test_max_filter_ratio_admits_some_bad_rows(db1: StandIn) -> None:
    answer = load(db1, b"a,1,x\nb,bad,y\nc,3,z\nd,4,w\n", strict_mode="true", max_filter_ratio="0.3")
    assert answer["Status"] == "Success"
    assert (answer["NumberFilteredRows"], answer["NumberLoadedRows"]) == (1, 3)
    assert "ErrorURL" in answer


def test_varchar_length_is_enforced_in_bytes(db1: StandIn) -> None:
    answer = load(db1, "a,1,ééééééééééé\n".encode(), strict_mode="false")
    assert answer["Message"] == "too many filtered rows", "22 bytes do not fit VARCHAR(20)"


def test_label_already_exists_reports_the_earlier_job(db1: StandIn) -> None:
    first = load(db1, b"a,1,x\n", label="same")
    again = load(db1, b"a,1,x\n", label="same")
    assert first["Status"] == "Success"
    assert list(again)[:4] == ["TxnId", "Label", "Status", "ExistingJobStatus"]
    assert (again["Status"], again["ExistingJobStatus"]) == ("Label Already Exists", "FINISHED")
    assert again["Message"] == "Label [same] has already been used."
    assert db1.rows("db1", "dup") == [("a", 1, "x")]


def test_get_load_state_is_served_by_the_fe(db1: StandIn) -> None:
    load(db1, b"a,1,x\n", label="l1")
    auth = {"Authorization": basic("u1", PASSWORD)}
    url = f"http://{db1.host}:{db1.fe_port}/api/db1/get_load_state"
    answer = requests.get(url, params={"label": "l1"}, headers=auth, timeout=10).json()
    assert list(answer) == ["status", "code", "msg", "message", "state", "reason"]
    assert answer["state"] == "VISIBLE"
    assert requests.get(url, params={"label": "nope"}, headers=auth, timeout=10).json()["state"] == "UNKNOWN"
    assert requests.get(url, params={"label": "l1"}, timeout=10).status_code == 401


def test_a_follower_fe_redirects_get_load_state_to_the_leader(db1: StandIn) -> None:
    """GetStreamLoadState checks the login, then redirectToLeader: 307 to the same path and
    query on the leader, which checks the login again (requests' own redirect drops it)."""
    load(db1, b"a,1,x\n", label="l1")
    db1.follower()
    path = "/api/db1/get_load_state?label=l1"
    auth = {"Authorization": basic("u1", PASSWORD)}

    def get(port: int, headers: dict[str, str], follow: bool = False) -> requests.Response:
        url = f"http://{db1.host}:{port}{path}"
        return requests.get(url, headers=headers, allow_redirects=follow, timeout=10)

    assert get(db1.fe_port, {}).status_code == 401
    redirect = get(db1.fe_port, auth)
    assert redirect.status_code == 307
    assert redirect.headers["Location"] == f"http://127.0.0.1:{db1.leader_port}{path}"
    assert db1.leader_port not in (db1.fe_port, db1.be_port)
    assert get(db1.leader_port, {}).status_code == 401
    assert get(db1.leader_port, auth).json()["state"] == "VISIBLE"
    assert get(db1.fe_port, auth, follow=True).status_code == 401
    assert "authorization" not in db1.requests("leader")[-1].headers


def test_primary_key_tables_upsert_and_duplicate_key_tables_append(db1: StandIn) -> None:
    for path in ("/api/db1/pk/_stream_load", LOAD):
        load(db1, b"a,1,x\nb,2,y\n", path=path)
        load(db1, b"a,10,x2\n", path=path)
    assert db1.rows("db1", "pk") == [("a", 10, "x2"), ("b", 2, "y")]
    assert db1.rows("db1", "dup") == [("a", 1, "x"), ("a", 10, "x2"), ("b", 2, "y")]


def test_unimplemented_headers_are_refused_not_ignored(db1: StandIn) -> None:
    answer = load(db1, b"a,1,x\n", where="v > 1")
    assert answer["Status"] == "Fail" and "where" in answer["Message"]


# -- SQL on the FE ------------------------------------------------------------------------


def test_primary_key_table_rules(standin: StandIn) -> None:
    sql(standin, "CREATE DATABASE d")
    good = (
        "CREATE TABLE d.t (k1 DATE NOT NULL, k2 BIGINT NOT NULL, v DOUBLE) PRIMARY KEY(k1, k2) "
        "PARTITION BY date_trunc('day', k1) DISTRIBUTED BY HASH(k2) BUCKETS 4 PROPERTIES('replication_num' = '1')"
    )
    sql(standin, good)
    refused = {
        "ordered prefix": "CREATE TABLE d.a (v INT, k INT NOT NULL) PRIMARY KEY(k) DISTRIBUTED BY HASH(k)",
        "cannot be nullable": "CREATE TABLE d.b (k INT NULL, v INT) PRIMARY KEY(k) DISTRIBUTED BY HASH(k)",
        "Invalid data type of key column": "CREATE TABLE d.c (k DOUBLE NOT NULL) PRIMARY KEY(k) DISTRIBUTED BY HASH(k)",
        "Distribution column[v] is not key column": (
            "CREATE TABLE d.e (k INT NOT NULL, v INT) PRIMARY KEY(k) DISTRIBUTED BY HASH(v)"
        ),
        "replication num": good.replace("d.t", "d.f").replace("'1'", "'3'"),
    }
    for message, statement in refused.items():
        with pytest.raises(pymysql.MySQLError, match=re.escape(message)) as error:
            sql(standin, statement)
        assert error.value.args[0] == 1064, "StarRocks answers analysis errors with code 1064"


def test_error_texts(standin: StandIn) -> None:
    sql(standin, "CREATE DATABASE d")
    with pytest.raises(pymysql.MySQLError) as unknown_db:
        sql(standin, "SELECT 1 FROM t", database="nope")
    assert unknown_db.value.args == (1064, "Unknown database 'nope'")
    with pytest.raises(pymysql.MySQLError) as unknown_table:
        sql(standin, "SELECT * FROM d.t")
    assert unknown_table.value.args[1] == "Getting analyzing error. Detail message: Unknown table 'd.t'."


def test_create_database_and_user_if_not_exists_are_idempotent(standin: StandIn) -> None:
    for _ in range(2):
        sql(standin, "CREATE DATABASE IF NOT EXISTS d")
        sql(standin, "CREATE USER IF NOT EXISTS 'u'@'%' IDENTIFIED BY 'pw'")
    assert ("'u'@'%'",) in sql(standin, "SHOW USERS")
    with pytest.raises(pymysql.MySQLError, match="database exists"):
        sql(standin, "CREATE DATABASE d")


def test_all_on_database_does_not_cover_its_tables(standin: StandIn) -> None:
    tenant_database(standin, "db1", "u1", PASSWORD, table_grants=False)
    as_u1 = {"user": "u1", "password": PASSWORD, "database": "db1"}
    sql(standin, "CREATE TABLE t2 (k INT NOT NULL) PRIMARY KEY(k) DISTRIBUTED BY HASH(k)", **as_u1)
    with pytest.raises(pymysql.MySQLError) as error:
        sql(standin, "SELECT * FROM t2", **as_u1)
    message = error.value.args[1]
    assert message.startswith("Access denied; you need (at least one of) the SELECT privilege(s) on TABLE t2")
    assert "Please ask the admin to grant permission(s) or try activating existing roles using" in message

    sql(standin, "GRANT SELECT, INSERT ON ALL TABLES IN DATABASE db1 TO USER 'u1'@'%'")
    sql(standin, "CREATE TABLE t3 (k INT NOT NULL) PRIMARY KEY(k) DISTRIBUTED BY HASH(k)", **as_u1)
    assert sql(standin, "SELECT * FROM t3", **as_u1) == [], "ON ALL TABLES covers tables created later"


def test_users_only_see_and_use_their_own_database(standin: StandIn) -> None:
    tenant_database(standin, "db1", "u1", PASSWORD)
    tenant_database(standin, "db2", "u2", "u2-pw")
    assert sql(standin, "SHOW DATABASES", user="u1", password=PASSWORD) == [("information_schema",), ("db1",)]
    with pytest.raises(pymysql.MySQLError, match=r"Access denied; you need .* on DATABASE db2"):
        sql(standin, "SELECT 1", user="u1", password=PASSWORD, database="db2")
    with pytest.raises(pymysql.MySQLError, match="Access denied"):
        sql(standin, "CREATE DATABASE d3", user="u1", password=PASSWORD)
    with pytest.raises(pymysql.MySQLError, match="Access denied for user"):
        sql(standin, "SELECT 1", user="u1", password="wrong")


def test_swap_add_column_and_information_schema(standin: StandIn) -> None:
    tenant_database(standin, "db1", "u1", PASSWORD)
    sql(standin, "INSERT INTO db1.pk VALUES ('a', 1, 'x')")
    sql(standin, "ALTER TABLE db1.pk SWAP WITH dup")
    assert standin.rows("db1", "dup") == [("a", 1, "x")]
    assert standin.rows("db1", "pk") == []
    sql(standin, "ALTER TABLE db1.dup ADD COLUMN n BIGINT NULL AFTER k, ADD COLUMN w STRING NULL AFTER s")
    columns = sql(
        standin,
        "SELECT column_name, column_type, is_nullable, column_key FROM information_schema.columns "
        "WHERE table_schema = 'db1' AND table_name = 'dup' ORDER BY ordinal_position",
    )
    assert columns == [
        ("k", "varchar(8)", "NO", "PRI"),
        ("n", "bigint(20)", "YES", ""),
        ("v", "int(11)", "YES", ""),
        ("s", "varchar(20)", "YES", ""),
        ("w", "varchar(65533)", "YES", ""),
    ]
    assert standin.rows("db1", "dup") == [("a", None, 1, "x", None)]


def test_information_schema_column_types_are_starrocks_spellings(standin: StandIn) -> None:
    """ScalarType.toMysqlDataTypeString / toMysqlColumnTypeString (3.x FE): BOOLEAN and LARGEINT
    in MySQL's words, DECIMAL as the DECIMAL32/64/128 that stores it."""
    spellings = {
        "BOOLEAN": ("tinyint", "tinyint(1)"),
        "TINYINT": ("tinyint", "tinyint(4)"),
        "SMALLINT": ("smallint", "smallint(6)"),
        "INT": ("int", "int(11)"),
        "BIGINT": ("bigint", "bigint(20)"),
        "LARGEINT": ("bigint unsigned", "bigint(20) unsigned"),
        "FLOAT": ("float", "float"),
        "DOUBLE": ("double", "double"),
        "DECIMAL(9,2)": ("decimal", "decimal32(9, 2)"),
        "DECIMAL(10,0)": ("decimal", "decimal64(10, 0)"),
        "DECIMAL(18,2)": ("decimal", "decimal64(18, 2)"),
        "DECIMAL(19,4)": ("decimal", "decimal128(19, 4)"),
        "VARCHAR(40)": ("varchar", "varchar(40)"),
        "STRING": ("varchar", "varchar(65533)"),
        "DATE": ("date", "date"),
        "DATETIME": ("datetime", "datetime"),
    }
    columns = ", ".join(f"c{position} {declared} NULL" for position, declared in enumerate(spellings))
    sql(standin, "CREATE DATABASE d")
    sql(standin, f"CREATE TABLE d.t (k INT NOT NULL, {columns}) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k)")
    rows = sql(
        standin,
        "SELECT data_type, column_type FROM information_schema.columns "
        "WHERE table_schema = 'd' AND table_name = 't' AND column_name <> 'k' ORDER BY ordinal_position",
    )
    assert rows == list(spellings.values())


def test_insert_into_primary_key_table_upserts(standin: StandIn) -> None:
    tenant_database(standin, "db1", "u1", PASSWORD)
    sql(standin, "INSERT INTO db1.pk (k, v) VALUES ('a', 1), ('b', 2)")
    sql(standin, "INSERT INTO db1.pk (k, v) VALUES ('a', 5)")
    assert sql(standin, "SELECT k, v FROM db1.pk ORDER BY k") == [("a", 5), ("b", 2)]


def test_be_answer_is_json_even_for_failures(db1: StandIn) -> None:
    raw = put_be(db1, LOAD, headers(timeout="0"), b"a,1,x\n")
    assert raw.status_code == 200
    answer = json.loads(raw.text)
    assert answer["Status"] == "Fail" and "Invalid timeout" in answer["Message"]
