"""What schedules and sensors need to know about every tenant, cheap to ask again and again.

Schedules and sensors are evaluated every few minutes in a long-lived process, over
every registered tenant (1,000 in the scale benchmark). ``ConfigRepository.load_tenant``
reads and validates everything a run needs; here only the parts automation needs are
read: the registry, each tenant's ``scheduler`` settings and its mappings' ``source``
(where its files are). Each file is parsed again only when its size or modification
time changes, so a tick after the first costs one ``stat`` per file; an edit to a
tenant's configuration takes effect at the next tick, without reloading the code
location.

A broken file never hides the other tenants: its problem is reported next to the
answers for everyone else.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from datawiz_pipelines.config.catalog import Catalog
from datawiz_pipelines.config.errors import ConfigError, display_path
from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.config.mapping import SourceSpec
from datawiz_pipelines.config.registry import Registry
from datawiz_pipelines.config.tenant import SchedulerSettings
from datawiz_pipelines.config.yaml_files import deep_merge, load_model, read_yaml

ModelT = TypeVar("ModelT", bound=BaseModel)

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml when available: ten times faster on the thousands of files of a cold tick."""

Signature = tuple[int, int, int] | None
"""``(size, mtime_ns, inode)`` of a file, ``None`` when it does not exist."""


@dataclass(frozen=True)
class TableSource:
    """Where one tenant's files for one table are: its landing zone or its seeds folder."""

    table: str
    origin: Literal["landing", "seed"]
    patterns: tuple[str, ...]


class TenantIndex:
    """Cached registry, scheduler settings and file patterns of every tenant under ``config_dir``."""

    _shared: dict[Path, TenantIndex] = {}
    _shared_lock = threading.Lock()

    def __init__(self, config_dir: Path):
        self.config_dir = Path(config_dir)
        self._repository = ConfigRepository(self.config_dir)
        self._lock = threading.Lock()
        self._files: dict[Path, tuple[Signature, Any]] = {}
        self._registry: tuple[Signature, Registry] | None = None
        self._catalog: Catalog | None = None
        self._scheduler: dict[str, tuple[tuple, SchedulerSettings]] = {}
        self._sources: dict[Path, tuple[Signature, TableSource | list[str]]] = {}

    @classmethod
    def shared(cls, config_dir: Path) -> TenantIndex:
        """One index per configuration folder and process, shared by every schedule and sensor."""
        key = Path(config_dir).resolve()
        with cls._shared_lock:
            if key not in cls._shared:
                cls._shared[key] = cls(key)
            return cls._shared[key]

    # -- registry and catalog ------------------------------------------------------------

    def registry(self) -> Registry:
        """The registry as it is on disk now (raises ``ConfigError`` when it is invalid)."""
        path = self._repository.registry_path
        signature = _signature(path)
        with self._lock:
            if self._registry is None or self._registry[0] != signature:
                self._registry = (signature, load_model(Registry, path))
            return self._registry[1]

    def catalog(self) -> Catalog:
        """The table catalog, read once: a catalog change needs a code location reload anyway."""
        with self._lock:
            if self._catalog is None:
                self._catalog = self._repository.catalog
            return self._catalog

    # -- scheduler settings --------------------------------------------------------------

    def scheduler_settings(
        self, tenant_ids: list[str]
    ) -> tuple[dict[str, SchedulerSettings], dict[str, ConfigError]]:
        """Each tenant's ``scheduler`` settings (shared defaults laid under its config.yaml)."""
        shared_paths = sorted((self.config_dir / "shared").glob("*.yaml"))
        shared_signature = tuple((path.name, _signature(path)) for path in shared_paths)
        found: dict[str, SchedulerSettings] = {}
        problems: dict[str, ConfigError] = {}
        for tenant_id in tenant_ids:
            path = self._repository.tenant_dir(tenant_id) / "config.yaml"
            key = (shared_signature, _signature(path))
            cached = self._scheduler.get(tenant_id)
            if cached is not None and cached[0] == key:
                found[tenant_id] = cached[1]
                continue
            try:
                merged: dict = {}
                for shared_path in shared_paths:
                    merged = deep_merge(merged, self._yaml(shared_path))
                merged = deep_merge(merged, self._yaml(path))
                settings = _validate(SchedulerSettings, merged.get("scheduler") or {}, path, "scheduler")
            except ConfigError as exc:
                problems[tenant_id] = exc
                continue
            self._scheduler[tenant_id] = (key, settings)
            found[tenant_id] = settings
        return found, problems

    # -- file patterns -------------------------------------------------------------------

    def table_sources(self, tenant_id: str) -> tuple[dict[str, TableSource], list[str]]:
        """Where the tenant's files are, per mapped table, and the problems of unreadable mappings."""
        catalog = self.catalog()
        mappings_dir = self._repository.tenant_dir(tenant_id) / "mappings"
        sources: dict[str, TableSource] = {}
        problems: list[str] = []
        try:
            paths = sorted(entry.path for entry in os.scandir(mappings_dir) if entry.name.endswith(".yaml"))
        except (FileNotFoundError, NotADirectoryError):
            paths = []
        for name in paths:
            path = Path(name)
            table = catalog.tables.get(path.stem)
            if table is None:
                problems.append(f"{display_path(path)}: {path.stem!r} is not a table in the catalog")
                continue
            signature = _signature(path)
            cached = self._sources.get(path)
            if cached is None or cached[0] != signature:
                try:
                    spec = _validate(SourceSpec, _source_section(path), path, "source")
                    cached = (signature, TableSource(table.name, table.source, tuple(spec.patterns)))
                except ConfigError as exc:
                    cached = (signature, exc.problems)
                self._sources[path] = cached
            if isinstance(cached[1], TableSource):
                sources[table.name] = cached[1]
            else:
                problems.extend(cached[1])
        return sources, problems

    # -- files ---------------------------------------------------------------------------

    def _yaml(self, path: Path) -> dict:
        """``path`` parsed, from cache while its size and modification time are unchanged."""
        signature = _signature(path)
        cached = self._files.get(path)
        if cached is not None and cached[0] == signature:
            return cached[1]
        data = read_yaml(path)
        self._files[path] = (signature, data)
        return data


