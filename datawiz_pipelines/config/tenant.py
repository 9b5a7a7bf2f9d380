"""A tenant's own settings: ``tenant_configs/shared/*.yaml`` merged under
``tenant_configs/tenants/<id>/config.yaml`` (the tenant wins)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, Field, field_validator

from datawiz_pipelines.config.governance import RowLevelSecuritySettings, SqlModelSettings
from datawiz_pipelines.config.identifiers import Identifier
from datawiz_pipelines.config.registry import StrictModel


class DatabaseSettings(StrictModel):
    """Where the tenant's StarRocks database is served; name and user come from the registry."""

    host: str = "127.0.0.1"
    port: int = Field(default=9030, ge=1, le=65535)
    http_port: int = Field(default=8030, ge=1, le=65535)


class LandingSettings(StrictModel):
    """Where the tenant's files arrive: ``local`` (data/<tenant>/source_files, as dropped) or
    ``azure`` (the registry's azure_container/azure_folder_prefix, mirrored there)."""

    kind: Literal["local", "azure"] = "local"
    account_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s?#]+$",
        description="blob endpoint, https://<account>.blob.core.windows.net; needed with AZURE_SAS_TOKEN "
        "(a connection string names its own endpoint)",
    )
    backup_prefix: str | None = Field(
        default=None,
        pattern=r"^[^\\]*$",
        description="azure: where source_files_backup archives processed blobs "
        "(default: the landing prefix with _backup, e.g. synapse_data_backup/)",
    )


class BusinessRules(StrictModel):
    """Named values a tenant's filters and derived tables use as ``${name}``.

    The known rules are typed; a tenant may add its own (numbers, strings, dates
    or lists of them).
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    date_filter_start: dt.date | None = None
    sales_threshold: float | None = None
    material_type_filter: list[str] = Field(default_factory=list)

    @field_validator("date_filter_start", mode="before")
    @classmethod
    def _compact_date(cls, value: object) -> object:
        if isinstance(value, int | str) and re.fullmatch(r"\d{8}", str(value)):
            text = str(value)
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        return value


class SchedulerSettings(StrictModel):
    timezone: str = "UTC"
    enable_evening_jobs: bool = True
    enable_morning_jobs: bool = True
    evening_start_time: str = Field(default="18:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    morning_start_time: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value


class StarRocksTableSettings(StrictModel):
    buckets: int = Field(default=8, ge=1)
    replication_num: int = Field(default=1, ge=1)


class StreamLoadSettings(StrictModel):
    strict_mode: bool = True
    max_filter_ratio: float = Field(default=0.0, ge=0, le=1)
    timezone: str | None = None
    chunk_rows: int = Field(default=500_000, ge=1)
    chunk_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)
    compression: Literal["none", "gzip"] = "none"
    timeout_seconds: int = Field(default=600, ge=1, le=259200)
    max_retries: int = Field(default=3, ge=0)


class WarehouseSettings(StrictModel):
    tables: StarRocksTableSettings = StarRocksTableSettings()
    stream_load: StreamLoadSettings = StreamLoadSettings()


class ValidationSettings(StrictModel):
    max_reject_ratio: float = Field(
        default=0.05, ge=0, le=1, description="share of rows a table may reject before failing"
    )


class NotificationSettings(StrictModel):
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str | None = None
    sender: str = "datawiz@localhost"
    use_tls: bool = False
    success_digest: bool = False


class ObservabilitySettings(StrictModel):
    service_name: str | None = None
    enable_tracing: bool = False
    enable_metrics: bool = True


class TenantSettings(StrictModel):
    tenant_id: Identifier | None = Field(
        default=None, description="optional; when given it must match the folder name"
    )
    database: DatabaseSettings = DatabaseSettings()
    landing: LandingSettings = LandingSettings()
    business_rules: BusinessRules = BusinessRules()
    scheduler: SchedulerSettings = SchedulerSettings()
    warehouse: WarehouseSettings = WarehouseSettings()
    validation: ValidationSettings = ValidationSettings()
    notifications: NotificationSettings = NotificationSettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    sql_models: SqlModelSettings = SqlModelSettings()
    row_level_security: RowLevelSecuritySettings = RowLevelSecuritySettings()
