"""The new-files sensor, tick by tick, on a copy of the sample tenants with their sample files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, build_sensor_context

from datawiz_pipelines.bronze.source_files import find_source_files
from datawiz_pipelines.definitions import build_definitions
from datawiz_pipelines.landing.ledger import Ledger
from datawiz_pipelines.landing.sync import file_version
from datawiz_pipelines.sample_data.generator import generate_sample_data
from datawiz_pipelines.sensors.new_files import NEW_FILES_SENSOR, decode_cursor
from datawiz_pipelines.settings import PROJECT_ROOT, ProjectPaths

FACT = "fact_invoice_secondary"
TENANT1_FACT_PATTERNS = ["historical/secondary_sales/*", "incremental/secondary_sales/*"]


@pytest.fixture(scope="module")
def sample_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sample source files of all three tenants, generated once for the module."""
    data_dir = tmp_path_factory.mktemp("sample_data")
    generate_sample_data(
        PROJECT_ROOT / "tenant_configs", data_dir, ["tenant1", "tenant2", "tenant3"], fact_rows=60
    )
    return data_dir


@pytest.fixture
def landed(project: ProjectPaths, sample_files: Path) -> ProjectPaths:
    shutil.rmtree(project.data_dir)
    shutil.copytree(sample_files, project.data_dir)  # copy2 keeps the files' modification times
    return project


class Ticker:
    """Evaluates the sensor like the daemon does, carrying the cursor from tick to tick."""

    def __init__(self, project: ProjectPaths, instance: DagsterInstance):
        self.defs = build_definitions(project, backend="duckdb")
        self.repository = self.defs.get_repository_def()
        self.sensor = self.repository.get_sensor_def(NEW_FILES_SENSOR)
        self.instance = instance
        self.cursor: str | None = None

    def tick(self, cursor: str | None = ...):
        context = build_sensor_context(
            instance=self.instance,
            cursor=self.cursor if cursor is ... else cursor,
            repository_def=self.repository,
        )
        result = self.sensor.evaluate_tick(context)
        self.cursor = result.cursor
        return result.run_requests or []


def tables_of(request) -> set[str]:
    return {key.path[-1] for key in request.asset_selection}


