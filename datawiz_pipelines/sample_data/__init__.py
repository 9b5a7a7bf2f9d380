"""Deterministic sample source files for the sample tenants (quickstart, tests, benchmarks)."""

from datawiz_pipelines.sample_data.generator import (
    BAD_AMOUNT,
    generate_sample_data,
    write_fact_csv,
    write_fact_file,
)

__all__ = ["BAD_AMOUNT", "generate_sample_data", "write_fact_csv", "write_fact_file"]
