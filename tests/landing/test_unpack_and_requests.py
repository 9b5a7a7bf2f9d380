"""Unpacking archives safely, Azure connection settings, reprocess requests: no server needed."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import zipfile
from pathlib import Path

import pytest

from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.landing.azure import azure_location, parse_connection_string
from datawiz_pipelines.landing.errors import LandingConfigError, UnpackError
from datawiz_pipelines.landing.reprocess import ReprocessRequest, ReprocessRequestError
from datawiz_pipelines.landing.unpack import unpack
from datawiz_pipelines.settings import ProjectPaths

from .conftest import ACCOUNT_KEY, add_tenant

LIMITS = {"max_bytes": 1024 * 1024, "max_members": 5}


def _zip(tmp_path: Path, members: dict[str, bytes]) -> Path:
    path = tmp_path / "batch.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data)
    return path


def test_gzip_and_zip_unpack_next_to_the_archive(tmp_path: Path):
    gz = tmp_path / "day.csv.gz"
    gz.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    (tmp_path / "g").mkdir()
    [landed] = unpack(gz, "in/day.csv.gz", tmp_path / "g", **LIMITS)
    assert landed.relative_path == "in/day.csv"
    assert landed.path.read_bytes() == b"a,b\n1,2\n"

    archive = _zip(tmp_path, {"x.csv": b"x\n", "sub/y.csv": b"y\n", "__MACOSX/._x.csv": b"", "sub/": b""})
    (tmp_path / "z").mkdir()
    landed = unpack(archive, "in/batch.zip", tmp_path / "z", **LIMITS)
    assert {u.relative_path: u.path.read_bytes() for u in landed} == {
        "in/x.csv": b"x\n",
        "in/sub/y.csv": b"y\n",
    }

    plain = tmp_path / "plain.csv"
    plain.write_bytes(b"p\n")
    assert [(u.relative_path, u.path) for u in unpack(plain, "in/plain.csv", tmp_path, **LIMITS)] == [
        ("in/plain.csv", plain)
    ]


@pytest.mark.parametrize(
    "name", ["../evil.csv", "/etc/evil.csv", "a/../../evil.csv", "C:/evil.csv", "a\\..\\evil"]
)
def test_zip_slip_is_refused(tmp_path: Path, name: str):
    archive = _zip(tmp_path, {"ok.csv": b"ok\n", name: b"evil\n"})
    with pytest.raises(UnpackError, match="outside the landing folder"):
        unpack(archive, "in/batch.zip", tmp_path, **LIMITS)
    assert not (tmp_path.parent / "evil.csv").exists()


def test_bombs_and_crowds_are_refused(tmp_path: Path):
    bomb = tmp_path / "bomb.csv.gz"
    bomb.write_bytes(gzip.compress(b"0" * (3 * 1024 * 1024)))  # 3 MiB of zeros in a few KiB
    with pytest.raises(UnpackError, match="more than the limit"):
        unpack(bomb, "bomb.csv.gz", tmp_path, **LIMITS)

    zipped = _zip(tmp_path, {"big.csv": b"0" * (2 * 1024 * 1024)})
    with pytest.raises(UnpackError, match="over the limit"):
        unpack(zipped, "big.zip", tmp_path, **LIMITS)

    # A header that lies about the size is caught while streaming, not trusted.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("liar.csv", b"0" * (2 * 1024 * 1024))
    data = bytearray(buffer.getvalue())
    for offset in (22, data.rfind(b"PK\x01\x02") + 24):  # local and central "uncompressed size"
        data[offset : offset + 4] = (10).to_bytes(4, "little")
    liar = tmp_path / "liar.zip"
    liar.write_bytes(bytes(data))
    with pytest.raises(UnpackError):
        unpack(liar, "liar.zip", tmp_path, **LIMITS)

    crowd = _zip(tmp_path, {f"f{i}.csv": b"x" for i in range(6)})
    with pytest.raises(UnpackError, match="at most 5"):
        unpack(crowd, "crowd.zip", tmp_path, **LIMITS)


def test_connection_settings_come_from_the_tenant_env_and_never_show_the_secret(project: ProjectPaths):
    url, kind, secret = parse_connection_string(
        f"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net",
        "t",
    )
    assert (url, kind, secret) == ("https://acme.blob.core.windows.net", "key", ACCOUNT_KEY)
    assert parse_connection_string("BlobEndpoint=http://h/acct;SharedAccessSignature=?sv=1&sig=x", "t") == (
        "http://h/acct",
        "sas",
        "sv=1&sig=x",
    )

    add_tenant(
        project,
        "azsas",
        landing={"kind": "azure"},
        container="box-one",
        prefix="in",
        env={"AZURE_SAS_TOKEN": "sv=1&sig=SECRETSIG"},
    )
    repository = ConfigRepository(project.config_dir)
    with pytest.raises(LandingConfigError, match=r"landing\.account_url") as refused:
        azure_location(repository.load_tenant("azsas"))
    assert "SECRETSIG" not in str(refused.value)

    config = project.config_dir / "tenants/azsas/config.yaml"
    config.write_text(
        config.read_text().replace(
            "kind: azure", "kind: azure\n  account_url: https://acme.blob.core.windows.net"
        )
    )
    location = azure_location(ConfigRepository(project.config_dir).load_tenant("azsas"))
    assert (location.container, location.prefix, location.credential_kind) == ("box-one", "in/", "sas")
    assert "SECRETSIG" not in repr(location)

    add_tenant(project, "aznone", landing={"kind": "azure"}, container="box-two")
    with pytest.raises(
        LandingConfigError, match="neither AZURE_STORAGE_CONNECTION_STRING nor AZURE_SAS_TOKEN"
    ):
        azure_location(ConfigRepository(project.config_dir).load_tenant("aznone"))


def test_reprocess_requests_from_config_and_tags():
    day = dt.datetime(2024, 4, 2, 23, 30, tzinfo=dt.UTC)
    assert ReprocessRequest().empty
    files = ReprocessRequest.from_values(files=["sales/a.csv", "master/*.csv"])
    assert files.selects("sales/a.csv", day) and files.selects("master/m.csv", day)
    assert not files.selects("sales/b.csv", day)
    since = ReprocessRequest.from_tags({"datawiz/reprocess_since": "2024-04-02"})
    assert since.selects("x", day) and not since.selects("x", day - dt.timedelta(days=1))
    window = ReprocessRequest.from_values(since="2024-04-01", until="2024-04-01")
    assert not window.selects("x", day)
    assert ReprocessRequest.from_tags({"datawiz/reprocess": "full"}).selects("anything", day)
    merged = files.merged(ReprocessRequest.from_tags({"datawiz/reprocess_files": "x.csv,y.csv"}))
    assert merged.files == ("sales/a.csv", "master/*.csv", "x.csv", "y.csv")
    with pytest.raises(ReprocessRequestError, match="not a date"):
        ReprocessRequest.from_values(since="April")
    with pytest.raises(ReprocessRequestError, match="after until"):
        ReprocessRequest.from_values(since="2024-05-01", until="2024-04-01")
    with pytest.raises(ReprocessRequestError, match="give it once"):
        since.merged(window)
