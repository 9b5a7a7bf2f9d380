"""Creating a tenant from ``tenants/_template``: folder, config, secrets file, data folders, registry.

Everything is checked before anything is written, so a refused tenant (bad or
taken id, bad name, database or time zone) leaves no trace. The tenant folder is
assembled under a hidden name and renamed into place, and the registry entry is
appended last (disabled), re-validated and written atomically.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from datawiz_pipelines.config.errors import ConfigError, display_path
from datawiz_pipelines.config.identifiers import check_identifier
from datawiz_pipelines.config.loader import TEMPLATE_TENANT, ConfigRepository
from datawiz_pipelines.config.mapping import TableMapping
from datawiz_pipelines.config.registry import TenantEntry
from datawiz_pipelines.config.tenant import SchedulerSettings, TenantSettings
from datawiz_pipelines.config.yaml_files import deep_merge, load_model, read_yaml, validate_model
from datawiz_pipelines.onboarding.errors import FieldValueError
from datawiz_pipelines.onboarding.registry_file import plan_new_entry
from datawiz_pipelines.settings import ProjectPaths
from datawiz_pipelines.storage.tenant_paths import TenantPaths

TEMPLATE_ID = "tenant_new"
"""How the template's config.yaml names the tenant it stands for."""
_GLOB = re.compile(r"[*?\[]")


class NewTenantError(FieldValueError):
    """A value for the new tenant is refused; ``field`` names it (``tenant_id``, ``timezone`` ...)."""


@dataclass(frozen=True)
class NewTenantRequest:
    tenant_id: str
    tenant_name: str
    database_name: str
    database_user: str
    timezone: str
    azure_container: str | None = None
    azure_folder_prefix: str = ""
    schedule_priority: int = 100
    tier: str = "standard"


@dataclass(frozen=True)
class CreatedTenant:
    entry: TenantEntry
    config_dir: Path


def default_database_name(tenant_id: str) -> str:
    return f"datawiz_{tenant_id}"


def default_database_user(tenant_id: str) -> str:
    return f"{tenant_id}_admin"


def check_tenant_id(repository: ConfigRepository, tenant_id: str) -> str:
    """``tenant_id`` if it is a valid, unused id; NewTenantError otherwise."""
    try:
        check_identifier(tenant_id)
    except ValueError as exc:
        raise NewTenantError("tenant_id", str(exc)) from None
    if repository.registry.get(tenant_id) is not None:
        raise NewTenantError(
            "tenant_id",
            f"tenant {tenant_id!r} is already registered in {display_path(repository.registry_path)}",
        )
    folder = repository.tenant_dir(tenant_id)
    if folder.exists():
        raise NewTenantError("tenant_id", f"{display_path(folder)} already exists")
    return tenant_id


def default_timezone(repository: ConfigRepository) -> str:
    """The time zone a new tenant gets unless told otherwise: the template's (over shared defaults)."""
    template = repository.tenant_dir(TEMPLATE_TENANT) / "config.yaml"
    merged = deep_merge(repository.shared_defaults(), read_yaml(template))
    return validate_model(TenantSettings, merged, template).scheduler.timezone


def create_tenant(paths: ProjectPaths, request: NewTenantRequest) -> CreatedTenant:
    """Copy the template into ``tenants/<id>``, fill it in, make its folders and register it disabled."""
    repository = ConfigRepository(paths.config_dir)
    check_tenant_id(repository, request.tenant_id)
    entry = _entry(request)
    for name in ("database_name", "database_user"):
        owner = next(
            (e for e in repository.registry.tenants if getattr(e, name) == getattr(entry, name)), None
        )
        if owner is not None:
            raise NewTenantError(
                name, f"{getattr(entry, name)!r} is already used by tenant {owner.tenant_id!r}"
            )
    _check_timezone(request.timezone)
    template = repository.tenant_dir(TEMPLATE_TENANT)
    if not (template / "config.yaml").is_file():
        raise ConfigError([f"{display_path(template)}: the tenant template is missing"])
    edit = plan_new_entry(repository.registry_path, entry)  # validates the new registry, writes nothing
    target = repository.tenant_dir(request.tenant_id)
    staging = Path(tempfile.mkdtemp(prefix=f".{request.tenant_id}.new-", dir=target.parent))
    created: list[Path] = []
    try:
        shutil.copytree(
            template, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".env", "__pycache__")
        )
        _fill_config(staging / "config.yaml", request)
        _write_env_files(template, staging, request)
        _check_settings(repository, staging / "config.yaml", request)
        os.rename(staging, target)
        created.append(target)
        for folder in _data_folders(repository, paths, request.tenant_id):
            if not folder.exists():
                created.extend(_mkdirs(folder))
        edit.write()
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for path in reversed(created):
            shutil.rmtree(path, ignore_errors=True)
        raise
    return CreatedTenant(entry=entry, config_dir=target)


