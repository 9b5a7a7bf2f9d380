"""The whole pipeline for the sample tenants against a real StarRocks (``-m starrocks``).

Runs when ``DATAWIZ_STARROCKS_HOST`` names the server (``DATAWIZ_STARROCKS_PORT``,
``DATAWIZ_STARROCKS_HTTP_PORT``, ``DATAWIZ_STARROCKS_ADMIN_USER`` and
``DATAWIZ_STARROCKS_ADMIN_PASSWORD`` as for the platform; the password may be empty, as
root's is on a fresh all-in-one container); skipped otherwise::

    docker compose up -d starrocks
    DATAWIZ_STARROCKS_HOST=127.0.0.1 pytest -m starrocks tests/integration

The tenants keep their ids, but their databases and users get a per-session prefix
(``datawiz_it<hex>_tenant1``, ``it<hex>_tenant1``, random passwords), dropped at the
end, so a shared cluster's real tenants are never touched. The row-level security roles
(``tenant1__<role>``, cluster-wide names) are left in place: use a test cluster.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pymysql
import pytest
import yaml
from dagster import ExecuteInProcessResult
from starrocks.pipeline import (
    SAMPLE_TENANTS,
    TableContent,
    differences,
    intrusions,
    load_labels,
    new_project,
    on_starrocks,
    provision,
    retried_upsert,
    starrocks_tables,
)

from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.settings import ProjectPaths

SERVER = {
    name: os.environ[name]
    for name in (
        "DATAWIZ_STARROCKS_HOST",
        "DATAWIZ_STARROCKS_PORT",
        "DATAWIZ_STARROCKS_HTTP_PORT",
        "DATAWIZ_STARROCKS_ADMIN_USER",
        "DATAWIZ_STARROCKS_ADMIN_PASSWORD",
    )
    if name in os.environ
}
"""Read at import: the ``project`` fixture clears these for the other tests."""

pytestmark = [
    pytest.mark.starrocks,
    pytest.mark.timeout(1800),
    pytest.mark.skipif(
        not SERVER.get("DATAWIZ_STARROCKS_HOST"),
        reason="needs a real StarRocks: set DATAWIZ_STARROCKS_HOST (and DATAWIZ_STARROCKS_ADMIN_PASSWORD, "
        "possibly empty; also _PORT, _HTTP_PORT, _ADMIN_USER if not the defaults)",
    ),
]


@dataclass
class Runs:
    star: ProjectPaths
    expected: dict[str, dict[str, TableContent]]
    first: ExecuteInProcessResult
    after_first: dict[str, dict[str, TableContent]]
    rerun: ExecuteInProcessResult


def isolate(paths: ProjectPaths, prefix: str) -> dict[str, tuple[str, str]]:
    """Give the sample tenants databases and users of their own on this cluster:
    tenant id -> (database, user)."""
    registry_path = paths.config_dir / "registry.yaml"
    registry = yaml.safe_load(registry_path.read_text())
    names = {}
    for entry in registry["tenants"]:
        if entry["tenant_id"] in SAMPLE_TENANTS:
            entry["database_name"] = f"datawiz_{prefix}_{entry['tenant_id']}"
            entry["database_user"] = f"{prefix}_{entry['tenant_id']}"
            names[entry["tenant_id"]] = (entry["database_name"], entry["database_user"])
    registry_path.write_text(yaml.safe_dump(registry, sort_keys=False))
    return names


def admin_connection() -> pymysql.Connection:
    return pymysql.connect(
        host=SERVER["DATAWIZ_STARROCKS_HOST"],
        port=int(SERVER.get("DATAWIZ_STARROCKS_PORT") or 9030),
        user=SERVER.get("DATAWIZ_STARROCKS_ADMIN_USER") or "root",
        password=SERVER.get("DATAWIZ_STARROCKS_ADMIN_PASSWORD", ""),
        autocommit=True,
        connect_timeout=10,
    )


def drop(names: dict[str, tuple[str, str]]) -> None:
    connection = admin_connection()
    try:
        with connection.cursor() as cursor:
            for database, user in names.values():
                cursor.execute(f"DROP DATABASE IF EXISTS `{database}` FORCE")
                cursor.execute("DROP USER IF EXISTS %s@'%%'", [user])
    finally:
        connection.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    star = new_project(tmp_path_factory.mktemp("real-starrocks") / "starrocks")
    names = isolate(star, f"it{secrets.token_hex(3)}")
    passwords = {tenant_id: secrets.token_urlsafe(18) for tenant_id in SAMPLE_TENANTS}
    try:
        with on_starrocks(star, SERVER, passwords) as pipeline:
            first = pipeline.run("tenant1")
            pipeline.run("tenant2")
            after_first = {tenant_id: starrocks_tables(star, tenant_id) for tenant_id in SAMPLE_TENANTS}
            rerun = pipeline.run("tenant1")
            expected = pipeline.duckdb_tables(timeout=900)
            yield Runs(star, expected, first, after_first, rerun)
    finally:
        drop(names)


def test_provisioning_again_creates_nothing(runs: Runs) -> None:
    for report in provision(runs.star, SAMPLE_TENANTS).values():
        assert report.created == []


@pytest.mark.parametrize("tenant_id", SAMPLE_TENANTS)
def test_every_table_holds_the_rows_and_values_of_the_duckdb_run(runs: Runs, tenant_id: str) -> None:
    catalog = ConfigRepository(runs.star.config_dir).catalog
    star, duck = runs.after_first[tenant_id], runs.expected[tenant_id]
    # catalog tables, derived tables and materialized views (tables on DuckDB); no staging table
    assert set(catalog.tables) < set(star) == set(duck)
    assert differences(duck, star) == []
    assert all(star[name].row_count > 0 for name in catalog.tables)


def test_a_rerun_changes_nothing_and_reloads_nothing_it_loaded(runs: Runs) -> None:
    assert differences(runs.after_first["tenant1"], starrocks_tables(runs.star, "tenant1")) == []
    first, again = load_labels(runs.first), load_labels(runs.rerun)
    for table in ConfigRepository(runs.star.config_dir).catalog:
        if table.load_mode == "incremental":
            assert first[table.name] and again[table.name] == [], table.name


def test_a_retried_upsert_reuses_its_labels_and_adds_no_rows(runs: Runs) -> None:
    before = starrocks_tables(runs.star, "tenant1")["fact_invoice_secondary"]
    first, second = retried_upsert(runs.star, "tenant1", "fact_invoice_secondary")
    assert second.details["labels"] == first.details["labels"]
    assert all(load["already_loaded"] for load in second.details["stream_loads"])
    assert starrocks_tables(runs.star, "tenant1")["fact_invoice_secondary"].checksum == before.checksum


@pytest.mark.parametrize(("intruder", "victim"), [("tenant1", "tenant2"), ("tenant2", "tenant1")])
def test_a_tenant_can_neither_read_nor_write_the_other_tenants_database(
    runs: Runs, intruder: str, victim: str
) -> None:
    before = starrocks_tables(runs.star, victim)
    refusals = intrusions(runs.star, intruder, victim)
    assert all("Access denied" in refusal for refusal in refusals), refusals
    assert differences(before, starrocks_tables(runs.star, victim)) == []
