"""Reading one tenant source file into a raw Polars LazyFrame, in bounded memory.

Bronze is untransformed: CSV and Excel cells arrive as text (silver parses types),
Parquet keeps its own types. Every frame ends with the lineage columns.

Polars scans only plain UTF-8, so compressed (``.gz``) files and CSV files in other
encodings are first streamed, chunk by chunk, into a plain UTF-8 copy under
``scratch_dir``. The returned frame reads that copy lazily: delete ``scratch_dir``
(the caller's job, once per run) only after the frame has been collected or sunk.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import itertools
import os
import shutil
import tempfile
import zlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path, PurePath
from typing import IO

import fastexcel
import polars as pl

from datawiz_pipelines import lineage
from datawiz_pipelines.bronze.errors import (
    EmptySourceFileError,
    SourceFileError,
    UnsupportedFileTypeError,
)
from datawiz_pipelines.bronze.source_files import SourceFile
from datawiz_pipelines.config.mapping import CsvOptions, ExcelOptions, SourceSpec

FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "excel",
    ".xls": "excel",
    ".parquet": "parquet",
}
"""Format of each supported file type; any of them may also be gzipped (``data.csv.gz``)."""

READ_ERRORS = (pl.exceptions.PolarsError, fastexcel.FastExcelError, OSError, EOFError, zlib.error)
"""What reading a source file can raise. Frames are lazy, so catch these around
``collect``/``sink_*`` as well and turn them into a SourceFileError with describe_read_error."""

RESERVED_PREFIX = "_dw_"
"""Source columns may not start with this: the lineage columns do."""

CHUNK_SIZE = 8 * 1024 * 1024
"""Bytes read at a time when decompressing or transcoding, so memory stays bounded."""

_NATIVE_ENCODINGS = ("utf-8", "utf-8-sig")  # Polars reads these itself and drops a leading BOM
_BOM = "\ufeff"


def read_source(
    file: SourceFile,
    spec: SourceSpec,
    *,
    tenant_id: str,
    table: str,
    scratch_dir: Path,
    load_id: str,
) -> pl.LazyFrame:
    """The file's rows, raw, followed by the lineage columns.

    Problems visible up front (type, emptiness, encoding of copied files, header names,
    missing sheet) raise SourceFileError here. Problems only found while the lazy frame
    runs (a ragged CSV row, bad UTF-8 further down a plain file) raise at collect/sink
    time: catch READ_ERRORS there and use describe_read_error.
    """
    name = file.path.name.lower()
    compressed = name.endswith(".gz")
    suffix = PurePath(name.removesuffix(".gz")).suffix
    kind = FORMATS.get(suffix) if spec.format == "auto" else spec.format
    read = _Read(file, suffix, compressed, tenant_id, table, scratch_dir, load_id)
    if kind is None:
        supported = ", ".join(FORMATS)
        raise read.error(
            f"unsupported file type; supported: {supported} (each optionally gzipped, .gz)",
            UnsupportedFileTypeError,
        )
    try:
        if kind == "csv":
            frame = _read_csv(read, spec.csv)
        elif kind == "excel":
            frame = _read_excel(read, spec.excel)
        else:
            frame = _read_parquet(read)
    except READ_ERRORS as exc:
        raise describe_read_error(exc, file, tenant_id, table) from exc
    return _with_lineage(frame, file, load_id)


def describe_read_error(exc: Exception, file: SourceFile, tenant_id: str, table: str) -> SourceFileError:
    """A SourceFileError, naming tenant, table and file, for an error raised while reading ``file``."""
    if isinstance(exc, SourceFileError):
        return exc
    where = (tenant_id, table, file.relative_path)
    # Polars appends hints after a blank line; they name Polars options tenants cannot set.
    message = str(exc).strip().split("\n\n")[0]
    if isinstance(exc, pl.exceptions.NoDataError):
        return EmptySourceFileError(*where, f"no data: {message}")
    name = file.path.name.lower()
    if "invalid utf-8" in message.lower() and not name.endswith((".parquet", ".parquet.gz")):
        compressed = name.endswith(".gz")
        with _open(file.path, compressed) as stream:
            offset = _first_undecodable_byte(stream, "utf-8")
        return SourceFileError(*where, _not_decodable("utf-8", offset, compressed))
    if "more fields than" in message:
        message += " (a row has more fields than the header; check csv.separator and csv.quote_char)"
    return SourceFileError(*where, f"could not be read: {message}")


@dataclass(frozen=True)
class _Read:
    """One read_source call: the file, who errors are about, and where scratch copies go."""

    file: SourceFile
    suffix: str
    compressed: bool
    tenant_id: str
    table: str
    scratch_dir: Path
    load_id: str

    def error(self, problem: str, kind: type[SourceFileError] = SourceFileError) -> SourceFileError:
        return kind(self.tenant_id, self.table, self.file.relative_path, problem)

    def local_path(self, transcode_from: str | None = None) -> Path:
        """A plain, non-empty local file with the source's content: the file itself, or a
        decompressed (and, given ``transcode_from``, UTF-8 transcoded) copy in scratch."""
        path = self._copy(transcode_from) if self.compressed or transcode_from else self.file.path
        if _is_blank(path):
            raise self.error("the file is empty", EmptySourceFileError)
        return path

    def _copy(self, transcode_from: str | None) -> Path:
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        plain_name = self.file.path.name[: -len(".gz")] if self.compressed else self.file.path.name
        handle, name = tempfile.mkstemp(
            prefix=f"{self.load_id}-", suffix=f"-{plain_name}", dir=self.scratch_dir
        )
        try:
            with os.fdopen(handle, "wb") as target, _open(self.file.path, self.compressed) as source:
                if transcode_from:
                    _transcode(source, target, transcode_from)
                else:
                    shutil.copyfileobj(source, target, CHUNK_SIZE)
        except BaseException:
            Path(name).unlink()
            raise
        return Path(name)


def _read_csv(read: _Read, options: CsvOptions) -> pl.LazyFrame:
    if read.suffix == ".tsv" and "separator" not in options.model_fields_set:
        options = options.model_copy(update={"separator": "\t"})
    transcode = options.encoding not in _NATIVE_ENCODINGS
    try:
        path = read.local_path(transcode_from=options.encoding if transcode else None)
    except _UndecodableError as error:
        raise read.error(_not_decodable(error.encoding, error.offset, read.compressed)) from None
    if options.has_header:
        _check_columns(read, _csv_header(read, path, options))
    return pl.scan_csv(
        path,
        infer_schema=False,
        has_header=options.has_header,
        separator=options.separator,
        quote_char=options.quote_char,
        skip_lines=options.skip_rows,
        comment_prefix=options.comment_prefix,
        null_values=[token for token in options.null_values if token] or None,
        empty_string_is_null="" in options.null_values,
        with_column_names=None if options.has_header else _headerless_names,
    )


def _csv_header(read: _Read, path: Path, options: CsvOptions) -> list[str]:
    """The header row as written, read cheaply with the csv module: Polars would silently
    rename blank and duplicate names, so they are checked before Polars sees them."""
    quoting = csv.QUOTE_MINIMAL if options.quote_char else csv.QUOTE_NONE
    try:
        with path.open(encoding="utf-8-sig", newline="") as text:
            lines = (
                line
                for line in itertools.islice(text, options.skip_rows, None)
                if line.strip() and not (options.comment_prefix and line.startswith(options.comment_prefix))
            )
            reader = csv.reader(
                lines, delimiter=options.separator, quotechar=options.quote_char, quoting=quoting
            )
            header = next(reader, None)
    except UnicodeDecodeError:
        with path.open("rb") as stream:
            offset = _first_undecodable_byte(stream, "utf-8")
        raise read.error(_not_decodable("utf-8", offset, read.compressed)) from None
    except csv.Error as exc:
        raise read.error(f"the header row could not be parsed: {exc}") from None
    if header is None:
        raise read.error(f"no header row after skipping {options.skip_rows} line(s)", EmptySourceFileError)
    return header


def _read_excel(read: _Read, options: ExcelOptions) -> pl.LazyFrame:
    """Excel is read eagerly (fastexcel has no streaming reader; sheets top out near 1M rows).

    fastexcel (calamine, the engine behind ``pl.read_excel(engine="calamine")``) is used
    directly: one open workbook serves the sheet check and both reads in _sheet_as_text.
    """
    workbook = fastexcel.read_excel(read.local_path())
    sheets = workbook.sheet_names
    found = options.sheet in sheets if isinstance(options.sheet, str) else 0 <= options.sheet < len(sheets)
    if not found:
        raise read.error(f"sheet {options.sheet!r} not found; the workbook has sheets {sheets}")
    cells = _sheet_as_text(workbook, options)
    if cells.height == 0:
        raise read.error(f"sheet {options.sheet!r} has no cells", EmptySourceFileError)
    if not options.has_header:
        cells.columns = _headerless_names(cells.columns)
        return cells.lazy()
    header = list(cells.row(0))
    _check_columns(read, header)
    rows = cells.slice(1)
    rows.columns = header
    return rows.lazy()


def _sheet_as_text(workbook: fastexcel.ExcelReader, options: ExcelOptions) -> pl.DataFrame:
    """Every cell of the sheet as text, the header row included.

    calamine renders dates as ``2024-01-31 00:00:00`` and booleans as ``true``, but numbers
    with at most 9 decimals (1/3 as "0.333333333", 1e-12 as "0"). Where that text does not
    parse back to the cell's value, the value's shortest exact text is used instead.
    When ``skip_rows`` is 0, leading empty rows are skipped.
    """

    def load(dtype: str) -> pl.DataFrame:
        sheet = workbook.load_sheet(
            options.sheet, header_row=None, skip_rows=options.skip_rows or None, dtypes=dtype
        )
        return sheet.to_polars()

    text, numbers = load("string"), load("float")
    return text.with_columns(
        pl.when(pl.col(column).cast(pl.Float64, strict=False) != numbers[column])
        .then(numbers[column].cast(pl.String))
        .otherwise(pl.col(column))
        .alias(column)
        for column in text.columns
    )


def _read_parquet(read: _Read) -> pl.LazyFrame:
    frame = pl.scan_parquet(read.local_path())
    _check_columns(read, frame.collect_schema().names())
    return frame


def _with_lineage(frame: pl.LazyFrame, file: SourceFile, load_id: str) -> pl.LazyFrame:
    """Appends the lineage columns. SOURCE_MODIFIED is naive UTC (``Datetime("us")``), as
    the warehouse DATETIME type has no time zone."""
    modified = file.modified.astimezone(UTC).replace(tzinfo=None)
    return frame.with_row_index(lineage.ROW_NUMBER, offset=1).select(
        pl.all().exclude(lineage.ROW_NUMBER),
        pl.col(lineage.ROW_NUMBER),
        pl.lit(file.relative_path, dtype=pl.String).alias(lineage.SOURCE_FILE),
        pl.lit(modified, dtype=pl.Datetime("us")).alias(lineage.SOURCE_MODIFIED),
        pl.lit(load_id, dtype=pl.String).alias(lineage.LOAD_ID),
    )


def _check_columns(read: _Read, names: Sequence[str | None]) -> None:
    """Refuses blank, duplicate and reserved column names, listing every one."""
    problems = []
    positions: dict[str, list[int]] = defaultdict(list)
    for position, name in enumerate(names, start=1):
        if name is None or not name.strip():
            problems.append(f"column {position} has no name")
        elif name.startswith(RESERVED_PREFIX):
            problems.append(
                f"column {position} is named {name!r}, but names starting with "
                f"{RESERVED_PREFIX!r} are reserved for lineage"
            )
        else:
            positions[name].append(position)
    for name, where in positions.items():
        if len(where) > 1:
            listed = ", ".join(map(str, where[:-1])) + f" and {where[-1]}"
            problems.append(f"columns {listed} are {'both' if len(where) == 2 else 'all'} named {name!r}")
    if problems:
        raise read.error("; ".join(problems))


def _headerless_names(names: list[str]) -> list[str]:
    """Columns of files without a header are named column_1, column_2, ... as people count them."""
    return [f"column_{position}" for position in range(1, len(names) + 1)]


def _open(path: Path, compressed: bool) -> IO[bytes]:
    return gzip.open(path, "rb") if compressed else path.open("rb")


def _is_blank(path: Path) -> bool:
    """Whether the file holds nothing but whitespace (after an optional UTF-8 BOM)."""
    with path.open("rb") as stream:
        chunk = stream.read(CHUNK_SIZE).removeprefix(codecs.BOM_UTF8)
        while chunk:
            if chunk.strip():
                return False
            chunk = stream.read(CHUNK_SIZE)
    return True


class _UndecodableError(ValueError):
    def __init__(self, encoding: str, offset: int):
        self.encoding = encoding
        self.offset = offset
        super().__init__(f"byte {offset} is not valid {encoding}")


def _decoded_chunks(stream: IO[bytes], encoding: str) -> Iterator[str]:
    """The stream's text, CHUNK_SIZE bytes at a time; _UndecodableError gives the byte offset."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    while True:
        chunk = stream.read(CHUNK_SIZE)
        pending = len(decoder.getstate()[0])  # bytes of a character split by the previous chunk
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as error:
            raise _UndecodableError(encoding, offset - pending + error.start) from None
        yield text
        if not chunk:
            return
        offset += len(chunk)


def _transcode(source: IO[bytes], target: IO[bytes], encoding: str) -> None:
    """Copies ``source`` as UTF-8, without a BOM (it would end up in the first column's name)."""
    at_start = True
    for text in _decoded_chunks(source, encoding):
        if at_start and text:
            text, at_start = text.removeprefix(_BOM), False
        target.write(text.encode("utf-8"))


def _first_undecodable_byte(stream: IO[bytes], encoding: str) -> int | None:
    try:
        for _ in _decoded_chunks(stream, encoding):
            pass
    except _UndecodableError as error:
        return error.offset
    return None


def _not_decodable(encoding: str, offset: int | None, compressed: bool) -> str:
    where = "" if offset is None else f" at byte offset {offset}"
    if offset is not None and compressed:
        where += " (of the decompressed data)"
    return (
        f"the file is not valid {encoding}{where}; set csv.encoding to the file's encoding "
        "(e.g. latin-1, cp1252 or utf-16)"
    )
