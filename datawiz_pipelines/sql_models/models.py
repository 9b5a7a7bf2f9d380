"""The shared SQL models under ``tenant_configs/sql/``, read once when the definitions load.

::

    sql/views/<name>.sql       a view             -> asset views/<name>
    sql/matviews/<name>.sql    a materialized view -> asset matviews/<name>
    sql/derived/<name>.sql     a derived table     -> asset derived/<name>
    sql/security.yaml          relations row-level security can protect -> assets security/<relation>

A model file is one StarRocks query (its SELECT body; the platform writes the CREATE).
The comment lines that open it are its description; among them, in a materialized
view, ``-- refresh: <scheme>`` sets the StarRocks refresh scheme (default ``ASYNC``).
The name is the file's stem, unique across kinds and distinct from every catalog table.

Models are shared by every tenant, so the asset graph does not grow with tenants: a
tenant may replace a model's body (``tenants/<id>/sql/<kind>/<name>.sql``, reading no
table the shared model does not read) or opt out of it (``sql_models.disabled``), but
never add one (see ``tenant_models.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pydantic import Field

from datawiz_pipelines.config.catalog import Catalog
from datawiz_pipelines.config.errors import ConfigError, display_path
from datawiz_pipelines.config.governance import MODEL_KINDS
from datawiz_pipelines.config.identifiers import Identifier, check_identifier
from datawiz_pipelines.config.registry import StrictModel
from datawiz_pipelines.config.yaml_files import load_model
from datawiz_pipelines.sql_models.parsing import SqlModelError, parse_select, relations_read
from datawiz_pipelines.warehouse.row_security import VIEW_PREFIX, TerritoryJoin

SQL_DIR = "sql"
SECURITY_FILE = "security.yaml"
SECURITY_KIND = "security"
WAREHOUSE_LAYER = "warehouse"

SQL_MODEL_GROUPS = (*MODEL_KINDS, SECURITY_KIND)
"""The asset groups of SQL models: one per kind, plus ``security``."""

OBJECT_TYPES = {"views": "view", "matviews": "materialized_view", "derived": "table"}
DEFAULT_REFRESH = "ASYNC"
_REFRESH = re.compile(
    r"^(MANUAL|ASYNC(\s+START\s*\(\s*'[0-9: -]+'\s*\))?(\s+EVERY\s*\(\s*INTERVAL\s+\d+\s+"
    r"(DAY|HOUR|MINUTE|SECOND)\s*\))?)$",
    re.IGNORECASE,
)
_DIRECTIVE = re.compile(r"^([a-z_]+):\s*(.*)$")
DIRECTIVES = {"matviews": ("refresh",), "views": (), "derived": ()}


@dataclass(frozen=True)
class SqlModel:
    kind: str
    """``views``, ``matviews`` or ``derived``: the folder, the asset key prefix and group."""
    name: str
    path: Path
    description: str
    sql: str
    """The query as written, ``${rule}`` placeholders included."""
    reads: tuple[str, ...]
    """Catalog tables and models the query reads."""
    refresh: str | None = None
    """Materialized views: the StarRocks refresh scheme."""

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def object_type(self) -> str:
        return OBJECT_TYPES[self.kind]


class TerritoryJoinConfig(StrictModel):
    column: Identifier = Field(description="column of the protected relation")
    table: Identifier = Field(description="table (or model) that holds the territory")
    to_column: Identifier = Field(description="its column matching `column`")


class SecurityRelationConfig(StrictModel):
    via: TerritoryJoinConfig | None = Field(
        default=None, description="how the relation reaches the territory, when it has no territory column"
    )
    description: str = ""


class SecurityConfig(StrictModel):
    territory_column: Identifier = "wss_territory_code"
    relations: dict[Identifier, SecurityRelationConfig] = Field(default_factory=dict)


@dataclass(frozen=True)
class SecurityTarget:
    """A relation row-level security can protect, and how its rows reach a territory."""

    relation: str
    territory_column: str
    via: TerritoryJoin | None
    description: str = ""

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.relation,) if self.via is None else (self.relation, self.via.table)


@dataclass(frozen=True)
class SqlModelSet:
    """Every shared model and security target, validated against the catalog."""

    root: Path
    catalog: Catalog
    models: dict[str, SqlModel]
    """By name, in dependency order (a model after everything it reads)."""
    security: dict[str, SecurityTarget]

    @property
    def catalog_tables(self) -> frozenset[str]:
        return frozenset(self.catalog.tables)

    def asset_path(self, relation: str) -> list[str]:
        """The asset key path of a relation a model reads: ``warehouse/<table>`` or ``<kind>/<name>``."""
        if relation in self.catalog.tables:
            return [WAREHOUSE_LAYER, relation]
        return [self.models[relation].kind, relation]

    def by_ref(self, ref: str) -> SqlModel | None:
        kind, _, name = ref.partition("/")
        model = self.models.get(name)
        return model if model is not None and model.kind == kind else None

    @cached_property
    def readers(self) -> dict[str, list[str]]:
        """Relation name -> refs of the models and security targets reading it."""
        found: dict[str, list[str]] = {}
        for model in self.models.values():
            for name in model.reads:
                found.setdefault(name, []).append(model.ref)
        for target in self.security.values():
            for name in target.reads:
                found.setdefault(name, []).append(f"{SECURITY_KIND}/{target.relation}")
        return found


def sql_dir(config_dir: Path) -> Path:
    return Path(config_dir) / SQL_DIR


def read_model_file(path: Path, kind: str, *, require_description: bool = True) -> tuple[str, str, dict]:
    """(description, query text, directives) of a model file."""
    where = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SqlModelError(f"{where}: cannot read the file: {exc}") from None
    description: list[str] = []
    directives: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            if description:
                description.append("")
            continue
        if not stripped.startswith("--"):
            break
        comment = stripped[2:].strip()
        match = _DIRECTIVE.fullmatch(comment)
        if match and match[1] in DIRECTIVES[kind]:
            directives[match[1]] = match[2].strip()
        elif comment:
            description.append(comment)
    summary = re.sub(r"\s+", " ", " ".join(description)).strip()
    if require_description and not summary:
        raise SqlModelError(f"{where}: start the file with a comment (-- ...) that describes the model")
    if "refresh" in directives:
        refresh = re.sub(r"\s+", " ", directives["refresh"]).upper()
        if not _REFRESH.fullmatch(refresh):
            raise SqlModelError(
                f"{where}: refresh: {directives['refresh']!r} is not a refresh scheme; write ASYNC, MANUAL "
                "or ASYNC EVERY (INTERVAL <n> DAY|HOUR|MINUTE|SECOND)"
            )
        directives["refresh"] = refresh
    return summary, text, directives


def load_sql_models(config_dir: Path, catalog: Catalog) -> SqlModelSet:
    """Read and check every shared model; a ConfigError lists every problem, each naming its file."""
    root = sql_dir(config_dir)
    problems: list[str] = []
    models: dict[str, SqlModel] = {}
    for kind, path in model_files(root, problems):
        model = _read_model(path, kind, catalog, models, problems)
        if model is not None:
            models[model.name] = model
    _check_reads(models, catalog, problems)
    ordered = _dependency_order(models, problems)
    security = _read_security(root / SECURITY_FILE, catalog, models, problems)
    if problems:
        raise ConfigError(problems)
    return SqlModelSet(root=root, catalog=catalog, models=ordered, security=security)


def model_files(root: Path, problems: list[str]) -> list[tuple[str, Path]]:
    """(kind, path) of every ``<kind>/<name>.sql`` under ``root``, the shared models' folder or a
    tenant's overrides; a folder that is no model kind is added to ``problems``."""
    if not root.is_dir():
        return []
    for entry in sorted(root.iterdir()):
        if entry.is_dir() and entry.name not in MODEL_KINDS:
            problems.append(
                f"{display_path(entry)}: unknown kind of SQL model; use one of {', '.join(MODEL_KINDS)}"
            )
    return [(kind, path) for kind in MODEL_KINDS for path in sorted((root / kind).glob("*.sql"))]


