"""Tenants as the partition dimension of every table asset."""

from __future__ import annotations

from dagster import StaticPartitionsDefinition

from datawiz_pipelines.config.registry import Registry


def tenant_partitions(registry: Registry) -> StaticPartitionsDefinition:
    """One partition per registered tenant, enabled or not.

    Disabled tenants stay visible in the UI; schedules and sensors skip them and a
    manual launch fails at once (see ``TenantConfigResource.load``).
    """
    return StaticPartitionsDefinition(registry.tenant_ids)
