"""``datawiz migrate-legacy``: a legacy single-tenant ``db/`` layout imported into a tenant."""

from __future__ import annotations

from pathlib import Path

import pytest

from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.settings import ProjectPaths

from .support import fingerprint

FILES = {
    "column_mappings/05_dim_sales_group.yaml": """
table_name: DimSalesGroup
source_file: masters/VKGRP.csv
separator: ";"
encoding: latin-1
column_mapping:
  VKGRP: sales_group_code
  BEZEI: sales_group_name
  SPART: division
  LEGACY_FLAG: legacy_flag
dtypes: {sales_group_code: STRING, sales_group_name: VARCHAR(100)}
load_strategy: truncate_insert
""",
    "column_mappings/08_fact_invoice_secondary.yaml": """
source_files: ["secondary/ZSEC_*.csv"]
delimiter: "|"
columns:
  - {source: FKDAT, target: invoice_date}
  - {source: VBELN, target: invoice_no}
  - {source: POSNR, target: line_no}
  - {source: KUNNR, target: customer_code}
  - {source: DEALER, target: dealer_code}
  - {source: MATNR, target: material_code}
  - {source: WSS, target: wss_territory_code}
  - {source: FKIMG, target: quantity}
  - {source: NETWR, target: net_amount}
date_formats: {invoice_date: "%Y%m%d"}
roundoff: {net_amount: 2}
""",
    "column_mappings/09_unknown_table.yaml": "column_mapping: {A: a}\n",
    "seeds/DimSalesGroup.csv": "SalesGroup,BusinessUnit,TargetSharePct\nS10,Adhesives,35.00\n",
    "seeds/DimMaterialMapping.csv": "MaterialGroup,ReportingCategory,IsFocus\nADH,Adhesives,Y\n",
    "seeds/Unknown.csv": "a,b\n1,2\n",
    "seeds/SEED_MAPPING.py": 'SEED_MAPPING = {"DimSalesGroup.csv": "ref_sales_group"}\nEXTRA = dict(a=1)\n',
    "schemas/tables/05_dim_sales_group.py": '''
DDL = """
CREATE TABLE IF NOT EXISTS dim_sales_group (
    sales_group_code VARCHAR(10) NOT NULL,
    sales_group_name VARCHAR(100),
    division VARCHAR(64),
    legacy_flag TINYINT
) PRIMARY KEY (sales_group_code) DISTRIBUTED BY HASH(sales_group_code) BUCKETS 4
"""
''',
    "schemas/views/01_secondary_sales_view.py": '''
SQL = """CREATE VIEW secondary_sales_view AS
SELECT f.invoice_date, f.net_amount FROM datawiz_tenant1.fact_invoice_secondary f"""
''',
    "schemas/views/02_custom_view.sql": "CREATE VIEW custom_view AS SELECT 1 AS x;\n",
    "schemas/matviews/01_secondary_sales_matview.py": (
        'def create(db):\n    db.execute(f"CREATE MATERIALIZED VIEW {db.name}.mv AS SELECT 1")\n'
    ),
    "create_tables.py": "raise SystemExit('legacy scripts are never run')\n",
}


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    root = tmp_path / "legacy_project"
    for relative, text in FILES.items():
        path = root / "db" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"))
    return root


@pytest.fixture
def tenant(cli, project: ProjectPaths) -> Path:
    shared = project.config_dir / "sql" / "views" / "secondary_sales_view.sql"
    if not shared.exists():  # the shared model a tenant may replace
        shared.parent.mkdir(parents=True, exist_ok=True)
        shared.write_text("-- Secondary sales.\nSELECT * FROM fact_invoice_secondary\n")
    assert cli("tenants", "new", "acme", "--name", "Acme", "--no-input").exit_code == 0
    return project.config_dir / "tenants" / "acme"


