"""``datawiz tenants``: the tenant lifecycle (list, new, validate, preview, provision, enable, disable)."""

from __future__ import annotations

import click

from datawiz_pipelines.cli.formatting import echo_report, fail, format_table
from datawiz_pipelines.cli.tenants_new import new_command
from datawiz_pipelines.cli.tenants_preview import preview_command
from datawiz_pipelines.cli.tenants_provision import provision_command
from datawiz_pipelines.cli.tenants_validate import validate_command
from datawiz_pipelines.config.errors import ConfigError, display_path
from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.onboarding import run_status
from datawiz_pipelines.onboarding.registry_file import plan_enabled
from datawiz_pipelines.onboarding.validation import validate_tenant
from datawiz_pipelines.settings import ProjectPaths

_COLUMNS = ("id", "name", "enabled", "tier", "priority", "database")


@click.group("tenants")
def tenants_group() -> None:
    """Onboard and manage tenants: list, new, validate, preview, provision, enable, disable.

    Typical onboarding: `new` -> edit the files it names -> `validate` -> `preview`
    -> `provision` -> `enable` -> materialize the tenant's partition.
    """


@tenants_group.command("list")
def list_command() -> None:
    """The registry as a table, with each tenant's last run when a Dagster instance is available."""
    paths = ProjectPaths.from_env()
    try:
        registry = ConfigRepository(paths.config_dir).registry
    except ConfigError as exc:
        fail(exc)
    headers, rows = (
        list(_COLUMNS),
        [
            [
                entry.tenant_id,
                entry.tenant_name,
                "yes" if entry.enabled else "no",
                entry.tier,
                entry.schedule_priority,
                entry.database_name,
            ]
            for entry in registry.tenants
        ],
    )
    note = None
    try:
        runs = run_status.last_runs(registry.tenant_ids)
    except Exception as exc:  # the run history is a bonus: never let it hide the registry
        runs, note = None, f"(last runs unavailable: {str(exc).splitlines()[0]})"
    if runs is not None:
        headers.append("last run")
        for row, entry in zip(rows, registry.tenants, strict=True):
            run = runs.get(entry.tenant_id)
            row.append(f"{run.status} {run.at:%Y-%m-%d %H:%M} UTC" if run else "never")
    click.echo(format_table(headers, rows) if rows else "no tenants registered")
    if note:
        click.echo(note, err=True)


@tenants_group.command("enable")
@click.argument("tenant_id")
@click.option("--strict", is_flag=True, help="Refuse on warnings too (e.g. no source files yet).")
def enable_command(tenant_id: str, strict: bool) -> None:
    """Validate TENANT_ID and, if it is valid, set `enabled: true` in the registry."""
    paths = ProjectPaths.from_env()
    repository = ConfigRepository(paths.config_dir)
    report = validate_tenant(repository, paths.data_dir, tenant_id)
    if report.failed(strict=strict):
        echo_report(report, strict=strict)
        click.echo(f"tenant {tenant_id} was NOT enabled: fix the problems above first", err=True)
        raise click.exceptions.Exit(1)
    _set_enabled(repository, tenant_id, True)


@tenants_group.command("disable")
@click.argument("tenant_id")
def disable_command(tenant_id: str) -> None:
    """Set `enabled: false` for TENANT_ID: it stays registered and visible but never runs."""
    _set_enabled(ConfigRepository(ProjectPaths.from_env().config_dir), tenant_id, False)


def _set_enabled(repository: ConfigRepository, tenant_id: str, enabled: bool) -> None:
    word = "enabled" if enabled else "disabled"
    try:
        edit = plan_enabled(repository.registry_path, tenant_id, enabled)
        if edit is None:
            click.echo(f"tenant {tenant_id} is already {word}")
            return
        edit.write()
    except ConfigError as exc:
        fail(exc)
    click.echo(f"tenant {tenant_id} {word} in {display_path(repository.registry_path)}")


tenants_group.add_command(new_command)
tenants_group.add_command(validate_command)
tenants_group.add_command(preview_command)
tenants_group.add_command(provision_command)
