"""Importing a single-tenant layout of the legacy design into ``tenant_configs/tenants/<id>/``.

The legacy project kept one tenant's definitions under ``db/``::

    db/column_mappings/NN_<table>.yaml   CSV column -> database column, types, rounding, ...
    db/schemas/tables/*.py|*.sql         CREATE TABLE statements
    db/schemas/views/*.py|*.sql          CREATE VIEW statements
    db/schemas/matviews/*.py|*.sql       CREATE MATERIALIZED VIEW statements
    db/seeds/*.csv, SEED_MAPPING.py      reference data and which table each file fills
    db/computed_columns.yaml             computed columns per table (optional)

What becomes what:

* a column mapping becomes ``mappings/<table>.yaml``. Recognised keys: the table
  (``table``/``table_name``/``target_table``, else the file name without its number),
  the files (``source_file``/``file_pattern``/``source_pattern``/``file_name``/
  ``source_files``/``patterns``), the columns (``column_mapping``/``columns``/
  ``mappings``/``rename``: a dict in either direction, or a list of
  ``{source, target}``), ``date_formats``, ``roundoff``, ``csv`` or its loose options
  (``separator``/``delimiter``, ``encoding``, ``skip_rows``, ``has_header``,
  ``quote_char``, ``null_values``), ``sheet``, ``format``, ``computed_columns``,
  ``filters``. Types (``dtypes``) belong to the shared catalog and are only compared.
  The tenant's current mapping (the template's, after ``datawiz tenants new``) gives
  the version and the rules, computed columns and filters that still apply.
* seed CSVs are copied to ``seeds/`` and the seed table's mapping points at them,
  columns matched by name (case, ``_`` and spaces ignored).
* a view or materialized view named like a shared SQL model (``tenant_configs/sql/``)
  becomes the tenant's own version of it, ``sql/views/<name>.sql`` or
  ``sql/matviews/<name>.sql`` (its SELECT, database names removed); tenants replace
  shared models but do not add their own, so any other view is reported.
* tables are compared with the catalog: the catalog is shared by every tenant and
  is never changed by an import, so a legacy column it lacks is reported.

Python files are never run: their SQL and dictionaries are read with ``ast``.
Anything that cannot be translated is reported, with the file it came from.
"""

from __future__ import annotations

import ast
import csv
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlglot
import yaml
from sqlglot import exp

from datawiz_pipelines.config.catalog import Catalog, CatalogTable
from datawiz_pipelines.config.column_types import ColumnType
from datawiz_pipelines.config.errors import ConfigError, display_path
from datawiz_pipelines.config.loader import ConfigRepository, Tenant
from datawiz_pipelines.config.mapping import (
    AcceptedValuesRule,
    NotNullRule,
    RangeRule,
    RelationshipRule,
    TableMapping,
    UniqueRule,
)
from datawiz_pipelines.config.tenant import BusinessRules
from datawiz_pipelines.config.yaml_files import read_yaml, validate_model
from datawiz_pipelines.silver.errors import Scope, TransformError
from datawiz_pipelines.silver.expressions import compile_sql
from datawiz_pipelines.sql_models.models import SQL_DIR

SQL_DIALECT = "starrocks"
_KEYS = {
    "table": ("table", "table_name", "target_table"),
    "patterns": ("source_file", "file_pattern", "source_pattern", "file_name", "source_files", "patterns"),
    "columns": ("column_mapping", "columns", "mappings", "rename", "column_mappings"),
    "dtypes": ("dtypes", "data_types", "types"),
    "date_formats": ("date_formats", "date_format"),
    "round": ("roundoff", "round", "rounding", "decimal_places"),
    "computed": ("computed_columns", "computed"),
    "filters": ("filters",),
    "format": ("format", "file_type"),
    "sheet": ("sheet", "sheet_name"),
    "csv": ("csv",),
}
_CSV_KEYS = {
    "separator": ("separator", "delimiter", "sep"),
    "encoding": ("encoding",),
    "skip_rows": ("skip_rows", "skiprows"),
    "has_header": ("has_header",),
    "quote_char": ("quote_char", "quotechar"),
    "null_values": ("null_values", "na_values"),
}
_IGNORED_KEYS = ("description", "comment", "notes", "version")
_PAIR_KEYS = (
    ("source", "target"),
    ("source_column", "target_column"),
    ("from", "to"),
    ("csv_column", "db_column"),
)
_SQL_FOLDERS = {"views": "views", "matviews": "matviews", "materialized_views": "matviews"}


