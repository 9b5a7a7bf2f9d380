"""Reading YAML files and merging the configuration hierarchy."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from datawiz_pipelines.config.errors import ConfigError, describe_validation_error, display_path

ModelT = TypeVar("ModelT", bound=BaseModel)


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping from ``path``; an empty file is an empty mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{display_path(path)}: file not found"]) from None
    try:
        data = _load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{display_path(path)}: {where}invalid YAML: {problem}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{display_path(path)}: (top level): expected a mapping of keys"])
    return data


def _load(text: str) -> Any:
    """``yaml.safe_load``, through libyaml when available (a 1,000-tenant registry parses ~6x faster).

    On an error the pure-Python loader parses again: its messages name the offending
    character, libyaml's do not.
    """
    if _CSafeLoader is None:
        return yaml.safe_load(text)
    try:
        return yaml.load(text, Loader=_CSafeLoader)
    except yaml.YAMLError:
        return yaml.safe_load(text)


_CSafeLoader = getattr(yaml, "CSafeLoader", None)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` laid over ``base``: mappings merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def validate_model(model: type[ModelT], data: Any, source: Path) -> ModelT:
    """``data`` as ``model``, or a ConfigError naming ``source`` and every bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise describe_validation_error(source, exc) from None


def load_model(model: type[ModelT], path: Path) -> ModelT:
    return validate_model(model, read_yaml(path), path)
