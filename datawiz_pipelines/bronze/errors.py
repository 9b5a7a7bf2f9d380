"""Errors for source files that cannot be read, phrased for the tenant who sent them."""

from __future__ import annotations


class SourceFileError(ValueError):
    """A source file could not be read. Message always names tenant, table and file (and row/column where known)."""

    def __init__(self, tenant_id: str, table: str, file: str, problem: str):
        self.tenant_id = tenant_id
        self.table = table
        self.file = file
        self.problem = problem
        super().__init__(f"tenant {tenant_id}, table {table}, file {file}: {problem}")

    def __reduce__(self) -> tuple[type[SourceFileError], tuple[str, str, str, str]]:
        # The default reduce passes only the message back to __init__, which needs four arguments.
        return type(self), (self.tenant_id, self.table, self.file, self.problem)


class UnsupportedFileTypeError(SourceFileError):
    """The file's type is not one bronze can read."""


class EmptySourceFileError(SourceFileError):
    """The file (or sheet) holds nothing, not even a header."""
