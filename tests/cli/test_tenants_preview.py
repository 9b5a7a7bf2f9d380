"""``datawiz tenants preview``: mapped rows, schema and rejected rows of one file; writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from datawiz_pipelines.sample_data.generator import generate_sample_data
from datawiz_pipelines.settings import ProjectPaths

from .support import fingerprint

HIERARCHY = (
    "Territory Code,Territory Name,Area Code,Region Code,Zone,TSR Code,TSR Name\n"
    "W1,Karol Bagh,A1,R1,NORTH,T1,Tom\n"
    "W2,,A1,R1,NORTH,T2,Tia\n"  # no name: not_null
    "W3,Rohini,A2,R1,SOUTH,T3,Raj\n"  # zone not accepted
    "W4,Dwarka,A2,R1,CENTRAL,T4,Ria\n"
    "W5,Saket,A3,R2,NORTH,T5,Sam\n"
)


def land(project: ProjectPaths, relative: str, text: str, tenant_id: str = "tenant2") -> Path:
    path = project.data_dir / tenant_id / "source_files" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8-sig")
    return path


def test_preview_shows_mapped_rows_schema_and_rejected_rows_with_rule_and_reason(cli, project: ProjectPaths):
    land(project, "masters/Territory_Hierarchy.csv", HIERARCHY)

    result = cli("tenants", "preview", "tenant2", "dim_hierarchy")

    assert result.exit_code == 0, result.output
    out = result.output
    assert "tenant tenant2, table dim_hierarchy, file masters/Territory_Hierarchy.csv" in out
    assert "rows read 5  mapped 3  rejected 2  dropped by filters 0" in out
    assert "Mapped rows (3 of 3):" in out
    assert "Karol Bagh" in out and "Dwarka" in out and "Saket" in out
    assert "  wss_territory_code           VARCHAR(16)" in out
    assert "  _dw_source_file              VARCHAR(1024)" in out
    rejected = out[out.index("Rejected rows (2 of 2):") :]
    assert "  not_null: 1" in rejected and "  accepted_values: 1" in rejected
    assert "column territory_name (source 'Territory Name') is null" in rejected
    assert "column zone: 'SOUTH' is not one of 'NORTH', 'CENTRAL'" in rejected


def test_rows_limits_what_is_shown_not_what_is_counted(cli, project: ProjectPaths):
    land(project, "masters/Territory_Hierarchy.csv", HIERARCHY)

    result = cli("tenants", "preview", "tenant2", "dim_hierarchy", "--rows", "1")

    assert result.exit_code == 0, result.output
    assert "Mapped rows (1 of 3):" in result.output
    assert "Rejected rows (1 of 2):" in result.output
    assert "Karol Bagh" in result.output and "Dwarka" not in result.output
    assert cli("tenants", "preview", "tenant2", "dim_hierarchy", "--rows", "0").exit_code == 2


def test_preview_writes_nothing_anywhere(cli, project: ProjectPaths):
    """tenant1's secondary sales are gzipped, latin-1 CSV: the file must be decompressed to be read."""
    generate_sample_data(project.config_dir, project.data_dir, ["tenant1"], fact_rows=300)
    files = sorted((project.data_dir / "tenant1" / "source_files").rglob("ZSEC_SALES_*.csv.gz"))
    before = fingerprint(project.config_dir.parent)

    for args in ([], ["--file", str(files[0].relative_to(project.data_dir / "tenant1" / "source_files"))]):
        result = cli("tenants", "preview", "tenant1", "fact_invoice_secondary", *args)
        assert result.exit_code == 0, result.output
        assert "Mapped rows" in result.output

    assert fingerprint(project.config_dir.parent) == before


def test_file_picks_one_file_which_must_be_inside_the_tenants_folder(cli, project: ProjectPaths):
    land(project, "masters/Territory_Hierarchy.csv", HIERARCHY)
    other = land(project, "masters/Territory_Hierarchy.csv", HIERARCHY, tenant_id="tenant1")
    land(
        project,
        "masters/old_hierarchy.csv",
        HIERARCHY.splitlines(keepends=True)[0] + "W9,Old,A9,R9,NORTH,,\n",
    )

    picked = cli("tenants", "preview", "tenant2", "dim_hierarchy", "--file", "masters/old_hierarchy.csv")
    assert picked.exit_code == 0, picked.output
    assert "rows read 1  mapped 1" in picked.output
    assert "does not match the mapping's patterns: a run would not read it" in picked.output

    for outside in (
        str(other),
        "../../tenant1/source_files/masters/Territory_Hierarchy.csv",
        "/etc/hostname",
    ):
        result = cli("tenants", "preview", "tenant2", "dim_hierarchy", "--file", outside)
        assert result.exit_code == 2, result.output
        assert "is not inside the folder data/tenant2/source_files" in result.output
    missing = cli("tenants", "preview", "tenant2", "dim_hierarchy", "--file", "masters/nope.csv")
    assert missing.exit_code == 2
    assert "is not a file in data/tenant2/source_files" in missing.output


def test_seed_tables_preview_the_tenants_seed_files(cli, project: ProjectPaths):
    result = cli("tenants", "preview", "tenant1", "ref_sales_group")

    assert result.exit_code == 0, result.output
    assert "file DimSalesGroup.csv" in result.output
    assert "Adhesives & Sealants" in result.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["tenant2", "no_such_table"], 2, "'no_such_table' is not a table in the catalog"),
        (["nobody", "dim_hierarchy"], 1, "tenant 'nobody' is not registered"),
        (["tenant2", "dim_sales_group"], 1, "no file matches ['masters/Sales_Groups.csv']"),
    ],
)
def test_preview_usage_and_configuration_errors(cli, project: ProjectPaths, args, code, message):
    result = cli("tenants", "preview", *args)

    assert result.exit_code == code, result.output
    assert message in result.output


def test_a_mapping_naming_a_column_the_source_lacks_fails_the_preview(cli, project: ProjectPaths):
    land(project, "masters/Territory_Hierarchy.csv", "Territory Code,Territory Name,Zone\nW1,One,NORTH\n")

    result = cli("tenants", "preview", "tenant2", "dim_hierarchy")

    assert result.exit_code == 1
    assert "tenant tenant2, table dim_hierarchy: source column(s) 'Area Code', 'Region Code'" in result.output
    assert "available: 'Territory Code', 'Territory Name', 'Zone'" in result.output
