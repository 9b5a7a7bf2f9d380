"""Configuration errors that name the file and every bad field at once."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid.

    The message names the file and lists every problem, one per line, as
    ``<file>: <field.path>: <message>``.
    """

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def describe_validation_error(path: Path | str, error: ValidationError) -> ConfigError:
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in item["loc"]) or "(top level)"
        problems.append(f"{display_path(path)}: {location}: {item['msg']}")
    return ConfigError(problems)


def display_path(path: Path | str) -> str:
    """The path relative to the working directory when it lies below it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
