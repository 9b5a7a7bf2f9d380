"""Reading one source file into a raw frame: every format, option and failure a tenant can cause."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import xlsxwriter
import xlwt

from datawiz_pipelines import lineage
from datawiz_pipelines.bronze.errors import (
    EmptySourceFileError,
    SourceFileError,
    UnsupportedFileTypeError,
)
from datawiz_pipelines.bronze.readers import READ_ERRORS, describe_read_error, read_source
from datawiz_pipelines.bronze.source_files import SourceFile, find_source_files
from datawiz_pipelines.config.mapping import SourceSpec

LOAD_ID = "run-42"
LINEAGE_COLUMNS = [lineage.ROW_NUMBER, lineage.SOURCE_FILE, lineage.SOURCE_MODIFIED, lineage.LOAD_ID]
REPO_ROOT = Path(__file__).resolve().parents[2]


def landed(tmp_path: Path, name: str, content: bytes) -> SourceFile:
    """``content`` dropped into the landing folder as ``name``, as find_source_files reports it."""
    landing = tmp_path / "landing"
    path = landing / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    [file] = find_source_files(landing, [name])
    return file


def read(file: SourceFile, tmp_path: Path, **spec: Any) -> pl.LazyFrame:
    return read_source(
        file,
        SourceSpec(patterns=["*"], **spec),
        tenant_id="acme",
        table="orders",
        scratch_dir=tmp_path / "scratch",
        load_id=LOAD_ID,
    )


def source_rows(frame: pl.LazyFrame) -> list[tuple[Any, ...]]:
    return frame.drop(LINEAGE_COLUMNS).collect().rows()


def source_columns(frame: pl.LazyFrame) -> list[str]:
    return [name for name in frame.collect_schema().names() if name not in LINEAGE_COLUMNS]


def collect_error(frame: pl.LazyFrame, file: SourceFile) -> SourceFileError:
    """The error collecting ``frame`` raises, as the asset factory reports it."""
    with pytest.raises(READ_ERRORS) as raised:
        frame.collect()
    return describe_read_error(raised.value, file, "acme", "orders")


def gzipped(content: bytes) -> bytes:
    return gzip.compress(content)


# --- CSV ---------------------------------------------------------------------------------------


def test_csv_columns_are_all_text_in_file_order(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.csv", b"id,amount,ordered_on\n1,12.50,2024-01-31\n2,007,31.01.2024\n")

    frame = read(file, tmp_path)

    assert frame.collect_schema() == pl.Schema(
        {
            "id": pl.String,
            "amount": pl.String,
            "ordered_on": pl.String,
            lineage.ROW_NUMBER: pl.get_index_type(),  # UInt32, or UInt64 with the 64-bit runtime
            lineage.SOURCE_FILE: pl.String,
            lineage.SOURCE_MODIFIED: pl.Datetime("us"),
            lineage.LOAD_ID: pl.String,
        }
    )
    assert source_rows(frame) == [("1", "12.50", "2024-01-31"), ("2", "007", "31.01.2024")]


def test_lineage_records_row_number_relative_path_naive_utc_modification_time_and_load(
    tmp_path: Path,
) -> None:
    file = landed(tmp_path, "2024/01/orders.csv", b"id\na\nb\nc\n")

    lineage_rows = read(file, tmp_path).select(LINEAGE_COLUMNS).collect().rows()

    modified = file.modified.replace(tzinfo=None)
    assert lineage_rows == [
        (1, "2024/01/orders.csv", modified, LOAD_ID),
        (2, "2024/01/orders.csv", modified, LOAD_ID),
        (3, "2024/01/orders.csv", modified, LOAD_ID),
    ]


def test_csv_separator_quote_char_and_lines_skipped_before_the_header(tmp_path: Path) -> None:
    content = b"Export 'Q1\n\nid;name;amount\n1;'Smith; John';12,50\n"
    file = landed(tmp_path, "orders.csv", content)

    frame = read(file, tmp_path, csv={"separator": ";", "quote_char": "'", "skip_rows": 2})

    assert source_columns(frame) == ["id", "name", "amount"]
    assert source_rows(frame) == [("1", "Smith; John", "12,50")]


def test_csv_without_quoting_keeps_quote_characters(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.csv", b'id,name\n1,"Smith\n')

    assert source_rows(read(file, tmp_path, csv={"quote_char": None})) == [("1", '"Smith')]


def test_empty_fields_are_null_by_default(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.csv", b"id,name\n1,\n2,NA\n")

    assert source_rows(read(file, tmp_path)) == [("1", None), ("2", "NA")]


def test_declared_null_tokens_are_null_and_empty_fields_stay_empty_unless_declared(
    tmp_path: Path,
) -> None:
    file = landed(tmp_path, "orders.csv", b"id,name\n1,\n2,NA\n3,-\n")

    assert source_rows(read(file, tmp_path, csv={"null_values": ["NA", "-"]})) == [
        ("1", ""),
        ("2", None),
        ("3", None),
    ]


def test_csv_without_header_names_columns_by_position(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.csv", b"1,a\n2,b\n")

    frame = read(file, tmp_path, csv={"has_header": False})

    assert source_columns(frame) == ["column_1", "column_2"]
    assert source_rows(frame) == [("1", "a"), ("2", "b")]


def test_comment_lines_are_ignored(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.csv", b"# exported by ERP\nid,name\n1,a\n# end\n")

    assert source_rows(read(file, tmp_path, csv={"comment_prefix": "#"})) == [("1", "a")]


def test_tsv_files_are_tab_separated_unless_a_separator_is_declared(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.tsv", b"id\tname,city\n1\ta,b\n")

    assert source_columns(read(file, tmp_path)) == ["id", "name,city"]
    assert source_columns(read(file, tmp_path, csv={"separator": ","})) == ["id\tname", "city"]


def test_text_files_are_read_as_csv(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.txt", b"id,name\n1,a\n")

    assert source_rows(read(file, tmp_path)) == [("1", "a")]


def test_gzipped_csv_is_decompressed_into_scratch_named_after_the_load(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.csv.gz", gzipped(b"id,name\n1,a\n"))

    assert source_rows(read(file, tmp_path)) == [("1", "a")]
    [copy] = (tmp_path / "scratch").iterdir()
    assert copy.name.startswith(f"{LOAD_ID}-") and copy.name.endswith("-orders.csv")


def test_file_type_detection_ignores_case(tmp_path: Path) -> None:
    file = landed(tmp_path, "ORDERS.CSV.GZ", gzipped(b"id\n1\n"))

    assert source_rows(read(file, tmp_path)) == [("1",)]


# --- encodings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "content"),
    [
        ("latin-1", "id,name\n1,Müller\n".encode("latin-1")),
        ("cp1252", "id,name\n1,Müller €\n".encode("cp1252")),
        ("utf-16", "id,name\n1,Müller\n".encode("utf-16")),
        ("utf-16-le", "\ufeffid,name\n1,Müller\n".encode("utf-16-le")),
    ],
)
def test_declared_encodings_are_transcoded(tmp_path: Path, encoding: str, content: bytes) -> None:
    file = landed(tmp_path, "orders.csv", content)

    frame = read(file, tmp_path, csv={"encoding": encoding})

    assert source_columns(frame) == ["id", "name"]
    assert source_rows(frame)[0][1].startswith("Müller")


def test_gzipped_latin1_is_decompressed_and_transcoded_in_one_pass(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.csv.gz", gzipped("id,name\n1,Müller\n".encode("latin-1")))

    assert source_rows(read(file, tmp_path, csv={"encoding": "latin-1"})) == [("1", "Müller")]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_a_utf8_byte_order_mark_is_not_part_of_the_first_column_name(tmp_path: Path, encoding: str) -> None:
    file = landed(tmp_path, "orders.csv", b"\xef\xbb\xbfid,name\n1,a\n")

    assert source_columns(read(file, tmp_path, csv={"encoding": encoding})) == ["id", "name"]


def test_latin1_bytes_in_a_utf8_file_fail_naming_the_byte_offset(tmp_path: Path) -> None:
    content = b"id,name\n" + b"1,Anna\n" * 10_000 + b"2,M" + "ü".encode("latin-1") + b"ller\n"
    file = landed(tmp_path, "orders.csv", content)

    error = collect_error(read(file, tmp_path), file)

    offset = content.index("ü".encode("latin-1"))
    assert str(error).startswith("tenant acme, table orders, file orders.csv: ")
    assert f"not valid utf-8 at byte offset {offset}" in str(error)
    assert "csv.encoding" in str(error)


def test_latin1_bytes_in_a_utf8_header_fail_before_reading(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.csv", b"id,M\xfcller\n1,2\n")

    with pytest.raises(SourceFileError, match=r"orders\.csv: the file is not valid utf-8 at byte offset 4"):
        read(file, tmp_path)


def test_bytes_undefined_in_the_declared_encoding_fail_naming_the_byte_offset(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.csv.gz", gzipped(b"id,name\n1,\x81\n"))

    with pytest.raises(SourceFileError) as raised:
        read(file, tmp_path, csv={"encoding": "cp1252"})

    assert "not valid cp1252 at byte offset 10 (of the decompressed data)" in str(raised.value)
    assert not list((tmp_path / "scratch").iterdir())


# --- empty, header-only and malformed CSV ------------------------------------------------------------


def test_a_header_only_csv_has_no_rows_but_all_its_columns(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.csv", b"id,name")

    frame = read(file, tmp_path)

    assert source_columns(frame) == ["id", "name"]
    assert frame.collect().height == 0


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("orders.csv", b""),
        ("orders.csv", b"  \r\n\n\t"),
        ("orders.csv", b"\xef\xbb\xbf\n"),
        ("orders.csv.gz", gzipped(b"")),
        ("orders.xlsx", b""),
        ("orders.parquet", b""),
    ],
)
def test_empty_or_blank_files_are_empty_source_file_errors(tmp_path: Path, name: str, content: bytes) -> None:
    file = landed(tmp_path, name, content)

    with pytest.raises(EmptySourceFileError, match=f"file {name}: the file is empty"):
        read(file, tmp_path)


def test_skipping_every_line_leaves_no_header(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.csv", b"title\nid\n")

    with pytest.raises(EmptySourceFileError, match="no header row after skipping 5 line"):
        read(file, tmp_path, csv={"skip_rows": 5})


def test_a_row_with_too_many_fields_fails_at_collect_naming_the_file(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.csv", b"id,name\n1,a\n2,b,extra\n")

    error = collect_error(read(file, tmp_path), file)

    assert str(error).startswith("tenant acme, table orders, file orders.csv: could not be read: ")
    assert "more fields" in str(error) and "csv.separator" in str(error)
    assert "truncate_ragged_lines" not in str(error)


def test_short_rows_are_padded_with_nulls(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.csv", b"id,name,city\n1,a\n")

    assert source_rows(read(file, tmp_path)) == [("1", "a", None)]


def test_blank_and_duplicate_header_names_are_all_reported(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.csv", b"id,Amount, ,x,Amount,x,x\n")

    with pytest.raises(SourceFileError) as raised:
        read(file, tmp_path)

    assert raised.value.problem == (
        "column 3 has no name; columns 2 and 5 are both named 'Amount'; columns 4, 6 and 7 are all named 'x'"
    )


def test_source_columns_may_not_use_the_lineage_prefix(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.csv", b"id,_dw_load_id\n1,2\n")

    with pytest.raises(SourceFileError, match=r"column 2 is named '_dw_load_id'.*reserved"):
        read(file, tmp_path)


# --- Excel ---------------------------------------------------------------------------------------------


def xlsx(path: Path, sheets: dict[str, list[list[Any]]]) -> bytes:
    """An .xlsx written by xlsxwriter; dates and datetimes get a date format, as Excel users do."""
    workbook = xlsxwriter.Workbook(path)
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    for name, rows in sheets.items():
        sheet = workbook.add_worksheet(name)
        for row_index, row in enumerate(rows):
            for column_index, value in enumerate(row):
                if isinstance(value, dt.date):
                    sheet.write_datetime(row_index, column_index, value, date_format)
                elif value is not None:
                    sheet.write(row_index, column_index, value)
    workbook.close()
    return path.read_bytes()


ORDERS_SHEET = [
    ["id", "ordered_on", "amount", "ratio", "tiny", "code", "paid", 2024],
    [1, dt.datetime(2024, 1, 31), 1234.56, 1 / 3, 1e-12, "007", True, None],
    [2, dt.datetime(2024, 2, 1, 13, 45, 10), 0.1, 42, 3.14159265358979, "n/a", False, "x"],
]


def test_xlsx_cells_come_out_as_their_text(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.xlsx", xlsx(tmp_path / "w.xlsx", {"Orders": ORDERS_SHEET}))

    frame = read(file, tmp_path)

    assert source_columns(frame) == ["id", "ordered_on", "amount", "ratio", "tiny", "code", "paid", "2024"]
    assert all(dtype == pl.String for dtype in frame.drop(LINEAGE_COLUMNS).collect_schema().dtypes())
    assert source_rows(frame) == [
        ("1", "2024-01-31 00:00:00", "1234.56", "0.3333333333333333", "1e-12", "007", "true", None),
        ("2", "2024-02-01 13:45:10", "0.1", "42", "3.14159265358979", "n/a", "false", "x"),
    ]
    assert frame.select(lineage.ROW_NUMBER).collect().to_series().to_list() == [1, 2]


def test_xlsx_sheet_by_name_or_index_with_rows_skipped_before_the_header(tmp_path: Path) -> None:
    sheets = {"Cover": [["nothing here"]], "Data": [["Sales report"], [], ["id", "name"], [1, "a"]]}
    file = landed(tmp_path, "orders.xlsx", xlsx(tmp_path / "w.xlsx", sheets))

    by_name = read(file, tmp_path, excel={"sheet": "Data", "skip_rows": 2})
    by_index = read(file, tmp_path, excel={"sheet": 1, "skip_rows": 2})

    assert source_rows(by_name) == source_rows(by_index) == [("1", "a")]
    assert source_columns(by_name) == ["id", "name"]


def test_a_missing_sheet_lists_the_sheets_there_are(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.xlsx", xlsx(tmp_path / "w.xlsx", {"Cover": [["x"]], "Data": [["id"]]}))

    with pytest.raises(
        SourceFileError, match=r"sheet 'Orders' not found; the workbook has sheets \['Cover', 'Data'\]"
    ):
        read(file, tmp_path, excel={"sheet": "Orders"})
    with pytest.raises(SourceFileError, match="sheet 2 not found"):
        read(file, tmp_path, excel={"sheet": 2})


def test_xlsx_without_header_names_columns_by_position(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.xlsx", xlsx(tmp_path / "w.xlsx", {"S": [[1, "a"], [2, "b"]]}))

    frame = read(file, tmp_path, excel={"has_header": False})

    assert source_columns(frame) == ["column_1", "column_2"]
    assert source_rows(frame) == [("1", "a"), ("2", "b")]


def test_a_header_only_sheet_has_no_rows_and_an_empty_sheet_is_an_error(tmp_path: Path) -> None:
    file = landed(
        tmp_path, "orders.xlsx", xlsx(tmp_path / "w.xlsx", {"Header": [["id", "name"]], "Empty": []})
    )

    header_only = read(file, tmp_path, excel={"sheet": "Header"})

    assert source_columns(header_only) == ["id", "name"]
    assert header_only.collect().height == 0
    with pytest.raises(EmptySourceFileError, match="sheet 'Empty' has no cells"):
        read(file, tmp_path, excel={"sheet": "Empty"})


def test_xlsx_header_names_are_checked_like_csv(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.xlsx", xlsx(tmp_path / "w.xlsx", {"S": [["id", None, "id"], [1, 2, 3]]}))

    with pytest.raises(SourceFileError, match="column 2 has no name; columns 1 and 3 are both named 'id'"):
        read(file, tmp_path)


def test_xls_written_by_xlwt(tmp_path: Path) -> None:
    workbook = xlwt.Workbook()
    sheet = workbook.add_sheet("Orders")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for column, value in enumerate(["id", "ordered_on", "amount", "name"]):
        sheet.write(0, column, value)
    sheet.write(1, 0, 1)
    sheet.write(1, 1, dt.date(2024, 1, 31), date_style)
    sheet.write(1, 2, 1234.56)
    sheet.write(1, 3, "Müller")
    workbook.save(str(tmp_path / "w.xls"))
    file = landed(tmp_path, "orders.xls", (tmp_path / "w.xls").read_bytes())

    assert source_rows(read(file, tmp_path)) == [("1", "2024-01-31 00:00:00", "1234.56", "Müller")]


def test_gzipped_xlsx_is_decompressed_first(tmp_path: Path) -> None:
    content = xlsx(tmp_path / "w.xlsx", {"S": [["id"], [1]]})
    file = landed(tmp_path, "orders.xlsx.gz", gzipped(content))

    assert source_rows(read(file, tmp_path)) == [("1",)]


def test_a_damaged_workbook_fails_naming_the_file(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.xlsx", b"this is not a zip archive")

    with pytest.raises(SourceFileError, match=r"file orders\.xlsx: could not be read: calamine error"):
        read(file, tmp_path)


# --- Parquet -------------------------------------------------------------------------------------------


def parquet(frame: pl.DataFrame, path: Path) -> bytes:
    frame.write_parquet(path)
    return path.read_bytes()


ORDERS = pl.DataFrame(
    {"id": [1, 2], "amount": [1.5, None], "ordered_on": [dt.date(2024, 1, 31), dt.date(2024, 2, 1)]}
)


@pytest.mark.parametrize("name", ["orders.parquet", "orders.parquet.gz"])
def test_parquet_keeps_its_native_types(tmp_path: Path, name: str) -> None:
    content = parquet(ORDERS, tmp_path / "w.parquet")
    file = landed(tmp_path, name, gzipped(content) if name.endswith(".gz") else content)

    frame = read(file, tmp_path).collect()

    assert frame.drop(LINEAGE_COLUMNS).equals(ORDERS)
    assert frame[lineage.ROW_NUMBER].to_list() == [1, 2]


def test_parquet_columns_may_not_use_the_lineage_prefix(tmp_path: Path) -> None:
    content = parquet(pl.DataFrame({"_dw_row_number": [1]}), tmp_path / "w.parquet")
    file = landed(tmp_path, "orders.parquet", content)

    with pytest.raises(SourceFileError, match=r"'_dw_row_number'.*reserved"):
        read(file, tmp_path)


# --- file types ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["orders.json", "orders.tar.gz", "orders", "orders.gz"])
def test_unsupported_file_types_name_the_file_and_the_supported_types(tmp_path: Path, name: str) -> None:
    file = landed(tmp_path, name, b"{}")

    with pytest.raises(UnsupportedFileTypeError) as raised:
        read(file, tmp_path)

    assert str(raised.value) == (
        f"tenant acme, table orders, file {name}: unsupported file type; "
        "supported: .csv, .txt, .tsv, .xlsx, .xls, .parquet (each optionally gzipped, .gz)"
    )


def test_a_declared_format_overrides_the_file_name(tmp_path: Path) -> None:
    csv_file = landed(tmp_path, "export.dat", b"id\n1\n")
    excel_file = landed(tmp_path, "export.bin.gz", gzipped(xlsx(tmp_path / "w.xlsx", {"S": [["id"], [2]]})))

    assert source_rows(read(csv_file, tmp_path, format="csv")) == [("1",)]
    assert source_rows(read(excel_file, tmp_path, format="excel")) == [("2",)]


def test_a_damaged_gzip_file_fails_naming_the_file(tmp_path: Path) -> None:
    file = landed(tmp_path, "orders.csv.gz", gzipped(b"id\n1\n" * 1000)[:-20])

    with pytest.raises(SourceFileError, match=r"file orders\.csv\.gz: could not be read"):
        read(file, tmp_path)


def test_source_file_errors_survive_pickling(tmp_path: Path) -> None:
    error = EmptySourceFileError("acme", "orders", "a.csv", "the file is empty")

    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is EmptySourceFileError
    assert str(copy) == "tenant acme, table orders, file a.csv: the file is empty"


# --- bounded memory --------------------------------------------------------------------------------------

SINK_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    from datawiz_pipelines.bronze.readers import read_source
    from datawiz_pipelines.bronze.source_files import find_source_files
    from datawiz_pipelines.config.mapping import SourceSpec

    landing, scratch, out = map(Path, sys.argv[1:])
    [file] = find_source_files(landing, ["*.csv"])
    frame = read_source(file, SourceSpec(patterns=["*.csv"]), tenant_id="acme", table="orders",
                        scratch_dir=scratch, load_id="run-42")
    frame.sink_parquet(out, row_group_size=100_000)
    print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    """
)