class LegacyLayoutError(ConfigError):
    """The path holds no legacy layout, or the target tenant does not exist."""


@dataclass
class MigrationReport:
    source: Path
    tenant_id: str
    written: list[Path] = field(default_factory=list)
    translated: list[str] = field(default_factory=list)
    """What became what, one line each."""
    not_translated: list[str] = field(default_factory=list)
    """``<legacy file>: <what> (why)``, one line each."""

    def skip(self, where: Path, message: str) -> None:
        self.not_translated.append(f"{display_path(where)}: {message}")


def find_legacy_root(path: Path) -> Path:
    """The folder holding ``schemas/``, ``column_mappings/`` and ``seeds/``: ``path/db`` or ``path``."""
    for candidate in (path / "db", path):
        if any((candidate / name).is_dir() for name in ("schemas", "column_mappings", "seeds")):
            return candidate
    raise LegacyLayoutError(
        [
            f"{display_path(path)}: no db/schemas, db/column_mappings or db/seeds folder found (nor without db/)"
        ]
    )


def migrate_legacy(
    repository: ConfigRepository, path: Path, tenant_id: str, *, dry_run: bool = False
) -> MigrationReport:
    """Translate the legacy layout under ``path`` into the existing tenant ``tenant_id``'s folder."""
    root = find_legacy_root(path)
    if repository.registry.get(tenant_id) is None or not repository.tenant_dir(tenant_id).is_dir():
        raise LegacyLayoutError(
            [f"tenant {tenant_id!r} does not exist: create it first with `datawiz tenants new {tenant_id}`"]
        )
    tenant = repository.load_tenant(tenant_id)
    report = MigrationReport(source=root, tenant_id=tenant_id)
    migration = _Migration(repository.catalog, tenant, root, repository.root, report)
    migration.run()
    if not dry_run:
        migration.write()
    return migration.report


