"""A tenant from nothing to its first materialization, through the CLI, touching no other tenant."""

from __future__ import annotations

import duckdb
import yaml
from dagster import DagsterInstance

from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.definitions import build_definitions
from datawiz_pipelines.jobs import TENANT_ETL_JOB
from datawiz_pipelines.sample_data.generator import generate_sample_data
from datawiz_pipelines.settings import ProjectPaths
from datawiz_pipelines.storage.tenant_paths import duckdb_warehouse_path

from .support import fingerprint, write_secrets


def test_new_edit_validate_provision_enable_materialize(cli, project: ProjectPaths):
    # another tenant already has a database and files
    write_secrets(project, "tenant2")
    assert cli("tenants", "provision", "tenant2").exit_code == 0
    other_file = project.data_dir / "tenant2" / "source_files" / "masters" / "Sales_Groups.csv"
    other_file.parent.mkdir(parents=True)
    other_file.write_text("Sales Group,Sales Group Name,Division\nS10,Adhesives,10\n")
    registry_path = project.config_dir / "registry.yaml"
    other_entries = yaml.safe_load(registry_path.read_text())["tenants"]
    data_before = fingerprint(project.data_dir)
    config_before = fingerprint(project.config_dir, skip=("registry.yaml",))

    # new
    created = cli(
        "tenants", "new", "acme", "--name", "Acme Paints", "--timezone", "Asia/Kolkata", "--no-input"
    )
    assert created.exit_code == 0, created.output
    assert not ConfigRepository(project.config_dir).entry("acme").enabled

    # edit: the operator fills in the secrets and adapts the configuration; the tenant's files arrive
    folder = project.config_dir / "tenants" / "acme"
    write_secrets(project, "acme", DB_PASSWORD="acme-db-pass")
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config["business_rules"]["sales_threshold"] = 2500
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    generate_sample_data(project.config_dir, project.data_dir, ["acme"], fact_rows=240)

    # validate
    validated = cli("tenants", "validate", "acme", "--strict")
    assert validated.exit_code == 0, validated.output
    assert validated.output.strip() == "tenant acme: valid"

    # provision
    provisioned = cli("tenants", "provision", "acme")
    assert provisioned.exit_code == 0, provisioned.output
    assert "database datawiz_acme" in provisioned.output

    # enable
    enabled = cli("tenants", "enable", "acme")
    assert enabled.exit_code == 0, enabled.output
    assert ConfigRepository(project.config_dir).entry("acme").enabled

    # materialize the new tenant's partition (definitions read the registry: built after `new`)
    job = build_definitions(project, backend="duckdb").resolve_job_def(TENANT_ETL_JOB)
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(partition_key="acme", instance=instance, raise_on_error=False)
    assert result.success, [event.message for event in result.get_step_failure_events()]

    # its tables are in its own database, with rows
    catalog = ConfigRepository(project.config_dir).catalog
    database = duckdb_warehouse_path(project.data_dir, "datawiz_acme")
    with duckdb.connect(str(database), read_only=True) as con:
        counts = {
            table.name: con.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0] for table in catalog
        }
    assert all(count > 0 for count in counts.values()), counts

    # and nothing of any other tenant changed: files, database, configuration, registry entries
    data_after = fingerprint(project.data_dir, skip=("acme/", "warehouse/datawiz_acme."))
    assert data_after == data_before
    config_after = fingerprint(project.config_dir, skip=("registry.yaml", "tenants/acme/"))
    assert config_after == config_before
    entries = yaml.safe_load(registry_path.read_text())["tenants"]
    assert entries[:-1] == other_entries
    assert entries[-1]["tenant_id"] == "acme" and entries[-1]["enabled"] is True
