"""Errors of the tenant lifecycle that the CLI turns into usage errors."""

from __future__ import annotations


class FieldValueError(ValueError):
    """A value given for ``field`` is refused; the CLI points at the option or argument behind it."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)
