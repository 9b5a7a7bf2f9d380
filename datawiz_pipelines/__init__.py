"""datawiz-pipelines: one Dagster code location that runs one ETL for many tenants."""
