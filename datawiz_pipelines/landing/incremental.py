"""Incremental processing by file: what changed since the last warehouse load, and what to do.

Each published bronze and silver folder carries a small ``_manifest.json`` (not a
parquet part, so no reader mistakes it for rows):

* bronze: every part's source file, fingerprint and rows, and the reader signature
  (the mapping's ``source`` options and the bronze format version). The next bronze run
  reuses a part (a hard link) when its file's fingerprint and the reader signature are
  unchanged, instead of parsing the file again.
* silver: the load plan the warehouse asset carries out (``LoadPlan``).

The plan compares the table's current files with the ledger's record of what reached
the warehouse. Silver is always rebuilt from every bronze part (so its checks judge
the whole table, as a full recompute would); only the warehouse load is incremental:

* ``replace`` tables: always replaced.
* ``incremental`` tables: when the only difference is new files, and the transform
  signature (mapping, business rules, catalog definition, the reference keys that
  relationship rules look up) is the one of the last load, the rows of the new files
  are upserted on the table's keys (silver stages them as its ``delta`` part). Any
  changed or deleted file, a reprocess request, a new signature or no previous load
  means the table is replaced from all of silver, so rows of old file versions
  disappear. Silver's rows from old files are then exactly those already loaded, and
  ``keep_latest`` winners among new files replace the rows they supersede: after any
  sequence of runs the table equals a full recompute.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl

from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.config.mapping import RelationshipRule, SourceSpec, TableMapping
from datawiz_pipelines.config.tenant import BusinessRules
from datawiz_pipelines.landing.ledger import FileVersion, ProcessedFile, TableLoad

BRONZE_FORMAT_VERSION = 1
"""Bump when bronze parts are written differently, so no older part is reused."""
MANIFEST_NAME = "_manifest.json"
DELTA_PART = "delta"
"""Silver's part holding the rows to upsert (new files only) when the plan is ``upsert``."""

LoadMode = Literal["replace", "upsert"]


def write_manifest(directory: Path, data: dict) -> None:
    tmp = directory / f".{MANIFEST_NAME}.tmp"
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str))
    os.replace(tmp, directory / MANIFEST_NAME)


def read_manifest(directory: Path) -> dict | None:
    """The manifest of a published (or staged) table folder; None when it has none."""
    path = directory / MANIFEST_NAME
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:32]


def reader_signature(source: SourceSpec) -> str:
    """What a bronze part depends on besides its file: the reading options and bronze's format."""
    return _digest({"source": source.model_dump(mode="json"), "bronze_format": BRONZE_FORMAT_VERSION})


def reference_keys(mapping: TableMapping, references: Mapping[str, pl.LazyFrame]) -> dict[str, str]:
    """A digest of the distinct keys every relationship rule looks up (``table.column`` -> digest)."""
    wanted = sorted(
        {
            (rule.to_table, rule.to_column)
            for rule in mapping.validations
            if isinstance(rule, RelationshipRule)
        }
    )
    frames = [
        references[table].select(pl.col(column).cast(pl.String).drop_nulls().unique().sort())
        for table, column in wanted
    ]
    results = pl.collect_all(frames) if frames else []
    return {
        f"{table}.{column}": hashlib.sha256("\n".join(result.to_series().to_list()).encode()).hexdigest()[:32]
        for (table, column), result in zip(wanted, results, strict=True)
    }


def transform_signature(
    table: CatalogTable,
    mapping: TableMapping,
    business_rules: BusinessRules,
    references: Mapping[str, str],
) -> str:
    """Everything besides the files themselves that decides a table's silver rows."""
    return _digest(
        {
            "catalog": table.model_dump(mode="json"),
            "mapping": mapping.model_dump(mode="json"),
            "business_rules": business_rules.model_dump(mode="json"),
            "references": dict(references),
        }
    )


@dataclass(frozen=True)
class Changes:
    """A table's current files compared with the ledger's processed files."""

    new: list[str]
    changed: list[str]
    unchanged: list[str]
    deleted: list[str]


def classify(current: Sequence[FileVersion], processed: Mapping[str, ProcessedFile]) -> Changes:
    new, changed, unchanged = [], [], []
    for version in current:
        known = processed.get(version.file)
        if known is None:
            new.append(version.file)
        elif known.fingerprint != version.fingerprint:
            changed.append(version.file)
        else:
            unchanged.append(version.file)
    names = {version.file for version in current}
    deleted = sorted(file for file in processed if file not in names)
    return Changes(new, changed, unchanged, deleted)


@dataclass(frozen=True)
class LoadPlan:
    """How the warehouse asset loads a table, decided by silver and carried in its manifest."""

    mode: LoadMode
    reason: str
    signature: str
    mapping_version: int
    files: list[FileVersion]
    """Every current file of the table (what the ledger records after the load)."""
    new: list[str] = field(default_factory=list)
    """Files whose rows are upserted (``upsert``), or loaded for the first time."""
    deleted: list[str] = field(default_factory=list)
    base_run: str | None = None
    """Run of the ledger's last load when the plan was made; an upsert is only valid on top of it."""

    @property
    def loaded(self) -> list[str]:
        """Files whose rows this load writes."""
        return self.new if self.mode == "upsert" else [version.file for version in self.files]

    def to_json(self) -> dict:
        return {
            "mode": self.mode,
            "reason": self.reason,
            "signature": self.signature,
            "mapping_version": self.mapping_version,
            "files": [version.to_json() for version in self.files],
            "new": self.new,
            "deleted": self.deleted,
            "base_run": self.base_run,
        }

    @classmethod
    def from_json(cls, data: dict) -> LoadPlan:
        return cls(
            mode=data["mode"],
            reason=data["reason"],
            signature=data["signature"],
            mapping_version=data["mapping_version"],
            files=[FileVersion.from_json(item) for item in data["files"]],
            new=list(data.get("new", [])),
            deleted=list(data.get("deleted", [])),
            base_run=data.get("base_run"),
        )


def plan_load(
    table: CatalogTable,
    *,
    files: list[FileVersion],
    changes: Changes,
    last_load: TableLoad | None,
    signature: str,
    mapping_version: int,
    reprocessed: Sequence[str],
    full: str | None = None,
) -> LoadPlan:
    """The plan for ``table``; ``full`` is a reason to rebuild whatever changed (a request)."""

    def plan(mode: LoadMode, reason: str) -> LoadPlan:
        return LoadPlan(
            mode=mode,
            reason=reason,
            signature=signature,
            mapping_version=mapping_version,
            files=files,
            new=changes.new,
            deleted=changes.deleted,
            base_run=last_load.run_id if last_load else None,
        )

    if table.load_mode == "replace":
        return plan("replace", "replace table: rebuilt from all its files")
    if full:
        return plan("replace", full)
    if last_load is None:
        return plan("replace", "first load of the table (nothing in the ledger)")
    if last_load.signature != signature:
        return plan(
            "replace",
            "the mapping, business rules, catalog definition or looked-up reference keys changed "
            "since the last load",
        )
    if changes.changed or changes.deleted:
        return plan(
            "replace",
            f"{len(changes.changed)} file(s) changed and {len(changes.deleted)} deleted upstream since "
            "the last load: their old rows must go",
        )
    if reprocessed:
        return plan("replace", f"reprocess requested for {len(reprocessed)} file(s)")
    if not changes.new:
        return plan("upsert", "no new files: nothing to upsert")
    return plan("upsert", f"{len(changes.new)} new file(s): their rows are upserted")
