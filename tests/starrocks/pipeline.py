"""The whole pipeline on StarRocks: helpers shared by the stand-in end-to-end test
(``test_pipeline_on_standin.py``) and the real-server suite (``tests/integration``).

Everything goes through the project's own entry points: ``DATAWIZ_WAREHOUSE=starrocks``
selects the resource from the shared defaults and the ``DATAWIZ_STARROCKS_*`` environment,
provisioning runs as the admin, and the ``tenant_etl`` job runs per tenant. Tables are
read back over the MySQL protocol with the tenant's own login, as any client would.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pymysql
import pytest
from dagster import AssetKey, DagsterInstance, ExecuteInProcessResult

from datawiz_pipelines.config.loader import ConfigRepository, Tenant
from datawiz_pipelines.definitions import build_definitions
from datawiz_pipelines.jobs import TENANT_ETL_JOB
from datawiz_pipelines.resources.warehouse_selection import build_warehouse
from datawiz_pipelines.sample_data.generator import generate_sample_data
from datawiz_pipelines.settings import PROJECT_ROOT, ProjectPaths
from datawiz_pipelines.storage.tenant_paths import duckdb_warehouse_path
from datawiz_pipelines.warehouse.base import LoadResult, ProvisionReport, WarehouseError

SAMPLE_TENANTS = ("tenant1", "tenant2")
RUN_COLUMNS = ("_dw_load_id",)
"""Columns that differ from run to run by design (the run id): left out of comparisons."""


def new_project(root: Path) -> ProjectPaths:
    """The repository's tenant_configs (without any .env) and the sample tenants' source files."""
    paths = ProjectPaths(config_dir=root / "tenant_configs", data_dir=root / "data", logs_dir=root / "logs")
    shutil.copytree(PROJECT_ROOT / "tenant_configs", paths.config_dir, ignore=shutil.ignore_patterns(".env"))
    paths.data_dir.mkdir(parents=True)
    generate_sample_data(paths.config_dir, paths.data_dir, SAMPLE_TENANTS)
    return paths


def copy_project(paths: ProjectPaths, root: Path) -> ProjectPaths:
    """A second project with the same configuration and source files (timestamps kept)."""
    shutil.copytree(paths.config_dir.parent, root, symlinks=True)
    return ProjectPaths(
        config_dir=root / paths.config_dir.name,
        data_dir=root / paths.data_dir.name,
        logs_dir=root / paths.logs_dir.name,
    )


def use_project(monkeypatch: pytest.MonkeyPatch, paths: ProjectPaths) -> None:
    monkeypatch.setenv("DATAWIZ_CONFIG_DIR", str(paths.config_dir))
    monkeypatch.setenv("DATAWIZ_DATA_DIR", str(paths.data_dir))
    monkeypatch.setenv("DATAWIZ_LOGS_DIR", str(paths.logs_dir))


def write_db_passwords(paths: ProjectPaths, passwords: dict[str, str]) -> None:
    """Each tenant's ``DB_PASSWORD`` in its ``.env`` (the temporary project's copy only)."""
    for tenant_id, password in passwords.items():
        env = paths.config_dir / "tenants" / tenant_id / ".env"
        env.write_text(f"DB_PASSWORD={password}\n", encoding="utf-8")


def provision(paths: ProjectPaths, tenant_ids: Iterable[str]) -> dict[str, ProvisionReport]:
    """``datawiz tenants provision`` for each tenant: database, user, grants and tables,
    as the admin of the selected StarRocks resource (its EnvVar password read here)."""
    repository = ConfigRepository(paths.config_dir)
    tables = list(repository.catalog)
    with build_warehouse("starrocks", paths).process_config_and_initialize_cm() as warehouse:
        return {
            tenant_id: warehouse.provision(repository.load_tenant(tenant_id), tables)
            for tenant_id in tenant_ids
        }


def run_tenant(
    paths: ProjectPaths, instance: DagsterInstance, tenant_id: str, backend: str
) -> ExecuteInProcessResult:
    job = build_definitions(paths, backend=backend).resolve_job_def(TENANT_ETL_JOB)
    result = job.execute_in_process(partition_key=tenant_id, instance=instance, raise_on_error=False)
    failures = [
        f"{e.step_key}: {e.step_failure_data.error.message}" for e in result.get_step_failure_events()
    ]
    assert result.success, f"{backend} run of {tenant_id} failed: {failures}"
    return result


@dataclass
class BackgroundRuns:
    """``run_tenant`` for some tenants in a child process, on the other core."""

    process: subprocess.Popen
    log: Path

    def wait(self, timeout: float = 240) -> None:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            code = "a timeout"
        if code != 0:
            raise AssertionError(f"background runs ended with {code}:\n{self.log.read_text()[-4000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def run_in_background(
    paths: ProjectPaths, tenant_ids: Iterable[str], backend: str, environment: Mapping[str, str] | None = None
) -> BackgroundRuns:
    """Runs on another core while this process runs its own (two cores here). The child sees
    ``environment`` and the project's paths, none of this process's other ``DATAWIZ_*``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("DATAWIZ_")}
    env |= {
        "DATAWIZ_CONFIG_DIR": str(paths.config_dir),
        "DATAWIZ_DATA_DIR": str(paths.data_dir),
        "DATAWIZ_LOGS_DIR": str(paths.logs_dir),
        "DATAWIZ_WAREHOUSE": backend,
        **(environment or {}),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[1]), env.get("PYTHONPATH")])),
    }
    tenant_ids = list(tenant_ids)
    log = paths.config_dir.parent / f"{backend}-{'-'.join(tenant_ids)}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "starrocks.pipeline", backend, *tenant_ids],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return BackgroundRuns(process, log)


