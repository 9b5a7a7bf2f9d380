"""The production-like deployment files: docker-compose.yml, deploy/Dockerfile and
deploy/dagster.yaml (``.ci/run`` also validates the compose file with ``docker-compose config``)."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config

from datawiz_pipelines.instance_check import check_instance
from datawiz_pipelines.settings import PROJECT_ROOT, ProjectPaths

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
DEPLOY = PROJECT_ROOT / "deploy"
SERVICES = {"starrocks", "azurite", "postgres", "dagster-webserver", "dagster-daemon"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_every_service_is_pinned_and_has_a_health_check(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:\d+(\.\d+)+[\w.-]*", image) or "build" in service, image
    assert services["starrocks"]["image"].startswith("starrocks/allin1-ubuntu:3.5.")
    assert "SHOW BACKENDS" in str(services["starrocks"]["healthcheck"]["test"])
    assert "--disableTelemetry" in services["azurite"]["command"]
    assert "pg_isready" in str(services["postgres"]["healthcheck"]["test"])


@pytest.mark.parametrize("name", ["dagster-webserver", "dagster-daemon"])
def test_dagster_waits_for_healthy_services_and_selects_starrocks(compose: dict, name: str) -> None:
    service = compose["services"][name]
    assert service["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}
    assert {dep: spec["condition"] for dep, spec in service["depends_on"].items()} == {
        "postgres": "service_healthy",
        "starrocks": "service_healthy",
        "azurite": "service_healthy",
    }
    environment = service["environment"]
    assert environment["DATAWIZ_WAREHOUSE"] == "starrocks"
    assert environment["DATAWIZ_STARROCKS_HOST"] == "starrocks"
    assert environment["DAGSTER_HOME"] == "/opt/dagster/dagster_home"
    assert environment["DATAWIZ_STARROCKS_ADMIN_PASSWORD"].startswith("${")  # never a literal
    mounts = {volume.split(":")[0] for volume in service["volumes"]}
    assert {"./data", "./tenant_configs"} <= mounts


def test_the_image_installs_the_project_with_its_pins_and_postgres_storage() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
    assert re.search(r"pip install \. dagster-postgres==0\.29\.27 psycopg2-binary==[\d.]+", dockerfile)
    assert "COPY deploy/dagster.yaml /opt/dagster/dagster_home/dagster.yaml" in dockerfile
    pins = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "dagster==1.13.27" in pins
    assert not any(pin.startswith("dagster-postgres") for pin in pins)  # the image's, not the project's


def test_the_deploy_instance_is_valid_postgres_and_enforces_the_registry(monkeypatch) -> None:
    for name in ("HOST", "USER", "PASSWORD", "DB"):
        monkeypatch.setenv(f"DAGSTER_POSTGRES_{name}", "x")
    config, _ = dagster_instance_config(str(DEPLOY), "dagster.yaml")
    assert set(config["storage"]) == {"postgres"}
    assert config["telemetry"] == {"enabled": False} and config["nux"] == {"enabled": False}
    assert check_instance(ProjectPaths.from_env(), DEPLOY / "dagster.yaml") == []

    top = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())
    deploy = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    for section in ("concurrency", "run_monitoring", "run_retries", "python_logs"):
        assert deploy.get(section) == top.get(section), f"{section} differs from the top-level dagster.yaml"