def test_migrate_legacy_translates_mappings_seeds_and_views_and_reports_the_rest(cli, legacy, tenant):
    result = cli("migrate-legacy", str(legacy), "--tenant", "acme")

    assert result.exit_code == 0, result.output
    repository = ConfigRepository(tenant.parent.parent)
    loaded = repository.load_tenant("acme")  # every written mapping is valid
    sales_group = loaded.mapping("dim_sales_group")
    assert sales_group.source.patterns == ["masters/VKGRP.csv"]
    assert (sales_group.source.csv.separator, sales_group.source.csv.encoding) == (";", "iso8859-1")
    assert {t: c.source for t, c in sales_group.columns.items()} == {
        "sales_group_code": "VKGRP",
        "sales_group_name": "BEZEI",
        "division": "SPART",
    }
    facts = loaded.mapping("fact_invoice_secondary")
    assert facts.source.csv.separator == "|"
    assert facts.columns["invoice_date"].format == "%Y%m%d"
    assert facts.columns["net_amount"].round == 2
    assert facts.computed == []  # the template's total_amount reads tax_amount, not mapped any more
    assert facts.filters == ["invoice_date >= ${date_filter_start}"]  # the material_type one went too
    kept = {rule.rule for rule in facts.validations}
    assert "accepted_values" not in kept  # material_type is not mapped any more
    assert "relationship" in kept
    seeds = loaded.mapping("ref_sales_group")
    assert seeds.source.patterns == ["DimSalesGroup.csv"]
    assert {t: c.source for t, c in seeds.columns.items()} == {
        "sales_group_code": "SalesGroup",
        "business_unit": "BusinessUnit",
        "target_share": "TargetSharePct",
    }
    assert loaded.mapping("ref_material_mapping").source.patterns == ["DimMaterialMapping.csv"]
    assert (tenant / "seeds" / "Unknown.csv").read_text() == "a,b\n1,2\n"
    view = (tenant / "sql" / "views" / "secondary_sales_view.sql").read_text()
    assert view.startswith("-- secondary_sales_view: this tenant's own version")
    assert "FROM fact_invoice_secondary AS f" in view and "datawiz_tenant1" not in view
    assert not (tenant / "sql" / "views" / "custom_view.sql").exists()

    out = result.output
    untranslated = out[out.index("not translated") :]
    for expected in (
        "05_dim_sales_group.yaml: key 'load_strategy': not translated",
        "'legacy_flag' is not a column of dim_sales_group",
        "dtype of sales_group_code: 'STRING' not translated; the catalog's type VARCHAR(10)",
        "09_unknown_table.yaml: table 'unknown_table' is not in the catalog",
        "Unknown.csv: copied to seeds/, but no seed table of the catalog takes it",
        "SEED_MAPPING.py: line 2: not a plain literal, not imported",
        "05_dim_sales_group.py: column dim_sales_group.legacy_flag (TINYINT) is not in the catalog",
        "02_custom_view.sql: 'custom_view' is not a shared model",
        "01_secondary_sales_matview.py: line 2: SQL built with an f-string is not imported",
        "db/create_tables.py: not part of the legacy layout this command imports",
        "08_fact_invoice_secondary.yaml: the current mapping's computed column total_amount no longer applies",
        "08_fact_invoice_secondary.yaml: the current mapping's filter 'material_type IN ${material_type_filter}'",
    ):
        assert expected in untranslated, expected


def test_dry_run_reports_and_writes_nothing(cli, project: ProjectPaths, legacy, tenant):
    before = fingerprint(project.config_dir)

    result = cli("migrate-legacy", str(legacy), "--tenant", "acme", "--dry-run")

    assert result.exit_code == 0, result.output
    assert "would import" in result.output and "mappings/dim_sales_group.yaml" in result.output
    assert fingerprint(project.config_dir) == before


def test_migrate_legacy_needs_an_existing_tenant_and_a_legacy_layout(
    cli, project: ProjectPaths, legacy, tmp_path
):
    missing = cli("migrate-legacy", str(legacy), "--tenant", "acme")
    assert missing.exit_code == 1
    assert "create it first with `datawiz tenants new acme`" in missing.output

    empty = tmp_path / "empty"
    empty.mkdir()
    not_legacy = cli("migrate-legacy", str(empty), "--tenant", "tenant1")
    assert not_legacy.exit_code == 1
    assert "no db/schemas, db/column_mappings or db/seeds folder found" in not_legacy.output
    assert cli("migrate-legacy", str(legacy)).exit_code == 2  # --tenant is required
