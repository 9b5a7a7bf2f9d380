"""The ``datawiz`` command."""

from __future__ import annotations

import click

from datawiz_pipelines.cli.run import run_command
from datawiz_pipelines.cli.sample_data import sample_data_command


@click.group()
def main() -> None:
    """datawiz-pipelines: run and manage the multi-tenant file-to-warehouse platform."""


main.add_command(run_command)
main.add_command(sample_data_command)
