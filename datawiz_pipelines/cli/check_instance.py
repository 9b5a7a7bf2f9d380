"""``datawiz check-instance``: does dagster.yaml enforce the registry's global_config?"""

from __future__ import annotations

import sys

import click

from datawiz_pipelines.instance_check import main as check_instance_main


@click.command("check-instance")
def check_instance_command() -> None:
    """Compare the registry's limits with the Dagster instance ($DAGSTER_HOME/dagster.yaml).

    Prints every mismatch (run queue size, one run per tenant, run timeout, retries,
    per-tenant log handler) and the expected sections; exits 1 when there is one.
    """
    sys.exit(check_instance_main())
