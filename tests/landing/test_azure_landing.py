"""Syncing a tenant's Azure Blob container and prefix into its landing folder, against Azurite."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from azure.storage.blob import BlobSasPermissions, ContainerClient, generate_container_sas

from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.landing.errors import LandingError
from datawiz_pipelines.landing.ledger import Ledger
from datawiz_pipelines.landing.sync import SyncReport, file_version, scan_landing
from datawiz_pipelines.resources.landing import LandingResource
from datawiz_pipelines.settings import ProjectPaths
from datawiz_pipelines.storage.tenant_paths import TenantPaths

from .conftest import (
    ACCOUNT,
    ACCOUNT_KEY,
    WRONG_KEY,
    Azurite,
    add_tenant,
    gz,
    materials_csv,
    sales_csv,
    zipped,
)

FAST = LandingResource(
    retry_total=2, retry_backoff_s=0.05, retry_backoff_max_s=0.2, max_unpacked_bytes=1024 * 1024
)


class Landing:
    """One Azure tenant's landing zone, synced by hand (no Dagster run)."""

    def __init__(self, project: ProjectPaths, tenant_id: str, resource: LandingResource = FAST):
        self.project, self.tenant_id, self.resource = project, tenant_id, resource
        self.paths = TenantPaths(project.data_dir, tenant_id)
        self.ledger = Ledger(self.paths.ledger)
        self.warnings: list[str] = []
        self.runs = 0

    def sync(self) -> SyncReport:
        self.runs += 1
        tenant = ConfigRepository(self.project.config_dir).load_tenant(self.tenant_id)
        report = self.resource.sync(
            tenant,
            landing=self.paths.landing,
            ledger=self.ledger,
            scratch=self.paths.temp / f"run{self.runs}",
            run_id=f"run{self.runs}",
            warn=self.warnings.append,
        )
        files = scan_landing(self.paths.landing)
        self.changes = self.ledger.record_landing_scan(
            [file_version(f) for f in files], report.origins, f"run{self.runs}"
        )
        return report

    def files(self) -> dict[str, bytes]:
        return {f.relative_path: f.path.read_bytes() for f in scan_landing(self.paths.landing)}

    def fingerprints(self) -> dict[str, str]:
        return {f.relative_path: f.fingerprint for f in scan_landing(self.paths.landing)}


def azure_tenant(
    project: ProjectPaths, tenant_id: str, container: str, *, connection: str, prefix: str = "landing/"
) -> None:
    add_tenant(
        project,
        tenant_id,
        landing={"kind": "azure"},
        container=container,
        prefix=prefix,
        env={"AZURE_STORAGE_CONNECTION_STRING": connection},
    )


def test_lists_only_the_prefix_downloads_unpacks_and_keeps_blob_properties(
    project: ProjectPaths, azurite: Azurite, container: ContainerClient
):
    container.upload_blob("landing/master/materials.csv", materials_csv(["M1", "M2"]))
    container.upload_blob("landing/sales/day1.csv.gz", gz(sales_csv([("20240401", "I1", 1, "M1", 1, 10)])))
    container.upload_blob(
        "landing/sales/batch.zip",
        zipped({"day2.csv": sales_csv([("20240402", "I2", 1, "M2", 2, 20)]), "extra/day3.csv": b"x\n"}),
    )
    container.upload_blob("landing/.hidden.csv", b"hidden\n")
    container.upload_blob("landing/sales/uploading.csv.part", b"partial\n")
    container.upload_blob("elsewhere/not_mine.csv", b"outside the prefix\n")
    other = azurite.service().create_container(container.container_name + "x")
    other.upload_blob("landing/other_tenant.csv", b"another container\n")
    azure_tenant(project, "azone", container.container_name, connection=azurite.connection_string())

    landing = Landing(project, "azone")
    report = landing.sync()

    assert landing.files() == {
        "master/materials.csv": materials_csv(["M1", "M2"]),
        "sales/day1.csv": sales_csv([("20240401", "I1", 1, "M1", 1, 10)]),
        "sales/day2.csv": sales_csv([("20240402", "I2", 1, "M2", 2, 20)]),
        "sales/extra/day3.csv": b"x\n",
    }
    assert report.listed == 3 and report.unchanged == 0
    assert set(report.skipped) == {"landing/.hidden.csv", "landing/sales/uploading.csv.part"}
    assert not list(landing.paths.temp.rglob("*.*")), "scratch space is cleaned up"
    # name, size, etag and last-modified of every blob are kept
    blobs = landing.ledger.blobs()
    for blob in container.list_blobs(name_starts_with="landing/sales/"):
        if blob.name.endswith(".part"):
            continue
        kept = blobs[blob.name]
        assert (kept.etag, kept.size) == (blob.etag.strip('"'), blob.size)
        assert kept.last_modified == blob.last_modified.isoformat()
    assert blobs["landing/sales/batch.zip"].local_files == ["sales/day2.csv", "sales/extra/day3.csv"]
    landed = landing.ledger.landing_files()
    assert landed["sales/day1.csv"]["blob_name"] == "landing/sales/day1.csv.gz"
    modified = (landing.paths.landing / "sales/day1.csv").stat().st_mtime
    properties = container.get_blob_client("landing/sales/day1.csv.gz").get_blob_properties()
    assert 0 <= modified - properties.last_modified.timestamp() < 1
    assert sorted(landing.changes.new) == sorted(landing.files())

    again = landing.sync()
    assert (again.unchanged, again.downloaded) == (3, [])
    assert landing.changes.new == landing.changes.changed == landing.changes.deleted == []
    other.delete_container()


