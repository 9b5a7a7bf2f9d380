"""Fixtures for the browser tests: ``dagster dev`` on a free local port, and Chromium.

``dagster dev`` runs against a temporary copy of the project (tenant_configs, sample
data for tenant1 and tenant2, logs) and a temporary ``DAGSTER_HOME`` whose
``dagster.yaml`` is the project's run queue and limits with the storage left at its
defaults (inside that home) and nux/telemetry off (no "Join the community" popup).
The server runs in its own process group and is always stopped, also on failure.
Screenshots and the server's log go to ``test-artifacts/ui/`` (gitignored).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from datawiz_pipelines.sample_data.generator import generate_sample_data
from datawiz_pipelines.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "ui"
SAMPLE_TENANTS = ("tenant1", "tenant2")
LOCATION = "datawiz_pipelines"
STARTUP_TIMEOUT_S = 150
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# dagster.yaml sections kept from the project's instance: the run queue, its limits, the logs.
INSTANCE_SECTIONS = (
    "concurrency",
    "run_queue",
    "run_coordinator",
    "run_monitoring",
    "run_retries",
    "python_logs",
)


@dataclass(frozen=True)
class DagsterUI:
    url: str
    home: Path
    project_dir: Path

    def graphql(self, query: str, variables: dict[str, Any] | None = None, timeout: float = 60) -> dict:
        response = requests.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=timeout
        )
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_instance_yaml(home: Path) -> None:
    project = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text()) or {}
    instance = {key: project[key] for key in INSTANCE_SECTIONS if key in project}
    instance["telemetry"] = {"enabled": False}
    instance["nux"] = {"enabled": False}
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance, sort_keys=False))


def _default_signals() -> None:
    """A server inheriting ignored SIGINT/SIGTERM could not be stopped (see dagster-notes)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the whole process group (webserver, daemon, code server, runs), then SIGKILL."""
    if process.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            # children of the group may outlive the leader for a moment
            if sig == signal.SIGTERM:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_until_ready(ui: DagsterUI, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last_error: object = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dagster dev exited with {process.returncode}; see {log}")
        try:
            requests.get(f"{ui.url}/server_info", timeout=5).raise_for_status()
            data = ui.graphql(
                "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus"
                " locationOrLoadError { __typename ... on PythonError { message } } } } } }",
                timeout=10,
            )
            entries = data["workspaceOrError"]["locationEntries"]
            loaded = [entry for entry in entries if entry["loadStatus"] == "LOADED"]
            if loaded:
                location = loaded[0]["locationOrLoadError"]
                if location["__typename"] == "PythonError":
                    raise RuntimeError(f"the code location failed to load: {location['message']}")
                return
            last_error = entries
        except (requests.RequestException, AssertionError, KeyError, TypeError) as error:
            last_error = error
        time.sleep(1)
    raise TimeoutError(f"dagster dev not ready after {STARTUP_TIMEOUT_S}s ({last_error}); see {log}")


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterUI]:
    root = tmp_path_factory.mktemp("dagster_ui")
    config_dir, data_dir, logs_dir = root / "tenant_configs", root / "data", root / "logs"
    shutil.copytree(PROJECT_ROOT / "tenant_configs", config_dir, ignore=shutil.ignore_patterns(".env"))
    data_dir.mkdir()
    generate_sample_data(config_dir, data_dir, SAMPLE_TENANTS, fact_rows=300)
    home = root / "dagster_home"
    _write_instance_yaml(home)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "dagster-dev.log"
    port = _free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DATAWIZ_CONFIG_DIR": str(config_dir),
        "DATAWIZ_DATA_DIR": str(data_dir),
        "DATAWIZ_LOGS_DIR": str(logs_dir),
        "DAGSTER_DISABLE_TELEMETRY": "1",
        # schedules and sensors listed but stopped: no sensor run competes with the backfill
        "DATAWIZ_AUTOMATION": "off",
    }
    env.pop("DATAWIZ_WAREHOUSE", None)
    dagster = Path(sys.executable).with_name("dagster")
    # the project's workspace.yaml: the code location is named as users see it (datawiz_pipelines)
    workspace = str(PROJECT_ROOT / "workspace.yaml")
    command = [str(dagster), "dev", "-w", workspace, "-h", "127.0.0.1", "-p", str(port)]
    with log.open("w") as log_file:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, stopped as a whole
            preexec_fn=_default_signals,
        )
        try:
            ui = DagsterUI(url=f"http://127.0.0.1:{port}", home=home, project_dir=root)
            _wait_until_ready(ui, process, log)
            yield ui
        finally:
            _stop(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(45_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            tab.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True)
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[Any]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