@dataclass
class _Migration:
    catalog: Catalog
    tenant: Tenant
    root: Path
    config_root: Path
    report: MigrationReport
    files: dict[Path, bytes | str] = field(default_factory=dict)
    """What to write: target path -> content (bytes are copied as they are)."""

    def run(self) -> None:
        known = {"column_mappings", "schemas", "seeds", "computed_columns.yaml"}
        computed = self._computed_columns()
        self._column_mappings(computed)
        self._seeds()
        self._schemas()
        for item in sorted(self.root.iterdir()):
            if item.name not in known and not item.name.startswith("."):
                self.report.skip(item, "not part of the legacy layout this command imports")

    def write(self) -> None:
        for target, content in self.files.items():
            _write_atomically(target, content)
            self.report.written.append(target)

    # ---------------------------------------------------------------- column mappings

    def _computed_columns(self) -> dict[str, list[dict[str, str]]]:
        path = self.root / "computed_columns.yaml"
        if not path.is_file():
            return {}
        try:
            data = read_yaml(path)
        except ConfigError as exc:
            self.report.not_translated.extend(exc.problems)
            return {}
        found = {}
        for table, entries in data.items():
            name = _snake(str(table))
            if name not in self.catalog.tables:
                self.report.skip(path, f"{table}: not a table in the catalog")
                continue
            found[name] = _computed_list(entries)
        return found

    def _column_mappings(self, computed: dict[str, list[dict[str, str]]]) -> None:
        folder = self.root / "column_mappings"
        paths = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []
        for path in paths:
            try:
                data = read_yaml(path)
            except ConfigError as exc:
                self.report.not_translated.extend(exc.problems)
                continue
            self._column_mapping(path, data, computed)

    def _column_mapping(
        self, path: Path, data: dict[str, Any], computed: dict[str, list[dict[str, str]]]
    ) -> None:
        values = {key: _first(data, names) for key, names in _KEYS.items()}
        loose_csv = {key: _first(data, names) for key, names in _CSV_KEYS.items()}
        used = {name for names in (*_KEYS.values(), *_CSV_KEYS.values(), _IGNORED_KEYS) for name in names}
        for key in data:
            if key not in used:
                self.report.skip(path, f"key {key!r}: not translated")
        name = _snake(str(values["table"] or _unnumbered(path.stem)))
        table = self.catalog.tables.get(name)
        if table is None:
            self.report.skip(path, f"table {name!r} is not in the catalog: nothing imported")
            return
        current = self.tenant.mapping(table.name)
        columns = self._columns(path, table, values["columns"])
        if columns is None:
            return
        self._compare_types(path, table, values["dtypes"])
        for target, fmt in _per_column(values["date_formats"], table, temporal=True).items():
            if target in columns:
                columns[target]["format"] = fmt
        for target, digits in _per_column(values["round"], table, temporal=False).items():
            if target in columns and table.column(target).type.is_numeric:
                columns[target]["round"] = int(digits)
        source: dict[str, Any] = {}
        patterns = values["patterns"]
        if patterns:
            source["patterns"] = [patterns] if isinstance(patterns, str) else [str(p) for p in patterns]
        elif current is not None:
            source["patterns"] = current.source.patterns
            self.report.skip(
                path, f"no source file named: kept the current patterns {current.source.patterns}"
            )
        else:
            self.report.skip(path, "no source file named and no current mapping to take patterns from")
            return
        if values["format"]:
            source["format"] = str(values["format"]).lower().replace("xlsx", "excel").replace("xls", "excel")
        nested = values["csv"] if isinstance(values["csv"], dict) else {}
        csv_options = {**nested, **{k: v for k, v in loose_csv.items() if v is not None}}
        if csv_options:
            source["csv"] = csv_options
        if values["sheet"] is not None:
            source["excel"] = {"sheet": values["sheet"]}
        legacy_computed = [*_computed_list(values["computed"]), *computed.get(table.name, [])]
        filters = [str(text) for text in values["filters"] or []]
        self._emit_mapping(path, table, current, source, columns, legacy_computed, filters)

    def _columns(self, path: Path, table: CatalogTable, spec: Any) -> dict[str, dict[str, Any]] | None:
        pairs = _pairs(spec, set(table.column_names))
        if not pairs:
            self.report.skip(path, "no column mapping found: nothing imported")
            return None
        columns: dict[str, dict[str, Any]] = {}
        for source, target in pairs:
            target_name = _snake(target)
            if target_name not in table.column_names:
                self.report.skip(
                    path, f"column {source!r} -> {target!r}: {target!r} is not a column of {table.name}"
                )
                continue
            columns[target_name] = {"source": source}
        return columns

    def _compare_types(self, path: Path, table: CatalogTable, dtypes: Any) -> None:
        if not isinstance(dtypes, dict):
            return
        for column, legacy in dtypes.items():
            name = _snake(str(column))
            if name not in table.column_names:
                continue
            try:
                same = ColumnType.parse(str(legacy)) == table.column(name).type
            except ValueError:
                same = False
            if not same:
                self.report.skip(
                    path,
                    f"dtype of {name}: {legacy!r} not translated; the catalog's type "
                    f"{table.column(name).type} applies to every tenant",
                )

    def _emit_mapping(
        self,
        origin: Path,
        table: CatalogTable,
        current: TableMapping | None,
        source: dict[str, Any],
        columns: dict[str, dict[str, Any]],
        computed: list[dict[str, str]],
        filters: list[str],
    ) -> None:
        """The new mapping, with what still applies of the current one, checked before it is kept."""
        rules = self.tenant.settings.business_rules
        scope = Scope(self.tenant.tenant_id, table.name)
        provided = list(columns)
        kept_computed = []
        for entry in computed:
            if _compiles(
                entry["expr"], rules, provided, scope, origin, self.report, f"computed {entry['name']}"
            ):
                kept_computed.append(entry)
                provided.append(entry["name"])
        if current is not None:
            for extra in current.computed:
                if extra.name in provided:
                    continue
                if _compiles(extra.expr, rules, provided, scope, origin, None, ""):
                    kept_computed.append({"name": extra.name, "expr": extra.expr})
                    provided.append(extra.name)
                else:
                    self.report.skip(
                        origin, f"the current mapping's computed column {extra.name} no longer applies"
                    )
        filters = [
            text for text in filters if _compiles(text, rules, provided, scope, origin, self.report, "filter")
        ]
        rules_kept: list[dict[str, Any]] = []
        if current is not None:
            for text in current.filters:
                if text in filters:
                    continue
                if _compiles(text, rules, provided, scope, origin, None, ""):
                    filters.append(text)
                else:
                    self.report.skip(origin, f"the current mapping's filter {text!r} no longer applies")
            for rule in current.validations:
                if set(_rule_columns(rule)) <= set(provided):
                    rules_kept.append(rule.model_dump(exclude_defaults=True) | {"rule": rule.rule})
                else:
                    self.report.skip(
                        origin,
                        f"the current mapping's {rule.rule} rule on {', '.join(_rule_columns(rule))} "
                        "no longer applies",
                    )
        mapping: dict[str, Any] = {
            "version": current.version if current is not None else 1,
            "source": source,
            "columns": {t: (c["source"] if len(c) == 1 else c) for t, c in columns.items()},
        }
        if kept_computed:
            mapping["computed"] = kept_computed
        if filters:
            mapping["filters"] = filters
        if rules_kept:
            mapping["validations"] = rules_kept
        target = self.tenant.config_dir / "mappings" / f"{table.name}.yaml"
        if self._keep_mapping(origin, table, target, mapping):
            self.report.translated.append(
                f"{display_path(origin)} -> {display_path(target)} ({len(columns)} columns)"
            )

    def _keep_mapping(self, origin: Path, table: CatalogTable, target: Path, mapping: dict[str, Any]) -> bool:
        try:
            model = validate_model(TableMapping, mapping, target)
        except ConfigError as exc:
            self.report.skip(origin, "the translated mapping is invalid: " + "; ".join(exc.problems))
            return False
        problems = model.problems_against(table)
        if problems:
            self.report.skip(
                origin, "the translated mapping does not fit the catalog: " + "; ".join(problems)
            )
            return False
        header = (
            f"# {table.name}: imported by `datawiz migrate-legacy` from {origin.name}.\n"
            f"# Check it with `datawiz tenants validate {self.tenant.tenant_id}` and\n"
            f"# `datawiz tenants preview {self.tenant.tenant_id} {table.name}`.\n"
        )
        self.files[target] = header + yaml.safe_dump(mapping, sort_keys=False, allow_unicode=True, width=100)
        return True

    # ---------------------------------------------------------------- seeds

    def _seeds(self) -> None:
        folder = self.root / "seeds"
        if not folder.is_dir():
            return
        declared = self._seed_mapping(folder / "SEED_MAPPING.py")
        seed_tables = {table.name: table for table in self.catalog if table.source == "seed"}
        for path in sorted(folder.iterdir()):
            if path.name == "SEED_MAPPING.py" or path.name.startswith("."):
                continue
            if path.suffix.lower() != ".csv":
                self.report.skip(path, "only CSV seed files are imported")
                continue
            self.files[self.tenant.seeds_dir / path.name] = path.read_bytes()
            name = declared.get(path.name) or declared.get(path.stem) or _seed_table_for(path, seed_tables)
            table = seed_tables.get(name or "")
            if table is None:
                self.report.skip(path, "copied to seeds/, but no seed table of the catalog takes it")
                continue
            self._seed_table_mapping(path, table)

    def _seed_mapping(self, path: Path) -> dict[str, str]:
        """SEED_MAPPING.py's file -> table pairs, read without running it."""
        if not path.is_file():
            return {}
        found: dict[str, str] = {}
        for value in _python_literals(path, self.report):
            if not isinstance(value, dict):
                continue
            for key, item in value.items():
                if isinstance(item, dict):
                    file = item.get("file") or item.get("csv") or item.get("csv_file") or item.get("source")
                    table = item.get("table") or item.get("table_name") or key
                    if file:
                        found[str(file)] = _snake(str(table if table != file else key))
                elif isinstance(item, str):
                    file, table = (key, item) if str(key).lower().endswith(".csv") else (item, key)
                    found[str(file)] = _snake(str(table))
        return found

    def _seed_table_mapping(self, path: Path, table: CatalogTable) -> None:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            header = next(csv.reader(stream), [])
        columns: dict[str, dict[str, Any]] = {}
        for column, source, exact in _match_columns(header, table.column_names):
            columns[column] = {"source": source}
            if not exact:
                self.report.translated.append(
                    f"{display_path(path)}: {source!r} taken as {table.name}.{column}"
                )
        for column in table.column_names:
            if column not in columns:
                self.report.skip(path, f"no column of the file matches {table.name}.{column}")
        current = self.tenant.mapping(table.name)
        source: dict[str, Any] = {"patterns": [path.name], "format": "csv"}
        self._emit_mapping(path, table, current, source, columns, [], [])

    # ---------------------------------------------------------------- schemas

    def _schemas(self) -> None:
        folder = self.root / "schemas"
        if not folder.is_dir():
            return
        for sub in sorted(folder.iterdir()):
            if sub.name == "tables" and sub.is_dir():
                for path in _sql_sources(sub):
                    for statement in _statements(path, self.report):
                        self._compare_table(path, statement)
            elif sub.name in _SQL_FOLDERS and sub.is_dir():
                for path in _sql_sources(sub):
                    self._sql_model(path, _SQL_FOLDERS[sub.name])
            elif not sub.name.startswith((".", "__")):
                self.report.skip(sub, "not translated (only tables/, views/ and matviews/ are)")

    def _compare_table(self, path: Path, statement: str) -> None:
        try:
            create = sqlglot.parse_one(statement, read=SQL_DIALECT)
        except sqlglot.errors.ParseError as exc:
            self.report.skip(path, f"a statement could not be parsed: {str(exc).splitlines()[0]}")
            return
        if not isinstance(create, exp.Create) or not isinstance(create.this, exp.Schema):
            return
        name = _snake(create.this.this.name)
        table = self.catalog.tables.get(name)
        if table is None:
            self.report.skip(
                path, f"table {name!r} has no catalog table; the catalog is shared and not changed"
            )
            return
        for column in create.this.find_all(exp.ColumnDef):
            column_name = _snake(column.name)
            if column_name not in table.column_names:
                kind = column.args.get("kind")
                shown = kind.sql(dialect=SQL_DIALECT) if kind else "?"
                self.report.skip(path, f"column {name}.{column.name} ({shown}) is not in the catalog")
        self.report.translated.append(f"{display_path(path)}: table {name} compared with the catalog")

    def _sql_model(self, path: Path, kind: str) -> None:
        """A legacy view becomes the tenant's own body of the shared model of the same name."""
        statements = _statements(path, self.report)
        if len(statements) != 1:
            self.report.skip(
                path, f"{len(statements)} SQL statements found; one CREATE ... AS SELECT expected"
            )
            return
        try:
            statement = sqlglot.parse_one(statements[0], read=SQL_DIALECT)
        except sqlglot.errors.ParseError as exc:
            self.report.skip(path, f"SQL not imported, it does not parse: {str(exc).splitlines()[0]}")
            return
        query = statement.expression if isinstance(statement, exp.Create) else statement
        if not isinstance(query, exp.Query):
            self.report.skip(path, "no SELECT found in the statement")
            return
        name = _snake(statement.this.name) if isinstance(statement, exp.Create) else _unnumbered(path.stem)
        shared = self.config_root / SQL_DIR / kind / f"{name}.sql"
        if not shared.is_file():
            self.report.skip(
                path,
                f"{name!r} is not a shared model ({display_path(shared)}): tenants replace shared "
                "models but do not add their own; propose it as a shared model",
            )
            return
        qualified = [table for table in query.find_all(exp.Table) if table.args.get("db")]
        for table in qualified:
            table.set("db", None)
            table.set("catalog", None)
        if qualified:
            self.report.translated.append(f"{display_path(path)}: database names removed from its tables")
        target = self.tenant.config_dir / SQL_DIR / kind / f"{name}.sql"
        self.files[target] = (
            f"-- {name}: this tenant's own version, imported by `datawiz migrate-legacy` from {path.name}.\n"
            + query.sql(dialect=SQL_DIALECT, pretty=True)
            + "\n"
        )
        self.report.translated.append(f"{display_path(path)} -> {display_path(target)}")


