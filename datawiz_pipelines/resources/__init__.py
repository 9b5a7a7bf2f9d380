"""Dagster resources: tenant configuration, per-tenant parquet storage, the warehouse."""