def _read_model(
    path: Path, kind: str, catalog: Catalog, models: dict[str, SqlModel], problems: list[str]
) -> SqlModel | None:
    where = display_path(path)
    name = path.stem
    try:
        check_identifier(name)
    except ValueError as exc:
        problems.append(f"{where}: the file name is the model name: {exc}")
        return None
    if name in catalog.tables:
        problems.append(f"{where}: {name!r} is a catalog table; a model needs a name of its own")
        return None
    if name.startswith(VIEW_PREFIX):
        problems.append(f"{where}: names starting with {VIEW_PREFIX!r} are kept for row-level security views")
        return None
    if name in models:
        problems.append(
            f"{where}: {name!r} is also {display_path(models[name].path)}; model names are unique"
        )
        return None
    try:
        description, text, directives = read_model_file(path, kind)
        reads = relations_read(parse_select(text, where=where), where=where)
    except SqlModelError as exc:
        problems.append(str(exc))
        return None
    refresh = directives.get("refresh", DEFAULT_REFRESH) if kind == "matviews" else None
    return SqlModel(kind, name, path, description, text, reads, refresh)


def _check_reads(models: dict[str, SqlModel], catalog: Catalog, problems: list[str]) -> None:
    for model in models.values():
        unknown = [name for name in model.reads if name not in catalog.tables and name not in models]
        if unknown:
            problems.append(
                f"{display_path(model.path)}: reads unknown table(s) {', '.join(unknown)}; a model reads "
                "catalog tables (tenant_configs/catalog/) and other models (tenant_configs/sql/)"
            )


