"""Fixtures for the StarRocks backend tests: a fresh stand-in per test, tenants pointing at it,
and silver parquet files built from catalog tables."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from starrocks_standin import StandIn, running_standin

from datawiz_pipelines.config.catalog import Catalog
from datawiz_pipelines.config.loader import ConfigRepository, Tenant
from datawiz_pipelines.config.registry import TenantEntry
from datawiz_pipelines.config.secrets import TenantSecrets
from datawiz_pipelines.config.tenant import TenantSettings
from datawiz_pipelines.warehouse.starrocks import StarRocksWarehouse

from .support import ADMIN_PASSWORD, CONFIG_ROOT, tenant_password


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return ConfigRepository(CONFIG_ROOT).catalog


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with running_standin(admin_user="root", admin_password=ADMIN_PASSWORD) as running:
        yield running


@pytest.fixture
def make_tenant(standin: StandIn, tmp_path: Path) -> Callable[..., Tenant]:
    def make(
        tenant_id: str = "acme",
        *,
        stream_load: dict[str, Any] | None = None,
        password: str | None = None,
        without_password: bool = False,
    ) -> Tenant:
        settings = TenantSettings.model_validate(
            {
                "database": {"host": standin.host, "port": standin.mysql_port, "http_port": standin.fe_port},
                "warehouse": {"stream_load": stream_load or {}},
            }
        )
        secret = None if without_password else password or tenant_password(tenant_id)
        return Tenant(
            entry=TenantEntry(
                tenant_id=tenant_id,
                tenant_name=tenant_id.title(),
                database_name=f"{tenant_id}_dw",
                database_user=f"{tenant_id}_loader",
            ),
            settings=settings,
            mappings={},
            secrets=TenantSecrets(DB_PASSWORD=SecretStr(secret) if secret else None),
            config_dir=tmp_path / tenant_id,
        )

    return make


@pytest.fixture
def warehouse(standin: StandIn) -> Iterator[StarRocksWarehouse]:
    resource = StarRocksWarehouse(
        host=standin.host,
        port=standin.mysql_port,
        http_port=standin.fe_port,
        admin_user="root",
        admin_password=ADMIN_PASSWORD,
        retry_backoff_seconds=0.01,
        load_state_timeout_seconds=2.0,
    )
    yield resource
    resource.close()
