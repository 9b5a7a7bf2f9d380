"""Errors of the silver transform, worded so an operator can find the offending cell."""

from __future__ import annotations

from dataclasses import dataclass


class TransformError(ValueError):
    """A tenant's mapping cannot be applied to its data, or its data breaks a fatal rule.

    The message starts with the tenant and table, then says what is wrong and,
    when it is about data, in which file, row, column and value. Tenant and table
    may be left out only by callers whose message already names them.
    """

    def __init__(self, message: str, *, tenant_id: str | None = None, table: str | None = None):
        self.tenant_id, self.table = tenant_id, table
        where = [f"{label} {name}" for label, name in (("tenant", tenant_id), ("table", table)) if name]
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


@dataclass(frozen=True)
class Scope:
    """The tenant and table being transformed, handed down so every error can name them."""

    tenant_id: str
    table: str

    def error(self, message: str) -> TransformError:
        return TransformError(message, tenant_id=self.tenant_id, table=self.table)
