"""A dry run of one table's mapping on one source file, exactly as bronze and silver would do it.

The file is read with ``read_source`` (as the bronze asset does) and mapped with
``transform`` (as the silver asset does); nothing is written to the tenant's
folders, the configuration or the warehouse. Compressed or re-encoded files need a
plain copy to be scanned: that copy goes to a private temporary folder of the
operating system and is deleted before ``preview_table`` returns.

Relationship rules need the rows of the tables they point to. Those are built the
same way, in memory, from the referenced table's current source files (what a run
would load first); failing that, the tenant's published silver rows are used; and
failing both, the rule is left out of the preview and a note says so.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from datawiz_pipelines.bronze.errors import SourceFileError
from datawiz_pipelines.bronze.readers import READ_ERRORS, describe_read_error, read_source
from datawiz_pipelines.bronze.source_files import SourceFile, find_source_files
from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.config.errors import display_path
from datawiz_pipelines.config.loader import ConfigRepository, Tenant
from datawiz_pipelines.config.mapping import RelationshipRule, TableMapping
from datawiz_pipelines.lineage import REJECT_REASON, REJECTED_RULE, ROW_NUMBER, TABLE_LINEAGE_COLUMNS
from datawiz_pipelines.onboarding.errors import FieldValueError
from datawiz_pipelines.silver.engine import transform
from datawiz_pipelines.silver.errors import TransformError
from datawiz_pipelines.storage.tenant_paths import TenantPaths

LOAD_ID = "preview"
_SILVER_DATA = "data.parquet"


class PreviewUsageError(FieldValueError):
    """The preview was asked for something that does not exist (table, mapping, file)."""


@dataclass(frozen=True)
class PreviewResult:
    tenant_id: str
    table: CatalogTable
    file: SourceFile
    matches_patterns: bool
    rows_read: int
    rows_kept: int
    rows: pl.DataFrame
    """The first mapped rows, canonical columns only."""
    rejected_count: int
    rejected: pl.DataFrame
    """The first rejected rows: file row number, first failing rule, every reason."""
    rejected_by_rule: dict[str, int]
    schema: dict[str, str]
    """Column -> type of the silver table (canonical types, then the lineage columns)."""
    notes: list[str] = field(default_factory=list)

    @property
    def rows_filtered(self) -> int:
        """Rows dropped by the mapping's business filters (neither kept nor rejected)."""
        return self.rows_read - self.rows_kept - self.rejected_count


def preview_table(
    repository: ConfigRepository,
    data_dir: Path,
    tenant_id: str,
    table_name: str,
    *,
    file: Path | None = None,
    rows: int = 10,
) -> PreviewResult:
    """The mapped rows, schema and rejected rows one file of ``table_name`` would give.

    Raises PreviewUsageError for an unknown table, a table the tenant does not map, or
    a ``file`` outside the tenant's landing (or seeds) folder; ConfigError,
    SourceFileError and TransformError as a run would.
    """
    tenant = repository.load_tenant(tenant_id)
    table = repository.catalog.tables.get(table_name)
    if table is None:
        known = ", ".join(repository.catalog.tables)
        raise PreviewUsageError("table", f"{table_name!r} is not a table in the catalog; tables: {known}")
    mapping = tenant.mapping(table.name)
    if mapping is None:
        raise PreviewUsageError(
            "table", f"tenant {tenant_id} has no mapping for {table.name} (mappings/{table.name}.yaml)"
        )
    context = _Context(repository, tenant, TenantPaths(data_dir, tenant_id))
    root = context.root(table)
    matching = find_source_files(root, mapping.source.patterns)
    if file is None:
        if not matching:
            raise SourceFileError(
                tenant_id, table.name, display_path(root), f"no file matches {mapping.source.patterns}"
            )
        chosen = max(matching, key=lambda f: (f.modified, f.relative_path))
    else:
        chosen = _chosen_file(root, file)
    matches = any(f.relative_path == chosen.relative_path for f in matching)
    with tempfile.TemporaryDirectory(prefix="datawiz-preview-") as scratch:
        context.scratch = Path(scratch)
        raw = context.read([chosen], table, mapping)
        references, notes = context.references(table, mapping)
        result = transform(
            raw,
            tenant_id=tenant_id,
            table=table,
            mapping=context.checkable(mapping, references),
            business_rules=tenant.settings.business_rules,
            references=references,
        )
        rejected = result.rejected.select(ROW_NUMBER, REJECTED_RULE, REJECT_REASON)
        try:
            read, kept, head, by_rule, rejected_head = pl.collect_all(
                [
                    raw.select(pl.len()),
                    result.rows.select(pl.len()),
                    result.rows.select(table.column_names).head(rows),
                    rejected.group_by(REJECTED_RULE).len().sort(REJECTED_RULE),
                    rejected.sort(ROW_NUMBER).head(rows),
                ]
            )
        except READ_ERRORS as exc:
            raise describe_read_error(exc, chosen, tenant_id, table.name) from exc
    if not matches:
        notes.insert(
            0, f"{chosen.relative_path} does not match the mapping's patterns: a run would not read it"
        )
    if mapping.on_cast_error == "fail" and "cast" in by_rule[REJECTED_RULE].to_list():
        notes.append("on_cast_error is 'fail': a run would stop at the rows rejected by 'cast'")
    schema = {column.name: str(column.type) for column in table.columns}
    schema |= {name: str(column_type) for name, column_type in TABLE_LINEAGE_COLUMNS.items()}
    return PreviewResult(
        tenant_id=tenant_id,
        table=table,
        file=chosen,
        matches_patterns=matches,
        rows_read=read.item(),
        rows_kept=kept.item(),
        rows=head,
        rejected_count=int(by_rule["len"].sum()),
        rejected=rejected_head,
        rejected_by_rule=dict(by_rule.iter_rows()),
        schema=schema,
        notes=notes,
    )


