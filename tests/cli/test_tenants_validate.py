"""``datawiz tenants validate``: every problem at once, with file and field; secrets by name only."""

from __future__ import annotations

import yaml

from datawiz_pipelines.settings import ProjectPaths

from .support import write_secrets

HIERARCHY_HEADER = "Territory Code,Territory Name,Area Code,Region Code,Zone,TSR Code,TSR Name\n"


def land(project: ProjectPaths, tenant_id: str, relative: str, text: str) -> None:
    path = project.data_dir / tenant_id / "source_files" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def edit_yaml(path, change) -> None:
    data = yaml.safe_load(path.read_text()) or {}
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_a_configured_tenant_with_secrets_is_valid_and_warns_about_missing_files(cli, project: ProjectPaths):
    write_secrets(project, "tenant2")
    land(
        project,
        "tenant2",
        "masters/Territory_Hierarchy.csv",
        HIERARCHY_HEADER + "W1,One,A1,R1,NORTH,T1,Tom\n",
    )

    result = cli("tenants", "validate", "tenant2")

    assert result.exit_code == 0, result.output
    assert result.output.startswith("tenant tenant2: valid (7 warnings)")
    assert "Territory_Hierarchy" not in result.output  # its file is there
    assert (
        "warning: tenant_configs/tenants/tenant2/mappings/dim_sales_group.yaml: source.patterns: "
        "no file in data/tenant2/source_files matches ['masters/Sales_Groups.csv']" in result.output
    )
    strict = cli("tenants", "validate", "tenant2", "--strict")
    assert strict.exit_code == 1
    assert "tenant tenant2: INVALID (7 warnings)" in strict.output


def test_missing_secrets_are_named_and_secret_values_never_printed(cli, project: ProjectPaths):
    config = project.config_dir / "tenants" / "tenant1" / "config.yaml"
    edit_yaml(config, lambda data: data.update(landing={"kind": "azure"}, notifications={"smtp_user": "etl"}))

    missing = cli("tenants", "validate", "tenant1")

    assert missing.exit_code == 1
    assert (
        "error: tenant_configs/tenants/tenant1/.env: file not found: copy .env.template to .env"
        in missing.output
    )
    assert "DB_PASSWORD, AZURE_STORAGE_CONNECTION_STRING or AZURE_SAS_TOKEN, SMTP_PASSWORD" in missing.output

    write_secrets(project, "tenant1", DB_PASSWORD="change-me", AZURE_SAS_TOKEN="sv=2024&sig=TOPSECRETSIG")
    placeholders = cli("tenants", "validate", "tenant1")

    assert placeholders.exit_code == 1
    env = "tenant_configs/tenants/tenant1/.env"
    assert f"error: {env}: DB_PASSWORD: still the placeholder from .env.template" in placeholders.output
    assert (
        f"error: {env}: SMTP_PASSWORD: not set (required: notifications.smtp_user is set)"
        in placeholders.output
    )
    assert "AZURE_SAS_TOKEN" not in placeholders.output  # one of the two Azure secrets is enough
    assert "TOPSECRETSIG" not in placeholders.output

    write_secrets(
        project, "tenant1", AZURE_SAS_TOKEN="sv=2024&sig=TOPSECRETSIG", SMTP_PASSWORD="mail-pass-99"
    )
    complete = cli("tenants", "validate", "tenant1")

    assert complete.exit_code == 0, complete.output
    for secret in ("db-secret-1234", "TOPSECRETSIG", "mail-pass-99"):
        assert secret not in complete.output


def test_every_configuration_problem_is_reported_at_once(cli, project: ProjectPaths):
    write_secrets(project, "tenant2")
    folder = project.config_dir / "tenants" / "tenant2"
    edit_yaml(folder / "config.yaml", lambda data: data.update(scheduler={"timezone": "Mars/Olympus"}))
    (folder / "mappings" / "dim_hierarchy.yaml").write_text("source: {patterns: [a.csv]\ncolumns: [\n")
    edit_yaml(
        folder / "mappings" / "dim_sales_group.yaml", lambda data: data["columns"].update(colour="Colour")
    )
    edit_yaml(
        folder / "mappings" / "fact_invoice_secondary.yaml",
        lambda data: data.update(filters=[*data.get("filters", []), "${no_such_rule} > 1"]),
    )

    result = cli("tenants", "validate", "tenant2")

    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("tenant tenant2: INVALID (3 errors")
    mappings = "tenant_configs/tenants/tenant2/mappings"
    assert any(
        line.startswith("  error: tenant_configs/tenants/tenant2/config.yaml: scheduler.timezone:")
        and "Mars/Olympus" in line
        for line in lines
    )
    assert any(
        line.startswith(f"  error: {mappings}/dim_hierarchy.yaml: line ") and "invalid YAML" in line
        for line in lines
    )
    assert (
        f"  error: {mappings}/dim_sales_group.yaml: columns.colour: not a column of dim_sales_group" in lines
    )
    # the settings are broken, so expressions cannot be compiled yet; the files are still checked
    assert any(f"{mappings}/fact_invoice_secondary.yaml: source.patterns" in line for line in lines)


