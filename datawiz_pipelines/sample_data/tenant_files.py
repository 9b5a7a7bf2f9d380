"""Writing one tenant's landing files: dimension snapshots and fact periods.

Every file is written exactly as the tenant's mapping describes it (file names
from the patterns, separators, encodings, date formats, decimal commas, gzip,
Excel, Parquet), so the pipeline reads it the way it reads the real thing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

import polars as pl

from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.config.loader import Tenant
from datawiz_pipelines.config.mapping import TableMapping
from datawiz_pipelines.sample_data.dimensions import DIMENSION_TABLES, Dimensions, build_dimensions
from datawiz_pipelines.sample_data.facts import (
    FACT_TABLES,
    FactGenerator,
    Segment,
    fact_segments,
    historical_segment,
)
from datawiz_pipelines.sample_data.file_layout import (
    BENCHMARK_MODIFIED,
    SNAPSHOT_MODIFIED,
    concrete_path,
    fact_file_modified,
    is_incremental_pattern,
)
from datawiz_pipelines.sample_data.messy_rows import BadRows, bad_row_kinds, choose_bad_rows, corrections
from datawiz_pipelines.sample_data.profiles import SNAPSHOT_DAY, profile_for
from datawiz_pipelines.sample_data.random_columns import stream_key
from datawiz_pipelines.sample_data.writers import (
    ROW_ID,
    CsvSink,
    ExcelSink,
    FileKind,
    FileSink,
    ParquetSink,
    file_kind,
    render,
)

CHUNK_ROWS = 250_000
"""Fact rows generated at a time, which bounds the memory a big file needs."""


def tenant_seed(seed: int, tenant_id: str) -> int:
    """The seed of every random stream of ``tenant_id``'s data."""
    return stream_key(seed, "tenant", tenant_id)


