"""What a model reads is found by parsing its SQL (StarRocks dialect), and bad files are named."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from datawiz_pipelines.config.errors import ConfigError
from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.config.tenant import BusinessRules
from datawiz_pipelines.settings import ProjectPaths
from datawiz_pipelines.sql_models.models import load_sql_models
from datawiz_pipelines.sql_models.parsing import (
    SqlModelError,
    parse_select,
    placeholders,
    relations_read,
    render_starrocks,
    starrocks_to_duckdb,
)


def reads(sql: str) -> tuple[str, ...]:
    return relations_read(parse_select(sql, where="model.sql"), where="model.sql")


def test_joins_ctes_subqueries_and_unions_are_all_found():
    sql = """
        WITH sales AS (
            SELECT f.*, m.material_group
            FROM fact_invoice_secondary AS f
            JOIN dim_material m ON m.material_code = f.material_code
        ),
        dealers AS (SELECT dealer_code FROM dim_dealer_master WHERE is_active)
        SELECT s.material_group,
               (SELECT MAX(zone) FROM dim_hierarchy h WHERE h.wss_territory_code = s.wss_territory_code) AS zone
        FROM sales AS s
        WHERE s.dealer_code IN (SELECT dealer_code FROM dealers)
          AND EXISTS (SELECT 1 FROM ref_material_mapping r WHERE r.material_group = s.material_group)
        UNION ALL
        SELECT sales_group_code, NULL FROM (SELECT sales_group_code FROM dim_sales_group) AS g
    """
    assert reads(sql) == (
        "dim_dealer_master",
        "dim_hierarchy",
        "dim_material",
        "dim_sales_group",
        "fact_invoice_secondary",
        "ref_material_mapping",
    )


def test_a_cte_named_like_a_table_is_the_cte():
    sql = "WITH dim_material AS (SELECT 1 AS material_code) SELECT * FROM dim_material"
    assert reads(sql) == ()


def test_placeholders_parse_and_are_listed():
    sql = "SELECT * FROM t WHERE a > ${sales_threshold} AND d >= ${date_filter_start} AND b > ${sales_threshold}"
    assert reads(sql) == ("t",)
    assert placeholders(sql) == ["sales_threshold", "date_filter_start"]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM other_db.fact_invoice_secondary", "names a database"),
        ("SELECT * FROM FILES('path' = 's3://x')", "reads from FILES"),
        ("DELETE FROM dim_material", "must be a query"),
        ("CREATE TABLE x AS SELECT 1", "must be a query"),
        ("SELECT 1; SELECT 2", "exactly one SELECT statement, found 2"),
        ("SELECT FROM WHERE", "not valid StarRocks SQL"),
        ("-- only a comment", "exactly one SELECT statement, found 0"),
    ],
)
def test_what_a_model_may_not_be(sql, message):
    with pytest.raises(SqlModelError, match=message) as caught:
        reads(sql)
    assert str(caught.value).startswith("model.sql: ")


def test_rendering_substitutes_rules_as_literals_and_transpiles():
    rules = BusinessRules.model_validate(
        {"sales_threshold": 500, "date_filter_start": "20230401", "regions": ["R'1", "R2"]}
    )
    sql = "SELECT * FROM t WHERE a > ${sales_threshold} AND d >= ${date_filter_start} AND r IN ${regions}"
    rendered = render_starrocks(sql, rules, tenant_id="tenant1", name="m", where="m.sql")
    assert "a > 500.0" in rendered
    assert "CAST('2023-04-01' AS DATE)" in rendered
    assert "IN ('R''1', 'R2')" in rendered
    assert "'R''1'" in starrocks_to_duckdb(rendered)
    with pytest.raises(SqlModelError, match=r"m\.sql: unknown business rule \$\{nope\}"):
        render_starrocks("SELECT ${nope}", rules, tenant_id="tenant1", name="m", where="m.sql")


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def load(project: ProjectPaths):
    return load_sql_models(project.config_dir, ConfigRepository(project.config_dir).catalog)


def load_problems(project: ProjectPaths) -> list[str]:
    """The problems ``load`` refuses the project's SQL models for (it must refuse them)."""
    with pytest.raises(ConfigError) as caught:
        load(project)
    return caught.value.problems


