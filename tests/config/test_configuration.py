"""The configuration hierarchy and the errors a tenant's operator sees."""

from __future__ import annotations

import pytest
import yaml
from pydantic import SecretStr

from datawiz_pipelines.config.errors import ConfigError
from datawiz_pipelines.config.loader import ConfigRepository, TenantDisabledError, TenantNotFoundError
from datawiz_pipelines.config.secrets import TenantSecrets
from datawiz_pipelines.settings import ProjectPaths


def edit_yaml(path, change) -> None:
    data = yaml.safe_load(path.read_text()) or {}
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_shared_defaults_are_merged_under_the_tenant_config(project: ProjectPaths):
    (project.config_dir / "shared" / "zz_test.yaml").write_text(
        "database: {host: shared-host, port: 1111}\nvalidation: {max_reject_ratio: 0.2}\n"
    )
    edit_yaml(
        project.config_dir / "tenants/tenant1/config.yaml",
        lambda data: data.setdefault("database", {}).update(port=2222),
    )

    tenant = ConfigRepository(project.config_dir).load_tenant("tenant1")

    assert tenant.settings.database.port == 2222  # the tenant wins
    assert tenant.settings.database.host == "shared-host"  # the rest of the mapping is kept
    assert tenant.settings.validation.max_reject_ratio == 0.2


def test_a_bad_config_names_the_file_and_every_bad_field(project: ProjectPaths, monkeypatch):
    monkeypatch.chdir(project.config_dir.parent)
    edit_yaml(
        project.config_dir / "tenants/tenant2/config.yaml",
        lambda data: data.update(
            database={"port": "not-a-port"}, scheduler={"timezone": "Mars/Olympus"}, surprise=1
        ),
    )

    with pytest.raises(ConfigError) as error:
        ConfigRepository(project.config_dir).load_tenant("tenant2")

    problems = error.value.problems
    assert (
        "tenant_configs/tenants/tenant2/config.yaml: database.port: Input should be a valid integer, unable to parse string as an integer"
        in problems
    )
    assert any(
        p.startswith("tenant_configs/tenants/tenant2/config.yaml: scheduler.timezone:")
        and "Mars/Olympus" in p
        for p in problems
    )
    assert any(p.startswith("tenant_configs/tenants/tenant2/config.yaml: surprise:") for p in problems)


def test_invalid_yaml_is_reported_with_its_line(project: ProjectPaths, monkeypatch):
    monkeypatch.chdir(project.config_dir.parent)
    (project.config_dir / "tenants/tenant1/config.yaml").write_text("database:\n  port: [9030\n")

    with pytest.raises(
        ConfigError, match=r"tenant_configs/tenants/tenant1/config.yaml: line \d+, column \d+: invalid YAML"
    ):
        ConfigRepository(project.config_dir).load_tenant("tenant1")


def test_mapping_problems_are_reported_together_with_config_problems(project: ProjectPaths):
    edit_yaml(
        project.config_dir / "tenants/tenant1/config.yaml", lambda data: data.update(database={"port": "x"})
    )
    edit_yaml(
        project.config_dir / "tenants/tenant1/mappings/dim_material.yaml",
        lambda data: data["columns"].update(no_such_column="X"),
    )

    with pytest.raises(ConfigError) as error:
        ConfigRepository(project.config_dir).load_tenant("tenant1")

    text = str(error.value)
    assert "config.yaml: database.port" in text
    assert "mappings/dim_material.yaml: columns.no_such_column: not a column of dim_material" in text


def test_a_mapping_must_provide_every_required_column(project: ProjectPaths):
    def drop_material_code(data):
        data["columns"].pop("material_code")

    edit_yaml(project.config_dir / "tenants/tenant1/mappings/dim_material.yaml", drop_material_code)

    with pytest.raises(ConfigError, match="required column 'material_code' has no source"):
        ConfigRepository(project.config_dir).load_tenant("tenant1")


@pytest.mark.parametrize(
    "bad_id", ["Tenant1", "1tenant", "../tenant1", "t1; DROP DATABASE x", "tenant-1", ""]
)
def test_tenant_ids_that_could_escape_a_folder_or_reach_sql_are_refused(project: ProjectPaths, bad_id):
    edit_yaml(project.config_dir / "registry.yaml", lambda data: data["tenants"][0].update(tenant_id=bad_id))

    with pytest.raises(ConfigError, match=r"registry.yaml: tenants.0.tenant_id: .*not a valid identifier"):
        _ = ConfigRepository(project.config_dir).registry


