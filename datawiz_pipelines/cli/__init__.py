"""The ``datawiz`` command."""

from __future__ import annotations

import warnings

import click
from dagster import BetaWarning, PreviewWarning

from datawiz_pipelines.cli.check_instance import check_instance_command
from datawiz_pipelines.cli.migrate_legacy import migrate_legacy_command
from datawiz_pipelines.cli.run import run_command
from datawiz_pipelines.cli.sample_data import sample_data_command
from datawiz_pipelines.cli.tenants import tenants_group


@click.group()
def main() -> None:
    """datawiz-pipelines: run and manage the multi-tenant file-to-warehouse platform."""
    # Dagster flags the instance's YAML log handler (per-tenant logs) as beta on every run.
    warnings.filterwarnings("ignore", category=BetaWarning)
    warnings.filterwarnings("ignore", category=PreviewWarning)


main.add_command(run_command)
main.add_command(sample_data_command)
main.add_command(tenants_group)
main.add_command(migrate_legacy_command)
main.add_command(check_instance_command)
