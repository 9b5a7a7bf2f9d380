"""Daily schedules in each tenant's timezone: chosen instants in Asia/Kolkata and America/New_York."""

from __future__ import annotations

import datetime as dt

import pytest
from dagster import DagsterInstance, Definitions, asset, build_schedule_context

from datawiz_pipelines.automation import build_automation
from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.definitions import build_definitions
from datawiz_pipelines.jobs import schedule_tags, tenant_etl_job
from datawiz_pipelines.partitions import tenant_partitions
from datawiz_pipelines.schedules import due_local_date
from datawiz_pipelines.settings import ProjectPaths

from .support import edit_yaml, tenant_config

UTC = dt.UTC
EVENING = "evening_schedule"
MORNING = "morning_schedule"


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def schedule_evaluator(project: ProjectPaths, instance: DagsterInstance, schedule_name: str):
    """Evaluate the schedule at a given instant, as the daemon does (definitions loaded once)."""
    repository = build_definitions(project, backend="duckdb").get_repository_def()
    schedule = repository.get_schedule_def(schedule_name)

    def at(instant: dt.datetime):
        context = build_schedule_context(
            instance=instance, scheduled_execution_time=instant, repository_def=repository
        )
        return schedule.evaluate_tick(context)

    return at


def evaluate(project: ProjectPaths, instance: DagsterInstance, schedule_name: str, at: dt.datetime):
    return schedule_evaluator(project, instance, schedule_name)(at)


def tenants_of(result) -> list[str]:
    return [request.partition_key for request in result.run_requests or []]


# -- the window arithmetic ------------------------------------------------------------


@pytest.mark.parametrize(
    ("tick", "expected"),
    [
        (utc(2025, 1, 15, 12, 30), dt.date(2025, 1, 15)),  # 18:00 IST exactly
        (utc(2025, 1, 15, 12, 15), None),  # 17:45 IST: not yet
        (utc(2025, 1, 15, 12, 45), None),  # 18:15 IST: the previous tick took it
    ],
)
def test_kolkata_evening_start_falls_in_exactly_one_tick(tick, expected):
    assert due_local_date(tick, "18:00", "Asia/Kolkata") == expected


def test_a_start_time_off_the_quarter_runs_at_the_next_tick():
    # 09:10 IST = 03:40 UTC: the 03:45 tick takes it, the 03:30 one does not
    assert due_local_date(utc(2025, 1, 15, 3, 30), "09:10", "Asia/Kolkata") is None
    assert due_local_date(utc(2025, 1, 15, 3, 45), "09:10", "Asia/Kolkata") == dt.date(2025, 1, 15)


def test_new_york_evening_follows_daylight_saving():
    # Saturday 8 March 2025, EST (UTC-5): 18:00 is 23:00 UTC
    assert due_local_date(utc(2025, 3, 8, 23, 0), "18:00", "America/New_York") == dt.date(2025, 3, 8)
    assert due_local_date(utc(2025, 3, 8, 22, 0), "18:00", "America/New_York") is None
    # Sunday 9 March 2025, clocks went forward at 02:00, EDT (UTC-4): 18:00 is 22:00 UTC
    assert due_local_date(utc(2025, 3, 9, 22, 0), "18:00", "America/New_York") == dt.date(2025, 3, 9)
    assert due_local_date(utc(2025, 3, 9, 23, 0), "18:00", "America/New_York") is None


def test_a_start_time_skipped_by_daylight_saving_runs_once_an_hour_later():
    # 02:30 does not exist on 9 March 2025 in New York; it runs at 07:30 UTC (03:30 EDT)
    ticks = [utc(2025, 3, 9, 5, 0) + dt.timedelta(minutes=15 * i) for i in range(24)]
    due = [tick for tick in ticks if due_local_date(tick, "02:30", "America/New_York")]
    assert due == [utc(2025, 3, 9, 7, 30)]


def test_a_start_time_repeated_by_daylight_saving_runs_once():
    # 01:30 happens twice on 2 November 2025 in New York (EDT, then EST): only the first counts
    ticks = [utc(2025, 11, 2, 4, 0) + dt.timedelta(minutes=15 * i) for i in range(16)]
    due = [tick for tick in ticks if due_local_date(tick, "01:30", "America/New_York")]
    assert due == [utc(2025, 11, 2, 5, 30)]