class TenantGenerator:
    """Writes one tenant's landing files."""

    def __init__(
        self,
        tenant: Tenant,
        catalog: dict[str, CatalogTable],
        *,
        seed: int = 7,
        chunk_rows: int = CHUNK_ROWS,
        compresslevel: int = 6,
    ) -> None:
        self.tenant = tenant
        self.catalog = catalog
        self.profile = profile_for(tenant.tenant_id)
        self.seed = tenant_seed(seed, tenant.tenant_id)
        self.chunk_rows = chunk_rows
        self.compresslevel = compresslevel
        self.rules = tenant.settings.business_rules.model_dump()

    @cached_property
    def dimensions(self) -> Dimensions:
        return build_dimensions(self.profile, self.seed)

    def mapping(self, table: str) -> TableMapping:
        mapping = self.tenant.mapping(table)
        if mapping is None:
            raise ValueError(f"tenant {self.tenant.tenant_id!r} has no mapping for {table!r}")
        return mapping

    def sink(self, path: Path, table: str, modified: dt.datetime, kind: FileKind) -> FileSink:
        mapping = self.mapping(table)
        if kind == "csv":
            return CsvSink(
                path,
                modified,
                mapping,
                line_terminator=self.profile.line_terminator,
                compresslevel=self.compresslevel,
            )
        if kind == "parquet":
            return ParquetSink(path, modified)
        return ExcelSink(path, modified, mapping, title=self.catalog[table].description)

    def _render(
        self, frame: pl.DataFrame, table: str, kind: FileKind, keep: tuple[str, ...] = ()
    ) -> pl.DataFrame:
        return render(
            frame,
            self.catalog[table],
            self.mapping(table),
            kind,
            extra_columns=self.profile.extra_columns.get(table),
            keep=keep,
        )

    # ----------------------------------------------------------------- dimensions

    def write_dimension(self, landing: Path, table: str) -> list[Path]:
        """The table's snapshot, split evenly over the mapping's patterns (one file each)."""
        mapping = self.mapping(table)
        frame = self.dimensions[table]
        patterns = mapping.source.patterns
        written: list[Path] = []
        for position, pattern in enumerate(patterns):
            kind = file_kind(pattern, mapping)
            path = landing / concrete_path(pattern, f"{SNAPSHOT_DAY:%Y%m%d}", kind)
            part = frame[
                position * frame.height // len(patterns) : (position + 1) * frame.height // len(patterns)
            ]
            sink = self.sink(path, table, SNAPSHOT_MODIFIED, kind)
            try:
                sink.write(self._render(part, table, kind))
            except BaseException:
                sink.abort()
                raise
            written.append(sink.close())
        return written

    # ----------------------------------------------------------------- facts

    def _fact_targets(
        self, table: str, segments: list[Segment]
    ) -> dict[tuple[str, str], tuple[Path, FileKind]]:
        """(segment, label) -> the file that gets those rows."""
        mapping = self.mapping(table)
        patterns = mapping.source.patterns
        incremental = [p for p in patterns if is_incremental_pattern(p)]
        historical = [p for p in patterns if not is_incremental_pattern(p)]
        targets = {}
        for segment in segments:
            group = (
                (incremental or historical) if segment.name == "incremental" else (historical or incremental)
            )
            for position, label in enumerate(segment.labels):
                pattern = group[position % len(group)]
                kind = file_kind(pattern, mapping)
                targets[segment.name, label] = (Path(concrete_path(pattern, label, kind)), kind)
        return targets

    def write_fact(self, landing: Path, table: str, rows: int) -> list[Path]:
        """The table's historical (monthly) and incremental (daily) files, with bad rows and corrections."""
        generator = FactGenerator(table, self.profile, self.dimensions, self.seed)
        historical, incremental = fact_segments(rows)
        targets = self._fact_targets(table, [historical, incremental])
        sinks: dict[Path, FileSink] = {}
        per_label: dict[tuple[str, str], FileSink] = {}
        for (segment_name, label), (relative, kind) in targets.items():
            if relative not in sinks:
                sinks[relative] = self.sink(
                    landing / relative, table, fact_file_modified(segment_name, label), kind
                )
            per_label[segment_name, label] = sinks[relative]
        try:
            text_only = {kind for _, kind in targets.values()} == {"csv"}
            bad = choose_bad_rows(
                generator,
                historical,
                bad_row_kinds(table, "csv" if text_only else "parquet"),
                max(1, historical.rows // 20_000),
                self.rules,
            )
            for segment in (historical, incremental):
                self._stream(generator, segment, bad, lambda label, s=segment: per_label[s.name, label])
            revised = corrections(generator, historical, max(3, incremental.rows // 20), self.rules, bad.all)
            if incremental.rows and revised.height:
                labels = incremental.labels
                for position, label in enumerate(labels):
                    part = revised[position :: len(labels)]
                    if "created_at" in part.columns:  # re-recorded on the day of the file
                        stamp = dt.datetime.strptime(label, "%Y%m%d").replace(hour=10, minute=15)
                        part = part.with_columns(created_at=pl.lit(stamp, dtype=pl.Datetime("us")))
                    sink = per_label["incremental", label]
                    sink.write(self._render(part, table, sink.kind))
            empty = generator.rows(0, 0, historical)
            for sink in sinks.values():
                if sink.rows == 0:  # a period without rows still gets its file (header only)
                    sink.write(self._render(empty, table, sink.kind))
        except BaseException:
            for sink in sinks.values():
                sink.abort()
            raise
        return [sink.close() for sink in sinks.values()]

    def write_single_fact_file(
        self, path: Path, table: str, rows: int, *, first_row: int, bad_rows: int
    ) -> Path:
        """``rows`` historical rows of ``table`` in one file (any name the tenant's mapping reads)."""
        generator = FactGenerator(table, self.profile, self.dimensions, self.seed)
        segment = historical_segment(rows, first_row=first_row)
        mapping = self.mapping(table)
        kind = file_kind(path, mapping)
        named = file_kind(
            path, mapping.model_copy(update={"source": mapping.source.model_copy(update={"format": "auto"})})
        )
        if kind != named:
            raise ValueError(
                f"{path}: {self.tenant.tenant_id}'s {table} mapping reads {kind} files, not {named}"
            )
        sink = self.sink(path, table, BENCHMARK_MODIFIED, kind)
        try:
            kinds = bad_row_kinds(table, kind)
            per_kind = -(-bad_rows // len(kinds)) if bad_rows > 0 else 0
            bad = (
                choose_bad_rows(generator, segment, kinds, per_kind, self.rules) if per_kind else BadRows({})
            )
            self._stream(generator, segment, bad, lambda _label: sink)
            if sink.rows == 0:
                sink.write(self._render(generator.rows(0, 0, segment), table, kind))
        except BaseException:
            sink.abort()
            raise
        return sink.close()

    def _stream(
        self,
        generator: FactGenerator,
        segment: Segment,
        bad: BadRows,
        sink_for: Callable[[str], FileSink],
    ) -> None:
        """Generate ``segment`` chunk by chunk and hand each period's rows to ``sink_for(label)``."""
        table = generator.table
        mapping = self.mapping(table)
        for start in range(segment.start, segment.stop, self.chunk_rows):
            frame = generator.rows(start, min(start + self.chunk_rows, segment.stop), segment)
            frame = bad.canonical(frame, self.profile).with_columns(
                _label=segment.label_expr(pl.col("invoice_date"))
            )
            for (label,), part in frame.partition_by("_label", maintain_order=True, as_dict=True).items():
                sink = sink_for(label)
                kind = sink.kind
                rendered = self._render(part, table, kind, keep=(ROW_ID,))
                if kind == "csv":
                    rendered = bad.textual(rendered, mapping)
                sink.write(rendered.drop(ROW_ID))

    def write_all(self, landing: Path, fact_rows: int) -> list[Path]:
        """Every table the tenant maps from its landing zone; primary sales get half of ``fact_rows``."""
        written: list[Path] = []
        for table in (*DIMENSION_TABLES, *FACT_TABLES):
            if self.tenant.mapping(table) is None or self.catalog[table].source != "landing":
                continue
            if table in FACT_TABLES:
                rows = fact_rows if table == "fact_invoice_secondary" else fact_rows // 2
                written += self.write_fact(landing, table, rows)
            else:
                written += self.write_dimension(landing, table)
        return written
