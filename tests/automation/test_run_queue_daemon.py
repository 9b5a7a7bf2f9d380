"""The run queue honours the registry's limits, with the real daemon.

A ``dagster-daemon`` runs against a temporary DAGSTER_HOME whose dagster.yaml is the
project's (queue limits, run monitoring, retries, per-tenant logs; only storage moved).
Four runs of three tenants are submitted through the instance, like the UI and the
schedules do; the test watches the runs until all are done and checks that never more
than ``max_concurrent_runs`` were in progress and never two of one tenant. Bounded: the
daemon is killed (its whole process group) whatever happens.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus
from dagster._cli.job import _create_run
from dagster._cli.workspace.cli_target import (
    get_code_location_from_workspace,
    get_remote_job_from_remote_repo,
    get_remote_repository_from_code_location,
    get_workspace_from_cli_opts,
)
from dagster_shared.cli import WorkspaceOpts

from datawiz_pipelines.config.registry import GlobalConfig
from datawiz_pipelines.instance_check import check_instance_config

from .instances import project_instance_config, write_dagster_home

pytestmark = [pytest.mark.timeout(200), pytest.mark.filterwarnings("ignore::dagster.BetaWarning")]

LOCATION = Path(__file__).with_name("queue_location.py")
DAGSTER_DAEMON = Path(sys.executable).with_name("dagster-daemon")
IN_PROGRESS = {DagsterRunStatus.STARTING, DagsterRunStatus.STARTED}
DONE = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
DEADLINE_SECONDS = 120
"""About 30 s on an idle 2-core machine; the margin is for a loaded one."""


@contextmanager
def running_daemon(home: Path, logs_dir: Path) -> Iterator[subprocess.Popen]:
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DATAWIZ_LOGS_DIR": str(logs_dir),
        "QUEUE_PROBE_SECONDS": "1",
    }
    with (home / "daemon.log").open("wb") as log:
        daemon = subprocess.Popen(
            [str(DAGSTER_DAEMON), "run", "-f", str(LOCATION)],
            cwd=home,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: run workers die with it
        )
        try:
            yield daemon
        finally:
            try:
                os.killpg(daemon.pid, signal.SIGTERM)
                daemon.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait(timeout=5)
            except ProcessLookupError:
                pass


def submit_runs(instance: DagsterInstance, tenants: list[str]) -> list[str]:
    """Create and submit one run per entry of ``tenants`` to the queue, like a launch from the UI."""
    options = WorkspaceOpts(python_file=(str(LOCATION),))
    run_ids = []
    with get_workspace_from_cli_opts(
        instance, version="", workspace_opts=options, allow_in_process=True
    ) as workspace:
        location = get_code_location_from_workspace(workspace, None)
        repository = get_remote_repository_from_code_location(location, None)
        job = get_remote_job_from_remote_repo(repository, "queue_probe_job")
        for tenant in tenants:
            run = _create_run(
                instance=instance,
                code_location=location,
                remote_repo=repository,
                remote_job=job,
                run_config={},
                tags={"tenant": tenant, "dagster/partition": tenant},
                op_selection=None,
                run_id=None,
            )
            instance.submit_run(run.run_id, workspace)
            run_ids.append(run.run_id)
    return run_ids


def test_the_queue_runs_at_most_the_limit_and_one_run_per_tenant(tmp_path: Path):
    max_concurrent = GlobalConfig(max_concurrent_tenants=2).max_concurrent_tenants
    # the project's dagster.yaml; only the queue is polled every second instead of every five
    home = write_dagster_home(tmp_path / "dagster_home", run_queue={"dequeue_interval_seconds": 1})
    config = project_instance_config(home)
    assert check_instance_config(GlobalConfig(max_concurrent_tenants=2), config) == []  # project limits
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == max_concurrent
    logs_dir = tmp_path / "logs"
    # two waves at most: tenant_a's second run must wait for its first even with a slot free
    tenants = ["tenant_a", "tenant_a", "tenant_b", "tenant_c"]

    with DagsterInstance.from_config(str(home)) as instance, running_daemon(home, logs_dir) as daemon:
        run_ids = submit_runs(instance, tenants)
        tenant_of = dict(zip(run_ids, tenants, strict=True))
        assert {instance.get_run_by_id(r).status for r in run_ids} <= {DagsterRunStatus.QUEUED}
        most_in_progress, deadline = 0, time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            assert daemon.poll() is None, (home / "daemon.log").read_text()[-3000:]
            statuses = {r.run_id: r.status for r in instance.get_runs()}
            in_progress = [run_id for run_id, status in statuses.items() if status in IN_PROGRESS]
            per_tenant = [tenant_of[run_id] for run_id in in_progress]
            assert len(in_progress) <= max_concurrent, statuses
            assert len(per_tenant) == len(set(per_tenant)), f"two runs of one tenant: {per_tenant}"
            most_in_progress = max(most_in_progress, len(in_progress))
            if all(statuses[run_id] in DONE for run_id in run_ids):
                break
            time.sleep(0.2)
        else:
            pytest.fail(
                f"runs not done in {DEADLINE_SECONDS}s: {statuses}\n{(home / 'daemon.log').read_text()[-3000:]}"
            )

        records = instance.get_run_records()
        assert {r.dagster_run.status for r in records} == {DagsterRunStatus.SUCCESS}
        # the same checks on the recorded start and end times, between polls included
        spans = sorted((r.start_time, r.end_time, tenant_of[r.dagster_run.run_id]) for r in records)
        for start, _, _ in spans:
            running = [(s, e, t) for s, e, t in spans if s <= start < e]
            assert len(running) <= max_concurrent
            assert len({t for *_, t in running}) == len(running)
    assert most_in_progress >= 1
    # every run wrote its tenant's log files, and only those
    for tenant in ("tenant_a", "tenant_b", "tenant_c"):
        text = (logs_dir / tenant / "extraction.log").read_text()
        assert text.count("queue probe for") == tenants.count(tenant)
        assert text.count(f"queue probe for {tenant}") == tenants.count(tenant)
    assert sorted(p.name for p in logs_dir.iterdir()) == ["tenant_a", "tenant_b", "tenant_c"]