def test_every_local_day_is_due_exactly_once_across_a_year_of_ticks():
    start = utc(2025, 1, 1)
    ticks = (start + dt.timedelta(minutes=15 * i) for i in range(4 * 24 * 365))
    dates = [d for tick in ticks if (d := due_local_date(tick, "18:00", "America/New_York"))]
    assert len(dates) == len(set(dates)) == 365


# -- the schedules, evaluated -------------------------------------------------------------


def test_evening_schedule_at_18_00_kolkata_launches_tenant1_with_its_tags(project, instance):
    result = evaluate(project, instance, EVENING, utc(2025, 1, 15, 12, 30))
    assert tenants_of(result) == ["tenant1"]  # tenant2 starts at 19:30, tenant3 is disabled
    request = result.run_requests[0]
    assert request.run_key == "evening_jobs:tenant1:2025-01-15"
    assert request.tags["tenant"] == "tenant1"
    assert request.tags["dagster/priority"] == "-1"  # schedule_priority 1, inverted
    assert request.tags["dagster/max_runtime"] == "7200"  # tenant_timeout
    assert request.tags["datawiz/trigger"] == "schedule"
    assert request.tags["dagster/partition"] == "tenant1"


def test_each_tenant_runs_at_its_own_local_time(project, instance):
    evening = schedule_evaluator(project, instance, EVENING)
    morning = schedule_evaluator(project, instance, MORNING)
    # tenant2: evening 19:30 IST = 14:00 UTC, morning 08:30 IST = 03:00 UTC
    assert tenants_of(evening(utc(2025, 1, 15, 14, 0))) == ["tenant2"]
    assert tenants_of(morning(utc(2025, 1, 15, 3, 0))) == ["tenant2"]
    # tenant1: morning 09:00 IST = 03:30 UTC
    assert tenants_of(morning(utc(2025, 1, 15, 3, 30))) == ["tenant1"]
    assert morning(utc(2025, 1, 15, 4, 0)).run_requests == []


def test_tenants_sharing_a_start_time_are_ordered_by_priority(project, instance):
    edit_yaml(tenant_config(project, "tenant2"), scheduler={"evening_start_time": "18:00"})
    result = evaluate(project, instance, EVENING, utc(2025, 1, 15, 12, 30))
    assert tenants_of(result) == ["tenant1", "tenant2"]
    assert [r.tags["dagster/priority"] for r in result.run_requests] == ["-1", "-2"]


def test_disabled_tenants_are_never_scheduled(project, instance):
    # tenant3 is disabled in the registry; its evening start is 20:00 IST = 14:30 UTC
    assert evaluate(project, instance, EVENING, utc(2025, 1, 15, 14, 30)).run_requests == []


def test_a_disabled_job_flag_skips_only_that_slot(project, instance):
    evening = schedule_evaluator(project, instance, EVENING)
    morning = schedule_evaluator(project, instance, MORNING)
    edit_yaml(tenant_config(project, "tenant1"), scheduler={"enable_morning_jobs": False})
    assert morning(utc(2025, 1, 15, 3, 30)).run_requests == []
    assert tenants_of(evening(utc(2025, 1, 15, 12, 30))) == ["tenant1"]
    edit_yaml(tenant_config(project, "tenant1"), scheduler={"enable_evening_jobs": False})
    assert evening(utc(2025, 1, 15, 12, 30)).run_requests == []


def test_new_york_tenant_across_the_march_change(project, instance):
    edit_yaml(
        tenant_config(project, "tenant2"),
        scheduler={"timezone": "America/New_York", "evening_start_time": "18:00"},
    )
    evening = schedule_evaluator(project, instance, EVENING)
    before, after = evening(utc(2025, 3, 8, 23, 0)), evening(utc(2025, 3, 9, 22, 0))
    assert tenants_of(before) == tenants_of(after) == ["tenant2"]
    assert before.run_requests[0].run_key.endswith(":2025-03-08")
    assert after.run_requests[0].run_key.endswith(":2025-03-09")
    assert evening(utc(2025, 3, 9, 23, 0)).run_requests == []


def test_a_tenant_runs_once_a_day_whatever_the_tick(project, instance):
    ticks = [utc(2025, 1, 15, 0, 0) + dt.timedelta(minutes=15 * i) for i in range(4 * 24)]
    evening = schedule_evaluator(project, instance, EVENING)
    keys = []
    for tick in ticks:
        keys.extend(request.run_key for request in evening(tick).run_requests or [])
    assert sorted(keys) == [
        "evening_jobs:tenant1:2025-01-15",
        "evening_jobs:tenant2:2025-01-15",
    ]


