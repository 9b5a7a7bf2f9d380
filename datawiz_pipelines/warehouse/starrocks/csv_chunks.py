"""Silver parquet to Stream Load CSV bodies, in bounded chunks, encoded in parallel.

Stream Load does not accept parquet, so rows travel as CSV. Polars writes every
chunk in native code (no Python row loop). The encoding is one StarRocks reads
back exactly:

- fields separated by ``,`` and enclosed in ``"`` only when they need it, with an
  enclosed ``"`` doubled; StarRocks' ``enclose`` header treats everything inside
  the enclosure (separators and newlines included) as data and reads a doubled
  enclose character as one. No ``escape`` header is sent, so backslashes are data.
- ``\\N`` for NULL; an empty string is written ``""`` (empty, not NULL).
- dates ``YYYY-MM-DD``; datetimes ``YYYY-MM-DD HH:MM:SS``, with ``.ffffff`` only in
  chunks where some value has a fraction of a second; booleans 0/1.

A string whose whole value is ``\\N`` cannot be told from NULL in this format.

The file is cut into slices of a fixed number of rows (``chunk_rows``, fewer when
the first rows say that many would pass ``chunk_bytes``); a slice whose CSV still
passes ``chunk_bytes`` is halved until it fits. Chunks therefore depend only on the
file and the settings, so the same file always gives the same chunks and the same
content-addressed labels, and slices can be encoded side by side.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import itertools
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

CSV_HEADERS = {"format": "csv", "column_separator": ",", "enclose": '"'}
"""Stream Load headers that describe the bodies this module writes."""
ENCODING_THREADS = 2
"""Slices encoded at once. Polars, sha256 and zlib release the GIL, so two slices keep both
cores of a small machine busy where one leaves gaps between Polars' parallel sections;
at most ``ENCODING_THREADS + 1`` chunks are in memory."""
_SAMPLE_ROWS = 1000
_HEADROOM = 0.9
"""Aim chunks at 90% of ``chunk_bytes`` so rows a little wider than the sample still fit."""
_DATE_LOOKUP_MAX_DAYS = 100_000
"""Dates spanning at most this many days are written from a table of their texts."""


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


def _as_text(values: pl.Series) -> pl.Series:
    """A column as StarRocks parses it, where Polars' own CSV text is not that or is slow."""
    dtype = values.dtype
    if dtype == pl.Boolean:
        return values.cast(pl.UInt8)
    if dtype == pl.Date:
        return _date_text(values)
    if isinstance(dtype, pl.Datetime):
        return _datetime_text(values)
    return values


def _datetime_text(times: pl.Series) -> pl.Series:
    """``YYYY-MM-DD HH:MM:SS``, with ``.ffffff`` only if some value has a fraction of a second.
    A column with one value (a file's modification time on every row) is formatted once."""
    fraction = bool((times.dt.microsecond() != 0).any())
    first = times.min()
    if first is not None and first == times.max():
        text = first.isoformat(sep=" ", timespec="microseconds" if fraction else "seconds")
        return pl.select(
            pl.when(pl.lit(times).is_not_null()).then(pl.lit(text)).alias(times.name)
        ).to_series()
    return times.cast(pl.String) if fraction else times.dt.strftime("%Y-%m-%d %H:%M:%S")


def _date_text(dates: pl.Series) -> pl.Series:
    """``YYYY-MM-DD``: a fact table's dates span few days, so format each day once and gather
    (about seven times cheaper than formatting every value)."""
    days = dates.to_physical()
    first, last = days.min(), days.max()
    if first is None or last - first > _DATE_LOOKUP_MAX_DAYS:
        return dates.cast(pl.String)
    texts = pl.int_range(first, last + 1, dtype=pl.Int32, eager=True).cast(pl.Date).cast(pl.String)
    return texts.gather(days - first).alias(dates.name)


def _encode_csv(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    pl.DataFrame([_as_text(column) for column in frame.iter_columns()]).write_csv(
        buffer,
        include_header=False,
        separator=CSV_HEADERS["column_separator"],
        quote_char=CSV_HEADERS["enclose"],
        quote_style="necessary",
        null_value="\\N",
        line_terminator="\n",
    )
    return buffer.getvalue()


def _slice_rows(lazy: pl.LazyFrame, chunk_rows: int, chunk_bytes: int) -> int:
    """Rows per slice: ``chunk_rows``, fewer if the first rows say that many would pass ``chunk_bytes``."""
    sample = lazy.head(_SAMPLE_ROWS).collect()
    if sample.height == 0:
        return chunk_rows
    per_row = len(_encode_csv(sample)) / sample.height
    return max(1, min(chunk_rows, int(chunk_bytes * _HEADROOM / per_row)))


def _encoded_slice(frame: pl.DataFrame, chunk_bytes: int, compress: bool) -> list[CsvChunk]:
    """One slice as one chunk, or as several if its CSV passes ``chunk_bytes`` (numbered later)."""
    data = _encode_csv(frame)
    if len(data) > chunk_bytes and frame.height > 1:
        half = frame.height // 2
        return _encoded_slice(frame.slice(0, half), chunk_bytes, compress) + _encoded_slice(
            frame.slice(half), chunk_bytes, compress
        )
    body = gzip.compress(data, compresslevel=1, mtime=0) if compress else data
    return [CsvChunk(0, frame.height, body, len(data), hashlib.sha256(data).hexdigest())]


def csv_chunks(
    silver_file: Path,
    columns: list[str],
    *,
    chunk_rows: int,
    chunk_bytes: int,
    compress: bool,
) -> Iterator[CsvChunk]:
    """The file's ``columns`` as CSV chunks, in file order, read from the parquet a slice at a
    time; the next slices are encoded in worker threads while the caller sends this one."""
    lazy = pl.scan_parquet(silver_file)
    missing = [name for name in columns if name not in lazy.collect_schema()]
    if missing:
        raise SilverSchemaError(f"silver file has no column(s) {missing}")
    lazy = lazy.select(columns)
    total = lazy.select(pl.len()).collect().item()
    rows = _slice_rows(lazy, chunk_rows, chunk_bytes)

    def encode(offset: int) -> list[CsvChunk]:
        return _encoded_slice(lazy.slice(offset, rows).collect(), chunk_bytes, compress)

    offsets = iter(range(0, total, rows))
    workers = ThreadPoolExecutor(ENCODING_THREADS, thread_name_prefix="csv-chunks")
    pending: deque[Future[list[CsvChunk]]] = deque(
        workers.submit(encode, offset) for offset in itertools.islice(offsets, ENCODING_THREADS)
    )
    try:
        index = 0
        while pending:
            encoded = pending.popleft().result()
            if (offset := next(offsets, None)) is not None:
                pending.append(workers.submit(encode, offset))
            for chunk in encoded:
                yield replace(chunk, index=index)
                index += 1
    finally:
        workers.shutdown(wait=True, cancel_futures=True)
