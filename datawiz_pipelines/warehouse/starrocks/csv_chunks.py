"""Silver parquet to Stream Load CSV bodies, in bounded chunks.

Stream Load does not accept parquet, so rows travel as CSV. Polars writes every
chunk in native code (no Python row loop). The encoding is one StarRocks reads
back exactly:

- fields separated by ``,`` and enclosed in ``"`` only when they need it, with an
  enclosed ``"`` doubled; StarRocks' ``enclose`` header treats everything inside
  the enclosure (separators and newlines included) as data and reads a doubled
  enclose character as one. No ``escape`` header is sent, so backslashes are data.
- ``\\N`` for NULL; an empty string is written ``""`` (empty, not NULL).
- dates ``YYYY-MM-DD``, datetimes ``YYYY-MM-DD HH:MM:SS.ffffff``, booleans 0/1.

A string whose whole value is ``\\N`` cannot be told from NULL in this format.

Chunks hold ``chunk_rows`` rows, fewer when that many would exceed
``chunk_bytes``; sizes depend only on the file and the settings, so the same
file always gives the same chunks and therefore the same content-addressed labels.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

CSV_HEADERS = {"format": "csv", "column_separator": ",", "enclose": '"'}
"""Stream Load headers that describe the bodies this module writes."""
_SAMPLE_ROWS = 1000
_HEADROOM = 0.9
"""Aim chunks at 90% of ``chunk_bytes`` so rows a little wider than the sample still fit."""


@dataclass(frozen=True)
class CsvChunk:
    index: int
    rows: int
    body: bytes
    """What is sent: the CSV, gzip-compressed when asked for."""
    csv_bytes: int
    digest: str
    """sha256 of the uncompressed CSV: the chunk's identity for its label."""


class SilverSchemaError(ValueError):
    """The silver file lacks columns the warehouse table has."""


def _csv_ready(schema: pl.Schema, columns: list[str]) -> list[pl.Expr]:
    """Columns in table order, as text StarRocks parses: polars' own casts give
    ``YYYY-MM-DD`` and ``YYYY-MM-DD HH:MM:SS.ffffff`` faster than format strings."""
    missing = [name for name in columns if name not in schema]
    if missing:
        raise SilverSchemaError(f"silver file has no column(s) {missing}")
    return [_as_text(pl.col(name), schema[name]) for name in columns]


def _as_text(column: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.Boolean:
        return column.cast(pl.UInt8)
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        return column.cast(pl.String)
    return column


def encode_csv(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_csv(
        buffer,
        include_header=False,
        separator=CSV_HEADERS["column_separator"],
        quote_char=CSV_HEADERS["enclose"],
        quote_style="necessary",
        null_value="\\N",
        line_terminator="\n",
    )
    return buffer.getvalue()


def _fitting_rows(lazy: pl.LazyFrame, chunk_rows: int, chunk_bytes: int) -> int:
    """Rows per chunk: ``chunk_rows``, fewer if the first rows say that many would pass ``chunk_bytes``."""
    sample = lazy.head(_SAMPLE_ROWS).collect()
    if sample.height == 0:
        return chunk_rows
    per_row = len(encode_csv(sample)) / sample.height
    return max(1, min(chunk_rows, int(chunk_bytes * _HEADROOM / per_row)))


def csv_chunks(
    silver_file: Path,
    columns: list[str],
    *,
    chunk_rows: int,
    chunk_bytes: int,
    compress: bool,
) -> Iterator[CsvChunk]:
    """The file's ``columns`` as CSV chunks, read from the parquet one slice at a time.

    A slice whose CSV still exceeds ``chunk_bytes`` (wider rows than the sample) is read
    again smaller, and later slices keep the smaller size.
    """
    lazy = pl.scan_parquet(silver_file)
    lazy = lazy.select(_csv_ready(lazy.collect_schema(), columns))
    total = lazy.select(pl.len()).collect().item()
    rows = _fitting_rows(lazy, chunk_rows, chunk_bytes)
    offset = index = 0
    while offset < total:
        frame = lazy.slice(offset, rows).collect()
        data = encode_csv(frame)
        if len(data) > chunk_bytes and frame.height > 1:
            rows = max(1, int(frame.height * chunk_bytes * _HEADROOM / len(data)))
            continue
        body = gzip.compress(data, compresslevel=1, mtime=0) if compress else data
        yield CsvChunk(index, frame.height, body, len(data), hashlib.sha256(data).hexdigest())
        offset += frame.height
        index += 1


def read_ahead(chunks: Iterator[CsvChunk]) -> Iterator[CsvChunk]:
    """The same chunks, the next one encoded in a worker thread while the caller sends this one.

    polars, sha256 and zlib release the GIL, so encoding overlaps the Stream Load round trip;
    at most two chunks are in memory.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="csv-chunks") as worker:
        pending = worker.submit(next, chunks, None)
        while (chunk := pending.result()) is not None:
            pending = worker.submit(next, chunks, None)
            yield chunk
