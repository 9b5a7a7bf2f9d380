"""A tenant's overrides, opt-outs and row-level security, checked with file-named messages."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from datawiz_pipelines.config.errors import ConfigError
from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.settings import ProjectPaths
from datawiz_pipelines.sql_models.models import load_sql_models
from datawiz_pipelines.sql_models.parsing import SqlModelError
from datawiz_pipelines.sql_models.tenant_models import protected_relations, resolve, security_policy
from datawiz_pipelines.sql_models.validation import problems_for_tenant, problems_for_tenant_id


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def configure(project: ProjectPaths, tenant_id: str, **sections) -> None:
    path = project.config_dir / "tenants" / tenant_id / "config.yaml"
    config = yaml.safe_load(path.read_text())
    config.update(sections)
    path.write_text(yaml.safe_dump(config))


def problems(project: ProjectPaths, tenant_id: str = "tenant1") -> list[str]:
    repository = ConfigRepository(project.config_dir)
    return problems_for_tenant(repository, repository.load_tenant(tenant_id))


@pytest.mark.parametrize("tenant_id", ["tenant1", "tenant2", "tenant3"])
def test_the_sample_tenants_have_no_problems(tenant_id):
    from datawiz_pipelines.settings import PROJECT_ROOT

    assert problems_for_tenant_id(ConfigRepository(PROJECT_ROOT / "tenant_configs"), tenant_id) == []


def test_an_override_replaces_the_body_for_that_tenant_only(project: ProjectPaths):
    override = write(
        project.config_dir / "tenants/tenant1/sql/derived/tsr_hierarchy.sql",
        "SELECT zone, wss_territory_code, tsr_code FROM dim_hierarchy WHERE zone <> 'CENTRAL'\n",
    )
    repository = ConfigRepository(project.config_dir)
    models = load_sql_models(project.config_dir, repository.catalog)
    model = models.models["tsr_hierarchy"]
    tenant1 = resolve(models, repository.load_tenant("tenant1"), model)
    tenant2 = resolve(models, repository.load_tenant("tenant2"), model)
    assert (tenant1.overridden, tenant1.source, tenant1.sql) == (True, override, override.read_text())
    assert (tenant2.overridden, tenant2.source) == (False, model.path)
    assert problems(project) == []


def test_an_override_reading_an_undeclared_table_is_refused(project: ProjectPaths):
    override = write(
        project.config_dir / "tenants/tenant1/sql/derived/tsr_hierarchy.sql",
        """
        SELECT h.*, f.net_amount
        FROM dim_hierarchy h JOIN fact_invoice_secondary f ON f.wss_territory_code = h.wss_territory_code
        """,
    )
    repository = ConfigRepository(project.config_dir)
    models = load_sql_models(project.config_dir, repository.catalog)
    with pytest.raises(SqlModelError) as caught:
        resolve(models, repository.load_tenant("tenant1"), models.models["tsr_hierarchy"])
    message = str(caught.value)
    assert message.startswith(f"{override}: reads fact_invoice_secondary, which the shared model ")
    assert "it reads dim_customer_master, dim_dealer_master, dim_hierarchy" in message
    assert problems(project) == [message]


def test_an_override_of_a_protected_view_keeps_the_territory(project: ProjectPaths):
    override = write(
        project.config_dir / "tenants/tenant1/sql/views/secondary_sales_view.sql",
        "SELECT invoice_no, net_amount FROM fact_invoice_secondary\n",
    )
    assert problems(project) == [
        f"{override}: returns no wss_territory_code column, which row-level security "
        "(security/secondary_sales_view) filters on; keep it among the columns"
    ]
    override.write_text("SELECT f.* FROM fact_invoice_secondary f\n")  # a star may hold it: the build checks
    assert problems(project) == []


def test_overrides_cannot_add_models_or_kinds(project: ProjectPaths):
    sql = project.config_dir / "tenants/tenant1/sql"
    write(sql / "views/my_own_view.sql", "SELECT 1 AS a\n")
    write(sql / "procedures/x.sql", "SELECT 1 AS a\n")
    write(
        sql / "views/primary_sales_view.sql",
        "SELECT * FROM fact_invoice_details WHERE net_amount > ${nope}\n",
    )
    found = problems(project)
    assert any("views/my_own_view.sql: overrides no shared model (shared views: " in p for p in found)
    assert any("sql/procedures: unknown kind of SQL model" in p for p in found)
    assert any("views/primary_sales_view.sql: unknown business rule ${nope}" in p for p in found)
    assert len(found) == 3


def test_opting_out_is_checked_against_the_shared_models(project: ProjectPaths):
    write(
        project.config_dir / "sql/derived/dealer_sales.sql",
        "-- Sales per dealer.\nSELECT dealer_code, SUM(net_amount) AS net FROM secondary_sales_view GROUP BY dealer_code\n",
    )
    configure(
        project,
        "tenant1",
        sql_models={"disabled": ["views/secondary_sales_view", "derived/nothing"]},
        row_level_security={
            "tables": ["fact_invoice_secondary", "secondary_sales_view", "dim_material"],
            "roles": {"north": {"territories": ["WSS0001"]}},
        },
    )
    found = problems(project)
    config = "tenants/tenant1/config.yaml"
    assert any(
        config in p and "sql_models.disabled: 'derived/nothing' is not a shared model" in p for p in found
    )
    assert any(
        "sql_models.disabled: views/secondary_sales_view is read by derived/dealer_sales, which is not disabled"
        in p
        for p in found
    )
    assert any("row_level_security.tables: 'dim_material' cannot be protected" in p for p in found)
    assert any(
        "'secondary_sales_view' is protected but sql_models.disabled opts out of views/secondary_sales_view"
        in p
        for p in found
    )
    assert len(found) == 4


def test_row_level_security_settings_are_validated_with_the_file_named(project: ProjectPaths):
    configure(
        project,
        "tenant1",
        row_level_security={
            "roles": {
                "bad__name": {"territories": ["T1"]},
                "empty": {"territories": []},
                "twice": {"territories": ["T1", "T1"]},
                "typo": {"territorys": ["T1"]},
            }
        },
    )
    with pytest.raises(ConfigError) as caught:
        ConfigRepository(project.config_dir).load_tenant("tenant1")
    text = "\n".join(caught.value.problems)
    assert "tenants/tenant1/config.yaml: row_level_security.roles.bad__name.[key]: Value error" in text
    assert "row_level_security.roles.empty.territories: Value error, list at least one territory" in text
    assert "row_level_security.roles.twice.territories: Value error, territories repeated: ['T1']" in text
    assert "row_level_security.roles.typo.territorys: Extra inputs are not permitted" in text


def test_the_policy_a_tenant_gets_for_each_relation(project: ProjectPaths):
    repository = ConfigRepository(project.config_dir)
    models = load_sql_models(project.config_dir, repository.catalog)
    tenant1, tenant2, tenant3 = (repository.load_tenant(t) for t in ("tenant1", "tenant2", "tenant3"))
    assert protected_relations(models, tenant1) == list(models.security)
    assert protected_relations(models, tenant2) == [
        "fact_invoice_secondary",
        "fact_invoice_details",
        "secondary_sales_view",
    ]
    assert protected_relations(models, tenant3) == []
    policy = security_policy(models, tenant1, "fact_invoice_details")
    assert [role.name for role in policy.roles] == ["mumbai_metro", "central_zone", "national_sales"]
    assert policy.roles[0].territories == ("WSS0001", "WSS0002", "WSS0003")
    assert policy.roles[0].users == ("mumbai_analyst",)
    assert policy.roles[2].territories is None
    assert policy.via.table == "dim_customer_master"
    assert security_policy(models, tenant2, "dim_dealer_master").roles == ()
