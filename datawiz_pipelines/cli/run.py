"""``datawiz run``: materialize every table for tenants, one in-process run per tenant."""

from __future__ import annotations

import sys
from datetime import datetime

import click

from datawiz_pipelines.cli.instance import project_instance
from datawiz_pipelines.config.errors import ConfigError
from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.definitions import build_definitions
from datawiz_pipelines.jobs import TENANT_ETL_JOB
from datawiz_pipelines.run_summary import TenantRunSummary, summarize
from datawiz_pipelines.sample_data.generator import generate_sample_data
from datawiz_pipelines.settings import ProjectPaths

_QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
"""Step-by-step events stay in the instance (and the UI); the terminal gets the summary."""
_COLUMNS = ("tenant", "table", "files", "rows read", "rejected", "loaded", "in warehouse", "checks")


@click.command("run")
@click.option(
    "--tenant", "tenant_ids", multiple=True, help="Tenant to run (repeatable); default: every enabled tenant."
)
@click.option(
    "--sample-data/--no-sample-data",
    default=True,
    show_default=True,
    help="Write sample source files first for tenants whose (local) landing folder is empty.",
)
@click.option(
    "--reprocess-file",
    "reprocess_files",
    multiple=True,
    metavar="FILE",
    help="Read this source file again (path relative to the landing folder, as in _dw_source_file, "
    "or a glob) and rebuild its tables. Repeatable.",
)
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Read again every source file modified on or after this date (UTC) and rebuild its tables.",
)
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="With --since (or alone): up to and including this date.",
)
@click.option(
    "--full", is_flag=True, help="Read every source file again and rebuild every table (a backfill)."
)
def run_command(
    tenant_ids: tuple[str, ...],
    sample_data: bool,
    reprocess_files: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    full: bool,
) -> None:
    """Materialize bronze, silver and warehouse of every table, tenant by tenant.

    Runs are incremental by file: only new and changed source files are read, and fact
    tables upsert the rows of new files. --reprocess-file, --since/--until and --full
    read files again and rebuild the tables they feed.
    """
    paths = ProjectPaths.from_env()
    run_config = reprocess_run_config(
        files=reprocess_files,
        since=since.date().isoformat() if since else None,
        until=until.date().isoformat() if until else None,
        full=full,
    )
    try:
        repository = ConfigRepository(paths.config_dir)
        registry = repository.registry
        selected = list(tenant_ids) or [entry.tenant_id for entry in registry.enabled_tenants]
        local = [
            tenant_id
            for tenant_id in selected
            if repository.load_tenant(tenant_id, require_enabled=True).settings.landing.kind == "local"
        ]
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if sample_data:
        empty = [t for t in local if not any((paths.data_dir / t / "source_files").rglob("*.*"))]
        if empty:
            click.echo(f"writing sample source files for {', '.join(empty)}")
            generate_sample_data(paths.config_dir, paths.data_dir, empty)
    job = build_definitions(paths).resolve_job_def(TENANT_ETL_JOB)
    instance = project_instance()
    summaries: list[TenantRunSummary] = []
    for tenant_id in selected:
        click.echo(f"running {TENANT_ETL_JOB} for {tenant_id} ...")
        result = job.execute_in_process(
            partition_key=tenant_id,
            instance=instance,
            raise_on_error=False,
            tags={"tenant": tenant_id},
            run_config=run_config,
        )
        summaries.append(summarize(tenant_id, result))
        if not result.success and registry.global_config.fail_fast:
            click.echo("fail_fast is set in the registry: stopping after the first failed tenant")
            break
    click.echo(_format(summaries))
    if not all(summary.success for summary in summaries):
        sys.exit(1)


def reprocess_run_config(
    *, files: tuple[str, ...] = (), since: str | None = None, until: str | None = None, full: bool = False
) -> dict:
    """The run config of a CLI run: quiet console, and the reprocess request if any."""
    config: dict = {}
    if full:
        config["full"] = True
    if files:
        config["files"] = list(files)
    if since:
        config["since"] = since
    if until:
        config["until"] = until
    if since and until and since > until:
        raise click.BadParameter(f"--since {since} is after --until {until}")
    if not config:
        return dict(_QUIET)
    return {**_QUIET, "resources": {"reprocess": {"config": config}}}


def _format(summaries: list[TenantRunSummary]) -> str:
    rows = [_COLUMNS]
    for summary in summaries:
        for table in summary.tables.values():
            rows.append(
                (
                    summary.tenant_id,
                    table.table,
                    *(
                        "-" if value is None else f"{value:,}"
                        for value in (
                            table.files,
                            table.rows_read,
                            table.rows_rejected,
                            table.rows_loaded,
                            table.rows_in_warehouse,
                        )
                    ),
                    "failed: " + ", ".join(table.failed_checks) if table.failed_checks else "ok",
                )
            )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(_COLUMNS))]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    for summary in summaries:
        status = "succeeded" if summary.success else "FAILED"
        lines.append(f"{summary.tenant_id}: run {summary.run_id} {status}")
        if summary.other_assets:
            lines.append(f"  also materialized: {', '.join(summary.other_assets)}")
        lines.extend(f"  {error}" for error in summary.errors)
    return "\n".join(lines)
