"""``datawiz tenants new``: a new tenant from the template, registered disabled."""

from __future__ import annotations

import click

from datawiz_pipelines.cli.formatting import fail
from datawiz_pipelines.config.errors import ConfigError, display_path
from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.onboarding.new_tenant import (
    NewTenantError,
    NewTenantRequest,
    check_tenant_id,
    create_tenant,
    default_database_name,
    default_database_user,
    default_timezone,
)
from datawiz_pipelines.settings import ProjectPaths
from datawiz_pipelines.storage.tenant_paths import TenantPaths

_OPTIONS = {
    "tenant_id": "TENANT_ID",
    "tenant_name": "--name",
    "database_name": "--database-name",
    "database_user": "--database-user",
    "azure_container": "--azure-container",
    "azure_folder_prefix": "--azure-prefix",
    "timezone": "--timezone",
    "schedule_priority": "--priority",
    "tier": "--tier",
}


@click.command("new")
@click.argument("tenant_id")
@click.option("--name", "tenant_name", help="The client company's name, e.g. 'Pidilite Pune'.")
@click.option("--database-name", help="Its own warehouse database. [default: datawiz_<id>]")
@click.option("--database-user", help="Its warehouse login. [default: <id>_admin]")
@click.option("--azure-container", help="Azure container its files land in (when landing.kind is azure).")
@click.option("--azure-prefix", "azure_folder_prefix", help="Folder inside the container, e.g. exports/.")
@click.option("--timezone", help="IANA time zone of its daily jobs. [default: the template's]")
@click.option("--priority", "schedule_priority", type=click.IntRange(0, 1000), default=100, show_default=True)
@click.option(
    "--tier", type=click.Choice(["premium", "standard", "basic"]), default="standard", show_default=True
)
@click.option("--no-input", is_flag=True, help="Never prompt: take defaults for what was not given.")
def new_command(
    tenant_id: str,
    tenant_name: str | None,
    database_name: str | None,
    database_user: str | None,
    azure_container: str | None,
    azure_folder_prefix: str | None,
    timezone: str | None,
    schedule_priority: int,
    tier: str,
    no_input: bool,
) -> None:
    """Create TENANT_ID from tenants/_template and register it, disabled.

    Values not given as options are asked for (Enter keeps the default shown).
    An invalid or taken id, name, database or time zone is refused before
    anything is written.
    """
    paths = ProjectPaths.from_env()
    repository = ConfigRepository(paths.config_dir)
    try:
        check_tenant_id(repository, tenant_id)
        template_timezone = default_timezone(repository)
    except NewTenantError as exc:
        raise click.BadParameter(str(exc), param_hint=_OPTIONS[exc.field]) from None
    except ConfigError as exc:
        fail(exc)

    def ask(value: str | None, text: str, default: str | None) -> str | None:
        if value is not None or no_input:
            return value if value is not None else default
        return click.prompt(text, default=default or "", show_default=bool(default)) or None

    request = NewTenantRequest(
        tenant_id=tenant_id,
        tenant_name=ask(tenant_name, "Tenant name", None) or "",
        database_name=ask(database_name, "Database name", default_database_name(tenant_id)),
        database_user=ask(database_user, "Database user", default_database_user(tenant_id)),
        azure_container=ask(azure_container, "Azure container (empty: none)", None),
        azure_folder_prefix=ask(azure_folder_prefix, "Azure folder prefix (empty: none)", None) or "",
        timezone=ask(timezone, "Time zone", template_timezone),
        schedule_priority=schedule_priority,
        tier=tier,
    )
    if not request.tenant_name:
        raise click.BadParameter("a tenant name is required", param_hint="--name")
    try:
        created = create_tenant(paths, request)
    except NewTenantError as exc:
        raise click.BadParameter(str(exc), param_hint=_OPTIONS.get(exc.field, exc.field)) from None
    except ConfigError as exc:
        fail(exc)
    folder = display_path(created.config_dir)
    click.echo(f"created tenant {tenant_id} ({request.tenant_name}), registered disabled")
    click.echo(f"  configuration  {folder}/ (config.yaml, mappings/, seeds/)")
    click.echo(f"  secrets        {folder}/.env (placeholders: fill them in)")
    click.echo(f"  landing folder {display_path(TenantPaths(paths.data_dir, tenant_id).landing)}/")
    click.echo(f"  log folder     {display_path(paths.logs_dir / tenant_id)}/")
    click.echo(
        "next: edit config.yaml, .env and mappings/ for the tenant's files, then\n"
        f"  datawiz tenants validate {tenant_id}\n"
        f"  datawiz tenants preview {tenant_id} <table>\n"
        f"  datawiz tenants provision {tenant_id}\n"
        f"  datawiz tenants enable {tenant_id}"
    )
