"""Fixtures for the landing zone: Azurite (started once per session), small test tenants,
and helpers to run the ETL of just their tables through the ``tenant_etl`` job."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import socket
import subprocess
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml
from azure.storage.blob import BlobServiceClient, ContainerClient
from dagster import AssetKey, DagsterInstance, ExecuteInProcessResult

from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.definitions import build_definitions
from datawiz_pipelines.jobs import TENANT_ETL_JOB
from datawiz_pipelines.settings import PROJECT_ROOT, ProjectPaths
from datawiz_pipelines.storage.tenant_paths import duckdb_warehouse_path

AZURITE_VERSION = "3.37.0"
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
WRONG_KEY = "d3JvbmctYnV0LXdlbGwtZm9ybWVkLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZg=="
TABLES = ("dim_material", "fact_invoice_secondary")
"""The two tables the test tenants map: a replace dimension and an incremental fact that looks it up."""
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}

MATERIAL_MAPPING = {
    "version": 1,
    "source": {"pattern": "master/materials.csv"},
    "columns": {"material_code": "MATNR", "material_description": "MAKTX", "material_type": "MTART"},
}
SALES_MAPPING = {
    "version": 1,
    "source": {"patterns": ["sales/**/*.csv.gz"]},
    "columns": {
        "invoice_date": {"source": "FKDAT", "format": "%Y%m%d"},
        "invoice_no": "BELNR",
        "line_no": "POSNR",
        "customer_code": "KUNNR",
        "dealer_code": "DEALER",
        "material_code": "MATNR",
        "wss_territory_code": "TERR",
        "quantity": "QTY",
        "net_amount": {"source": "NETWR", "round": 2},
    },
    "validations": [
        {
            "rule": "relationship",
            "column": "material_code",
            "to_table": "dim_material",
            "to_column": "material_code",
        }
    ],
    "on_duplicate_key": "keep_latest",
    "max_reject_ratio": 0.5,
}
SALES_HEADER = "FKDAT,BELNR,POSNR,KUNNR,DEALER,MATNR,TERR,QTY,NETWR"


# -- Azurite ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Azurite:
    port: int

    @property
    def account_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    def connection_string(self, key: str = ACCOUNT_KEY, url: str | None = None) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={key};"
            f"BlobEndpoint={url or self.account_url};"
        )

    def service(self) -> BlobServiceClient:
        return BlobServiceClient.from_connection_string(self.connection_string())


def azurite_binary() -> str | None:
    candidates = [
        os.environ.get("AZURITE_BLOB_BIN"),
        str(PROJECT_ROOT / ".ci" / "node" / "node_modules" / ".bin" / "azurite-blob"),
        shutil.which("azurite-blob"),
    ]
    return next((c for c in candidates if c and Path(c).is_file() and os.access(c, os.X_OK)), None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    binary = azurite_binary()
    if binary is None:
        (pytest.fail if os.environ.get("DATAWIZ_REQUIRE_AZURITE") else pytest.skip)(
            "azurite-blob not found (.ci/run installs it: "
            f"npm install --prefix .ci/node azurite@{AZURITE_VERSION}; or set AZURITE_BLOB_BIN)"
        )
    workdir = tmp_path_factory.mktemp("azurite")
    port = free_port()
    log = (workdir / "azurite.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            "--blobHost", "127.0.0.1",
            "--blobPort", str(port),
            "--inMemoryPersistence",
            "--extentMemoryLimit", "256",
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"azurite exited at start: {(workdir / 'azurite.log').read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"azurite did not listen within 60 s: {(workdir / 'azurite.log').read_text()[-2000:]}"
                    )
                time.sleep(0.2)
        yield Azurite(port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


@pytest.fixture
def container(azurite: Azurite) -> Iterator[ContainerClient]:
    client = azurite.service().get_container_client(f"t{uuid.uuid4().hex[:12]}")
    client.create_container()
    yield client
    client.delete_container()


# -- test tenants ----------------------------------------------------------------------


def add_tenant(
    project: ProjectPaths,
    tenant_id: str,
    *,
    landing: dict | None = None,
    container: str | None = None,
    prefix: str = "",
    env: dict[str, str] | None = None,
) -> None:
    """Register a tenant mapping only TABLES (the sales fact looks materials up)."""
    registry_path = project.config_dir / "registry.yaml"
    registry = yaml.safe_load(registry_path.read_text())
    entry = {
        "tenant_id": tenant_id,
        "tenant_name": f"Test tenant {tenant_id}",
        "enabled": True,
        "database_name": f"datawiz_{tenant_id}",
        "database_user": f"{tenant_id}_admin",
        "azure_folder_prefix": prefix,
    }
    if container:
        entry["azure_container"] = container
    registry["tenants"].append(entry)
    registry_path.write_text(yaml.safe_dump(registry, sort_keys=False))
    folder = project.config_dir / "tenants" / tenant_id
    (folder / "mappings").mkdir(parents=True)
    (folder / "config.yaml").write_text(
        yaml.safe_dump({"tenant_id": tenant_id, "landing": landing or {"kind": "local"}})
    )
    (folder / "mappings" / "dim_material.yaml").write_text(yaml.safe_dump(MATERIAL_MAPPING))
    (folder / "mappings" / "fact_invoice_secondary.yaml").write_text(yaml.safe_dump(SALES_MAPPING))
    if env:
        (folder / ".env").write_text("".join(f"{name}={value}\n" for name, value in env.items()))


def materials_csv(codes: list[str]) -> bytes:
    lines = ["MATNR,MAKTX,MTART", *(f"{code},Material {code},ZFGD" for code in codes)]
    return ("\n".join(lines) + "\n").encode()


def sales_csv(rows: list[tuple]) -> bytes:
    """rows: (yyyymmdd, invoice, line, material, quantity, amount)."""
    lines = [SALES_HEADER]
    for day, invoice, line, material, quantity, amount in rows:
        lines.append(f"{day},{invoice},{line},C1,D1,{material},T1,{quantity},{amount}")
    return ("\n".join(lines) + "\n").encode()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def write_file(root: Path, relative: str, data: bytes, modified: datetime) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    stamp = modified.timestamp()
    os.utime(path, (stamp, stamp))
    return path


def at(day: int, hour: int = 6) -> datetime:
    return datetime(2024, 4, day, hour, tzinfo=UTC)


# -- running the test tenants' tables through tenant_etl ------------------------------------


def selection() -> list[AssetKey]:
    keys = [AssetKey("source_files")]
    for table in TABLES:
        keys += [AssetKey([layer, table]) for layer in ("bronze", "silver", "warehouse")]
    return keys


def run_etl(
    paths: ProjectPaths,
    instance: DagsterInstance,
    tenant_id: str,
    *,
    run_config: dict | None = None,
    tags: dict[str, str] | None = None,
    assets: list[AssetKey] | None = None,
    resources: dict | None = None,
) -> ExecuteInProcessResult:
    """The ``tenant_etl`` job for ``tenant_id``, limited to the test tables (and landing)."""
    defs = build_definitions(paths, backend="duckdb")
    job = defs.resolve_job_def(TENANT_ETL_JOB)
    config = {**QUIET, **(run_config or {})}
    return job.execute_in_process(
        partition_key=tenant_id,
        instance=instance,
        raise_on_error=False,
        run_config=config,
        tags=tags,
        asset_selection=assets or selection(),
        resources=resources,
    )


def succeeded(result: ExecuteInProcessResult) -> bool:
    if not result.success:
        from datawiz_pipelines.run_summary import failure_message

        messages = [failure_message(e.step_failure_data.error) for e in result.get_step_failure_events()]
        raise AssertionError(f"run failed: {messages}")
    return True


def materialization(result: ExecuteInProcessResult, *path: str) -> dict:
    """The metadata of ``path``'s materialization in ``result``, as plain values."""
    for event in result.get_asset_materialization_events():
        materialized = event.step_materialization_data.materialization
        if materialized.asset_key == AssetKey(list(path)):
            return {key: value.value for key, value in materialized.metadata.items()}
    raise AssertionError(f"{'/'.join(path)} was not materialized")