def test_an_expression_that_does_not_compile_is_an_error(cli, project: ProjectPaths):
    write_secrets(project, "tenant2")
    mapping = project.config_dir / "tenants" / "tenant2" / "mappings" / "fact_invoice_secondary.yaml"
    edit_yaml(mapping, lambda data: data.update(filters=[*data.get("filters", []), "${no_such_rule} > 1"]))

    result = cli("tenants", "validate", "tenant2")

    assert result.exit_code == 1
    assert (
        "error: tenant_configs/tenants/tenant2/mappings/fact_invoice_secondary.yaml: filters."
        in result.output
    )
    assert "unknown business rule ${no_such_rule}" in result.output


def test_a_mapping_naming_a_column_the_source_lacks_is_an_error(cli, project: ProjectPaths):
    write_secrets(project, "tenant2")
    land(
        project,
        "tenant2",
        "masters/Territory_Hierarchy.csv",
        "Territory Code,Territory Name,Zone\nW1,One,NORTH\n",
    )

    result = cli("tenants", "validate", "tenant2")

    assert result.exit_code == 1
    where = "error: tenant_configs/tenants/tenant2/mappings/dim_hierarchy.yaml"
    assert (
        f"{where}: columns.area_code: source column 'Area Code' is not in masters/Territory_Hierarchy.csv; "
        "its columns are 'Territory Code', 'Territory Name', 'Zone'" in result.output
    )
    assert f"{where}: columns.tsr_name: source column 'TSR Name'" in result.output


def test_an_unregistered_tenant_and_usage_errors(cli, project: ProjectPaths):
    unknown = cli("tenants", "validate", "nobody")
    assert unknown.exit_code == 1
    assert "error: tenant_configs/registry.yaml: tenant 'nobody' is not registered" in unknown.output

    assert cli("tenants", "validate").exit_code == 2
    assert cli("tenants", "validate", "tenant1", "--all").exit_code == 2


def test_validate_all_reports_each_tenant_and_fails_if_any_fails(cli, project: ProjectPaths):
    for tenant_id in ("tenant1", "tenant2"):
        write_secrets(project, tenant_id)

    result = cli("tenants", "validate", "--all")

    assert result.exit_code == 1  # tenant3 has no .env
    verdicts = [line for line in result.output.splitlines() if line.startswith("tenant ")]
    assert [v.split(":")[0] for v in verdicts] == ["tenant tenant1", "tenant tenant2", "tenant tenant3"]
    assert "tenant tenant3: INVALID" in result.output


def test_a_broken_registry_is_reported_once(cli, project: ProjectPaths):
    registry = project.config_dir / "registry.yaml"
    edit_yaml(registry, lambda data: data["tenants"][1].update(database_name="datawiz_tenant1", tier="gold"))

    result = cli("tenants", "validate", "--all")

    assert result.exit_code == 1
    assert result.output.startswith("configuration: INVALID")
    assert "tenant_configs/registry.yaml: tenants.1.tier:" in result.output


def test_the_tenants_sql_models_are_parsed(cli, project: ProjectPaths):
    write_secrets(project, "tenant2")
    shared = project.config_dir / "sql" / "views" / "secondary_sales_view.sql"
    if not shared.exists():
        shared.parent.mkdir(parents=True, exist_ok=True)
        shared.write_text("-- Secondary sales.\nSELECT * FROM fact_invoice_secondary\n")
    own = project.config_dir / "tenants" / "tenant2" / "sql" / "views"
    own.mkdir(parents=True)
    (own / "secondary_sales_view.sql").write_text(
        "-- Mine.\nSELECT invoice_no FROM fact_invoice_secondary WHERE\n"
    )
    (own / "my_own_view.sql").write_text("-- Mine.\nSELECT 1 AS x\n")

    result = cli("tenants", "validate", "tenant2")

    assert result.exit_code == 1
    assert "error: tenant_configs/tenants/tenant2/sql/views/secondary_sales_view.sql: " in result.output
    assert (
        "error: tenant_configs/tenants/tenant2/sql/views/my_own_view.sql: overrides no shared model"
        in result.output
    )