@dataclass
class Pipeline:
    """The sample tenants' project set up for StarRocks in this process (``on_starrocks``),
    and a copy of it running both tenants on DuckDB in a child process meanwhile."""

    starrocks: ProjectPaths
    duckdb: ProjectPaths
    server: Mapping[str, str]
    """The ``DATAWIZ_STARROCKS_*`` variables naming the StarRocks."""
    instance: DagsterInstance
    children: list[BackgroundRuns] = field(default_factory=list)

    def run(self, tenant_id: str) -> ExecuteInProcessResult:
        """The tenant's ``tenant_etl`` run on StarRocks, in this process."""
        return run_tenant(self.starrocks, self.instance, tenant_id, "starrocks")

    def run_in_background(self, tenant_ids: Iterable[str]) -> None:
        """The tenants' runs on StarRocks in a child process (see ``wait``)."""
        self.children.append(run_in_background(self.starrocks, tenant_ids, "starrocks", self.server))

    def wait(self, timeout: float = 240) -> None:
        """Until every child process has finished its runs (fails if one did not)."""
        for child in self.children:
            child.wait(timeout)

    def duckdb_tables(self, timeout: float = 240) -> dict[str, dict[str, TableContent]]:
        """Each sample tenant's DuckDB tables, once the children are done: what StarRocks must hold."""
        self.wait(timeout)
        return {tenant_id: duckdb_tables(self.duckdb, tenant_id) for tenant_id in SAMPLE_TENANTS}


@contextmanager
def on_starrocks(
    star: ProjectPaths, server: Mapping[str, str], passwords: Mapping[str, str]
) -> Iterator[Pipeline]:
    """The project ``star`` (``new_project``) made ready to run on the StarRocks that ``server``
    names: the project, ``DATAWIZ_WAREHOUSE=starrocks`` and ``server`` in this process's
    environment, each tenant's password in its ``.env``, both tenants provisioned. Before that,
    a copy of the project (``duckdb`` beside ``star``'s folder) starts both tenants' runs on
    DuckDB in a child process. Child processes are stopped and the environment restored on exit."""
    duck = copy_project(star, star.config_dir.parent.with_name("duckdb"))
    children = [run_in_background(duck, SAMPLE_TENANTS, "duckdb")]
    try:
        with pytest.MonkeyPatch.context() as monkeypatch, DagsterInstance.ephemeral() as instance:
            use_project(monkeypatch, star)
            monkeypatch.setenv("DATAWIZ_WAREHOUSE", "starrocks")
            for name, value in server.items():
                monkeypatch.setenv(name, value)
            write_db_passwords(star, dict(passwords))
            provision(star, SAMPLE_TENANTS)
            yield Pipeline(star, duck, dict(server), instance, children)
    finally:
        for child in children:
            child.stop()


