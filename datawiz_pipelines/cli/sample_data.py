"""``datawiz sample-data``: write the sample tenants' source files."""

from __future__ import annotations

import click

from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.sample_data.generator import generate_sample_data
from datawiz_pipelines.settings import ProjectPaths


@click.command("sample-data")
@click.option("--tenant", "tenant_ids", multiple=True, help="Tenant to write (repeatable); default: all.")
@click.option("--fact-rows", type=click.IntRange(min=1), default=2_000, show_default=True)
def sample_data_command(tenant_ids: tuple[str, ...], fact_rows: int) -> None:
    """Write deterministic sample source files into each tenant's landing folder."""
    paths = ProjectPaths.from_env()
    tenants = list(tenant_ids) or ConfigRepository(paths.config_dir).registry.tenant_ids
    written = generate_sample_data(paths.config_dir, paths.data_dir, tenants, fact_rows=fact_rows)
    for tenant_id, files in written.items():
        click.echo(f"{tenant_id}: {len(files)} files in {paths.data_dir / tenant_id / 'source_files'}")
