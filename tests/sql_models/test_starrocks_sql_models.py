"""The StarRocks statements behind the SQL models parse with sqlglot's StarRocks dialect."""

from __future__ import annotations

import re
import warnings

import pytest
import sqlglot
from sqlglot import exp

from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.settings import PROJECT_ROOT
from datawiz_pipelines.sql_models.models import load_sql_models
from datawiz_pipelines.sql_models.tenant_models import resolve, security_policy
from datawiz_pipelines.warehouse.row_security import RowSecurityPolicy, RowSecurityRole
from datawiz_pipelines.warehouse.starrocks import sql_models as sr

REPOSITORY = ConfigRepository(PROJECT_ROOT / "tenant_configs")
MODELS = load_sql_models(REPOSITORY.root, REPOSITORY.catalog)
TENANT = REPOSITORY.load_tenant("tenant1")
DB = "datawiz_tenant1"

COMMANDS = {
    # statements sqlglot keeps as a Command: each checked against StarRocks' grammar instead
    "alter_mv": re.compile(r"^ALTER MATERIALIZED VIEW `\w+`\.`\w+` (ACTIVE|SWAP WITH `\w+`)$"),
    "create_role": re.compile(r"^CREATE ROLE IF NOT EXISTS \w+__\w+$"),
    "grant_role": re.compile(r"^GRANT \w+__\w+ TO USER '\w+'@'%'$"),
    "default_role": re.compile(r"^SET DEFAULT ROLE ALL TO '\w+'@'%'$"),
    "drop_role": re.compile(r"^DROP ROLE IF EXISTS \w+__\w+$"),
}