def load_labels(result: ExecuteInProcessResult) -> dict[str, list[str]]:
    """Stream Load labels each warehouse asset of the run used, by table."""
    labels: dict[str, list[str]] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        key: AssetKey = materialization.asset_key
        details = materialization.metadata.get("load_details")
        if key.path[0] == "warehouse" and details is not None:
            labels[key.path[1]] = list(details.value.get("labels", []))
    return labels


# -- reading tables back -----------------------------------------------------------------------


@dataclass(frozen=True)
class TableContent:
    columns: tuple[str, ...]
    rows: tuple[tuple[str | None, ...], ...]
    """Canonical values (``canonical``), rows sorted: equal content, equal rows."""

    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def checksum(self) -> str:
        digest = hashlib.sha256("\x1f".join(self.columns).encode())
        for row in self.rows:
            digest.update(b"\x1e" + "\x1f".join("\\N" if v is None else v for v in row).encode())
        return digest.hexdigest()


def canonical(value: Any) -> str | None:
    """One text per value, whatever the protocol delivered: DECIMAL(18,2) ``12.50`` and
    ``Decimal('12.5')`` agree, BOOLEAN ``1`` and ``True`` agree, dates are ISO."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal | float):
        if isinstance(value, float) and not math.isfinite(value):
            return repr(value)
        number = Decimal(repr(value)) if isinstance(value, float) else value
        text = format(number.normalize(), "f")
        return "0" if text in ("-0", "0") else text
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def _content(columns: list[str], rows: Iterable[tuple[Any, ...]]) -> TableContent:
    keep = [i for i, name in enumerate(columns) if name not in RUN_COLUMNS]
    canon = [tuple(canonical(row[i]) for i in keep) for row in rows]
    canon.sort(key=lambda row: tuple((v is None, v or "") for v in row))
    return TableContent(tuple(columns[i] for i in keep), tuple(canon))


def duckdb_tables(paths: ProjectPaths, tenant_id: str) -> dict[str, TableContent]:
    """Every base table of the tenant's DuckDB warehouse."""
    database = ConfigRepository(paths.config_dir).entry(tenant_id).database_name
    with duckdb.connect(str(duckdb_warehouse_path(paths.data_dir, database)), read_only=True) as db:
        names = [
            name
            for (name,) in db.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'main' AND table_type = 'BASE TABLE'"
            ).fetchall()
        ]
        tables = {}
        for name in names:
            cursor = db.execute(f'SELECT * FROM "{name}"')
            tables[name] = _content([d[0] for d in cursor.description], cursor.fetchall())
        return tables


def connect_as(tenant: Tenant, *, database: str | None = None) -> pymysql.Connection:
    """A plain MySQL-protocol connection with the tenant's own login."""
    served = tenant.settings.database
    assert tenant.secrets.DB_PASSWORD is not None
    return pymysql.connect(
        host=served.host,
        port=served.port,
        user=tenant.entry.database_user,
        password=tenant.secrets.DB_PASSWORD.get_secret_value(),
        database=database,
        autocommit=True,
        connect_timeout=10,
    )


def starrocks_tables(paths: ProjectPaths, tenant_id: str) -> dict[str, TableContent]:
    """Every table and materialized view of the tenant's StarRocks database (what DuckDB
    holds as tables), read with the tenant's login; staging tables a load would leave
    behind included: there must be none."""
    tenant = ConfigRepository(paths.config_dir).load_tenant(tenant_id)
    database = tenant.entry.database_name
    connection = connect_as(tenant, database=database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = %s AND table_type = 'BASE TABLE'",
                [database],
            )
            names = {row[0] for row in cursor.fetchall()}
            cursor.execute(
                "SELECT table_name FROM information_schema.materialized_views WHERE table_schema = %s",
                [database],
            )
            names |= {row[0] for row in cursor.fetchall()}
            tables = {}
            for name in sorted(names):
                cursor.execute(f"SELECT * FROM `{database}`.`{name}`")
                tables[name] = _content([d[0] for d in cursor.description], cursor.fetchall())
            return tables
    finally:
        connection.close()


