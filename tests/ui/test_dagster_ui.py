"""The Dagster UI as its users use it, in Chromium: lineage, a per-tenant backfill, a
warehouse asset's metadata, and the schedules and sensors (issue 6).

One ``dagster dev`` serves the whole module (see ``conftest.py``). Deselect with
``-m "not ui"``. Screenshots go to ``test-artifacts/ui/``.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from typing import Any

import pytest

from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.settings import PROJECT_ROOT

DagsterUI = Any  # conftest.DagsterUI: url, graphql()
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "ui"
LOCATION = "datawiz_pipelines"
SAMPLE_TENANTS = ("tenant1", "tenant2")
# The README's screenshots (docs/screenshots/, committed) are refreshed only on request:
# DATAWIZ_UPDATE_SCREENSHOTS=1 pytest tests/ui
DOCS = PROJECT_ROOT / "docs" / "screenshots"
DOCS_SCREENSHOTS = {"asset-graph", "materialization"}
UPDATE_DOCS_ENV = "DATAWIZ_UPDATE_SCREENSHOTS"

pytestmark = [pytest.mark.ui, pytest.mark.timeout(420)]

LAYERS = ("bronze", "silver", "warehouse")
WAREHOUSE_ASSET = "warehouse/fact_invoice_secondary"
BACKFILL_TIMEOUT_S = 300
PAGE_TIMEOUT_MS = 90_000

LAUNCH_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
    ... on UnauthorizedError { message }
  }
}
"""
ETL_ASSETS = """
query EtlAssets {
  assetNodes { assetKey { path } jobNames }
}
"""
BACKFILL_STATUS = """
query BackfillStatus($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    ... on PartitionBackfill { id status }
    ... on PythonError { message }
  }
  runsOrError(filter: {tags: [{key: "dagster/backfill", value: $backfillId}]}) {
    ... on Runs { results { runId status tags { key value } } }
  }
}
"""
FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED", "FAILING"}


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    if name in DOCS_SCREENSHOTS and os.environ.get(UPDATE_DOCS_ENV) == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ARTIFACTS / f"{name}.png", DOCS / f"{name}.png")


def open_page(page: Any, ui: DagsterUI, path: str) -> None:
    page.goto(f"{ui.url}{path}", timeout=PAGE_TIMEOUT_MS)
    page.wait_for_load_state("networkidle", timeout=PAGE_TIMEOUT_MS)


@pytest.fixture(scope="module")
def backfill(dagster_ui: DagsterUI) -> dict:
    """tenant1 and tenant2 of ``tenant_etl``, launched like the UI's backfill dialog, finished."""
    # the UI's "Materialize all..." on tenant_etl's assets, two tenants picked: an asset backfill
    nodes = [
        node for node in dagster_ui.graphql(ETL_ASSETS)["assetNodes"] if "tenant_etl" in node["jobNames"]
    ]
    assert len(nodes) > 30, nodes
    params = {
        "assetSelection": [{"path": node["assetKey"]["path"]} for node in nodes],
        "partitionNames": list(SAMPLE_TENANTS),
        "tags": [{"key": "datawiz/trigger", "value": "ui-test"}],
        # one process per run instead of one per step: bounded on a loaded machine
        "runConfigData": {"execution": {"config": {"in_process": {}}}},
    }
    launched = dagster_ui.graphql(LAUNCH_BACKFILL, {"backfillParams": params})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]
    deadline = time.monotonic() + BACKFILL_TIMEOUT_S
    while True:
        status = dagster_ui.graphql(BACKFILL_STATUS, {"backfillId": backfill_id})
        runs = status["runsOrError"]["results"]
        runs_done = len(runs) >= len(SAMPLE_TENANTS) and all(
            run["status"] in ("SUCCESS", "FAILURE", "CANCELED") for run in runs
        )
        # the runs are what the UI's partition status shows; the backfill's own status
        # follows at the daemon's next iteration (about 30 s later)
        if runs_done or status["partitionBackfillOrError"]["status"] in FINISHED:
            break
        assert time.monotonic() < deadline, (
            f"backfill {backfill_id} not done in {BACKFILL_TIMEOUT_S}s: {status}"
        )
        time.sleep(3)
    assert {run["status"] for run in runs} == {"SUCCESS"}, status
    partitions = {tag["value"] for run in runs for tag in run["tags"] if tag["key"] == "dagster/partition"}
    assert partitions == set(SAMPLE_TENANTS)
    return {"id": backfill_id, "runs": runs}


