"""Loading the configuration tree: registry, catalog, and one tenant at a time.

Layout under the configuration root (``tenant_configs/`` by default)::

    registry.yaml                     the tenants and the global limits
    catalog/<table>.yaml              canonical table schemas, shared by all tenants
    shared/*.yaml                     defaults for every tenant, merged in name order
    tenants/<id>/config.yaml          the tenant's overrides (it wins)
    tenants/<id>/.env                 the tenant's secrets (gitignored)
    tenants/<id>/mappings/<table>.yaml  how the tenant's files map onto each table
    tenants/<id>/seeds/               the tenant's reference CSVs
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from datawiz_pipelines.config.catalog import Catalog, CatalogTable
from datawiz_pipelines.config.errors import ConfigError, display_path
from datawiz_pipelines.config.mapping import TableMapping
from datawiz_pipelines.config.registry import Registry, TenantEntry
from datawiz_pipelines.config.secrets import TenantSecrets
from datawiz_pipelines.config.tenant import TenantSettings
from datawiz_pipelines.config.yaml_files import deep_merge, load_model, read_yaml, validate_model

TEMPLATE_TENANT = "_template"

DATABASE_ENV_OVERRIDES = {
    "host": "DATAWIZ_STARROCKS_HOST",
    "port": "DATAWIZ_STARROCKS_PORT",
    "http_port": "DATAWIZ_STARROCKS_HTTP_PORT",
}
"""``database:`` keys of the shared defaults the environment overrides (empty = not set)."""


def database_overrides_from_env() -> dict[str, str | int]:
    overrides: dict[str, str | int] = {}
    problems: list[str] = []
    for key, name in DATABASE_ENV_OVERRIDES.items():
        value = os.environ.get(name, "").strip()
        if not value:
            continue
        if key == "host":
            overrides[key] = value
        elif value.isdigit() and 1 <= int(value) <= 65535:
            overrides[key] = int(value)
        else:
            problems.append(f"{name}={value!r}: expected a port number (1-65535)")
    if problems:
        raise ConfigError(problems)
    return overrides


class TenantNotFoundError(ConfigError):
    pass


class TenantDisabledError(ConfigError):
    pass


@dataclass(frozen=True)
class Tenant:
    """Everything known about one tenant: registry entry, merged settings, mappings, secrets."""

    entry: TenantEntry
    settings: TenantSettings
    mappings: dict[str, TableMapping]
    secrets: TenantSecrets
    config_dir: Path

    @property
    def tenant_id(self) -> str:
        return self.entry.tenant_id

    @property
    def seeds_dir(self) -> Path:
        return self.config_dir / "seeds"

    def mapping(self, table: str) -> TableMapping | None:
        return self.mappings.get(table)


class ConfigRepository:
    """Reads the configuration tree under ``root``; every error names its file and field."""

    def __init__(self, root: Path):
        self.root = Path(root)

    @property
    def registry_path(self) -> Path:
        return self.root / "registry.yaml"

    def tenant_dir(self, tenant_id: str) -> Path:
        return self.root / "tenants" / tenant_id

    @cached_property
    def registry(self) -> Registry:
        return load_model(Registry, self.registry_path)

    @cached_property
    def catalog(self) -> Catalog:
        tables: dict[str, object] = {}
        problems: list[str] = []
        paths = sorted((self.root / "catalog").glob("*.yaml"))
        if not paths:
            raise ConfigError([f"{display_path(self.root / 'catalog')}: no table definitions"])
        for path in paths:
            try:
                table = load_model(CatalogTable, path)
            except ConfigError as exc:
                problems.extend(exc.problems)
                continue
            if table.name != path.stem:
                problems.append(f"{display_path(path)}: name: must match the file name {path.stem!r}")
            tables[table.name] = table
        if problems:
            raise ConfigError(problems)
        return validate_model(Catalog, {"tables": tables}, self.root / "catalog")

    def shared_defaults(self) -> dict:
        """``shared/*.yaml`` merged in name order, then the StarRocks address from the
        environment (``DATAWIZ_STARROCKS_HOST``/``_PORT``/``_HTTP_PORT``) over ``database:``.

        Applied here, tenants merged over these defaults and the warehouse resource (which
        reads them) agree; a tenant that sets its own ``database.host`` is on another cluster.
        """
        merged: dict = {}
        for path in sorted((self.root / "shared").glob("*.yaml")):
            merged = deep_merge(merged, read_yaml(path))
        overrides = database_overrides_from_env()
        if overrides:
            merged = deep_merge(merged, {"database": overrides})
        return merged

    def entry(self, tenant_id: str) -> TenantEntry:
        entry = self.registry.get(tenant_id)
        if entry is None:
            raise TenantNotFoundError(
                [f"{display_path(self.registry_path)}: tenant {tenant_id!r} is not registered"]
            )
        return entry

    def load_tenant(self, tenant_id: str, *, require_enabled: bool = False) -> Tenant:
        """The tenant's full configuration; every problem in every file is reported together."""
        entry = self.entry(tenant_id)
        if require_enabled and not entry.enabled:
            raise TenantDisabledError(
                [
                    f"tenant {tenant_id!r} is disabled in {display_path(self.registry_path)}; "
                    "enable it there (or with `datawiz tenants enable`) before running it"
                ]
            )
        directory = self.tenant_dir(tenant_id)
        problems: list[str] = []
        settings = self._settings(tenant_id, directory, problems)
        mappings = self._mappings(directory, problems)
        if problems:
            raise ConfigError(problems)
        assert settings is not None
        return Tenant(
            entry=entry,
            settings=settings,
            mappings=mappings,
            secrets=TenantSecrets.from_env_file(directory / ".env"),
            config_dir=directory,
        )

    def _settings(self, tenant_id: str, directory: Path, problems: list[str]) -> TenantSettings | None:
        path = directory / "config.yaml"
        try:
            merged = deep_merge(self.shared_defaults(), read_yaml(path))
            settings = validate_model(TenantSettings, merged, path)
        except ConfigError as exc:
            problems.extend(exc.problems)
            return None
        if settings.tenant_id not in (None, tenant_id):
            problems.append(
                f"{display_path(path)}: tenant_id: {settings.tenant_id!r} does not match "
                f"the folder {tenant_id!r}"
            )
        problems.extend(
            f"{display_path(path)}: {problem}"
            for problem in settings.row_level_security.role_name_problems(tenant_id)
        )
        return settings

    def _mappings(self, directory: Path, problems: list[str]) -> dict[str, TableMapping]:
        mappings: dict[str, TableMapping] = {}
        for path in sorted((directory / "mappings").glob("*.yaml")):
            table = self.catalog.tables.get(path.stem)
            if table is None:
                problems.append(f"{display_path(path)}: {path.stem!r} is not a table in the catalog")
                continue
            try:
                mapping = load_model(TableMapping, path)
            except ConfigError as exc:
                problems.extend(exc.problems)
                continue
            problems.extend(f"{display_path(path)}: {p}" for p in mapping.problems_against(table))
            mappings[table.name] = mapping
        return mappings