def differences(expected: dict[str, TableContent], actual: dict[str, TableContent]) -> list[str]:
    """Tables whose columns, row counts or values differ (empty: identical)."""
    problems = []
    for name in sorted(expected.keys() | actual.keys()):
        if name not in actual or name not in expected:
            problems.append(f"{name}: only in {'expected' if name in expected else 'actual'}")
            continue
        want, got = expected[name], actual[name]
        if want.columns != got.columns:
            problems.append(f"{name}: columns {got.columns} != {want.columns}")
        elif want.row_count != got.row_count:
            problems.append(f"{name}: {got.row_count} rows != {want.row_count}")
        elif want.checksum != got.checksum:
            diff = next(g for w, g in zip(want.rows, got.rows, strict=True) if w != g)
            problems.append(f"{name}: values differ, e.g. {diff}")
    return problems


# -- isolation ---------------------------------------------------------------------------------


def denied(tenant: Tenant, statement: str, *, database: str | None = None) -> str:
    """The server's refusal of ``statement`` run with the tenant's login (fails if it ran)."""
    try:
        connection = connect_as(tenant, database=database)
    except pymysql.MySQLError as exc:
        return str(exc)
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
            rows = cursor.fetchall()
    except pymysql.MySQLError as exc:
        return str(exc)
    finally:
        connection.close()
    raise AssertionError(f"{tenant.entry.database_user} ran {statement!r}: {rows!r}")


def intrusions(paths: ProjectPaths, intruder_id: str, victim_id: str) -> list[str]:
    """Everything the intruder's login tries in the victim's database, each refused: the
    server's messages. Reading, writing, dropping, creating, USE, and a Stream Load."""
    repository = ConfigRepository(paths.config_dir)
    intruder, victim = repository.load_tenant(intruder_id), repository.load_tenant(victim_id)
    other = victim.entry.database_name
    refusals = [
        denied(intruder, f"SELECT COUNT(*) FROM `{other}`.`dim_material`"),
        denied(intruder, f"SELECT * FROM `{other}`.`fact_invoice_secondary` LIMIT 1"),
        denied(
            intruder,
            f"INSERT INTO `{other}`.`dim_sales_group` (sales_group_code, sales_group_name) "
            "VALUES ('ZZ9', 'intruder')",
        ),
        denied(intruder, f"DROP TABLE `{other}`.`dim_material`"),
        denied(
            intruder,
            f"CREATE TABLE `{other}`.`intruder` (k INT NOT NULL) DUPLICATE KEY(k) "
            "DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES ('replication_num' = '1')",
        ),
        denied(intruder, "SELECT 1", database=other),
    ]
    # A Stream Load with the intruder's login into the victim's database (upsert: straight
    # to Stream Load, no staging table first).
    table = repository.catalog["fact_invoice_secondary"]
    silver = paths.data_dir / intruder_id / "silver" / table.name / "data.parquet"
    posing = Tenant(
        entry=intruder.entry.model_copy(update={"database_name": other}),
        settings=intruder.settings,
        mappings=intruder.mappings,
        secrets=intruder.secrets,
        config_dir=intruder.config_dir,
    )
    with build_warehouse("starrocks", paths).process_config_and_initialize_cm() as warehouse:
        try:
            warehouse.load_table(posing, table, silver, load_id="intruder", mode="upsert")
        except WarehouseError as exc:
            refusals.append(str(exc))
        else:
            raise AssertionError(f"{intruder.entry.database_user} stream-loaded into {other}")
    return refusals


def retried_upsert(paths: ProjectPaths, tenant_id: str, table_name: str) -> tuple[LoadResult, LoadResult]:
    """The tenant's silver rows of an incremental table upserted twice, as a retried step would:
    the second attempt must reuse the first one's labels and change nothing."""
    repository = ConfigRepository(paths.config_dir)
    tenant, table = repository.load_tenant(tenant_id), repository.catalog[table_name]
    assert table.load_mode == "incremental", table_name
    silver = paths.data_dir / tenant_id / "silver" / table.name / "data.parquet"
    with build_warehouse("starrocks", paths).process_config_and_initialize_cm() as warehouse:
        first = warehouse.load_table(tenant, table, silver, load_id="retry-1", mode="upsert")
        second = warehouse.load_table(tenant, table, silver, load_id="retry-2", mode="upsert")
    return first, second


if __name__ == "__main__":  # run_in_background's child: python -m starrocks.pipeline <backend> <tenant>...
    with DagsterInstance.ephemeral() as _instance:
        for _tenant_id in sys.argv[2:]:
            run_tenant(ProjectPaths.from_env(), _instance, _tenant_id, sys.argv[1])