def _first(data: dict[str, Any], names: tuple[str, ...]) -> Any:
    return next((data[name] for name in names if name in data), None)


def _snake(name: str) -> str:
    """``DimMaterialMapping`` / ``dim-material mapping`` -> ``dim_material_mapping``."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _unnumbered(stem: str) -> str:
    """``07_fact_invoice_details`` -> ``fact_invoice_details`` (legacy files are numbered in load order)."""
    return _snake(re.sub(r"^\d+[_-]", "", stem))


def _normalized(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _match_columns(header: list[str], columns: list[str]) -> list[tuple[str, str, bool]]:
    """(column, header name, exact?) pairs: equal names (case, ``_`` and spaces ignored) first,
    then a name that is the other's only prefix (``SalesGroup`` -> ``sales_group_code``)."""
    matched: list[tuple[str, str, bool]] = []
    free = {_normalized(name): name for name in header}
    for column in columns:
        if _normalized(column) in free:
            matched.append((column, free.pop(_normalized(column)), True))
    taken = {column for column, _, _ in matched}
    unmatched = [_normalized(column) for column in columns if column not in taken]
    for column in columns:
        if column in taken:
            continue
        candidates = [name for name in free if _prefix_related(name, _normalized(column))]
        if len(candidates) == 1 and sum(_prefix_related(candidates[0], key) for key in unmatched) == 1:
            matched.append((column, free.pop(candidates[0]), False))
    return sorted(matched, key=lambda item: columns.index(item[0]))


