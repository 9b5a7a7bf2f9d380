"""``datawiz migrate-legacy``: import a legacy single-tenant ``db/`` layout into a tenant."""

from __future__ import annotations

from pathlib import Path

import click

from datawiz_pipelines.cli.formatting import fail
from datawiz_pipelines.config.errors import ConfigError, display_path
from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.onboarding.legacy import migrate_legacy
from datawiz_pipelines.settings import ProjectPaths


@click.command("migrate-legacy")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--tenant", "tenant_id", required=True, help="The tenant to import into (create it with `tenants new`)."
)
@click.option("--dry-run", is_flag=True, help="Report what would be imported; write nothing.")
def migrate_legacy_command(path: Path, tenant_id: str, dry_run: bool) -> None:
    """Import PATH's legacy db/schemas, db/column_mappings and db/seeds into tenants/<TENANT>/.

    Column mappings become mappings/<table>.yaml, seed CSVs go to seeds/ with their
    seed table's mapping, views and materialized views become sql/views/ and
    sql/matviews/ files, and table definitions are compared with the shared catalog.
    Everything that could not be translated is listed. Python files are read, never run.
    """
    paths = ProjectPaths.from_env()
    try:
        report = migrate_legacy(ConfigRepository(paths.config_dir), path, tenant_id, dry_run=dry_run)
    except ConfigError as exc:
        fail(exc)
    click.echo(
        f"{'would import' if dry_run else 'imported'} {display_path(report.source)} into tenant {tenant_id}:"
    )
    click.echo("\n".join(f"  {line}" for line in report.translated) or "  nothing")
    if report.written:
        click.echo(f"{len(report.written)} file(s) written")
    if report.not_translated:
        click.echo(f"not translated ({len(report.not_translated)}):")
        click.echo("\n".join(f"  {line}" for line in report.not_translated))
    click.echo(f"next: datawiz tenants validate {tenant_id}")
