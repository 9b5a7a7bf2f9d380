"""The data root as a resource, so assets and the IO manager agree on every path."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from datawiz_pipelines.storage.tenant_paths import TenantPaths


class TenantStorage(ConfigurableResource):
    data_dir: str

    def paths(self, tenant_id: str) -> TenantPaths:
        return TenantPaths(Path(self.data_dir), tenant_id)

    def run_dir(self, tenant_id: str, run_id: str) -> Path:
        """Scratch space of one run for one tenant; the run removes it when it ends."""
        return self.paths(tenant_id).temp / run_id

    def staging_dir(self, tenant_id: str, run_id: str, asset_path: list[str]) -> Path:
        return self.run_dir(tenant_id, run_id) / "staging" / "__".join(asset_path)
