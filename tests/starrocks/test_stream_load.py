"""The Stream Load client against the stand-in: redirect by hand, labels, retries, statuses."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from pydantic import SecretStr
from starrocks_standin import Fault, StandIn

from datawiz_pipelines.config.tenant import StreamLoadSettings
from datawiz_pipelines.warehouse.starrocks.csv_chunks import CsvChunk, csv_chunks
from datawiz_pipelines.warehouse.starrocks.stream_load import (
    LABEL_PATTERN,
    RetryPolicy,
    StreamLoader,
    StreamLoadError,
    StreamLoadTarget,
    load_label,
)

from .raw_client import sql, tenant_database

PASSWORD = "u1-Secret-pw"
COLUMNS = ["k", "v", "s"]
FAST = RetryPolicy(
    backoff_seconds=0.01,
    read_timeout_margin_seconds=10,
    poll_interval_seconds=0.05,
    poll_timeout_seconds=1.5,
)
IMPATIENT = replace(FAST, read_timeout_margin_seconds=0.2, poll_timeout_seconds=10)
"""Gives up waiting for an answer after 1.2 s (the loads' timeout header is 1 s), then waits
patiently for the label that answer would have reported."""


@pytest.fixture
def db1(standin: StandIn) -> StandIn:
    tenant_database(standin, "db1", "u1", PASSWORD)
    return standin


def loader(
    standin: StandIn, password: str = PASSWORD, retry: RetryPolicy = FAST, **settings: object
) -> StreamLoader:
    target = StreamLoadTarget("acme", standin.host, standin.fe_port, "u1", SecretStr(password), "db1")
    return StreamLoader(target, StreamLoadSettings(timeout_seconds=1, **settings), retry)


def chunks(tmp_path: Path, rows: list[tuple], **options: object) -> list[CsvChunk]:
    frame = pl.DataFrame(rows, schema={"k": pl.String, "v": pl.Int32, "s": pl.String}, orient="row")
    frame.write_parquet(tmp_path / "silver.parquet")
    settings = {"chunk_rows": 500_000, "chunk_bytes": 100 * 1024 * 1024, "compress": False} | options
    return list(csv_chunks(tmp_path / "silver.parquet", COLUMNS, **settings))


def only_chunk(tmp_path: Path, rows: list[tuple], **options: object) -> CsvChunk:
    (chunk,) = chunks(tmp_path, rows, **options)
    return chunk


ROWS = [("a", 1, "x"), ("b", 2, "y,z"), ("c", None, 'say "hi"'), ("d", 4, "")]


def label_for(chunk: CsvChunk, table: str = "dup") -> str:
    return load_label("acme", table, 1, chunk.digest)


# -- the protocol --------------------------------------------------------------------------


def test_redirect_is_followed_by_hand_with_authorization_reattached(db1: StandIn, tmp_path: Path) -> None:
    chunk = only_chunk(tmp_path, ROWS)
    result = loader(db1).load("dup", COLUMNS, chunk, label_for(chunk))
    assert (result.status, result.loaded_rows, result.attempts) == ("Success", 4, 1)

    (fe,) = db1.requests("fe")
    (be,) = db1.requests("be")
    assert fe.path == be.path == "/api/db1/dup/_stream_load"
    assert fe.headers["expect"] == "100-continue" and fe.headers["authorization"].startswith("Basic ")
    assert fe.headers["content-length"] == "0", "the FE never reads the body, so none is sent to it"
    assert be.headers["authorization"] == fe.headers["authorization"], (
        "Authorization re-attached after the 307"
    )
    assert be.body_bytes == len(chunk.body)
    assert be.headers["label"] == label_for(chunk)
    assert be.headers["columns"] == "k,v,s"
    assert (be.headers["format"], be.headers["column_separator"], be.headers["enclose"]) == ("csv", ",", '"')
    assert (be.headers["strict_mode"], be.headers["max_filter_ratio"], be.headers["timeout"]) == (
        "true",
        "0.0",
        "1",
    )
    assert db1.rows("db1", "dup") == [("a", 1, "x"), ("b", 2, "y,z"), ("c", None, 'say "hi"'), ("d", 4, "")]


def test_settings_become_headers(db1: StandIn, tmp_path: Path) -> None:
    chunk = only_chunk(tmp_path, ROWS, compress=True)
    custom = loader(
        db1, strict_mode=False, max_filter_ratio=0.25, timezone="Asia/Kolkata", compression="gzip"
    )
    custom.load("dup", COLUMNS, chunk, label_for(chunk))
    (be,) = db1.requests("be")
    assert (be.headers["strict_mode"], be.headers["max_filter_ratio"]) == ("false", "0.25")
    assert be.headers["timezone"] == "Asia/Kolkata"
    assert (be.headers["format"], be.headers["column_separator"], be.headers["enclose"]) == ("gzip", ",", '"')
    assert "compression" not in be.headers, "the BE reads gzipped CSV by format; compression is for JSON"
    assert chunk.body[:2] == b"\x1f\x8b" and len(db1.rows("db1", "dup")) == 4


def test_gzip_load_lands_the_same_rows_as_an_uncompressed_one(db1: StandIn, tmp_path: Path) -> None:
    for table, compress in (("pk", False), ("dup", True)):
        chunk = only_chunk(tmp_path, ROWS, compress=compress)
        settings = {"compression": "gzip"} if compress else {}
        result = loader(db1, **settings).load(table, COLUMNS, chunk, label_for(chunk, table))
        assert (result.status, result.loaded_rows, result.filtered_rows) == ("Success", 4, 0)
    assert db1.rows("db1", "dup") == db1.rows("db1", "pk") == ROWS


# -- labels and chunks ---------------------------------------------------------------------


def test_labels_are_deterministic_and_distinct() -> None:
    digest = "ab" * 32
    label = load_label("acme", "fact_invoice_details", 3, digest)
    assert label == load_label("acme", "fact_invoice_details", 3, digest)
    assert label.startswith("dw-acme-fact_invoice_details-") and LABEL_PATTERN.fullmatch(label)
    others = {
        load_label("other", "fact_invoice_details", 3, digest),
        load_label("acme", "dim_material", 3, digest),
        load_label("acme", "fact_invoice_details", 4, digest),
        load_label("acme", "fact_invoice_details", 3, "cd" * 32),
    }
    assert label not in others and len(others) == 4


def test_long_names_still_give_valid_distinct_labels() -> None:
    tenant, table = "t" * 63, "x" * 63 + "__staging_0123456789ab"
    first = load_label(tenant, table, 1, "00" * 32)
    second = load_label(tenant, table, 1, "11" * 32)
    assert len(first) <= 128 and LABEL_PATTERN.fullmatch(first) and first != second


def test_chunks_are_bounded_and_deterministic(tmp_path: Path) -> None:
    rows = [(f"k{i}", i, "v" * 30) for i in range(10)]
    by_rows = chunks(tmp_path, rows, chunk_rows=3)
    assert [c.rows for c in by_rows] == [3, 3, 3, 1]
    assert [c.digest for c in by_rows] == [c.digest for c in chunks(tmp_path, rows, chunk_rows=3)]
    by_bytes = chunks(tmp_path, rows, chunk_bytes=100)
    assert all(c.csv_bytes <= 100 for c in by_bytes) and sum(c.rows for c in by_bytes) == 10
    assert b"".join(c.body for c in by_bytes) == b"".join(c.body for c in by_rows)


def test_csv_encoding_round_trips_every_type(db1: StandIn, tmp_path: Path) -> None:
    sql(
        db1,
        "CREATE TABLE db1.types (k VARCHAR(40) NOT NULL, d DATE NULL, t DATETIME NULL, m DECIMAL(18,2) NULL, "
        "b BOOLEAN NULL, f DOUBLE NULL, big LARGEINT NULL, s STRING NULL) PRIMARY KEY(k) DISTRIBUTED BY HASH(k)",
    )
    frame = pl.DataFrame(
        {
            "k": ["plain", "tricky", "nulls"],
            "d": [dt.date(2024, 2, 29), dt.date(1999, 12, 31), None],
            "t": [dt.datetime(2024, 2, 29, 23, 59, 59, 123456), dt.datetime(2000, 1, 1), None],
            "m": [Decimal("12345.67"), Decimal("-0.01"), None],
            "b": [True, False, None],
            "f": [1.5, 1e-12, None],
            "big": [2**100, -(2**70), None],
            "s": ["héllo", 'a,b\n"quoted"\r\n\ttab \\ backslash', None],
        },
        schema_overrides={"m": pl.Decimal(18, 2), "big": pl.Int128},
    )
    frame.write_parquet(tmp_path / "types.parquet")
    (chunk,) = csv_chunks(
        tmp_path / "types.parquet", frame.columns, chunk_rows=10, chunk_bytes=10**6, compress=False
    )
    loader(db1).load("types", frame.columns, chunk, load_label("acme", "types", 1, chunk.digest))
    rows = sql(db1, "SELECT k, d, t, m, b, f, big, s FROM db1.types ORDER BY k")
    assert rows == [
        ("nulls", None, None, None, None, None, None, None),
        ("plain", dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 23, 59, 59, 123456), Decimal("12345.67"), 1, 1.5,
         2**100, "héllo"),
        ("tricky", dt.date(1999, 12, 31), dt.datetime(2000, 1, 1), Decimal("-0.01"), 0, 1e-12, -(2**70),
         'a,b\n"quoted"\r\n\ttab \\ backslash'),
    ]  # fmt: skip


# -- retries and statuses -----------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault("http_500", where="fe"),
        Fault("http_500", where="be", times=2),
        Fault("reset_mid_body"),
        Fault("reset_after_commit"),
        Fault("slow", delay=2.0),
        Fault("fail_retryable"),
    ],
    ids=lambda f: f"{f.where}-{f.kind}",
)
def test_transient_faults_are_retried_without_duplicates(db1: StandIn, tmp_path: Path, fault: Fault) -> None:
    db1.arm(fault)
    chunk = only_chunk(tmp_path, ROWS)
    result = loader(db1, retry=IMPATIENT).load("dup", COLUMNS, chunk, label_for(chunk))
    assert result.attempts > 1
    assert db1.state.faults.fired, "the fault fired"
    assert len(db1.rows("db1", "dup")) == 4, "a DUPLICATE KEY table would show any double load"
    labels = {r.headers["label"] for r in db1.requests("be") if r.method == "PUT"}
    assert labels == {label_for(chunk)}, "every attempt reuses the label"


def test_label_already_exists_finished_is_success(db1: StandIn, tmp_path: Path) -> None:
    chunk = only_chunk(tmp_path, ROWS)
    first = loader(db1).load("dup", COLUMNS, chunk, label_for(chunk))
    again = loader(db1).load("dup", COLUMNS, chunk, label_for(chunk))
    assert (first.already_loaded, again.already_loaded) == (False, True)
    assert (again.status, again.attempts, again.loaded_rows) == ("Label Already Exists", 1, None)
    assert len(db1.rows("db1", "dup")) == 4


@pytest.mark.parametrize("fe", ["leader", "follower"])
def test_label_left_running_is_polled_until_visible(db1: StandIn, tmp_path: Path, fe: str) -> None:
    """A follower FE answers get_load_state with a 307 to the leader, which wants Basic auth too."""
    if fe == "follower":
        db1.follower()
    db1.arm(Fault("label_running", delay=0.4))
    chunk = only_chunk(tmp_path, ROWS)
    result = loader(db1).load("dup", COLUMNS, chunk, label_for(chunk))
    assert result.already_loaded and result.attempts == 2
    polls = [r for r in db1.requests() if r.method == "GET"]
    assert polls and all("get_load_state?label=" in r.path for r in polls)
    assert {r.server for r in polls} == ({"fe"} if fe == "leader" else {"fe", "leader"})
    assert all(r.headers.get("authorization") for r in polls), "Authorization re-attached after the 307"
    assert len(db1.rows("db1", "dup")) == 4


def test_label_running_for_ever_gives_up_with_a_clear_error(db1: StandIn, tmp_path: Path) -> None:
    db1.arm(Fault("label_running", delay=None))
    chunk = only_chunk(tmp_path, ROWS)
    with pytest.raises(
        StreamLoadError, match=r"still (PREPARE|RUNNING) after 1.5s.*get_load_state\?label=dw-acme-dup-"
    ):
        loader(db1).load("dup", COLUMNS, chunk, label_for(chunk))


def test_publish_timeout_is_committed_and_not_retried(db1: StandIn, tmp_path: Path) -> None:
    db1.arm(Fault("publish_timeout", delay=5))
    chunk = only_chunk(tmp_path, ROWS)
    result = loader(db1).load("dup", COLUMNS, chunk, label_for(chunk))
    assert (result.status, result.attempts, result.loaded_rows) == ("Publish Timeout", 1, 4)
    assert db1.label_state("db1", result.label) == "COMMITTED", "committed, visible later"
    assert len(db1.requests("be")) == 1
    assert len(db1.rows("db1", "dup")) == 4


def test_too_many_filtered_rows_shows_error_url_and_is_not_retried(db1: StandIn, tmp_path: Path) -> None:
    chunk = only_chunk(tmp_path, [("a", 1, "x"), ("b", 2, "far too long for a VARCHAR(20) column")])
    with pytest.raises(StreamLoadError) as error:
        loader(db1).load("dup", COLUMNS, chunk, label_for(chunk))
    message = str(error.value)
    assert "tenant acme, table db1.dup" in message and "too many filtered rows" in message
    assert f"ErrorURL http://127.0.0.1:{db1.be_port}/api/_load_error_log?file=error_log_" in message
    assert "far too long" in message, "the first rejected rows are quoted from the error log"
    assert len(db1.requests("be")) == 2, "one load, one error-log read: no retry"
    assert db1.rows("db1", "dup") == []


def test_filtered_rows_within_max_filter_ratio_are_reported(db1: StandIn, tmp_path: Path) -> None:
    rows = [("a", 1, "x"), ("b", 2, "this value is longer than twenty"), ("c", 3, "z"), ("d", 4, "w")]
    chunk = only_chunk(tmp_path, rows)
    result = loader(db1, max_filter_ratio=0.5).load("dup", COLUMNS, chunk, label_for(chunk))
    assert (result.loaded_rows, result.filtered_rows) == (3, 1) and result.error_url


@pytest.mark.parametrize(
    ("password", "grants", "message"),
    [
        ("wrong-password", True, re.escape("refused by the FE (HTTP 401): Access denied for user 'u1'")),
        (PASSWORD, False, re.escape("INSERT privilege(s) on TABLE dup")),
    ],
)
def test_auth_failures_are_permanent(
    standin: StandIn,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    password: str,
    grants: bool,
    message: str,
) -> None:
    tenant_database(standin, "db1", "u1", PASSWORD, table_grants=grants)
    chunk = only_chunk(tmp_path, ROWS)
    with caplog.at_level(logging.DEBUG), pytest.raises(StreamLoadError, match=message) as error:
        loader(standin, password).load("dup", COLUMNS, chunk, label_for(chunk))
    assert len(standin.requests("fe")) == 1 and standin.requests("be") == []
    for secret in (password, PASSWORD):
        assert secret not in str(error.value) and secret not in caplog.text


def test_unknown_table_is_reported_by_the_be_and_not_retried(db1: StandIn, tmp_path: Path) -> None:
    chunk = only_chunk(tmp_path, ROWS)
    with pytest.raises(StreamLoadError, match=re.escape('unknown table "db1.missing"')):
        loader(db1).load("missing", COLUMNS, chunk, label_for(chunk, "missing"))
    assert len(db1.requests("be")) == 1


def test_retries_are_bounded(db1: StandIn, tmp_path: Path) -> None:
    db1.arm(Fault("http_500", where="be", times=5))
    chunk = only_chunk(tmp_path, ROWS)
    with pytest.raises(StreamLoadError, match=r"failed 3 times; last: BE answered HTTP 500"):
        loader(db1, max_retries=2).load("dup", COLUMNS, chunk, label_for(chunk))
    assert len(db1.requests("be")) == 3


def test_row_count_mismatch_is_an_error(db1: StandIn, tmp_path: Path) -> None:
    chunk = only_chunk(tmp_path, ROWS)
    lying = CsvChunk(chunk.index, chunk.rows + 1, chunk.body, chunk.csv_bytes, chunk.digest)
    with pytest.raises(StreamLoadError, match=r"counted 4 rows .* where 5 were sent"):
        loader(db1).load("dup", COLUMNS, lying, label_for(lying))


def test_wider_rows_later_in_the_file_still_respect_chunk_bytes(tmp_path: Path) -> None:
    rows = [(f"k{i}", i, "s") for i in range(1000)] + [(f"w{i}", i, "w" * 400) for i in range(200)]
    produced = chunks(tmp_path, rows, chunk_bytes=20_000)
    assert all(c.csv_bytes <= 20_000 for c in produced)
    assert sum(c.rows for c in produced) == 1200
    assert [c.digest for c in produced] == [c.digest for c in chunks(tmp_path, rows, chunk_bytes=20_000)]
    assert b"".join(c.body for c in produced) == only_chunk(tmp_path, rows).body


@pytest.mark.parametrize(
    ("values", "text"),
    [
        ([dt.datetime(2024, 2, 29, 23, 59, 59), None], [b"2024-02-29 23:59:59", b"\\N"]),
        ([dt.datetime(2024, 2, 29, 23, 59, 59), dt.datetime(2000, 1, 1, 0, 0, 0, 5)],
         [b"2024-02-29 23:59:59.000000", b"2000-01-01 00:00:00.000005"]),
        ([None, dt.datetime(2024, 4, 1, 1), dt.datetime(2024, 4, 1, 1)], [b"\\N", b"2024-04-01 01:00:00", b"2024-04-01 01:00:00"]),
        ([dt.datetime(2024, 4, 1, 1, 0, 0, 250), None], [b"2024-04-01 01:00:00.000250", b"\\N"]),
        ([dt.date(1, 1, 1), dt.date(9999, 12, 31)], [b"0001-01-01", b"9999-12-31"]),
        ([dt.date(2024, 3, 1), None, dt.date(2024, 2, 28)], [b"2024-03-01", b"\\N", b"2024-02-28"]),
    ],
    ids=["whole-seconds", "fractions", "one-time", "one-time-fraction", "far-apart-dates", "near-dates"],
)  # fmt: skip
def test_dates_and_datetimes_are_written_as_starrocks_parses_them(
    tmp_path: Path, values: list, text: list[bytes]
) -> None:
    pl.DataFrame({"v": values}).write_parquet(tmp_path / "silver.parquet")
    (chunk,) = csv_chunks(
        tmp_path / "silver.parquet", ["v"], chunk_rows=10, chunk_bytes=10**6, compress=False
    )
    assert chunk.body.splitlines() == text