def test_the_shared_models_and_their_parsed_upstreams(project: ProjectPaths):
    models = load(project)
    assert models.models["business_constants"].reads == ("dim_material", "fact_invoice_secondary")
    assert models.asset_path("dim_material") == ["warehouse", "dim_material"]
    assert models.asset_path("secondary_sales_view") == ["views", "secondary_sales_view"]
    assert models.models["secondary_sales_matview"].refresh == "ASYNC"
    assert models.models["tsr_hierarchy"].description.startswith("TSR hierarchy: every territory")
    assert models.security["fact_invoice_details"].reads == ("fact_invoice_details", "dim_customer_master")


def test_a_model_reading_another_model_comes_after_it(project: ProjectPaths):
    write(
        project.config_dir,
        "sql/derived/a_top_dealers.sql",
        """
        -- Dealers by sales, from the secondary sales view.
        SELECT dealer_code, SUM(net_amount) AS net_sales FROM secondary_sales_view GROUP BY dealer_code
        """,
    )
    models = load(project)
    names = list(models.models)
    assert names.index("secondary_sales_view") < names.index("a_top_dealers")
    assert models.asset_path("secondary_sales_view") == ["views", "secondary_sales_view"]


def test_an_unknown_table_is_named_with_its_file(project: ProjectPaths):
    write(
        project.config_dir,
        "sql/views/bad_view.sql",
        """
        -- Reads a table nobody loads.
        SELECT * FROM fact_invoice_secondary f JOIN dim_unknown u ON u.k = f.dealer_code
        """,
    )
    (problem,) = load_problems(project)
    assert problem.endswith(
        "sql/views/bad_view.sql: reads unknown table(s) dim_unknown; a model reads catalog tables "
        "(tenant_configs/catalog/) and other models (tenant_configs/sql/)"
    )


def test_every_problem_is_reported_at_once(project: ProjectPaths):
    sql = project.config_dir / "sql"
    write(sql, "views/dim_material.sql", "-- Clashes with a table.\nSELECT 1 AS a\n")
    write(sql, "derived/no_header.sql", "SELECT 1 AS a\n")
    write(sql, "matviews/bad_refresh.sql", "-- MV.\n-- refresh: sometimes\nSELECT 1 AS a\n")
    write(sql, "derived/rls_mine.sql", "-- Reserved prefix.\nSELECT 1 AS a\n")
    write(sql, "derived/cycle_a.sql", "-- A.\nSELECT * FROM cycle_b\n")
    write(sql, "derived/cycle_b.sql", "-- B.\nSELECT * FROM cycle_a\n")
    write(sql, "tables/x.sql", "-- Unknown kind.\nSELECT 1 AS a\n")
    text = "\n".join(load_problems(project))
    assert "tables: unknown kind of SQL model" in text
    assert "views/dim_material.sql: 'dim_material' is a catalog table" in text
    assert "derived/no_header.sql: start the file with a comment" in text
    assert "matviews/bad_refresh.sql: refresh: 'sometimes' is not a refresh scheme" in text
    assert "derived/rls_mine.sql: names starting with 'rls_'" in text
    assert "read each other in a cycle" in text and "cycle_a.sql" in text and "cycle_b.sql" in text


def test_security_targets_are_checked_against_the_catalog(project: ProjectPaths):
    write(
        project.config_dir,
        "sql/security.yaml",
        """
        relations:
          dim_material: {}
          nothing_here: {}
          fact_invoice_details:
            via: {column: customer_code, table: dim_customer_master, to_column: nope}
        """,
    )
    text = "\n".join(load_problems(project))
    assert "relations.dim_material: the table has no wss_territory_code column" in text
    assert "relations.nothing_here: not a catalog table or SQL model" in text
    assert "relations.fact_invoice_details.via: unknown column(s) dim_customer_master.nope" in text


def test_a_refresh_scheme_is_read_from_the_header(project: ProjectPaths):
    write(
        project.config_dir,
        "sql/matviews/daily.sql",
        "-- Daily.\n-- refresh: async every (interval 1 day)\nSELECT invoice_date FROM fact_invoice_secondary\n",
    )
    model = load(project).models["daily"]
    assert model.refresh == "ASYNC EVERY (INTERVAL 1 DAY)"
    assert model.description == "Daily."