def _entry(request: NewTenantRequest) -> TenantEntry:
    try:
        return TenantEntry(
            tenant_id=request.tenant_id,
            tenant_name=request.tenant_name,
            enabled=False,
            database_name=request.database_name,
            database_user=request.database_user,
            azure_container=request.azure_container or None,
            azure_folder_prefix=request.azure_folder_prefix,
            schedule_priority=request.schedule_priority,
            tier=request.tier,
        )
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        name = str(error["loc"][0]) if error["loc"] else "tenant_id"
        raise NewTenantError(name, error["msg"].removeprefix("Value error, ")) from None


def _check_timezone(timezone: str) -> None:
    try:
        SchedulerSettings(timezone=timezone)
    except ValidationError as exc:
        message = exc.errors(include_url=False)[0]["msg"]
        raise NewTenantError("timezone", message.removeprefix("Value error, ")) from None


def _fill_config(path: Path, request: NewTenantRequest) -> None:
    """The template's config.yaml made the tenant's: header, tenant_id, time zone, names."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    header_end = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    header = (
        f"# {request.tenant_id} - {request.tenant_name}.\n"
        "# Created from tenants/_template by `datawiz tenants new`. Laid over\n"
        "# tenant_configs/shared/*.yaml key by key (this file wins): set only what differs.\n"
        "# Name, database, login, Azure container, priority and tier are in registry.yaml;\n"
        "# secrets are in .env (never commit it). Check it with `datawiz tenants validate`.\n"
    )
    body = "".join(lines[header_end:])
    tenant_line = f"tenant_id: {request.tenant_id}"
    body, count = re.subn(r"(?m)^#[ \t]*tenant_id:.*$", tenant_line, body, count=1)
    if not count and not re.search(r"(?m)^tenant_id:", body):
        body = f"\n{tenant_line}\n{body}"
    body = re.sub(r"(?m)^([ \t]+timezone:[ \t]*)[^\s#]+", rf"\g<1>{request.timezone}", body, count=1)
    body = body.replace(TEMPLATE_ID, request.tenant_id)
    path.write_text(header + body, encoding="utf-8")


def _write_env_files(template: Path, staging: Path, request: NewTenantRequest) -> None:
    """``.env.template`` with the tenant's names, and ``.env`` (placeholders, owner-only) from it."""
    source = template / ".env.template"
    text = source.read_text(encoding="utf-8") if source.is_file() else "DB_PASSWORD=change-me\n"
    text = (
        text.replace("Secrets for a new tenant.", f"Secrets for {request.tenant_id} ({request.tenant_name}).")
        .replace("<database_user>", request.database_user)
        .replace("<azure_container>", request.azure_container or "(none set in registry.yaml)")
    )
    (staging / ".env.template").write_text(text, encoding="utf-8")
    env_text = text.replace(
        "Copy this file to .env in the same folder and replace every placeholder.",
        "Written by `datawiz tenants new` from .env.template: replace every placeholder.",
    )
    descriptor = os.open(staging / ".env", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(env_text)


def _check_settings(repository: ConfigRepository, path: Path, request: NewTenantRequest) -> None:
    merged = deep_merge(repository.shared_defaults(), read_yaml(path))
    settings = validate_model(TenantSettings, merged, path)
    if settings.tenant_id != request.tenant_id or settings.scheduler.timezone != request.timezone:
        raise ConfigError([f"{display_path(path)}: the template could not be filled in; check its layout"])


def _data_folders(repository: ConfigRepository, paths: ProjectPaths, tenant_id: str) -> list[Path]:
    """The landing folder, the folders its landing mappings' patterns name, and the log folder."""
    landing = TenantPaths(paths.data_dir, tenant_id).landing
    folders = [landing]
    for mapping_path in sorted((repository.tenant_dir(tenant_id) / "mappings").glob("*.yaml")):
        table = repository.catalog.tables.get(mapping_path.stem)
        if table is None or table.source != "landing":
            continue
        try:
            mapping = load_model(TableMapping, mapping_path)
        except ConfigError:
            continue
        for pattern in mapping.source.patterns:
            parts = Path(pattern).parts[:-1]
            fixed = list(parts[: next((i for i, p in enumerate(parts) if _GLOB.search(p)), len(parts))])
            if fixed:
                folders.append(landing.joinpath(*fixed))
    folders.append(paths.logs_dir / tenant_id)
    return list(dict.fromkeys(folders))


def _mkdirs(folder: Path) -> list[Path]:
    """Create ``folder`` and missing parents; the outermost folder created, for rollback."""
    missing = [folder, *[parent for parent in folder.parents if not parent.exists()]]
    folder.mkdir(parents=True, exist_ok=True)
    return [missing[-1]] if missing else []
