"""Editing ``tenant_configs/registry.yaml`` as text, so its comments and layout survive.

Only one tenant's entry changes at a time: its ``enabled`` line is rewritten (or
added), or a new entry block is appended to the ``tenants:`` list. Everything else
in the file stays byte for byte as it was.

Every edit is checked before the file is replaced: the new text must parse to
exactly the data intended (the old data plus the one change), and that data must
be a valid registry. The file is then replaced atomically (a temporary file in the
same folder, ``os.replace``), and only if nobody changed it in the meantime.
"""

from __future__ import annotations

import copy
import json
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from datawiz_pipelines.config.errors import ConfigError, display_path
from datawiz_pipelines.config.registry import Registry, TenantEntry
from datawiz_pipelines.config.yaml_files import validate_model

_TENANTS_KEY = re.compile(r"^tenants:[ \t]*(?P<rest>[^#\r\n]*?)[ \t]*(#[^\r\n]*)?$")
_TOP_LEVEL = re.compile(r"^[^\s#-]")
_ITEM = re.compile(r"^(?P<indent>[ \t]*)-(?:[ \t]+|$)")
_ENABLED = re.compile(
    r"^(?P<prefix>[ \t]*(?:-[ \t]+)?)enabled:(?P<value>[^#\r\n]*?)(?P<comment>[ \t]*#[^\r\n]*)?$"
)
_PLAIN = re.compile(r"^[A-Za-z0-9_./-]+$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}
_ENTRY_KEYS = (
    "tenant_id",
    "tenant_name",
    "enabled",
    "database_name",
    "database_user",
    "azure_container",
    "azure_folder_prefix",
    "schedule_priority",
    "tier",
)


class RegistryEditError(ConfigError):
    """The registry could not be edited safely; the file was left as it was."""


@dataclass(frozen=True)
class RegistryEdit:
    """A checked, not yet written, new version of the registry file."""

    path: Path
    original: str
    text: str
    registry: Registry

    def write(self) -> None:
        """Replace the file atomically, unless it changed since it was read."""
        _replace(self.path, self.original, self.text)


def plan_enabled(path: Path, tenant_id: str, enabled: bool) -> RegistryEdit | None:
    """The registry with ``tenant_id``'s ``enabled`` set; None when it already has that value."""
    original, data = _read(path)
    tenants = data.get("tenants") or []
    index = next(
        (
            i
            for i, item in enumerate(tenants)
            if isinstance(item, dict) and item.get("tenant_id") == tenant_id
        ),
        None,
    )
    if index is None:
        raise RegistryEditError([f"{display_path(path)}: tenant {tenant_id!r} is not registered"])
    if tenants[index].get("enabled", False) is enabled:
        return None
    lines = original.splitlines(keepends=True)
    items = _items(path, lines, expected=len(tenants))
    start, end = items[index]
    key_column = _key_column(path, lines[start])
    value = "true" if enabled else "false"
    newline = _newline(original)
    for number in range(start, end):
        match = _ENABLED.match(lines[number].rstrip("\r\n"))
        if match and len(match["prefix"]) == key_column:
            # an inline comment described the old value; it goes with it
            lines[number] = f"{match['prefix']}enabled: {value}{newline}"
            break
    else:
        lines.insert(start + 1, f"{' ' * key_column}enabled: {value}{newline}")
    expected = copy.deepcopy(data)
    expected["tenants"][index]["enabled"] = enabled
    return _checked(path, original, "".join(lines), expected)


def plan_new_entry(path: Path, entry: TenantEntry) -> RegistryEdit:
    """The registry with ``entry`` appended to the ``tenants:`` list."""
    original, data = _read(path)
    tenants = data.get("tenants")
    if tenants is not None and not isinstance(tenants, list):
        raise RegistryEditError([f"{display_path(path)}: tenants: expected a list of tenants"])
    values = _entry_values(entry)
    lines = original.splitlines(keepends=True)
    newline = _newline(original)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline
    key = next((i for i, line in enumerate(lines) if _TENANTS_KEY.match(line.rstrip("\r\n"))), None)
    if tenants:
        items = _items(path, lines, expected=len(tenants))
        first, last = items[0][0], items[-1][1]
        indent = _ITEM.match(lines[first])["indent"]
        block = _entry_block(values, indent, newline)
        while last > first and _is_blank_or_comment(lines[last - 1]):
            last -= 1
        lines[last:last] = [newline, *block]
    elif key is not None:
        match = _TENANTS_KEY.match(lines[key].rstrip("\r\n"))
        if match["rest"] not in ("", "[]", "null", "~"):
            raise RegistryEditError([f"{display_path(path)}: tenants: cannot append to {match['rest']!r}"])
        lines[key : key + 1] = [f"tenants:{newline}", *_entry_block(values, "  ", newline)]
    else:
        lines += [newline, f"tenants:{newline}", *_entry_block(values, "  ", newline)]
    expected = copy.deepcopy(data)
    expected["tenants"] = [*(tenants or []), values]
    return _checked(path, original, "".join(lines), expected)


def _read(path: Path) -> tuple[str, dict[str, Any]]:
    try:
        original = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise RegistryEditError([f"{display_path(path)}: file not found"]) from None
    try:
        data = yaml.safe_load(original)
    except yaml.YAMLError as exc:
        raise RegistryEditError([f"{display_path(path)}: invalid YAML: {exc}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RegistryEditError([f"{display_path(path)}: (top level): expected a mapping of keys"])
    return original, data


def _items(path: Path, lines: list[str], *, expected: int) -> list[tuple[int, int]]:
    """(first line, end line) of every item of the block list under ``tenants:``."""
    key = next((i for i, line in enumerate(lines) if _TENANTS_KEY.match(line.rstrip("\r\n"))), None)
    if key is None or _TENANTS_KEY.match(lines[key].rstrip("\r\n"))["rest"]:
        raise _not_editable(path, "`tenants:` is not followed by a block list")
    end = next(
        (i for i in range(key + 1, len(lines)) if _TOP_LEVEL.match(lines[i]) and not _ITEM.match(lines[i])),
        len(lines),
    )
    starts = [i for i in range(key + 1, end) if _ITEM.match(lines[i])]
    indents = {_ITEM.match(lines[i])["indent"] for i in starts}
    if len(starts) != expected or len(indents) != 1:
        raise _not_editable(path, f"found {len(starts)} list items for {expected} tenants")
    return list(zip(starts, [*starts[1:], end], strict=True))


def _key_column(path: Path, first_line: str) -> int:
    match = _ITEM.match(first_line)
    rest = first_line[match.end() :]
    if not rest.strip() or rest.lstrip().startswith(("{", "[", "#")):
        raise _not_editable(path, "a tenant entry is not written as `- key: value` lines")
    return match.end()


def _entry_values(entry: TenantEntry) -> dict[str, Any]:
    """The fields an appended entry spells out, in the registry's usual order."""
    values = entry.model_dump()
    shown = {key: values[key] for key in _ENTRY_KEYS}
    if shown["azure_container"] is None:
        del shown["azure_container"]
    if not shown["azure_folder_prefix"]:
        del shown["azure_folder_prefix"]
    return shown


def _entry_block(values: dict[str, Any], indent: str, newline: str) -> list[str]:
    lines = []
    for position, (key, value) in enumerate(values.items()):
        lead = f"{indent}- " if position == 0 else f"{indent}  "
        lines.append(f"{lead}{key}: {_scalar(key, value)}{newline}")
    return lines


def _scalar(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if key == "tenant_name" or not _PLAIN.match(text) or text.lower() in _YAML_WORDS or _is_number(text):
        return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_blank_or_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _checked(path: Path, original: str, text: str, expected: dict[str, Any]) -> RegistryEdit:
    """The edit, after proving the new text means ``expected`` and is a valid registry."""
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _not_editable(path, f"the edited text would not parse ({exc})") from None
    if parsed != expected:
        raise _not_editable(path, "the edited text would not mean what was intended")
    registry = validate_model(Registry, parsed, path)
    return RegistryEdit(path=path, original=original, text=text, registry=registry)


def _not_editable(path: Path, why: str) -> RegistryEditError:
    return RegistryEditError(
        [f"{display_path(path)}: cannot edit the file safely: {why}; make the change by hand"]
    )


def _replace(path: Path, original: str, text: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(text.encode("utf-8"))
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, stat.S_IMODE(path.stat().st_mode))
        if path.read_bytes().decode("utf-8") != original:
            raise RegistryEditError(
                [f"{display_path(path)}: changed while it was being edited; nothing was written, try again"]
            )
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