def touch(path: Path) -> None:
    """A new version of the file: different content and a later modification time."""
    with path.open("ab") as handle:
        handle.write(b"\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def fact_file(project: ProjectPaths, tenant_id: str) -> Path:
    files = sorted((project.data_dir / tenant_id / "source_files" / "incremental").rglob("*"))
    return next(path for path in files if path.is_file() and "secondary" in str(path).lower())


def test_first_tick_requests_one_run_per_enabled_tenant_with_files(landed, instance):
    requests = Ticker(landed, instance).tick()
    assert [r.partition_key for r in requests] == ["tenant1", "tenant2"]  # tenant3 is disabled
    for request in requests:
        assert request.job_name == "tenant_etl"  # dimensions, seeds and facts all new
        assert request.tags["tenant"] == request.partition_key
        assert request.tags["datawiz/trigger"] == "new_files"
        assert request.tags["dagster/max_runtime"] == "7200"
        assert request.run_key.startswith(f"new_files:{request.partition_key}:")
        assert {"dim_material", FACT, "ref_sales_group"} <= tables_of(request)
        assert {key.path[0] for key in request.asset_selection} == {"bronze", "silver", "warehouse"}
    assert requests[0].tags["dagster/priority"] == "-1" and requests[1].tags["dagster/priority"] == "-2"


def test_unchanged_files_are_never_launched_twice(landed, instance):
    ticker = Ticker(landed, instance)
    assert len(ticker.tick()) == 2
    assert ticker.tick() == []
    assert ticker.tick() == []


def test_a_changed_fact_file_launches_only_its_table_in_the_morning_job(landed, instance):
    ticker = Ticker(landed, instance)
    first = {r.partition_key: r.run_key for r in ticker.tick()}
    touch(fact_file(landed, "tenant1"))
    [request] = ticker.tick()
    assert request.partition_key == "tenant1"
    assert request.job_name == "morning_fact_incremental"
    assert request.asset_selection == [AssetKey([layer, FACT]) for layer in ("bronze", "silver", "warehouse")]
    assert request.run_key != first["tenant1"]
    assert request.tags["datawiz/pending_files"] == str(
        len(find_source_files(landed.data_dir / "tenant1" / "source_files", TENANT1_FACT_PATTERNS))
    )
    assert ticker.tick() == []


def test_a_new_dimension_file_launches_the_evening_dimension_sync(landed, instance):
    ticker = Ticker(landed, instance)
    ticker.tick()
    masters = landed.data_dir / "tenant2" / "source_files" / "masters"
    touch(next(path for path in sorted(masters.iterdir()) if path.name.startswith("Dealer")))
    [request] = ticker.tick()
    assert (request.partition_key, request.job_name) == ("tenant2", "evening_dimension_sync")
    assert tables_of(request) == {"dim_dealer_master"}


def test_the_same_files_give_the_same_run_key(landed, instance):
    ticker = Ticker(landed, instance)
    ticker.tick()
    before = ticker.cursor
    touch(fact_file(landed, "tenant2"))
    once = ticker.tick(before)
    again = ticker.tick(before)  # a replayed cursor: the daemon would skip the known run key
    assert [r.run_key for r in once] == [r.run_key for r in again]


def record_processed(project: ProjectPaths, tenant_id: str) -> list:
    """Record every secondary-sales file of the tenant as loaded, as the warehouse asset does."""
    paths = project.data_dir / tenant_id
    files = find_source_files(paths / "source_files", TENANT1_FACT_PATTERNS)
    Ledger(paths / "ledger.sqlite").record_load(
        FACT,
        files=[file_version(f) for f in files],
        loaded=[f.relative_path for f in files],
        deleted=[],
        signature="test",
        mode="incremental",
        rows_in_table=0,
        mapping_version=1,
        run_id="another-run",
    )
    return files


def test_files_already_processed_by_any_run_are_not_relaunched(landed, instance):
    touch(fact_file(landed, "tenant1"))
    record_processed(landed, "tenant1")
    [tenant1, _tenant2] = Ticker(landed, instance).tick()
    assert FACT not in tables_of(tenant1)  # a manual run loaded every file of it already
    assert "dim_material" in tables_of(tenant1)


def test_a_deleted_file_alone_requests_nothing(landed, instance):
    ticker = Ticker(landed, instance)
    ticker.tick()
    files = record_processed(landed, "tenant1")
    files[0].path.unlink()
    assert ticker.tick() == []


def test_the_cursor_stays_small_and_readable(landed, instance):
    ticker = Ticker(landed, instance)
    ticker.tick()
    state = decode_cursor(ticker.cursor)
    assert set(state.digests) == {"tenant1", "tenant2"} and state.resume_after is None
    assert FACT in state.digests["tenant1"] and len(state.digests["tenant1"][FACT]) == 16
    assert len(ticker.cursor) < 2_000
    assert decode_cursor("garbage").digests == {}


def test_a_tick_out_of_time_resumes_where_it_stopped(landed):
    from datawiz_pipelines.automation import table_routing
    from datawiz_pipelines.config.tenant_index import TenantIndex
    from datawiz_pipelines.sensors.new_files import FilesCursor, evaluate_new_files

    defs = build_definitions(landed, backend="duckdb")
    routing = table_routing(list(defs.assets), "tenant_etl")
    index, known = TenantIndex(landed.config_dir), {"tenant1", "tenant2", "tenant3"}

    def tick(cursor):
        return evaluate_new_files(index, landed.data_dir, cursor, known, routing, budget_seconds=0)

    first = tick(FilesCursor())  # no time at all: one tenant per tick, highest priority first
    assert [r.partition_key for r in first.run_requests] == ["tenant1"]
    assert first.cursor.resume_after == "tenant1" and not first.complete
    second = tick(first.cursor)
    assert [r.partition_key for r in second.run_requests] == ["tenant2"] and second.complete
    third = tick(second.cursor)
    assert third.run_requests == [] and third.tenants_evaluated == 1


def test_requests_fit_their_jobs(landed, instance):
    ticker = Ticker(landed, instance)
    touch(fact_file(landed, "tenant1"))
    for request in ticker.tick():
        job = ticker.defs.resolve_job_def(request.job_name)
        assert set(request.asset_selection) <= job.asset_layer.selected_asset_keys
        assert request.partition_key in job.partitions_def.get_partition_keys()


def test_no_ledger_is_created_by_the_sensor(landed, instance):
    Ticker(landed, instance).tick()
    assert not list(landed.data_dir.glob("*/ledger.sqlite"))


def test_the_file_lister_restats_known_files_and_relists_changed_folders(tmp_path, monkeypatch):
    from datawiz_pipelines.sensors.new_files import FileLister

    monkeypatch.setattr(FileLister, "RECENT_NS", -(10**12))  # trust folder times even right after a change
    root = tmp_path / "source_files"
    (root / "daily").mkdir(parents=True)
    first = root / "daily" / "sales_1.csv"
    first.write_text("a\n")
    lister = FileLister()

    def listing():
        return [
            (f.relative_path, f.fingerprint)
            for f in lister.files(root, ["daily/*.csv"], FileLister.tree_signature(root))
        ]

    before = listing()
    touch(first)  # in place: the folder is unchanged, the file is stat-ed again
    assert listing() != before and [name for name, _ in listing()] == ["daily/sales_1.csv"]
    folder = root / "daily"
    stat = folder.stat()
    (folder / "sales_2.csv").write_text("b\n")
    os.utime(folder, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # coarse clocks aside
    assert [name for name, _ in listing()] == ["daily/sales_1.csv", "daily/sales_2.csv"]
    (root / "link").symlink_to(tmp_path)
    assert FileLister.tree_signature(root) is None  # a link anywhere: always list again
