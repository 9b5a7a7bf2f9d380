"""A tiny code location for the run-queue test: one asset per tenant partition that sleeps.

Loaded by the test's ``dagster-daemon`` (and by the run workers it launches) from this
file, so it imports nothing from the tests package.
"""

import os
import time

from dagster import Definitions, StaticPartitionsDefinition, asset, define_asset_job, in_process_executor

QUEUE_TENANTS = StaticPartitionsDefinition(["tenant_a", "tenant_b", "tenant_c"])


@asset(key=["bronze", "queue_probe"], partitions_def=QUEUE_TENANTS)
def queue_probe(context) -> None:
    context.log.info(f"queue probe for {context.partition_key}")
    time.sleep(float(os.environ.get("QUEUE_PROBE_SECONDS", "1")))


defs = Definitions(
    assets=[queue_probe],
    # in-process steps: one process per run, so six runs fit the test's time budget
    jobs=[define_asset_job("queue_probe_job", selection=[queue_probe], executor_def=in_process_executor)],
)