def parse(statement: str) -> exp.Expression:
    """One StarRocks statement; a Command (sqlglot's fallback) only where StarRocks syntax needs it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = sqlglot.parse(statement, read="starrocks")
    assert len(parsed) == 1, statement
    if isinstance(parsed[0], exp.Command):
        assert any(pattern.fullmatch(statement) for pattern in COMMANDS.values()), statement
    return parsed[0]


def rendered(name: str) -> str:
    return resolve(MODELS, TENANT, MODELS.models[name]).starrocks_sql(TENANT)


@pytest.mark.parametrize("name", list(MODELS.models))
def test_every_shared_model_wraps_into_statements_that_parse(name):
    model = MODELS.models[name]
    select = rendered(name)
    if model.kind == "views":
        statements = [sr.create_view_sql(DB, name, select, description=model.description)]
    elif model.kind == "matviews":
        _, statements = sr.materialized_view_statements(
            DB,
            name,
            select,
            exists=True,
            existing_fingerprint=None,
            staging=f"{name}__staging_1",
            refresh=model.refresh,
            description=model.description,
            replication_num=3,
        )
    else:
        statements = sr.replace_table_statements(
            DB, name, select, exists=True, staging=f"{name}__staging_1", description=model.description
        )
    creates = [parse(s) for s in statements if s.startswith("CREATE")]
    assert len(creates) == 1
    (create,) = creates
    assert isinstance(create, exp.Create)
    assert create.expression == sqlglot.parse_one(select, read="starrocks")  # the body, untouched
    comment = create.find(exp.SchemaCommentProperty)
    assert comment is not None and comment.this.name.startswith(model.description)
    for statement in statements:
        parse(statement)


def test_a_materialized_view_is_created_deferred_then_refreshed_synchronously():
    select = rendered("secondary_sales_matview")
    action, statements = sr.materialized_view_statements(
        DB,
        "secondary_sales_matview",
        select,
        exists=False,
        existing_fingerprint=None,
        staging="unused",
        description="Sales by month.",
        replication_num=1,
    )
    assert action == "created"
    create, refresh = (parse(s) for s in statements)
    refresh_property = create.find(exp.RefreshTriggerProperty)
    assert (refresh_property.args["method"], refresh_property.args["kind"]) == ("DEFERRED", "ASYNC")
    properties = [p for p in create.find_all(exp.Property) if type(p) is exp.Property]
    assert {p.name: p.text("value") for p in properties} == {"replication_num": "1"}
    assert isinstance(refresh, exp.Refresh)
    assert (
        statements[1]
        == "REFRESH MATERIALIZED VIEW `datawiz_tenant1`.`secondary_sales_matview` WITH SYNC MODE"
    )


def test_an_unchanged_materialized_view_is_reactivated_and_refreshed_a_changed_one_swapped():
    select = rendered("secondary_sales_matview")
    comment = parse(sr.create_materialized_view_sql(DB, "mv", select, description="It's \\ odd."))
    text = comment.find(exp.SchemaCommentProperty).this.name
    assert text.startswith("It's \\ odd. [datawiz-sql:")
    current = sr.fingerprint_in(text)
    assert current == sr.fingerprint(select, "ASYNC")
    action, statements = sr.materialized_view_statements(
        DB, "mv", select, exists=True, existing_fingerprint=current, staging="mv__staging_1"
    )
    assert (action, statements) == (
        "refreshed",
        [
            "ALTER MATERIALIZED VIEW `datawiz_tenant1`.`mv` ACTIVE",
            "REFRESH MATERIALIZED VIEW `datawiz_tenant1`.`mv` WITH SYNC MODE",
        ],
    )
    action, statements = sr.materialized_view_statements(
        DB, "mv", select, exists=True, existing_fingerprint=current, staging="mv__staging_1", refresh="MANUAL"
    )
    assert action == "replaced"
    assert [s.split("\n")[0] for s in statements] == [
        "DROP MATERIALIZED VIEW IF EXISTS `datawiz_tenant1`.`mv__staging_1`",
        "CREATE MATERIALIZED VIEW `datawiz_tenant1`.`mv__staging_1`",
        "REFRESH MATERIALIZED VIEW `datawiz_tenant1`.`mv__staging_1` WITH SYNC MODE",
        "ALTER MATERIALIZED VIEW `datawiz_tenant1`.`mv` SWAP WITH `mv__staging_1`",
        "DROP MATERIALIZED VIEW IF EXISTS `datawiz_tenant1`.`mv__staging_1`",
    ]
    assert sr.reactivate_statements(DB, ["a"]) == ["ALTER MATERIALIZED VIEW `datawiz_tenant1`.`a` ACTIVE"]


def test_a_derived_table_is_built_aside_then_swapped_or_renamed_in():
    select = rendered("business_constants")
    first = sr.replace_table_statements(DB, "business_constants", select, exists=False, staging="bc__s1")
    later = sr.replace_table_statements(DB, "business_constants", select, exists=True, staging="bc__s1")
    assert first[-1] == "ALTER TABLE `datawiz_tenant1`.`bc__s1` RENAME `business_constants`"
    assert later[-2:] == [
        "ALTER TABLE `datawiz_tenant1`.`business_constants` SWAP WITH `bc__s1`",
        "DROP TABLE IF EXISTS `datawiz_tenant1`.`bc__s1`",
    ]
    for statement in first + later:
        assert not isinstance(parse(statement), exp.Command)
    ctas = parse(first[1])
    assert isinstance(ctas, exp.Create) and ctas.args["kind"] == "TABLE"
    assert ctas.expression == sqlglot.parse_one(select, read="starrocks")


def test_row_level_security_grants_each_role_its_own_views_only():
    policy = security_policy(MODELS, TENANT, "fact_invoice_details")
    plan = sr.row_security_statements(
        DB,
        "tenant1",
        policy,
        existing_views=[
            "rls_retired__fact_invoice_details",
            "rls_retired__dim_dealer_master",
            "secondary_sales_view",
        ],
    )
    assert plan.tenant[0] == "DROP VIEW IF EXISTS `datawiz_tenant1`.`rls_retired__fact_invoice_details`"
    assert len(plan.tenant) == 1 + len(policy.roles)
    assert plan.roles == {
        "mumbai_metro": "tenant1__mumbai_metro",
        "central_zone": "tenant1__central_zone",
        "national_sales": "tenant1__national_sales",
    }
    grants = [s for s in plan.admin if s.startswith("GRANT SELECT")]
    assert grants == [
        f"GRANT SELECT ON VIEW `datawiz_tenant1`.`rls_{role}__fact_invoice_details` TO ROLE tenant1__{role}"
        for role in plan.roles
    ]
    assert "GRANT tenant1__mumbai_metro TO USER 'mumbai_analyst'@'%'" in plan.admin
    assert "SET DEFAULT ROLE ALL TO 'mumbai_analyst'@'%'" in plan.admin
    for statement in plan.tenant + plan.admin:
        parsed = parse(statement)
        if isinstance(parsed, exp.Grant):
            assert parsed.args["kind"] == "VIEW"
    view = parse(plan.tenant[1])
    assert isinstance(view, exp.Create) and view.args["replace"] is True
    assert view.expression.sql(dialect="starrocks") == policy.select_sql(policy.roles[0])


def test_filters_are_literals_whatever_the_territory_code():
    policy = RowSecurityPolicy("fact_invoice_secondary", (RowSecurityRole("odd", ("A'1", "B\\2", "C`3")),))
    select = parse(policy.select_sql(policy.roles[0]))
    values = [literal.name for literal in select.find(exp.In).expressions]
    assert values == ["A'1", "B\\2", "C`3"]


def test_roles_the_tenant_no_longer_names_are_stale_and_no_other_tenants():
    existing = [
        "tenant1__mumbai_metro",
        "tenant1__old",
        "tenant10__old",  # tenant10
        "tenant1__x__y",  # tenant1__x
        "tenant1___y",  # tenant1_
        "tenant1__",
        "root",
        "tenant2__old",
    ]
    assert sr.stale_roles("tenant1", ["mumbai_metro"], existing) == ["tenant1__old"]
    assert sr.stale_roles("tenant1", [], existing) == ["tenant1__mumbai_metro", "tenant1__old"]
    assert sr.stale_roles("tenant1_", [], existing) == ["tenant1___y"]
    assert sr.stale_roles("tenant1__x", [], existing) == ["tenant1__x__y"]
    parse(sr.drop_role_sql("tenant1__old"))


def test_dropping_a_model_uses_its_object_type():
    assert sr.drop_model_sql(DB, "m", "view") == "DROP VIEW IF EXISTS `datawiz_tenant1`.`m`"
    assert (
        sr.drop_model_sql(DB, "m", "materialized_view")
        == "DROP MATERIALIZED VIEW IF EXISTS `datawiz_tenant1`.`m`"
    )
    assert sr.drop_model_sql(DB, "m", "table") == "DROP TABLE IF EXISTS `datawiz_tenant1`.`m`"
    for kind in ("view", "materialized_view", "table"):
        assert isinstance(parse(sr.drop_model_sql(DB, "m", kind)), exp.Drop)
    for query in (sr.INACTIVE_MATERIALIZED_VIEWS_SQL, sr.MATERIALIZED_VIEW_COMMENT_SQL, sr.VIEWS_SQL):
        assert isinstance(parse(query.replace("%s", "'x'")), exp.Select)
