"""Text-preserving edits of registry.yaml: one entry at a time, checked, atomic."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from datawiz_pipelines.config.errors import ConfigError
from datawiz_pipelines.config.registry import TenantEntry
from datawiz_pipelines.onboarding.registry_file import RegistryEditError, plan_enabled, plan_new_entry

ENTRY = TenantEntry(
    tenant_id="acme", tenant_name="Acme: Pune", database_name="datawiz_acme", database_user="acme_admin"
)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# no tenants yet\nglobal_config:\n  fail_fast: false\n",
        "global_config: {fail_fast: true}  # keep\ntenants: []   # none yet\n",
        "tenants:\nglobal_config:\n  fail_fast: false\n",
    ],
)
def test_the_first_tenant_is_added_to_a_registry_without_tenants(tmp_path: Path, text: str):
    path = tmp_path / "registry.yaml"
    path.write_text(text)

    edit = plan_new_entry(path, ENTRY)
    edit.write()

    data = yaml.safe_load(path.read_text())
    assert data["tenants"][0]["tenant_id"] == "acme"
    assert data["tenants"][0]["tenant_name"] == "Acme: Pune"
    assert data["tenants"][0]["enabled"] is False
    for line in text.splitlines():
        if line.startswith("#") or line.startswith("global_config"):
            assert line in path.read_text()


def test_an_indentless_list_with_crlf_line_ends_keeps_its_style(tmp_path: Path):
    path = tmp_path / "registry.yaml"
    original = (
        "tenants:\r\n- tenant_id: one\r\n  tenant_name: One\r\n  database_name: db_one\r\n"
        "  database_user: one_admin\r\n\r\n# the end\r\nglobal_config:\r\n  fail_fast: true\r\n"
    )
    path.write_bytes(original.encode())

    plan_new_entry(path, ENTRY).write()
    plan_enabled(path, "one", True).write()

    text = path.read_bytes().decode()
    assert "\n" not in text.replace("\r\n", "")
    assert text.startswith("tenants:\r\n- tenant_id: one\r\n  enabled: true\r\n  tenant_name: One\r\n")
    assert '\r\n- tenant_id: acme\r\n  tenant_name: "Acme: Pune"\r\n' in text
    assert text.endswith("\r\n# the end\r\nglobal_config:\r\n  fail_fast: true\r\n")
    data = yaml.safe_load(text)
    assert [t["tenant_id"] for t in data["tenants"]] == ["one", "acme"]
    assert data["global_config"] == {"fail_fast": True}


def test_an_edit_that_would_break_the_registry_is_refused(tmp_path: Path):
    path = tmp_path / "registry.yaml"
    path.write_text(
        "tenants:\n  - tenant_id: one\n    tenant_name: One\n    database_name: datawiz_acme\n"
        "    database_user: one_admin\n"
    )
    before = path.read_bytes()

    with pytest.raises(ConfigError, match="database_name must be unique"):
        plan_new_entry(path, ENTRY)

    assert path.read_bytes() == before


def test_a_registry_changed_by_someone_else_meanwhile_is_not_overwritten(tmp_path: Path):
    path = tmp_path / "registry.yaml"
    path.write_text("tenants: []\n")
    edit = plan_new_entry(path, ENTRY)
    path.write_text("tenants: []\n# edited by a colleague\n")

    with pytest.raises(RegistryEditError, match="changed while it was being edited"):
        edit.write()

    assert path.read_text() == "tenants: []\n# edited by a colleague\n"
    assert [p.name for p in tmp_path.iterdir()] == ["registry.yaml"]  # no temporary file left
