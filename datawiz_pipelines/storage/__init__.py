"""Per-tenant file layout and atomic publishing of parquet outputs."""