def _prefix_related(one: str, other: str) -> bool:
    return one.startswith(other) or other.startswith(one)


def _pairs(spec: Any, catalog_columns: set[str]) -> list[tuple[str, str]]:
    """(source column, target column) pairs from a legacy column mapping, in either direction."""
    if isinstance(spec, dict):
        items = [(str(k), str(v)) for k, v in spec.items() if isinstance(v, str | int | float)]
        keys_are_targets = sum(_snake(k) in catalog_columns for k, _ in items)
        values_are_targets = sum(_snake(v) in catalog_columns for _, v in items)
        if keys_are_targets > values_are_targets:
            return [(v, k) for k, v in items]
        return items
    pairs = []
    for entry in spec if isinstance(spec, list) else []:
        if not isinstance(entry, dict):
            continue
        for source_key, target_key in _PAIR_KEYS:
            if source_key in entry and target_key in entry:
                pairs.append((str(entry[source_key]), str(entry[target_key])))
                break
    return pairs


def _per_column(spec: Any, table: CatalogTable, *, temporal: bool) -> dict[str, Any]:
    """A per-column setting (a dict by column, or one value for every DATE/DATETIME column)."""
    if isinstance(spec, dict):
        return {_snake(str(k)): v for k, v in spec.items() if _snake(str(k)) in table.column_names}
    if spec is not None and temporal:
        return {column.name: spec for column in table.columns if column.type.is_temporal}
    return {}