def write_large_csv(path: Path, megabytes: int) -> int:
    """Writes a CSV of about ``megabytes`` MB quickly, as one repeated block; returns its row count."""
    rows_per_block = 20_000
    block = "".join(
        f"{i},2024-01-{i % 28 + 1:02d},{i}.{i % 100:02d},{'x' * 60}\n" for i in range(rows_per_block)
    )
    data = block.encode()
    blocks = megabytes * 2**20 // len(data) + 1
    with path.open("wb") as out:
        out.write(b"id,ordered_on,amount,note\n")
        for _ in range(blocks):
            out.write(data)
    return blocks * rows_per_block


def test_a_csv_larger_than_the_memory_it_may_use_sinks_to_parquet_in_bounded_memory(
    tmp_path: Path,
) -> None:
    """Peak memory of a sink stays flat as files grow, so a 1 GB file must peak far below 1 GB.

    Polars keeps a fixed set of chunks in flight per thread (~250 MB of buffers at one
    thread, more with more threads), so the subprocess runs on one thread to make the
    bound the same on every machine; a non-streaming read would need about 3x the file.
    """
    if shutil.disk_usage(tmp_path).free < 3 * 2**30:
        pytest.skip("needs 3 GB of free disk for a 1 GB CSV")
    landing, csv, out = tmp_path / "landing", tmp_path / "landing" / "big.csv", tmp_path / "big.parquet"
    landing.mkdir()
    try:
        rows = write_large_csv(csv, 1024)
        file_mb = csv.stat().st_size / 2**20
        result = subprocess.run(
            [sys.executable, "-c", SINK_SCRIPT, str(landing), str(tmp_path / "scratch"), str(out)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "POLARS_MAX_THREADS": "1"},
        )
        peak_rss_mb = json.loads(result.stdout)["peak_rss_mb"]
        assert pl.scan_parquet(out).select(pl.len()).collect().item() == rows
    finally:
        csv.unlink(missing_ok=True)
        out.unlink(missing_ok=True)
    assert peak_rss_mb < file_mb / 2, f"peak RSS {peak_rss_mb:.0f} MB for a {file_mb:.0f} MB file"
