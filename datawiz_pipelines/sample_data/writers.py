"""Rendering canonical rows the way a tenant's mapping says its files look, and
writing them atomically (temporary file, fixed modification time, rename).

Canonical frames carry catalog column names. DECIMAL columns hold integers in
units of 1/10,000 (``SCALE``) so no float ever decides a digit; DATE and
DATETIME columns are Polars dates and datetimes.
"""

from __future__ import annotations

import codecs
import datetime as dt
import gzip
import os
import re
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, Literal

import polars as pl
import pyarrow.parquet as pq

from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.config.mapping import ColumnMapping, TableMapping

SCALE_DIGITS = 4
SCALE = 10**SCALE_DIGITS
"""Canonical DECIMAL values are integers in units of 1/SCALE."""

FileKind = Literal["csv", "excel", "parquet"]
ROW_ID = "__row"
"""Column carrying each canonical row's global index while rendering."""


def file_kind(path: Path | str, mapping: TableMapping) -> FileKind:
    """How a file for ``mapping`` is written: the mapping's format, else the name's suffix."""
    if mapping.source.format != "auto":
        return mapping.source.format
    name = str(path).lower()
    if name.endswith((".xlsx", ".xlsm", ".xls")):
        return "excel"
    if name.endswith(".parquet"):
        return "parquet"
    return "csv"


# --------------------------------------------------------------------------- rendering


def output_decimals(spec: ColumnMapping, scale: int) -> int:
    """Digits after the point in the file: a mapping that rounds gets four (the
    source carries more precision than the table keeps), otherwise the catalog scale."""
    return max(scale, SCALE_DIGITS) if spec.round is not None and spec.round < SCALE_DIGITS else scale


