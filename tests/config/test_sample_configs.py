"""The shipped configuration: registry, shared defaults, the sample tenants and the template."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from datawiz_pipelines.config.loader import TEMPLATE_TENANT, ConfigRepository, TenantDisabledError
from datawiz_pipelines.config.secrets import TenantSecrets
from datawiz_pipelines.settings import PROJECT_ROOT

CONFIG_DIR = PROJECT_ROOT / "tenant_configs"
SECRET_KEYS = {
    "DB_PASSWORD",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_SAS_TOKEN",
    "SMTP_PASSWORD",
    "EMAIL_RECIPIENTS",
}
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


@pytest.fixture(scope="module")
def repository() -> ConfigRepository:
    return ConfigRepository(CONFIG_DIR)


@pytest.fixture(scope="module")
def template_repository(tmp_path_factory) -> ConfigRepository:
    """A copy of the configuration with the template onboarded as ``tenant_new``, as the
    onboarding steps do (a registry id cannot start with an underscore)."""
    root = tmp_path_factory.mktemp("config") / "tenant_configs"
    shutil.copytree(CONFIG_DIR, root, ignore=shutil.ignore_patterns(".env"))
    shutil.copytree(root / "tenants" / TEMPLATE_TENANT, root / "tenants" / "tenant_new")
    registry = yaml.safe_load((root / "registry.yaml").read_text())
    registry["tenants"].append(
        {
            "tenant_id": "tenant_new",
            "tenant_name": "New Tenant",
            "enabled": False,
            "database_name": "datawiz_tenant_new",
            "database_user": "tenant_new_admin",
        }
    )
    (root / "registry.yaml").write_text(yaml.safe_dump(registry, sort_keys=False))
    return ConfigRepository(root)


def test_registry(repository):
    registry = repository.registry
    assert registry.tenant_ids == ["tenant1", "tenant2", "tenant3"]
    assert [entry.tenant_id for entry in registry.enabled_tenants] == ["tenant1", "tenant2"]
    tenant1, tenant2, tenant3 = registry.tenants
    assert (tenant1.tenant_name, tenant1.tier, tenant1.schedule_priority) == (
        "Pidilite Mumbai Operations",
        "premium",
        1,
    )
    assert (tenant2.tenant_name, tenant2.tier, tenant2.schedule_priority) == (
        "Pidilite Delhi Operations",
        "standard",
        2,
    )
    assert (tenant3.tenant_name, tenant3.enabled) == ("Pidilite South Region", False)
    assert (
        tenant1.azure_container == "pidilite-mumbai-prod" and tenant1.azure_folder_prefix == "synapse_data/"
    )
    assert registry.global_config.max_concurrent_tenants == 2
    assert registry.global_config.tenant_timeout == 7200
    assert registry.global_config.fail_fast is False


@pytest.mark.parametrize("tenant_id", ["tenant1", "tenant2", "tenant3"])
def test_every_registered_tenant_loads(repository, tenant_id):
    tenant = repository.load_tenant(tenant_id)
    assert tenant.settings.tenant_id == tenant_id
    assert set(tenant.mappings) == set(repository.catalog.tables), "a mapping for every catalog table"
    assert tenant.settings.scheduler.timezone == "Asia/Kolkata"
    assert tenant.settings.validation.max_reject_ratio <= 0.05


def test_template_loads_once_onboarded(template_repository):
    tenant = template_repository.load_tenant("tenant_new")
    assert set(tenant.mappings) == set(template_repository.catalog.tables)
    assert tenant.settings.business_rules.material_type_filter == ["ZFGD"]
    # as shipped, every source column is named like its catalog column
    for mapping in tenant.mappings.values():
        assert all(spec.source == target for target, spec in mapping.columns.items())


def test_tenant3_is_disabled(repository):
    assert repository.entry("tenant3").enabled is False
    with pytest.raises(TenantDisabledError):
        repository.load_tenant("tenant3", require_enabled=True)
    repository.load_tenant("tenant1", require_enabled=True)


def test_shared_defaults_and_tenant_overrides(repository):
    shared = repository.shared_defaults()
    assert shared["validation"]["max_reject_ratio"] == 0.05
    assert shared["business_rules"]["material_type_filter"] == ["ZFGD"]
    tenant1 = repository.load_tenant("tenant1").settings
    tenant2 = repository.load_tenant("tenant2").settings
    assert str(tenant1.business_rules.date_filter_start) == "2023-04-01"
    assert tenant1.warehouse.tables.buckets == 16 and tenant2.warehouse.tables.buckets == 8
    assert tenant1.observability.service_name == "datawiz-tenant1"
    assert tenant2.validation.max_reject_ratio == 0.02
    assert tenant2.database.port == 9030  # from the shared defaults


@pytest.mark.parametrize("tenant_id", ["tenant1", "tenant2", "tenant3", TEMPLATE_TENANT])
def test_filters_use_rules_the_tenant_defines(repository, template_repository, tenant_id):
    if tenant_id == TEMPLATE_TENANT:
        tenant = template_repository.load_tenant("tenant_new")
    else:
        tenant = repository.load_tenant(tenant_id)
    rules = tenant.settings.business_rules.model_dump()
    for table, mapping in tenant.mappings.items():
        texts = list(mapping.filters) + [column.expr for column in mapping.computed]
        for name in {match for text in texts for match in PLACEHOLDER.findall(text)}:
            assert rules.get(name) not in (None, []), f"{tenant_id}/{table}: ${{{name}}} is not set"


@pytest.mark.parametrize("tenant_id", ["tenant1", "tenant2", "tenant3", TEMPLATE_TENANT])
def test_seed_mappings_match_the_seed_files(repository, template_repository, tenant_id):
    tenant = (
        template_repository.load_tenant("tenant_new")
        if tenant_id == TEMPLATE_TENANT
        else repository.load_tenant(tenant_id)
    )
    for table in ("ref_material_mapping", "ref_sales_group"):
        mapping = tenant.mappings[table]
        assert repository.catalog[table].source == "seed"
        for pattern in mapping.source.patterns:
            files = list(tenant.seeds_dir.glob(pattern))
            assert files, f"{tenant_id}/{table}: {pattern!r} matches nothing in seeds/"
            header = files[0].read_text(encoding=mapping.source.csv.encoding).splitlines()[0]
            columns = header.split(mapping.source.csv.separator)
            assert {spec.source for spec in mapping.columns.values()} <= set(columns)


@pytest.mark.parametrize("tenant_id", ["tenant1", "tenant2", "tenant3", TEMPLATE_TENANT])
def test_env_templates_name_every_secret_and_no_env_is_shipped(tenant_id):
    directory = CONFIG_DIR / "tenants" / tenant_id
    template = directory / ".env.template"
    keys = {
        line.split("=", 1)[0]
        for line in template.read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert keys == SECRET_KEYS
    secrets = TenantSecrets.from_env_file(template)
    assert secrets.missing(sorted(SECRET_KEYS)) == []
    assert "change-me" not in repr(secrets)
    tracked = Path(PROJECT_ROOT / ".gitignore").read_text()
    assert "tenant_configs/tenants/*/.env" in tracked


def test_tenant_layouts_really_differ(repository):
    tenant1 = repository.load_tenant("tenant1").mappings
    tenant2 = repository.load_tenant("tenant2").mappings

    def csv_options(mappings, table):
        return mappings[table].source.csv

    # separators, encodings, date formats
    assert csv_options(tenant1, "fact_invoice_secondary").separator == ";"
    assert csv_options(tenant2, "fact_invoice_secondary").separator == ","
    assert csv_options(tenant1, "dim_customer_master").encoding == "iso8859-1"  # latin-1
    assert csv_options(tenant2, "dim_customer_master").encoding == "utf-8-sig"  # byte-order mark
    assert tenant1["fact_invoice_secondary"].columns["invoice_date"].format == "%Y%m%d"
    assert tenant2["fact_invoice_secondary"].columns["invoice_date"].format == "%d.%m.%Y"
    assert tenant1["fact_invoice_details"].columns["net_amount"].decimal_comma is True
    # column names
    assert tenant1["dim_material"].columns["material_code"].source == "MATNR"
    assert tenant2["dim_material"].columns["material_code"].source == "Material Code"
    # file types
    assert tenant1["fact_invoice_secondary"].source.patterns[0].endswith(".csv.gz")
    assert tenant1["dim_dealer_master"].source.format == "excel"
    assert tenant2["fact_invoice_details"].source.format == "parquet"
    assert tenant2["dim_material"].source.format == "excel"
    # both tenants have historical and incremental fact files, de-duplicated keep_latest
    for mappings in (tenant1, tenant2):
        for table in ("fact_invoice_details", "fact_invoice_secondary"):
            patterns = mappings[table].source.patterns
            assert any(p.startswith("historical/") for p in patterns)
            assert any(p.startswith("incremental/") for p in patterns)
            assert mappings[table].on_duplicate_key == "keep_latest"
    # and every table's mapping differs between the two
    for table in repository.catalog.tables:
        assert tenant1[table] != tenant2[table], table


def test_mappings_use_every_kind_of_rule(repository):
    kinds = set()
    for tenant_id in ("tenant1", "tenant2"):
        for mapping in repository.load_tenant(tenant_id).mappings.values():
            kinds |= {rule.rule for rule in mapping.validations}
            if mapping.computed:
                kinds.add("computed")
            if mapping.filters:
                kinds.add("filter")
            if any(spec.round is not None for spec in mapping.columns.values()):
                kinds.add("round")
    assert {"not_null", "accepted_values", "range", "relationship", "expression", "unique"} <= kinds
    assert {"computed", "filter", "round"} <= kinds
    secondary = repository.load_tenant("tenant1").mappings["fact_invoice_secondary"]
    assert secondary.filters == [
        "invoice_date >= ${date_filter_start}",
        "material_type IN ${material_type_filter}",
    ]
    assert [column.name for column in secondary.computed] == ["total_amount"]
    details = repository.load_tenant("tenant1").mappings["fact_invoice_details"]
    assert details.computed[0].expr == "net_amount + coalesce(tax_amount, 0)"
