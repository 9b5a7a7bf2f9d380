"""Everything that can be checked about a tenant without running it, reported all at once.

* the registry, the catalog, the tenant's config.yaml and every mapping against its
  catalog table (through ConfigRepository, which names every file and field);
* every mapping compiled as the silver transform would (computed columns, filters,
  rules) on an empty frame, so a bad expression fails here and not in a run;
* the required secrets are set in ``.env`` (by name only; values are never shown):
  DB_PASSWORD always, AZURE_STORAGE_CONNECTION_STRING or AZURE_SAS_TOKEN when
  landing.kind is azure, SMTP_PASSWORD when notifications.smtp_user is set;
* each mapping's patterns match files in the landing (or seeds) folder: a warning,
  since files may not have arrived yet; when they match, the newest file is opened
  and its header must have every source column the mapping names (an error);
* the tenant's SQL models (its versions of the shared views, materialized views and
  derived tables, its opt-outs and row-level security), by ``datawiz_pipelines.sql_models``.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl

from datawiz_pipelines import lineage
from datawiz_pipelines.bronze.errors import SourceFileError
from datawiz_pipelines.bronze.readers import READ_ERRORS, describe_read_error, read_source
from datawiz_pipelines.bronze.source_files import SourceFile, find_source_files
from datawiz_pipelines.config.catalog import Catalog
from datawiz_pipelines.config.errors import ConfigError, display_path
from datawiz_pipelines.config.loader import ConfigRepository, Tenant
from datawiz_pipelines.config.mapping import RelationshipRule, TableMapping
from datawiz_pipelines.config.registry import TenantEntry
from datawiz_pipelines.config.secrets import TenantSecrets
from datawiz_pipelines.config.tenant import BusinessRules, TenantSettings
from datawiz_pipelines.config.yaml_files import deep_merge, load_model, read_yaml, validate_model
from datawiz_pipelines.silver.engine import transform
from datawiz_pipelines.silver.errors import TransformError
from datawiz_pipelines.sql_models.validation import problems_for_tenant
from datawiz_pipelines.storage.tenant_paths import TenantPaths

Severity = Literal["error", "warning"]
_PLACEHOLDER = re.compile(r"^change-me$|<[A-Za-z_ -]+>", re.IGNORECASE)
"""What ``.env.template`` puts where a secret goes: ``change-me`` or ``<account-key>``-style markers."""
_BRONZE_LINEAGE = {
    lineage.ROW_NUMBER: pl.UInt32(),
    lineage.SOURCE_FILE: pl.String(),
    lineage.SOURCE_MODIFIED: pl.Datetime("us"),
    lineage.LOAD_ID: pl.String(),
}


@dataclass(frozen=True)
class Problem:
    severity: Severity
    message: str
    """``<file>: <field>: <what is wrong>``; never a secret's value."""


@dataclass
class ValidationReport:
    tenant_id: str | None
    """None for problems that concern no single tenant (the registry, the catalog)."""
    problems: list[Problem] = field(default_factory=list)

    def error(self, message: str) -> None:
        self.problems.append(Problem("error", message))

    def warning(self, message: str) -> None:
        self.problems.append(Problem("warning", message))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def failed(self, *, strict: bool = False) -> bool:
        """Errors, or with ``strict`` any problem at all."""
        return bool(self.problems if strict else self.errors)


def validate_all(repository: ConfigRepository, data_dir: Path) -> Iterator[ValidationReport]:
    """The shared configuration's problems (if any), else one report per registered tenant, as each is done."""
    shared = _shared_problems(repository)
    if shared.problems:
        yield shared
        return
    for tenant_id in repository.registry.tenant_ids:
        yield validate_tenant(repository, data_dir, tenant_id)


def validate_tenant(repository: ConfigRepository, data_dir: Path, tenant_id: str) -> ValidationReport:
    report = _shared_problems(repository)
    report.tenant_id = tenant_id
    if report.problems:
        return report  # without a registry and a catalog nothing else can be judged
    entry = repository.registry.get(tenant_id)
    if entry is None:
        report.error(f"{display_path(repository.registry_path)}: tenant {tenant_id!r} is not registered")
        return report
    folder = repository.tenant_dir(tenant_id)
    tenant: Tenant | None = None
    try:
        tenant = repository.load_tenant(tenant_id)
        settings, mappings = tenant.settings, tenant.mappings
    except ConfigError as exc:
        for problem in exc.problems:
            report.error(problem)
        settings, mappings = _settings(repository, folder), _loadable_mappings(repository.catalog, folder)
    if settings is not None and settings.landing.kind == "azure" and not entry.azure_container:
        report.error(
            f"{display_path(repository.registry_path)}: tenant {tenant_id!r}: azure_container: "
            "required when landing.kind is azure"
        )
    _check_secrets(report, entry, settings, folder / ".env")
    if settings is not None:
        for table, mapping in mappings.items():
            _check_compiles(
                report, repository.catalog, tenant_id, table, mapping, settings.business_rules, folder
            )
    landing = TenantPaths(data_dir, tenant_id).landing
    for table, mapping in mappings.items():
        root = folder / "seeds" if repository.catalog[table].source == "seed" else landing
        _check_source_files(report, tenant_id, table, mapping, root, folder)
    if tenant is not None:  # the models are judged against a tenant whose configuration loads
        for problem in problems_for_tenant(repository, tenant):
            report.error(problem)
    return report


def _shared_problems(repository: ConfigRepository) -> ValidationReport:
    report = ValidationReport(tenant_id=None)
    for load in (lambda: repository.registry, lambda: repository.catalog):
        try:
            load()
        except ConfigError as exc:
            for problem in exc.problems:
                report.error(problem)
    return report


