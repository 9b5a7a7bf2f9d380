"""``datawiz tenants preview``: a dry run of one table's mapping on one source file."""

from __future__ import annotations

from pathlib import Path

import click
import polars as pl

from datawiz_pipelines.bronze.errors import SourceFileError
from datawiz_pipelines.cli.formatting import fail
from datawiz_pipelines.config.errors import ConfigError
from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.lineage import REJECT_REASON, REJECTED_RULE, ROW_NUMBER
from datawiz_pipelines.onboarding.preview import PreviewResult, PreviewUsageError, preview_table
from datawiz_pipelines.settings import ProjectPaths
from datawiz_pipelines.silver.errors import TransformError

_HINTS = {"table": "TABLE", "file": "--file"}


@click.command("preview")
@click.argument("tenant_id")
@click.argument("table")
@click.option(
    "--file",
    "file",
    type=click.Path(path_type=Path),
    help="Source file to map, relative to the tenant's landing (or seeds) folder, or a path inside it. "
    "[default: the newest file the mapping matches]",
)
@click.option(
    "--rows", type=click.IntRange(min=1), default=10, show_default=True, help="Rows to show of each kind."
)
def preview_command(tenant_id: str, table: str, file: Path | None, rows: int) -> None:
    """Map one source file of TABLE as TENANT_ID's next run would, and show the result.

    Shows the mapped rows, the resulting schema, and the rows that would be
    rejected with the rule and the reason. Writes nothing: no data folder,
    configuration or warehouse is touched.
    """
    paths = ProjectPaths.from_env()
    repository = ConfigRepository(paths.config_dir)
    click.echo(f"previewing {table} for tenant {tenant_id} ...", err=True)
    try:
        result = preview_table(repository, paths.data_dir, tenant_id, table, file=file, rows=rows)
    except PreviewUsageError as exc:
        raise click.BadParameter(str(exc), param_hint=_HINTS[exc.field]) from None
    except ConfigError as exc:
        fail(exc)
    except (SourceFileError, TransformError) as exc:
        fail([str(exc)])
    click.echo(render(result))


def render(result: PreviewResult) -> str:
    shown, rejected_shown = result.rows.height, result.rejected.height
    lines = [
        f"tenant {result.tenant_id}, table {result.table.name}, file {result.file.relative_path}",
        f"rows read {result.rows_read:,}  mapped {result.rows_kept:,}  rejected {result.rejected_count:,}"
        f"  dropped by filters {result.rows_filtered:,}",
        *(f"note: {note}" for note in result.notes),
        "",
        f"Mapped rows ({shown} of {result.rows_kept:,}):",
        _frame(result.rows, shown) if shown else "  (none)",
        "",
        "Schema:",
        *(f"  {name:<28} {kind}" for name, kind in result.schema.items()),
        "",
        f"Rejected rows ({rejected_shown} of {result.rejected_count:,}):",
    ]
    if result.rejected_count:
        lines += [f"  {rule}: {count:,}" for rule, count in result.rejected_by_rule.items()]
        columns = {ROW_NUMBER: "row", REJECTED_RULE: "rule", REJECT_REASON: "reason"}
        lines.append(_frame(result.rejected.rename(columns), rejected_shown))
    else:
        lines.append("  (none)")
    return "\n".join(lines)


def _frame(frame: pl.DataFrame, rows: int) -> str:
    with pl.Config(
        tbl_rows=rows,
        tbl_cols=-1,
        tbl_width_chars=200,
        fmt_str_lengths=160,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=False,
    ):
        return str(frame)
