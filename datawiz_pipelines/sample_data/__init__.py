"""Deterministic sample source files for the sample tenants (quickstart, tests, benchmarks).

Every tenant's files are written exactly as its mappings describe them; what a
mapping cannot say (how codes look, which cities, which plants) comes from the
tenant's profile. The same arguments always give byte-identical files with the
same modification times.

Modules, in the order they build on each other:

- ``profiles``: what each sample tenant's business looks like
- ``random_columns``: deterministic pseudo-random columns (hashes of a row's index)
- ``writers``: rendering canonical rows as a mapping says, and atomic file sinks
- ``dimensions``: a tenant's master data
- ``facts``: fact rows as a pure function of their global index, and their time segments
- ``messy_rows``: deliberately bad rows and re-sent corrections
- ``file_layout``: file names from the mapping's patterns, fixed modification times
- ``tenant_files``: writing one tenant's landing files
- ``generator``: the entry points below
"""

from datawiz_pipelines.sample_data.generator import generate_sample_data, write_fact_csv, write_fact_file
from datawiz_pipelines.sample_data.messy_rows import BAD_AMOUNT

__all__ = ["BAD_AMOUNT", "generate_sample_data", "write_fact_csv", "write_fact_file"]