def _magnitude(value: pl.Expr, digits: int) -> pl.Expr:
    """|value| (1/SCALE units) in 1/10**digits units, rounded half away from zero."""
    if digits >= SCALE_DIGITS:
        return value.abs() * 10 ** (digits - SCALE_DIGITS)
    step = 10 ** (SCALE_DIGITS - digits)
    return (value.abs() + step // 2) // step


def _group_thousands(whole: pl.Expr, separator: str, groups: int = 7) -> pl.Expr:
    """A non-negative integer below 1000**groups as text with ``separator`` between
    groups of three digits."""
    groups = [
        ((whole // 10 ** (3 * k)) % 1000 + 1000).cast(pl.String).str.slice(1)
        for k in range(groups - 1, -1, -1)
    ]
    grouped = pl.concat_str(groups, separator=separator).str.strip_chars_start("0" + separator)
    return pl.when(whole == 0).then(pl.lit("0")).otherwise(grouped)


def decimal_text(
    value: pl.Expr,
    digits: int,
    *,
    decimal_comma: bool = False,
    thousands: str | None = None,
    largest: int | None = None,
) -> pl.Expr:
    """A canonical decimal as text with ``digits`` decimals, e.g. ``1.234,56``.

    ``largest`` (the largest absolute canonical value, when known) lets thousands
    grouping build only the groups the values need; the text is the same."""
    groups = 7 if largest is None else max(1, len(str(largest // SCALE + 1)) // 3 + 1)
    magnitude = _magnitude(value, digits)
    whole = magnitude // 10**digits
    parts = [
        pl.when((value < 0) & (magnitude > 0)).then(pl.lit("-")).otherwise(pl.lit("")),
        _group_thousands(whole, thousands, groups) if thousands else whole.cast(pl.String),
    ]
    if digits:
        fraction = (magnitude % 10**digits + 10**digits).cast(pl.String).str.slice(1)
        parts += [pl.lit("," if decimal_comma else "."), fraction]
    return pl.concat_str(parts)


def _date_format(spec: ColumnMapping, temporal: str) -> str:
    return spec.format or ("%Y-%m-%d" if temporal == "DATE" else "%Y-%m-%d %H:%M:%S")


def render_column(
    name: str, table: CatalogTable, spec: ColumnMapping, kind: FileKind, *, largest: int | None = None
) -> pl.Expr:
    """The canonical column ``name`` as the source file holds it (``largest``: see ``decimal_text``)."""
    column_type = table.column(name).type
    value = pl.col(name)
    if column_type.name == "DECIMAL":
        digits = output_decimals(spec, column_type.scale or 0)
        if kind == "csv" or spec.decimal_comma or spec.thousands_separator:
            rendered = decimal_text(
                value,
                digits,
                decimal_comma=spec.decimal_comma,
                thousands=spec.thousands_separator,
                largest=largest,
            )
        elif kind == "parquet":
            precision = min(38, (column_type.precision or 18) + max(0, digits - (column_type.scale or 0)))
            rendered = decimal_text(value, digits).cast(pl.Decimal(precision, digits))
        else:  # a real number in the workbook
            rendered = (value.cast(pl.Float64) / SCALE).round(digits)
    elif column_type.is_temporal:
        if kind == "csv" or spec.format:
            rendered = value.dt.strftime(_date_format(spec, column_type.name))
        else:
            rendered = value
    elif column_type.name == "BOOLEAN":
        if kind == "parquet":
            rendered = value
        else:
            rendered = (
                pl.when(value).then(pl.lit(spec.true_values[0])).otherwise(pl.lit(spec.false_values[0]))
            )
    elif column_type.is_numeric:
        rendered = value.cast(pl.String) if kind == "csv" else value.cast(column_type.polars)
    else:
        rendered = value.cast(pl.String)
    return rendered.alias(spec.source)


def render(
    frame: pl.DataFrame,
    table: CatalogTable,
    mapping: TableMapping,
    kind: FileKind,
    *,
    extra_columns: dict[str, str] | None = None,
    keep: tuple[str, ...] = (),
) -> pl.DataFrame:
    """``frame`` (canonical columns) as the tenant's source file has it.

    Columns come in the mapping's order under their source names; computed
    columns are not in the source. ``extra_columns`` are constant columns the
    source carries but the mapping ignores; ``keep`` passes helper columns through.
    """
    expressions = [pl.lit(value).alias(name) for name, value in (extra_columns or {}).items()]
    grouped = [
        target
        for target, spec in mapping.columns.items()
        if spec.thousands_separator
        and target in frame.columns
        and table.column(target).type.name == "DECIMAL"
    ]
    largest = frame.select(pl.col(grouped).abs().max()).row(0, named=True) if grouped and frame.height else {}
    expressions += [
        render_column(target, table, spec, kind, largest=largest.get(target))
        for target, spec in mapping.columns.items()
        if target in frame.columns
    ]
    expressions += [pl.col(name) for name in keep]
    return frame.lazy().select(expressions).collect()  # lazy: shared sub-expressions run once


# --------------------------------------------------------------------------- sinks

_BACKGROUND = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sample-data-writer")
"""Encodes, compresses and writes CSV text while the next chunk is generated; one
worker, so each file's chunks are written in the order they were submitted."""


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")


def _epoch(instant: dt.datetime) -> float:
    return instant.replace(tzinfo=dt.UTC).timestamp()


class FileSink:
    """One output file, written under a temporary name and renamed on ``close``."""

    kind: FileKind

    def __init__(self, path: Path, modified: dt.datetime):
        self.path = path
        self.modified = modified
        self.rows = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self.temporary = _temporary(path)

    def write(self, frame: pl.DataFrame) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        raise NotImplementedError

    def close(self) -> Path:
        self._finish()
        stamp = _epoch(self.modified)
        os.utime(self.temporary, (stamp, stamp))
        os.replace(self.temporary, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the temporary file; the final name is never touched."""
        try:
            self._finish()
        except Exception:  # already failing: the first error is the one worth reporting
            pass
        finally:
            self.temporary.unlink(missing_ok=True)


class CsvSink(FileSink):
    """Delimited text in the mapping's separator, quoting, encoding and null token;
    gzipped (with a zero header timestamp and no file name) when the name ends in .gz."""

    kind: FileKind = "csv"

    def __init__(
        self,
        path: Path,
        modified: dt.datetime,
        mapping: TableMapping,
        *,
        line_terminator: str = "\n",
        compresslevel: int = 6,
    ):
        super().__init__(path, modified)
        options = mapping.source.csv
        self.options = options
        self.line_terminator = line_terminator
        self.null_value = options.null_values[-1] if options.null_values else ""
        self._raw: BinaryIO = open(self.temporary, "wb")  # noqa: SIM115 - closed in _finish
        self._out: BinaryIO = self._raw
        if path.name.lower().endswith(".gz"):
            self._out = gzip.GzipFile(
                filename="", mode="wb", fileobj=self._raw, compresslevel=compresslevel, mtime=0
            )
        self._encoder = codecs.getincrementalencoder(options.encoding)()
        self._header = options.has_header
        self._closed = False
        self._pending: Future | None = None
        for _ in range(options.skip_rows):
            self._out.write(self._encoder.encode(f"# exported by the sample generator{line_terminator}"))

    def _needs_quotes(self, frame: pl.DataFrame) -> bool:
        """Whether any text value holds the separator, the quote character or a line break,
        or is empty (quoted to tell it from null). Checking first lets the common case skip
        Polars' slower quoting pass and gives the same bytes as quoting would."""
        if not self.options.quote_char:
            return False
        specials = {self.options.separator, self.options.quote_char, "\r", "\n"}
        pattern = "[" + "".join(re.escape(char) for char in sorted(specials)) + "]"
        names = list(frame.columns) if self._header else []
        if any(re.search(pattern, name) for name in names):
            return True
        text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
        if not text or frame.height == 0:
            return False
        found = frame.select(
            pl.any_horizontal(
                (pl.col(name).str.contains(pattern) | (pl.col(name) == "")).any() for name in text
            )
        )
        return bool(found.item())

    def write(self, frame: pl.DataFrame) -> None:
        text = frame.write_csv(
            None,
            include_header=self._header,
            separator=self.options.separator,
            line_terminator=self.line_terminator,
            quote_char=self.options.quote_char or '"',
            quote_style="necessary" if self._needs_quotes(frame) else "never",
            null_value=self.null_value,
        )
        self._header = False
        self.rows += frame.height
        self._wait()
        self._pending = _BACKGROUND.submit(self._put, text)

    def _put(self, text: str) -> None:
        self._out.write(self._encoder.encode(text))

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def _finish(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._wait()
            self._out.write(self._encoder.encode("", final=True))
            if self._out is not self._raw:
                self._out.close()
        finally:
            self._raw.close()


class ParquetSink(FileSink):
    kind: FileKind = "parquet"

    def __init__(self, path: Path, modified: dt.datetime):
        super().__init__(path, modified)
        self._writer: pq.ParquetWriter | None = None

    def write(self, frame: pl.DataFrame) -> None:
        table = frame.to_arrow()
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.temporary, table.schema, compression="zstd")
        self._writer.write_table(table, row_group_size=max(1, min(frame.height, 250_000)))
        self.rows += frame.height

    def _finish(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        elif not self.temporary.exists():
            raise RuntimeError(f"{self.path}: nothing was written")


class ExcelSink(FileSink):
    """An .xlsx workbook (one sheet) written at close; codes stay text, numbers are numbers."""

    kind: FileKind = "excel"

    def __init__(self, path: Path, modified: dt.datetime, mapping: TableMapping, *, title: str):
        super().__init__(path, modified)
        self.options = mapping.source.excel
        self.title = title
        self._frames: list[pl.DataFrame] = []
        self._done = False

    def write(self, frame: pl.DataFrame) -> None:
        self._frames.append(frame)
        self.rows += frame.height

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        import xlsxwriter

        frame = pl.concat(self._frames, how="vertical") if self._frames else pl.DataFrame()
        sheet = self.options.sheet if isinstance(self.options.sheet, str) else "Sheet1"
        workbook = xlsxwriter.Workbook(str(self.temporary), {"constant_memory": True})
        try:
            workbook.set_properties(
                {"title": self.title, "author": "datawiz sample data", "created": self.modified}
            )
            worksheet = workbook.add_worksheet(sheet)
            date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
            datetime_format = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
            row = 0
            titles = [self.title, f"Exported {self.modified:%d.%m.%Y %H:%M}"]
            for index in range(self.options.skip_rows):
                worksheet.write_string(row, 0, titles[index] if index < len(titles) else "")
                row += 1
            if self.options.has_header:
                for col, name in enumerate(frame.columns):
                    worksheet.write_string(row, col, name)
                row += 1
            for values in frame.iter_rows():
                for col, value in enumerate(values):
                    if value is None:
                        continue
                    if isinstance(value, str):
                        worksheet.write_string(row, col, value)
                    elif isinstance(value, bool):
                        worksheet.write_boolean(row, col, value)
                    elif isinstance(value, dt.datetime):
                        worksheet.write_datetime(row, col, value, datetime_format)
                    elif isinstance(value, dt.date):
                        worksheet.write_datetime(row, col, value, date_format)
                    else:
                        worksheet.write_number(row, col, float(value))
                row += 1
        finally:
            workbook.close()