def test_asset_graph_shows_each_tables_three_layers(page: Any, dagster_ui: DagsterUI):
    # What the UI's graph is built from: every table bronze -> silver -> warehouse.
    nodes = dagster_ui.graphql(
        "{ assetNodes { assetKey { path } groupName description dependencyKeys { path } } }"
    )
    by_key = {"/".join(node["assetKey"]["path"]): node for node in nodes["assetNodes"]}
    catalog = ConfigRepository(dagster_ui.project_dir / "tenant_configs").catalog  # the one served
    for table in catalog.tables:
        for layer in LAYERS:
            node = by_key[f"{layer}/{table}"]
            assert node["groupName"] == layer
            assert node["description"], f"{layer}/{table} has no description"
        assert {"/".join(k["path"]) for k in by_key[f"silver/{table}"]["dependencyKeys"]} >= {
            f"bronze/{table}"
        }
        assert {"/".join(k["path"]) for k in by_key[f"warehouse/{table}"]["dependencyKeys"]} == {
            f"silver/{table}"
        }

    # The global lineage: the layers as groups, in order.
    open_page(page, dagster_ui, "/asset-groups")
    canvas = page.locator("svg, [class*=graph], main")
    for group in ("landing", *LAYERS, "views", "security"):
        page.get_by_text(group, exact=True).last.wait_for(timeout=PAGE_TIMEOUT_MS)
    assert canvas.count() > 0
    shot(page, "asset-graph-groups")

    # One table's lineage as rendered: its bronze parent and warehouse child next to it.
    open_page(page, dagster_ui, "/assets/silver/fact_invoice_secondary?view=lineage")
    page.get_by_text("Graph depth").wait_for(timeout=PAGE_TIMEOUT_MS)
    page.wait_for_function(
        "() => ['bronze', 'warehouse'].every(group => "
        "[...document.querySelectorAll('body *')].some(e => e.children.length === 0 "
        "&& e.textContent.trim() === group))",
        timeout=PAGE_TIMEOUT_MS,
    )
    # node labels are shortened ("fact_in…_secondary"): the table, bronze, silver and warehouse
    page.wait_for_function(
        "() => document.body.innerText.split(/fact_in\\S*_secondary/).length - 1 >= 4",
        timeout=PAGE_TIMEOUT_MS,
    )
    shot(page, "asset-graph")


def test_backfill_of_two_tenants_shows_both_partitions_materialized(
    page: Any, dagster_ui: DagsterUI, backfill: dict
):
    open_page(page, dagster_ui, f"/assets/{WAREHOUSE_ASSET}?view=partitions")
    for tenant in SAMPLE_TENANTS:
        page.get_by_text(tenant, exact=True).first.wait_for(timeout=PAGE_TIMEOUT_MS)
    page.wait_for_function(
        "() => /2\\s*materialized/i.test(document.body.innerText.replace(/\\n/g, ' '))"
        " || /Materialized\\s*\\(2\\)/i.test(document.body.innerText.replace(/\\n/g, ' '))",
        timeout=PAGE_TIMEOUT_MS,
    )
    shot(page, "partitions")

    open_page(page, dagster_ui, f"/runs/b/{backfill['id']}")
    page.get_by_text("tenant2").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    shot(page, "backfill")


def test_warehouse_asset_shows_row_count_and_column_lineage(page: Any, dagster_ui: DagsterUI, backfill: dict):
    open_page(page, dagster_ui, f"/assets/{WAREHOUSE_ASSET}?view=events&partition=tenant1")
    page.get_by_text("dagster/row_count").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    shot(page, "materialization")

    # The overview renders the column schema; its lineage comes from the same materialization.
    open_page(page, dagster_ui, f"/assets/{WAREHOUSE_ASSET}")
    page.get_by_text("net_amount", exact=True).first.wait_for(timeout=PAGE_TIMEOUT_MS)
    shot(page, "asset-overview")
    entries = dagster_ui.graphql(COLUMN_LINEAGE, {"path": WAREHOUSE_ASSET.split("/")})
    materialization = entries["assetNodeOrError"]["assetMaterializations"][0]
    lineage = next(
        entry["lineage"]
        for entry in materialization["metadataEntries"]
        if entry["__typename"] == "TableColumnLineageMetadataEntry"
    )
    deps = {item["columnName"]: item["columnDeps"] for item in lineage}
    assert deps["net_amount"] == [
        {"assetKey": {"path": ["silver", WAREHOUSE_ASSET.split("/")[1]]}, "columnName": "net_amount"}
    ]


COLUMN_LINEAGE = """
query ($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode {
      assetMaterializations(partitions: ["tenant1"], limit: 1) {
        metadataEntries {
          __typename
          ... on TableColumnLineageMetadataEntry {
            lineage { columnName columnDeps { assetKey { path } columnName } }
          }
        }
      }
    }
  }
}
"""


def test_automation_page_lists_the_tenant_schedules_and_sensors(page: Any, dagster_ui: DagsterUI):
    open_page(page, dagster_ui, "/automation")
    for name in ("evening_schedule", "morning_schedule", "new_files_sensor"):
        page.get_by_text(name, exact=True).first.wait_for(timeout=PAGE_TIMEOUT_MS)
    # the schedules' details (their 15-minute cadence) are loaded after the names
    page.get_by_text(re.compile(r"every 15 min|\*/15", re.IGNORECASE)).first.wait_for(timeout=PAGE_TIMEOUT_MS)
    shot(page, "automation")

    open_page(page, dagster_ui, f"/locations/__repository__@{LOCATION}/schedules/evening_schedule")
    page.get_by_text("for each enabled tenant", exact=False).first.wait_for(timeout=PAGE_TIMEOUT_MS)
    shot(page, "evening-schedule")