def test_database_names_reaching_sql_are_identifiers_too(project: ProjectPaths):
    edit_yaml(
        project.config_dir / "registry.yaml",
        lambda data: data["tenants"][1].update(database_name="db`; DROP"),
    )
    with pytest.raises(ConfigError, match=r"tenants.1.database_name"):
        _ = ConfigRepository(project.config_dir).registry


def test_two_tenants_cannot_share_a_database(project: ProjectPaths):
    edit_yaml(
        project.config_dir / "registry.yaml",
        lambda data: data["tenants"][1].update(database_name=data["tenants"][0]["database_name"]),
    )
    with pytest.raises(ConfigError, match="database_name must be unique"):
        _ = ConfigRepository(project.config_dir).registry


def test_unknown_and_disabled_tenants_are_refused_with_the_registry_named(project: ProjectPaths):
    repository = ConfigRepository(project.config_dir)
    with pytest.raises(TenantNotFoundError, match="'nobody' is not registered"):
        repository.load_tenant("nobody")
    with pytest.raises(TenantDisabledError, match=r"'tenant3' is disabled in .*registry.yaml"):
        repository.load_tenant("tenant3", require_enabled=True)
    assert repository.load_tenant("tenant3").entry.enabled is False


def test_secrets_never_render(project: ProjectPaths):
    (project.config_dir / "tenants/tenant1/.env").write_text(
        "DB_PASSWORD=hunter2-db\nSMTP_PASSWORD=hunter2-smtp\nCUSTOM_TOKEN=hunter2-custom\n"
        "EMAIL_RECIPIENTS=a@example.com, b@example.com\n"
    )

    tenant = ConfigRepository(project.config_dir).load_tenant("tenant1")

    rendered = [
        repr(tenant),
        str(tenant),
        repr(tenant.secrets),
        str(tenant.secrets),
        tenant.secrets.model_dump_json(),
    ]
    for text in rendered:
        assert "hunter2" not in text
    assert tenant.secrets.DB_PASSWORD.get_secret_value() == "hunter2-db"
    assert tenant.secrets.EMAIL_RECIPIENTS == ["a@example.com", "b@example.com"]
    assert isinstance(tenant.secrets.CUSTOM_TOKEN, SecretStr)


def test_missing_secrets_are_listed_by_name():
    secrets = TenantSecrets(DB_PASSWORD="x")
    assert secrets.missing(["DB_PASSWORD", "SMTP_PASSWORD"]) == ["SMTP_PASSWORD"]


def test_starrocks_role_names_longer_than_starrocks_allows_are_refused_on_load(
    project: ProjectPaths, monkeypatch
):
    monkeypatch.chdir(project.config_dir.parent)
    tenant_id = "pidilite_south_region_operations_" + "x" * 7  # 40 characters
    edit_yaml(
        project.config_dir / "registry.yaml",
        lambda data: next(t for t in data["tenants"] if t["tenant_id"] == "tenant3").update(
            tenant_id=tenant_id
        ),
    )
    (project.config_dir / "tenants/tenant3").rename(project.config_dir / "tenants" / tenant_id)
    config = project.config_dir / "tenants" / tenant_id / "config.yaml"
    roles = {"regional_sales_manager": {"territories": "all"}}  # 40 + 2 + 22 = 64: allowed
    edit_yaml(config, lambda data: data.update(tenant_id=tenant_id, row_level_security={"roles": roles}))
    assert ConfigRepository(project.config_dir).load_tenant(tenant_id).settings.row_level_security.roles

    roles["regional_sales_managers"] = {"territories": "all"}  # 65
    edit_yaml(config, lambda data: data.update(row_level_security={"roles": roles}))
    with pytest.raises(ConfigError) as error:
        ConfigRepository(project.config_dir).load_tenant(tenant_id)
    assert error.value.problems == [
        f"tenant_configs/tenants/{tenant_id}/config.yaml: row_level_security.roles.regional_sales_managers: "
        f"tenant {tenant_id}'s StarRocks role {tenant_id}__regional_sales_managers is 65 characters, "
        "StarRocks allows at most 64; use a role name of at most 22 characters"
    ]