def test_new_changed_and_deleted_blobs(project: ProjectPaths, azurite: Azurite, container: ContainerClient):
    first = sales_csv([("20240401", "I1", 1, "M1", 1, 10)])
    container.upload_blob("landing/sales/day1.csv", first)
    container.upload_blob("landing/sales/day2.csv.gz", gz(sales_csv([("20240402", "I2", 1, "M1", 1, 10)])))
    azure_tenant(project, "aztwo", container.container_name, connection=azurite.connection_string())
    landing = Landing(project, "aztwo")
    landing.sync()
    before = landing.fingerprints()

    # same name, same size, most likely the same second: still a new fingerprint
    changed = first.replace(b",10\n", b",11\n")
    assert len(changed) == len(first)
    container.upload_blob("landing/sales/day1.csv", changed, overwrite=True)
    container.upload_blob("landing/sales/day3.csv", sales_csv([("20240403", "I3", 1, "M1", 1, 10)]))
    container.delete_blob("landing/sales/day2.csv.gz")
    report = landing.sync()

    assert [d["blob"] for d in report.downloaded] == ["landing/sales/day1.csv", "landing/sales/day3.csv"]
    assert report.deleted_upstream == ["landing/sales/day2.csv.gz"]
    assert landing.files() == {"sales/day1.csv": changed, "sales/day3.csv": landing.files()["sales/day3.csv"]}
    assert landing.fingerprints()["sales/day1.csv"] != before["sales/day1.csv"]
    assert (landing.changes.new, landing.changes.changed, landing.changes.deleted) == (
        ["sales/day3.csv"],
        ["sales/day1.csv"],
        ["sales/day2.csv"],
    )
    assert any("deleted upstream" in w and "day2.csv.gz" in w for w in landing.warnings)
    assert "landing/sales/day2.csv.gz" not in landing.ledger.blobs()

    # a fresh download of the same blob versions reproduces the same fingerprints exactly
    fresh = Landing(ProjectPaths(project.config_dir, project.data_dir / "again", project.logs_dir), "aztwo")
    fresh.sync()
    assert fresh.fingerprints() == landing.fingerprints()


def test_unsafe_archives_are_refused_and_reported_without_stopping_the_rest(
    project: ProjectPaths, azurite: Azurite, container: ContainerClient
):
    container.upload_blob("landing/good.csv", b"a\n1\n")
    container.upload_blob("landing/slip.zip", zipped({"../../escaped.csv": b"evil\n"}))
    container.upload_blob("landing/bomb.csv.gz", gz(b"0" * (2 * 1024 * 1024)))
    azure_tenant(project, "azthree", container.container_name, connection=azurite.connection_string())
    landing = Landing(project, "azthree")
    report = landing.sync()

    assert landing.files() == {"good.csv": b"a\n1\n"}
    assert not (project.data_dir / "escaped.csv").exists()
    assert not (project.data_dir / "azthree" / "escaped.csv").exists()
    assert "zip-slip" in report.refused["landing/slip.zip"]
    assert "limit" in report.refused["landing/bomb.csv.gz"]
    assert len([w for w in landing.warnings if "was not landed" in w]) == 2
    again = landing.sync()  # refused versions are not downloaded again, but still reported
    assert again.downloaded == [] and set(again.refused) == {"landing/slip.zip", "landing/bomb.csv.gz"}


