"""Asset jobs."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

TENANT_ETL_JOB = "tenant_etl"

tenant_etl_job = define_asset_job(
    TENANT_ETL_JOB,
    selection=AssetSelection.groups("bronze", "silver", "warehouse"),
    description="Every table of one tenant: source files to bronze, silver and its warehouse.",
)
