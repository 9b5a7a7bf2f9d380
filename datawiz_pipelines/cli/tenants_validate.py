"""``datawiz tenants validate``: every problem of one tenant (or all), at once."""

from __future__ import annotations

import click

from datawiz_pipelines.cli.formatting import echo_report
from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.onboarding.validation import validate_all, validate_tenant
from datawiz_pipelines.settings import ProjectPaths


@click.command("validate")
@click.argument("tenant_id", required=False)
@click.option("--all", "all_tenants", is_flag=True, help="Validate every registered tenant.")
@click.option(
    "--strict", is_flag=True, help="Treat warnings (patterns that match no file yet) as problems too."
)
def validate_command(tenant_id: str | None, all_tenants: bool, strict: bool) -> None:
    """Check TENANT_ID's configuration, secrets (by name), mappings, source files and SQL.

    Exit status 0 when valid (warnings allowed unless --strict), 1 when not.
    """
    if bool(tenant_id) == all_tenants:
        raise click.UsageError("give either a TENANT_ID or --all")
    paths = ProjectPaths.from_env()
    repository = ConfigRepository(paths.config_dir)
    reports = []
    for report in (
        validate_all(repository, paths.data_dir)
        if all_tenants
        else [validate_tenant(repository, paths.data_dir, tenant_id)]
    ):
        echo_report(report, strict=strict)
        reports.append(report)
    if any(report.failed(strict=strict) for report in reports):
        raise click.exceptions.Exit(1)