def test_a_sas_token_with_the_account_url_works(
    project: ProjectPaths, azurite: Azurite, container: ContainerClient
):
    container.upload_blob("landing/a.csv", b"a\n1\n")
    token = generate_container_sas(
        ACCOUNT,
        container.container_name,
        account_key=ACCOUNT_KEY,
        permission=BlobSasPermissions(read=True, list=True),
        expiry=__import__("datetime").datetime.now(__import__("datetime").UTC) + timedelta(hours=1),
    )
    add_tenant(
        project,
        "azsas",
        landing={"kind": "azure", "account_url": azurite.account_url},
        container=container.container_name,
        prefix="landing",
        env={"AZURE_SAS_TOKEN": token},
    )
    landing = Landing(project, "azsas")
    landing.sync()
    assert landing.files() == {"a.csv": b"a\n1\n"}


def test_a_wrong_key_fails_naming_tenant_and_container_not_the_key(
    project: ProjectPaths, azurite: Azurite, container: ContainerClient
):
    azure_tenant(
        project, "azbad", container.container_name, connection=azurite.connection_string(key=WRONG_KEY)
    )
    started = time.monotonic()
    with pytest.raises(LandingError) as failure:
        Landing(project, "azbad").sync()
    message = str(failure.value)
    assert "tenant azbad" in message and container.container_name in message
    assert "HTTP 403" in message and "AZURE_STORAGE_CONNECTION_STRING" in message
    assert WRONG_KEY not in message and WRONG_KEY[:12] not in message
    assert failure.value.__cause__ is None and failure.value.__suppress_context__
    assert time.monotonic() - started < 5, "authentication failures are not retried"


class _FlakyProxy(BaseHTTPRequestHandler):
    """Forwards to Azurite, answering 503 to the first ``failures`` requests (all, if negative)."""

    upstream: int
    failures: int
    seen: list[int]

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).seen.append(1)
        if self.failures < 0 or len(self.seen) <= self.failures:
            payload = b"<?xml version='1.0'?><Error><Code>ServerBusy</Code><Message>busy</Message></Error>"
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("x-ms-error-code", "ServerBusy")
            self.end_headers()
            self.wfile.write(payload)
            return
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        upstream.request(self.command, self.path, body=body or None, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _handle

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flaky(azurite: Azurite) -> Iterator[type[_FlakyProxy]]:
    handler = type("Flaky", (_FlakyProxy,), {"upstream": azurite.port, "failures": 0, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler
    server.shutdown()
    server.server_close()


def test_transient_503s_are_retried_and_persistent_ones_fail_bounded(
    project: ProjectPaths,
    azurite: Azurite,
    container: ContainerClient,
    flaky: type[_FlakyProxy],
    tmp_path: Path,
):
    container.upload_blob("landing/a.csv", b"a\n1\n")
    proxied = f"http://127.0.0.1:{flaky.port}/{ACCOUNT}"
    azure_tenant(
        project, "azflaky", container.container_name, connection=azurite.connection_string(url=proxied)
    )

    flaky.failures = 2  # the listing fails twice, then succeeds
    landing = Landing(project, "azflaky")
    landing.sync()
    assert landing.files() == {"a.csv": b"a\n1\n"}
    assert len(flaky.seen) == 4  # 2 x 503 + list + download

    flaky.failures, flaky.seen[:] = -1, []  # down for good: retry_total=2 retries, then a clear error
    started = time.monotonic()
    with pytest.raises(LandingError) as failure:
        Landing(ProjectPaths(project.config_dir, tmp_path / "d2", project.logs_dir), "azflaky").sync()
    assert len(flaky.seen) == 3
    assert time.monotonic() - started < 5
    message = str(failure.value)
    assert "tenant azflaky" in message and container.container_name in message
    assert "HTTP 503" in message and "after retries" in message and ACCOUNT_KEY not in message
