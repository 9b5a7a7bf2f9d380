"""The sample-data entry points: a tenant's whole sample, or one big fact file for benchmarks."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.sample_data.tenant_files import CHUNK_ROWS, TenantGenerator
from datawiz_pipelines.settings import ProjectPaths
from datawiz_pipelines.storage.tenant_paths import TenantPaths

BENCHMARK_FIRST_ROW = 120_000_000
"""Global row index a benchmark file starts at, far past the sample's rows, so its invoice keys are new."""


def _repository(config_dir: Path | None) -> ConfigRepository:
    return ConfigRepository(
        Path(config_dir) if config_dir is not None else ProjectPaths.from_env().config_dir
    )


def generate_sample_data(
    config_dir: Path,
    data_dir: Path,
    tenant_ids: Iterable[str],
    *,
    fact_rows: int = 2_000,
    seed: int = 7,
) -> dict[str, list[Path]]:
    """Write each tenant's sample source files under ``data_dir/<tenant>/source_files/``.

    Every table the tenant maps from its landing zone gets files named and
    formatted as its mapping expects. ``fact_rows`` is the number of secondary
    sales lines (primary sales get half as many), about 90% in the monthly
    historical files and 10% in the daily incremental ones, plus a few
    corrections of historical lines and a few deliberately bad rows. The same
    arguments always give byte-identical files with the same modification
    times. Files are written under a temporary name and renamed; nothing else
    in the landing folder is touched. Disabled tenants can be generated too.

    Returns the files written, per tenant.
    """
    if fact_rows < 0:
        raise ValueError("fact_rows must not be negative")
    repository = _repository(config_dir)
    catalog = repository.catalog.tables
    written: dict[str, list[Path]] = {}
    for tenant_id in tenant_ids:
        tenant = repository.load_tenant(tenant_id)
        landing = TenantPaths(Path(data_dir), tenant_id).landing
        written[tenant_id] = TenantGenerator(tenant, catalog, seed=seed).write_all(landing, fact_rows)
    return written


def write_fact_file(
    path: Path,
    rows: int,
    *,
    table: str = "fact_invoice_secondary",
    tenant_id: str = "tenant1",
    config_dir: Path | None = None,
    seed: int = 7,
    bad_rows: int = 0,
    first_row: int = BENCHMARK_FIRST_ROW,
    chunk_rows: int = CHUNK_ROWS,
    compresslevel: int = 1,
) -> Path:
    """One big fact file for benchmarks, in the tenant's format for ``table``.

    ``rows`` lines spread over the historical period, written in chunks of
    ``chunk_rows`` (bounded memory; byte-identical for the same arguments).
    The format follows ``path``'s name as the mapping would read it (``.csv``,
    ``.csv.gz``, ``.parquet``, ``.xlsx``) with the mapping's CSV options; drop
    the file where one of the mapping's patterns matches it to feed the
    pipeline. It references the master data ``generate_sample_data`` writes for
    the same tenant and seed; ``first_row`` (default far beyond the sample's
    rows) keeps its invoice keys apart from the sample's. ``bad_rows`` adds
    that many deliberately bad rows (0 = a clean file). gzip uses
    ``compresslevel`` (1 = fastest).
    """
    repository = _repository(config_dir)
    tenant = repository.load_tenant(tenant_id)
    generator = TenantGenerator(
        tenant, repository.catalog.tables, seed=seed, chunk_rows=chunk_rows, compresslevel=compresslevel
    )
    return generator.write_single_fact_file(Path(path), table, rows, first_row=first_row, bad_rows=bad_rows)


def write_fact_csv(path: Path, rows: int, **options: Any) -> Path:
    """``write_fact_file`` for a delimited file (``.csv`` or ``.csv.gz``); see there for ``options``."""
    name = Path(path).name.lower()
    if not name.endswith((".csv", ".csv.gz", ".txt", ".txt.gz")):
        raise ValueError(f"{path}: write_fact_csv writes .csv or .csv.gz files")
    return write_fact_file(path, rows, **options)