_TOP_LEVEL_SOURCE = re.compile(r"^source\s*:", re.MULTILINE)
_ANCHOR_OR_ALIAS = re.compile(r"(?:^|[\s\[{,:])[&*][A-Za-z_]", re.MULTILINE)


def _source_section(path: Path) -> object:
    """The ``source`` of a mapping file, without building the rest of it.

    A mapping's columns, rules and filters are most of the file and are not needed to
    find files, so only the top-level ``source:`` block (up to the next top-level key)
    is parsed. Anything unusual (no such line or several, anchors, a block that does
    not parse on its own) falls back to parsing the whole file.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{display_path(path)}: file not found"]) from None
    starts = [match.start() for match in _TOP_LEVEL_SOURCE.finditer(text)]
    if len(starts) == 1:
        lines = text[starts[0] :].splitlines()
        block = [lines[0]]
        for line in lines[1:]:
            if line[:1] not in ("", " ", "\t", "#"):
                break
            block.append(line)
        section = "\n".join(block)
        if not _ANCHOR_OR_ALIAS.search(section):
            try:
                data = yaml.load(section, Loader=_Loader)
            except yaml.YAMLError:
                data = None
            if isinstance(data, dict) and set(data) == {"source"}:
                return data["source"]
    return read_yaml(path).get("source")


def _signature(path: Path) -> Signature:
    try:
        stat = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (stat.st_size, stat.st_mtime_ns, stat.st_ino)


def _validate(model: type[ModelT], data: object, path: Path, section: str) -> ModelT:
    """``data`` (the ``section`` of the file at ``path``) as ``model``, or every problem at once."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{display_path(path)}: {'.'.join([section, *map(str, item['loc'])])}: {item['msg']}"
            for item in exc.errors(include_url=False, include_input=False)
        ]
        raise ConfigError(problems) from None
