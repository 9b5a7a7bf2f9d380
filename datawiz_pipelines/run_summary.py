"""What one tenant run did to each table, read from its materialization metadata."""

from __future__ import annotations

from dataclasses import dataclass, field

from dagster import ExecuteInProcessResult
from dagster_shared.error import SerializableErrorInfo

TABLE_LAYERS = ("bronze", "silver", "warehouse")


@dataclass
class TableSummary:
    table: str
    files: int | None = None
    rows_read: int | None = None
    rows_rejected: int | None = None
    rows_loaded: int | None = None
    rows_in_warehouse: int | None = None
    failed_checks: list[str] = field(default_factory=list)


@dataclass
class TenantRunSummary:
    tenant_id: str
    run_id: str
    success: bool
    tables: dict[str, TableSummary]
    errors: list[str]
    other_assets: list[str] = field(default_factory=list)
    """Materialized assets that are not catalog tables: landing, views, derived tables..."""


def summarize(tenant_id: str, result: ExecuteInProcessResult) -> TenantRunSummary:
    tables: dict[str, TableSummary] = {}
    other: list[str] = []
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        layer, name = materialization.asset_key.path[0], materialization.asset_key.path[-1]
        if layer not in TABLE_LAYERS:
            other.append(materialization.asset_key.to_user_string())
            continue
        metadata = {key: value.value for key, value in materialization.metadata.items()}
        summary = tables.setdefault(name, TableSummary(name))
        if layer == "bronze":
            summary.files = metadata.get("files_read")
            summary.rows_read = metadata.get("dagster/row_count")
        elif layer == "silver":
            summary.rows_rejected = metadata.get("rows_rejected")
        elif layer == "warehouse":
            summary.rows_loaded = metadata.get("rows_loaded")
            summary.rows_in_warehouse = metadata.get("dagster/row_count")
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            name = evaluation.asset_key.path[-1]
            tables.setdefault(name, TableSummary(name)).failed_checks.append(evaluation.check_name)
    errors = [
        f"{event.step_key}: {failure_message(event.step_failure_data.error)}"
        for event in result.get_step_failure_events()
        if event.step_failure_data and event.step_failure_data.error
    ]
    return TenantRunSummary(
        tenant_id=tenant_id,
        run_id=result.run_id,
        success=result.success,
        tables=dict(sorted(tables.items())),
        errors=errors,
        other_assets=sorted(other),
    )


def failure_message(error: SerializableErrorInfo) -> str:
    """The innermost cause's message: ours, not Dagster's 'error occurred while executing'."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()