def _chosen_file(root: Path, file: Path) -> SourceFile:
    """``file`` (relative to ``root``, or a path) as a source file, if it lies inside ``root``."""
    candidate = file if file.is_absolute() else root / file
    if not candidate.exists() and not file.is_absolute() and file.exists():
        candidate = file.absolute()  # a path relative to the working directory
    if not candidate.resolve().is_relative_to(root.resolve()):
        raise PreviewUsageError("file", f"{file} is not inside the folder {display_path(root)}")
    if not candidate.is_file():
        raise PreviewUsageError("file", f"{file} is not a file in {display_path(root)}")
    relative = candidate.absolute().relative_to(root.absolute()).as_posix()
    found = find_source_files(root, [relative])
    if not found:
        raise PreviewUsageError("file", f"{file} is hidden or a partial download; it would never be read")
    return found[0]


@dataclass
class _Context:
    repository: ConfigRepository
    tenant: Tenant
    paths: TenantPaths
    scratch: Path | None = None
    built: dict[str, pl.LazyFrame | None] = field(default_factory=dict)
    from_sources: list[str] = field(default_factory=list)
    from_silver: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def root(self, table: CatalogTable) -> Path:
        return self.tenant.seeds_dir if table.source == "seed" else self.paths.landing

    def read(self, files: list[SourceFile], table: CatalogTable, mapping: TableMapping) -> pl.LazyFrame:
        """The files as one bronze frame, as the IO manager hands bronze to silver."""
        assert self.scratch is not None
        frames = [
            read_source(
                file,
                mapping.source,
                tenant_id=self.tenant.tenant_id,
                table=table.name,
                scratch_dir=self.scratch,
                load_id=LOAD_ID,
            )
            for file in files
        ]
        return frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")

    def references(
        self, table: CatalogTable, mapping: TableMapping
    ) -> tuple[dict[str, pl.LazyFrame], list[str]]:
        found = {}
        for name in sorted({r.to_table for r in mapping.validations if isinstance(r, RelationshipRule)}):
            frame = self._reference(name, visiting={table.name})
            if frame is not None:
                found[name] = frame
        notes = list(self.failures)
        for tables, how in (
            (self.from_sources, "built from their current source files"),
            (self.from_silver, "their published silver rows"),
        ):
            if tables:
                notes.append(f"relationship rules check against {', '.join(tables)} ({how})")
        if self.unchecked:
            notes.append(
                f"relationship rules to {', '.join(self.unchecked)} are not checked: "
                "no source files and no silver rows"
            )
        return found, notes

    def checkable(self, mapping: TableMapping, references: Mapping[str, pl.LazyFrame]) -> TableMapping:
        """The mapping without the relationship rules whose table could not be built."""
        kept = [
            rule
            for rule in mapping.validations
            if not isinstance(rule, RelationshipRule) or rule.to_table in references
        ]
        return (
            mapping
            if len(kept) == len(mapping.validations)
            else mapping.model_copy(update={"validations": kept})
        )

    def _reference(self, name: str, *, visiting: set[str]) -> pl.LazyFrame | None:
        if name in self.built:
            return self.built[name]
        table = self.repository.catalog[name]
        mapping = self.tenant.mapping(name)
        files = find_source_files(self.root(table), mapping.source.patterns) if mapping else []
        frame: pl.LazyFrame | None = None
        if mapping is not None and files and name not in visiting:
            try:
                raw = self.read(files, table, mapping)
                references = {}
                for target in sorted(
                    {r.to_table for r in mapping.validations if isinstance(r, RelationshipRule)}
                ):
                    reference = self._reference(target, visiting=visiting | {name})
                    if reference is not None:
                        references[target] = reference
                frame = transform(
                    raw,
                    tenant_id=self.tenant.tenant_id,
                    table=table,
                    mapping=self.checkable(mapping, references),
                    business_rules=self.tenant.settings.business_rules,
                    references=references,
                ).rows.cache()
                self.from_sources.append(name)
            except (SourceFileError, TransformError) as exc:
                self.failures.append(f"{name} could not be built from its source files: {exc}")
        if frame is None:
            published = self.paths.table_dir("silver", name) / _SILVER_DATA
            if published.is_file():
                frame = pl.scan_parquet(published)
                self.from_silver.append(name)
            else:
                self.unchecked.append(name)
        self.built[name] = frame
        return frame
