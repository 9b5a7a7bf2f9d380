"""Lineage columns every row carries from bronze onwards.

Bronze adds all four; silver and the warehouse keep the first three so any row
can be traced to the file, the file's version and the run that loaded it.
"""

from __future__ import annotations

from datawiz_pipelines.config.column_types import ColumnType

SOURCE_FILE = "_dw_source_file"
"""Path of the source file relative to the tenant's landing (or seeds) folder."""
SOURCE_MODIFIED = "_dw_source_modified"
"""The source file's modification time (UTC, microseconds)."""
LOAD_ID = "_dw_load_id"
"""The Dagster run id that loaded the row."""
ROW_NUMBER = "_dw_row_number"
"""1-based data row number within the source file (bronze and rejects only)."""

REJECTED_RULE = "_dw_rejected_rule"
SUPERSEDED = "superseded"
"""The rejected-rule value of a row replaced by a later version of its key (keep_latest).

Superseded rows are kept in the rejected part as an audit trail but are not errors:
they count neither as rejected rows nor towards the reject ratio."""
REJECT_REASON = "_dw_reject_reason"

TABLE_LINEAGE_COLUMNS: dict[str, ColumnType] = {
    SOURCE_FILE: ColumnType("VARCHAR", length=1024),
    SOURCE_MODIFIED: ColumnType("DATETIME"),
    LOAD_ID: ColumnType("VARCHAR", length=64),
}
"""Lineage columns of silver and warehouse tables, after the canonical columns."""
