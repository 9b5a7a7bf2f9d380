"""``datawiz tenants provision``: the tenant's database, tables and SQL models in the configured warehouse."""

from __future__ import annotations

import click

from datawiz_pipelines.cli.formatting import fail
from datawiz_pipelines.config.errors import ConfigError
from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.onboarding.provisioning import provision_tenant
from datawiz_pipelines.resources.warehouse_selection import BACKENDS, build_warehouse, selected_backend
from datawiz_pipelines.settings import ProjectPaths
from datawiz_pipelines.warehouse.base import WarehouseError


@click.command("provision")
@click.argument("tenant_id")
@click.option(
    "--warehouse",
    "backend",
    type=click.Choice(BACKENDS),
    help="Warehouse backend. [default: $DATAWIZ_WAREHOUSE, else duckdb]",
)
def provision_command(tenant_id: str, backend: str | None) -> None:
    """Create TENANT_ID's database, user, grants, tables, views, materialized views,
    derived tables and row-level security views in the warehouse.

    Idempotent: run it again at any time; it reports what it created and what
    already existed, and adds the columns the catalog has gained since.
    """
    paths = ProjectPaths.from_env()
    repository = ConfigRepository(paths.config_dir)
    try:
        tenant = repository.load_tenant(tenant_id)
        warehouse = build_warehouse(backend or selected_backend(), paths)
    except ConfigError as exc:
        fail(exc)
    except (ValueError, NotImplementedError) as exc:
        fail([str(exc)])
    click.echo(
        f"provisioning tenant {tenant_id} in the {warehouse.backend} warehouse, "
        f"database {tenant.entry.database_name} ..."
    )
    try:
        # initialized as a run initializes it: the admin password's EnvVar is read here
        with warehouse.process_config_and_initialize_cm() as ready:
            outcome = provision_tenant(repository, tenant, ready)
    except ConfigError as exc:
        fail(exc)
    except WarehouseError as exc:
        fail([str(exc)])
    for label, items in (
        ("created", outcome.created),
        ("already existed", outcome.existing),
        ("created or replaced", outcome.replaced),
    ):
        if items or label != "created or replaced":
            click.echo(f"{label} ({len(items)}):")
            click.echo("\n".join(f"  {item}" for item in items) if items else "  -")
    for note in outcome.notes:
        click.echo(f"note: {note}")