def test_configuration_changes_apply_at_the_next_tick_without_a_reload(project, instance):
    evening = schedule_evaluator(project, instance, EVENING)

    def due(at):
        return tenants_of(evening(at))

    assert due(utc(2025, 1, 15, 12, 30)) == ["tenant1"]
    edit_yaml(tenant_config(project, "tenant1"), scheduler={"evening_start_time": "18:15"})
    assert due(utc(2025, 1, 15, 12, 30)) == []
    assert due(utc(2025, 1, 15, 12, 45)) == ["tenant1"]
    registry = project.config_dir / "registry.yaml"
    registry.write_text(registry.read_text().replace("enabled: true", "enabled: false", 1))
    assert due(utc(2025, 1, 15, 12, 45)) == []


def test_a_tenant_with_a_broken_config_does_not_stop_the_others(project, instance):
    edit_yaml(tenant_config(project, "tenant2"), scheduler={"timezone": "Mars/Olympus_Mons"})
    edit_yaml(tenant_config(project, "tenant1"), scheduler={"evening_start_time": "19:30"})
    result = evaluate(project, instance, EVENING, utc(2025, 1, 15, 14, 0))
    assert tenants_of(result) == ["tenant1"]


def test_the_scheduled_jobs_select_tables_by_kind(project):
    defs = build_definitions(project, backend="duckdb")
    graph = defs.resolve_asset_graph()
    evening = defs.resolve_job_def("evening_dimension_sync")
    morning = defs.resolve_job_def("morning_fact_incremental")
    evening_keys = {key.to_user_string() for key in evening.asset_layer.selected_asset_keys}
    morning_keys = {key.to_user_string() for key in morning.asset_layer.selected_asset_keys}
    assert "warehouse/dim_material" in evening_keys and "bronze/ref_sales_group" in evening_keys
    assert morning_keys == {
        f"{layer}/{table}"
        for layer in ("bronze", "silver", "warehouse")
        for table in ("fact_invoice_details", "fact_invoice_secondary")
    }
    assert not evening_keys & morning_keys
    table_assets = {
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if key.path[0] in ("bronze", "silver", "warehouse")
    }
    assert table_assets <= evening_keys | morning_keys  # every table syncs in exactly one slot


def test_a_slot_runs_all_its_jobs_in_one_run_per_tenant(project):
    defs = build_definitions(project, backend="duckdb")
    repository = defs.get_repository_def()
    assert repository.get_schedule_def(EVENING).job_name == "evening_jobs"
    assert repository.get_schedule_def(MORNING).job_name == "morning_jobs"
    evening = defs.resolve_job_def("evening_jobs").asset_layer.selected_asset_keys
    dimension_sync = defs.resolve_job_def("evening_dimension_sync").asset_layer.selected_asset_keys
    morning = defs.resolve_job_def("morning_jobs").asset_layer.selected_asset_keys
    facts = defs.resolve_job_def("morning_fact_incremental").asset_layer.selected_asset_keys
    assert dimension_sync < evening and facts < morning
    assert not {key for key in evening & morning if key.path[0] in ("bronze", "silver", "warehouse")}


def test_a_new_asset_joins_a_job_and_its_slot_by_its_tags_alone(project):
    partitions = tenant_partitions(ConfigRepository(project.config_dir).registry)

    @asset(
        key=["reports", "late_invoices"],
        partitions_def=partitions,
        tags=schedule_tags("evening", "evening_reports"),
    )
    def late_invoices() -> None:
        return None

    automation = build_automation(project, [late_invoices], partitions, tenant_etl_job)
    assert {job.name for job in automation.jobs} == {"evening_reports", "evening_jobs"}
    assert [schedule.name for schedule in automation.schedules] == ["evening_schedule"]
    defs = Definitions(assets=[late_invoices], jobs=automation.jobs)
    for job in ("evening_reports", "evening_jobs"):
        assert defs.resolve_job_def(job).asset_layer.selected_asset_keys == {late_invoices.key}


def test_an_asset_tagged_with_an_unknown_slot_is_refused(project):
    partitions = tenant_partitions(ConfigRepository(project.config_dir).registry)

    @asset(partitions_def=partitions, tags={"datawiz/schedule": "noon", "datawiz/job": "noon_report"})
    def noon_report() -> None:
        return None

    with pytest.raises(ValueError, match="must all carry datawiz/schedule"):
        build_automation(project, [noon_report], partitions, tenant_etl_job)
