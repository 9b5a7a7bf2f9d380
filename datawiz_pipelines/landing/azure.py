"""A tenant's Azure Blob container, reached through dagster-azure with the tenant's own secret.

Where the files are is configuration (registry: ``azure_container``,
``azure_folder_prefix``; tenant config: ``landing.account_url`` when a SAS token is
used). How to get in is a secret from the tenant's ``.env``:
``AZURE_STORAGE_CONNECTION_STRING`` (an account key or a SAS token, with its endpoint) or
``AZURE_SAS_TOKEN``. Only that container and prefix are ever listed or read, with only
that tenant's credential.

Secrets stay out of every message: errors name the tenant, account host, container
and what failed (HTTP status and Azure's error code), and are raised ``from None`` so
the SDK's own exception (whose text can quote the request) is not chained into
Dagster's error display.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import (
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

from datawiz_pipelines.config.loader import Tenant
from datawiz_pipelines.landing.errors import LandingConfigError, LandingError

CONNECTION_STRING = "AZURE_STORAGE_CONNECTION_STRING"
SAS_TOKEN = "AZURE_SAS_TOKEN"


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


@dataclass(frozen=True)
class AzureLocation:
    """Where a tenant's files are and how to get in; ``repr`` never shows the secret."""

    tenant_id: str
    account_url: str
    container: str
    prefix: str
    credential_kind: str
    """``key`` or ``sas``."""
    _secret: str

    def __repr__(self) -> str:
        return (
            f"AzureLocation(tenant_id={self.tenant_id!r}, account_url={self.account_url!r}, "
            f"container={self.container!r}, prefix={self.prefix!r}, credential_kind={self.credential_kind!r})"
        )

    @property
    def host(self) -> str:
        return urlsplit(self.account_url).netloc

    @property
    def where(self) -> str:
        return f"tenant {self.tenant_id}, Azure container {self.container!r} on {self.host}"

    def resource(self, **retry: Any) -> TenantBlobStorage:
        credential = (
            AzureBlobStorageKeyCredential(key=self._secret)
            if self.credential_kind == "key"
            else AzureBlobStorageSASTokenCredential(token=self._secret)
        )
        return TenantBlobStorage(account_url=self.account_url, credential=credential, **retry)

    def redact(self, text: str) -> str:
        return text.replace(self._secret, "**********") if self._secret else text


def azure_location(tenant: Tenant) -> AzureLocation:
    """The tenant's container, prefix, endpoint and credential; LandingConfigError names what is missing."""
    entry, settings, secrets = tenant.entry, tenant.settings.landing, tenant.secrets
    env_file = f"tenant_configs/tenants/{tenant.tenant_id}/.env"
    if not entry.azure_container:
        raise LandingConfigError(
            f"tenant {tenant.tenant_id}: landing.kind is azure but the registry has no azure_container"
        )
    prefix = entry.azure_folder_prefix.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    connection = secrets.AZURE_STORAGE_CONNECTION_STRING
    sas = secrets.AZURE_SAS_TOKEN
    account_url = settings.account_url
    if connection is not None:
        url, kind, secret = parse_connection_string(connection.get_secret_value(), tenant.tenant_id)
        account_url = account_url or url
    elif sas is not None:
        if not account_url:
            raise LandingConfigError(
                f"tenant {tenant.tenant_id}: {SAS_TOKEN} is set in {env_file} but landing.account_url "
                "(https://<account>.blob.core.windows.net) is not set in its config.yaml"
            )
        kind, secret = "sas", sas.get_secret_value().lstrip("?")
    else:
        raise LandingConfigError(
            f"tenant {tenant.tenant_id}: landing.kind is azure but neither {CONNECTION_STRING} nor "
            f"{SAS_TOKEN} is set in {env_file}"
        )
    return AzureLocation(
        tenant_id=tenant.tenant_id,
        account_url=account_url.rstrip("/"),
        container=entry.azure_container,
        prefix=prefix,
        credential_kind=kind,
        _secret=secret,
    )


def backup_prefix(tenant: Tenant) -> str:
    """Where ``source_files_backup`` archives processed blobs in the tenant's container:
    ``landing.backup_prefix``, by default the landing prefix with ``_backup`` (a sibling
    folder, so the archive is never landed again; a configured prefix inside the landing
    prefix is skipped by the sync)."""
    configured = tenant.settings.landing.backup_prefix
    if configured and configured.strip("/"):
        return configured.strip("/") + "/"
    prefix = tenant.entry.azure_folder_prefix.strip("/")
    if not prefix:
        raise LandingConfigError(
            f"tenant {tenant.tenant_id}: its landing prefix is the whole container, so set "
            "landing.backup_prefix in its config.yaml for the backup"
        )
    return prefix + "_backup/"


def parse_connection_string(text: str, tenant_id: str) -> tuple[str, str, str]:
    """(account URL, ``key`` or ``sas``, secret) from an Azure Storage connection string."""
    fields: dict[str, str] = {}
    for part in text.strip().strip(";").split(";"):
        name, separator, value = part.partition("=")
        if separator:
            fields[name.strip().lower()] = value.strip()
    where = f"tenant {tenant_id}: {CONNECTION_STRING}"
    account = fields.get("accountname")
    endpoint = fields.get("blobendpoint")
    if not endpoint:
        if not account:
            raise LandingConfigError(f"{where} has neither BlobEndpoint nor AccountName")
        protocol = fields.get("defaultendpointsprotocol", "https")
        suffix = fields.get("endpointsuffix", "core.windows.net")
        endpoint = f"{protocol}://{account}.blob.{suffix}"
    if fields.get("accountkey"):
        return endpoint, "key", fields["accountkey"]
    if fields.get("sharedaccesssignature"):
        return endpoint, "sas", fields["sharedaccesssignature"].lstrip("?")
    raise LandingConfigError(f"{where} has neither AccountKey nor SharedAccessSignature")


@contextmanager
def container_client(location: AzureLocation, **retry: Any) -> Iterator[ContainerClient]:
    with location.resource(**retry).get_client() as service:
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