def warehouse_tables(paths: ProjectPaths, tenant_id: str) -> dict[str, pl.DataFrame]:
    """The test tables in the tenant's warehouse, sorted, without the per-run load id."""
    entry = ConfigRepository(paths.config_dir).entry(tenant_id)
    database = duckdb_warehouse_path(paths.data_dir, entry.database_name)
    with duckdb.connect(str(database), read_only=True) as db:
        return {
            name: db.sql(f'SELECT * FROM "{name}"').pl().drop("_dw_load_id").sort(pl.all()) for name in TABLES
        }


def full_recompute(
    project: ProjectPaths, tenant_id: str, tmp_path: Path, *, copy_landing: bool = True
) -> dict[str, pl.DataFrame]:
    """The test tables computed from scratch (fresh data folder, fresh ledger) from the same files
    (a copy of the landing folder, or, for an Azure tenant, a fresh download)."""
    fresh = ProjectPaths(
        config_dir=project.config_dir,
        data_dir=tmp_path / f"fresh-{uuid.uuid4().hex[:6]}",
        logs_dir=project.logs_dir,
    )
    landing = project.data_dir / tenant_id / "source_files"
    target = fresh.data_dir / tenant_id / "source_files"
    if copy_landing and landing.exists():
        shutil.copytree(landing, target)  # copy2 keeps the modification times
    with DagsterInstance.ephemeral() as instance:
        assert succeeded(run_etl(fresh, instance, tenant_id))
    return warehouse_tables(fresh, tenant_id)


def assert_same_tables(actual: dict[str, pl.DataFrame], expected: dict[str, pl.DataFrame]) -> None:
    assert set(actual) == set(expected)
    for name in expected:
        assert actual[name].equals(expected[name]), (name, actual[name], expected[name])