def _settings(repository: ConfigRepository, folder: Path) -> TenantSettings | None:
    """The merged settings, or None when they are invalid (load_tenant reported why)."""
    try:
        merged = deep_merge(repository.shared_defaults(), read_yaml(folder / "config.yaml"))
        return validate_model(TenantSettings, merged, folder / "config.yaml")
    except ConfigError:
        return None


def _loadable_mappings(catalog: Catalog, folder: Path) -> dict[str, TableMapping]:
    """The mappings that are fine on their own, so their files can be checked while others are broken."""
    mappings = {}
    for path in sorted((folder / "mappings").glob("*.yaml")):
        table = catalog.tables.get(path.stem)
        try:
            mapping = load_model(TableMapping, path)
        except ConfigError:
            continue
        if table is not None and not mapping.problems_against(table):
            mappings[table.name] = mapping
    return mappings


def required_secrets(
    entry: TenantEntry, settings: TenantSettings | None
) -> list[tuple[tuple[str, ...], str]]:
    """(names of which one must be set, why) for the tenant."""
    required: list[tuple[tuple[str, ...], str]] = [
        (("DB_PASSWORD",), f"the password of the warehouse user {entry.database_user}")
    ]
    if settings is not None and settings.landing.kind == "azure":
        required.append((("AZURE_STORAGE_CONNECTION_STRING", "AZURE_SAS_TOKEN"), "landing.kind is azure"))
    if settings is not None and settings.notifications.smtp_user:
        required.append((("SMTP_PASSWORD",), "notifications.smtp_user is set"))
    return required


def _check_secrets(
    report: ValidationReport, entry: TenantEntry, settings: TenantSettings | None, env_file: Path
) -> None:
    where = display_path(env_file)
    if not env_file.is_file():
        names = ", ".join(" or ".join(names) for names, _ in required_secrets(entry, settings))
        report.error(f"{where}: file not found: copy .env.template to .env and set {names}")
        return
    secrets = TenantSecrets.from_env_file(env_file)
    for names, why in required_secrets(entry, settings):
        values = [getattr(secrets, name, None) for name in names]
        label = " or ".join(names)
        if not any(values):
            report.error(f"{where}: {label}: not set (required: {why})")
        elif all(value is None or _PLACEHOLDER.search(value.get_secret_value()) for value in values):
            report.error(f"{where}: {label}: still the placeholder from .env.template (required: {why})")


def _check_compiles(
    report: ValidationReport,
    catalog: Catalog,
    tenant_id: str,
    table: str,
    mapping: TableMapping,
    business_rules: BusinessRules,
    folder: Path,
) -> None:
    """The mapping through the silver transform on an empty frame: every expression and rule compiles."""
    sources = {spec.source: pl.String() for spec in mapping.columns.values()}
    references = {
        rule.to_table: pl.LazyFrame(schema={c.name: c.type.polars for c in catalog[rule.to_table].columns})
        for rule in mapping.validations
        if isinstance(rule, RelationshipRule) and rule.to_table in catalog.tables
    }
    try:
        transform(
            pl.LazyFrame(schema={**sources, **_BRONZE_LINEAGE}),
            tenant_id=tenant_id,
            table=catalog[table],
            mapping=mapping,
            business_rules=business_rules,
            references=references,
        )
    except TransformError as exc:
        report.error(f"{display_path(folder / 'mappings' / f'{table}.yaml')}: {_without_scope(exc)}")
    except pl.exceptions.PolarsError as exc:
        report.error(f"{display_path(folder / 'mappings' / f'{table}.yaml')}: does not compile: {exc}")


def _check_source_files(
    report: ValidationReport, tenant_id: str, table: str, mapping: TableMapping, root: Path, folder: Path
) -> None:
    where = display_path(folder / "mappings" / f"{table}.yaml")
    files = find_source_files(root, mapping.source.patterns)
    if not files:
        report.warning(
            f"{where}: source.patterns: no file in {display_path(root)} matches {mapping.source.patterns}"
        )
        return
    newest = max(files, key=lambda file: (file.modified, file.relative_path))
    try:
        columns = _source_columns(newest, mapping, tenant_id, table)
    except SourceFileError as exc:
        report.error(f"{where}: {exc}")
        return
    shown = (
        f"{newest.relative_path} (the newest of {len(files)} matching files)"
        if len(files) > 1
        else newest.relative_path
    )
    for target, spec in mapping.columns.items():
        if spec.source not in columns:
            available = ", ".join(repr(name) for name in columns)
            report.error(
                f"{where}: columns.{target}: source column {spec.source!r} is not in {shown}; "
                f"its columns are {available}"
            )


def _source_columns(file: SourceFile, mapping: TableMapping, tenant_id: str, table: str) -> list[str]:
    """The file's column names as bronze reads them (scratch copies go to a private temp folder)."""
    with tempfile.TemporaryDirectory(prefix="datawiz-validate-") as scratch:
        try:
            frame = read_source(
                file,
                mapping.source,
                tenant_id=tenant_id,
                table=table,
                scratch_dir=Path(scratch),
                load_id="validate",
            )
            names = frame.collect_schema().names()
        except READ_ERRORS as exc:
            raise describe_read_error(exc, file, tenant_id, table) from exc
    return [name for name in names if name not in _BRONZE_LINEAGE]


def _without_scope(error: TransformError) -> str:
    """The message without its ``tenant x, table y:`` lead; the file path says both."""
    text = str(error)
    prefix = f"tenant {error.tenant_id}, table {error.table}: "
    return text.removeprefix(prefix)