def _dependency_order(models: dict[str, SqlModel], problems: list[str]) -> dict[str, SqlModel]:
    """Models after the models they read; a cycle is a problem naming its files."""
    ordered: dict[str, SqlModel] = {}
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in ordered or name not in models:
            return
        if name in visiting:
            cycle = [*visiting[visiting.index(name) :], name]
            problems.append(
                "SQL models read each other in a cycle: "
                + " -> ".join(display_path(models[n].path) for n in cycle)
            )
            return
        visiting.append(name)
        for read in models[name].reads:
            visit(read)
        visiting.pop()
        ordered.setdefault(name, models[name])

    for name in models:
        visit(name)
    return ordered


def _read_security(
    path: Path, catalog: Catalog, models: dict[str, SqlModel], problems: list[str]
) -> dict[str, SecurityTarget]:
    if not path.exists():
        return {}
    try:
        config = load_model(SecurityConfig, path)
    except ConfigError as exc:
        problems.extend(exc.problems)
        return {}
    where = display_path(path)
    targets: dict[str, SecurityTarget] = {}
    column = config.territory_column
    for relation, entry in config.relations.items():
        known = relation in catalog.tables or relation in models
        if not known:
            problems.append(f"{where}: relations.{relation}: not a catalog table or SQL model")
            continue
        via = entry.via
        if via is None:
            if relation in catalog.tables and column not in catalog[relation].column_names:
                problems.append(
                    f"{where}: relations.{relation}: the table has no {column} column; "
                    "say how it reaches one with via: {column, table, to_column}"
                )
                continue
            targets[relation] = SecurityTarget(relation, column, None, entry.description)
            continue
        if via.table not in catalog.tables:
            problems.append(f"{where}: relations.{relation}.via.table: {via.table!r} is not a catalog table")
            continue
        missing = [
            f"{via.table}.{c}" for c in (via.to_column, column) if c not in catalog[via.table].column_names
        ]
        if relation in catalog.tables and via.column not in catalog[relation].column_names:
            missing.append(f"{relation}.{via.column}")
        if missing:
            problems.append(f"{where}: relations.{relation}.via: unknown column(s) {', '.join(missing)}")
            continue
        join = TerritoryJoin(via.column, via.table, via.to_column)
        targets[relation] = SecurityTarget(relation, column, join, entry.description)
    return targets
