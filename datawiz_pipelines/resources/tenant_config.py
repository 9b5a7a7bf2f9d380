"""The tenant configuration as a Dagster resource."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from dagster import ConfigurableResource

from datawiz_pipelines.config.loader import ConfigRepository, Tenant


class TenantConfigResource(ConfigurableResource):
    """Reads ``tenant_configs/`` at run time, one tenant at a time."""

    config_dir: str

    @cached_property
    def repository(self) -> ConfigRepository:
        return ConfigRepository(Path(self.config_dir))

    def load(self, tenant_id: str) -> Tenant:
        """The tenant's configuration; a disabled or unknown tenant fails here, at once."""
        return self.repository.load_tenant(tenant_id, require_enabled=True)
