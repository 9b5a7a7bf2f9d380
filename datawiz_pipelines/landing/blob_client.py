"""A tenant's Azure Blob container, reached through dagster-azure with the tenant's own secret.

Secrets stay out of every message: errors name the tenant, account host, container
and what failed (HTTP status and Azure's error code), and are raised ``from None`` so
the SDK's own exception (whose text can quote the request) is not chained into
Dagster's error display.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import BlobServiceClient, ContainerClient, ExponentialRetry
from dagster_azure.blob import (
    AzureBlobStorageKeyCredential,
    AzureBlobStorageResource,
    AzureBlobStorageSASTokenCredential,
)
from pydantic import Field

from datawiz_pipelines.landing.azure import CONNECTION_STRING, SAS_TOKEN, AzureLocation
from datawiz_pipelines.landing.errors import LandingError

__all__ = ["AzureError", "container_client", "copy_blob", "describe_azure_error"]
COPY_WAIT_S = 300


class BoundedExponentialRetry(ExponentialRetry):
    """Azure's storage retry (5xx except 501/505, 408, timeouts, connection errors) with
    waits of ``initial_backoff * 2**n`` seconds (+-20 %), capped at ``max_backoff``."""

    def __init__(self, *, initial_backoff: float, max_backoff: float, retry_total: int):
        super().__init__(
            initial_backoff=initial_backoff,
            retry_total=retry_total,
            retry_connect=retry_total,
            retry_read=retry_total,
            retry_status=retry_total,
            random_jitter_range=0,
        )
        self.max_backoff = max_backoff

    def get_backoff_time(self, settings: dict[str, Any]) -> float:
        backoff = min(self.max_backoff, self.initial_backoff * 2 ** settings["count"])
        return backoff * random.uniform(0.8, 1.2)


class TenantBlobStorage(AzureBlobStorageResource):
    """dagster-azure's ``AzureBlobStorageResource`` with a bounded, fast retry policy and timeouts.

    Built at run time for one tenant (the credential is that tenant's secret), never bound
    in the Definitions: a resource bound there would hold one credential for all tenants.
    """

    retry_total: int = Field(default=3, ge=0)
    retry_backoff_s: float = Field(default=1.0, ge=0)
    retry_backoff_max_s: float = Field(default=30.0, ge=0)
    connection_timeout_s: float = Field(default=20.0, gt=0)
    read_timeout_s: float = Field(default=120.0, gt=0)

    @contextmanager
    def get_client(self) -> Iterator[BlobServiceClient]:
        service = BlobServiceClient(
            account_url=self.account_url,
            credential=self._raw_credential(),
            retry_policy=BoundedExponentialRetry(
                initial_backoff=self.retry_backoff_s,
                max_backoff=self.retry_backoff_max_s,
                retry_total=self.retry_total,
            ),
            connection_timeout=self.connection_timeout_s,
            read_timeout=self.read_timeout_s,
        )
        try:
            yield service
        finally:
            service.close()


def tenant_blob_storage(location: AzureLocation, **retry: Any) -> TenantBlobStorage:
    credential = (
        AzureBlobStorageKeyCredential(key=location.secret)
        if location.credential_kind == "key"
        else AzureBlobStorageSASTokenCredential(token=location.secret)
    )
    return TenantBlobStorage(account_url=location.account_url, credential=credential, **retry)


@contextmanager
def container_client(location: AzureLocation, **retry: Any) -> Iterator[ContainerClient]:
    with tenant_blob_storage(location, **retry).get_client() as service:
        yield service.get_container_client(location.container)


def describe_azure_error(exc: Exception, location: AzureLocation, doing: str) -> LandingError:
    """A LandingError for ``exc`` naming tenant, container and what failed; never a secret."""
    status = getattr(exc, "status_code", None)
    code = getattr(exc, "error_code", None)
    code_text = str(getattr(code, "value", code)) if code else None
    what = " ".join(str(part) for part in (f"HTTP {status}" if status else None, code_text) if part)
    if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
        return LandingError(
            f"{location.where}: access refused while {doing} ({what or 'authentication failed'}); "
            f"the tenant's {CONNECTION_STRING} or {SAS_TOKEN} in "
            f"tenant_configs/tenants/{location.tenant_id}/.env is wrong, expired or lacks "
            "read/list rights on this container"
        )
    if isinstance(exc, ResourceNotFoundError) and code_text == "ContainerNotFound":
        return LandingError(f"{location.where}: the container does not exist (while {doing})")
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return LandingError(
            f"{location.where}: cannot reach the storage account while {doing} "
            f"({type(exc).__name__}, after retries)"
        )
    if isinstance(exc, HttpResponseError):
        return LandingError(f"{location.where}: {doing} failed ({what or 'HTTP error'}, after retries)")
    return LandingError(f"{location.where}: {doing} failed: {location.redact(str(exc))}")


def copy_blob(container: ContainerClient, location: AzureLocation, name: str, etag: str, target: str) -> None:
    """Server-side copy of blob ``name`` (only while its etag is still ``etag``) to ``target``."""
    source = container.get_blob_client(name)
    destination = container.get_blob_client(target)
    doing = f"archiving {name!r} to {target!r}"
    try:
        copy = destination.start_copy_from_url(source.url, source_if_match=f'"{etag}"')
        deadline = time.monotonic() + COPY_WAIT_S
        status = copy.get("copy_status")
        while status == "pending" and time.monotonic() < deadline:
            time.sleep(1)
            status = destination.get_blob_properties().copy.status
    except AzureError as exc:
        raise describe_azure_error(exc, location, doing) from None
    if status != "success":
        raise LandingError(f"{location.where}: {doing} ended with copy status {status!r}")
