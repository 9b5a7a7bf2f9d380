"""Output helpers shared by the ``datawiz tenants`` commands."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NoReturn

import click

from datawiz_pipelines.config.errors import ConfigError
from datawiz_pipelines.onboarding.validation import ValidationReport


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain aligned text table with a rule under the header."""
    cells = [[str(cell) for cell in headers], *([str(cell) for cell in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def fail(error: ConfigError | Iterable[str], code: int = 1) -> NoReturn:
    """Print every problem to stderr and exit with ``code`` (1: the configuration has problems)."""
    problems = error.problems if isinstance(error, ConfigError) else list(error)
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    raise click.exceptions.Exit(code)


def echo_report(report: ValidationReport, *, strict: bool) -> None:
    """One line for the tenant's verdict, then its problems, errors first."""
    who = f"tenant {report.tenant_id}" if report.tenant_id else "configuration"
    errors, warnings = len(report.errors), len(report.warnings)
    counts = ", ".join(
        f"{count} {word}{'' if count == 1 else 's'}"
        for count, word in ((errors, "error"), (warnings, "warning"))
        if count
    )
    verdict = "INVALID" if report.failed(strict=strict) else "valid"
    click.echo(f"{who}: {verdict}" + (f" ({counts})" if counts else ""))
    for problem in sorted(report.problems, key=lambda p: p.severity != "error"):
        click.echo(f"  {problem.severity}: {problem.message}")