def _computed_list(entries: Any) -> list[dict[str, str]]:
    if isinstance(entries, dict):
        return [{"name": _snake(str(k)), "expr": str(v)} for k, v in entries.items()]
    found = []
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("name"):
            expr = entry.get("expr") or entry.get("expression") or entry.get("formula")
            if expr:
                found.append({"name": _snake(str(entry["name"])), "expr": str(expr)})
    return found


def _compiles(
    text: str,
    rules: BusinessRules,
    columns: list[str],
    scope: Scope,
    origin: Path,
    report: MigrationReport | None,
    what: str,
) -> bool:
    try:
        compile_sql(text, business_rules=rules, columns=columns, scope=scope, where=what)
    except TransformError as exc:
        if report is not None:
            report.skip(origin, f"{what} not imported: {exc}")
        return False
    return True


def _rule_columns(rule: Any) -> list[str]:
    if isinstance(rule, NotNullRule | UniqueRule):
        return list(rule.columns)
    if isinstance(rule, AcceptedValuesRule | RangeRule | RelationshipRule):
        return [rule.column]
    return []  # expression rules are checked by `datawiz tenants validate`


def _seed_table_for(path: Path, seed_tables: dict[str, CatalogTable]) -> str | None:
    """The seed table whose description names the legacy file, or whose name matches it."""
    for table in seed_tables.values():
        if re.search(rf"\b{re.escape(path.name)}\b", table.description):
            return table.name
    name = _snake(path.stem)
    candidates = (name, f"ref_{name}", f"ref_{name.removeprefix('dim_')}")
    return next((candidate for candidate in candidates if candidate in seed_tables), None)


def _sql_sources(folder: Path) -> list[Path]:
    return sorted(
        path for path in folder.iterdir() if path.suffix in (".py", ".sql") and path.name != "__init__.py"
    )


def _statements(path: Path, report: MigrationReport) -> list[str]:
    """The SQL statements of a .sql file, or the SQL string constants of a .py file (not run)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".sql":
        return [part.strip() for part in text.split(";") if part.strip()]
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        report.skip(path, f"not valid Python: {exc.msg} (line {exc.lineno})")
        return []
    in_fstrings = {
        id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in ast.walk(node)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            report.skip(path, f"line {node.lineno}: SQL built with an f-string is not imported")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in in_fstrings:
            sql = node.value.strip()
            if re.match(r"(?is)^(create|with|select)\b", sql):
                found.append(sql.rstrip(";"))
    return found


def _python_literals(path: Path, report: MigrationReport) -> list[Any]:
    """The values of the file's top-level assignments that are plain literals."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        report.skip(path, f"not valid Python: {exc.msg} (line {exc.lineno})")
        return []
    values = []
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            try:
                values.append(ast.literal_eval(node.value))
            except (ValueError, SyntaxError, TypeError):
                report.skip(path, f"line {node.lineno}: not a plain literal, not imported")
    return values


def _write_atomically(target: Path, content: bytes | str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content.encode("utf-8") if isinstance(content, str) else content)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
