"""Identifiers that reach file paths or SQL.

Tenant ids, database names, users, table and column names all pass through here,
so none can climb out of a directory or carry SQL into a statement.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def check_identifier(value: str) -> str:
    if not _IDENTIFIER.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid identifier: use lowercase letters, digits and "
            "underscores, starting with a letter (at most 63 characters)"
        )
    return value


Identifier = Annotated[str, AfterValidator(check_identifier)]
"""A lowercase SQL- and path-safe name: ``^[a-z][a-z0-9_]{0,62}$``."""
