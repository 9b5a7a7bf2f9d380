"""The tenant registry: ``tenant_configs/registry.yaml``, the master list of tenants."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from datawiz_pipelines.config.identifiers import Identifier


class StrictModel(BaseModel):
    """Base for configuration models: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TenantEntry(StrictModel):
    tenant_id: Identifier
    tenant_name: str = Field(min_length=1)
    enabled: bool = False
    database_name: Identifier
    database_user: Identifier
    azure_container: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
    azure_folder_prefix: str = Field(default="", pattern=r"^[^\\]*$")
    schedule_priority: int = Field(default=100, ge=0, le=1000)
    tier: Literal["premium", "standard", "basic"] = "standard"


class GlobalConfig(StrictModel):
    max_concurrent_tenants: int = Field(default=1, ge=1)
    tenant_timeout: int = Field(default=7200, gt=0, description="seconds a tenant run may take")
    fail_fast: bool = False
    shared_starrocks_cluster: bool = True


class Registry(StrictModel):
    global_config: GlobalConfig = GlobalConfig()
    tenants: list[TenantEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids_and_databases(self) -> Registry:
        for field in ("tenant_id", "database_name", "database_user"):
            values = [getattr(entry, field) for entry in self.tenants]
            duplicates = sorted({value for value in values if values.count(value) > 1})
            if duplicates:
                raise ValueError(f"{field} must be unique across tenants; repeated: {duplicates}")
        return self

    def get(self, tenant_id: str) -> TenantEntry | None:
        return next((entry for entry in self.tenants if entry.tenant_id == tenant_id), None)

    @property
    def tenant_ids(self) -> list[str]:
        return [entry.tenant_id for entry in self.tenants]

    @property
    def enabled_tenants(self) -> list[TenantEntry]:
        return [entry for entry in self.tenants if entry.enabled]
