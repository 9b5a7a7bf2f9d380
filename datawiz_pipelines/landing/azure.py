"""Where a tenant's Azure Blob files are and which of its secrets opens them.

Where the files are is configuration (registry: ``azure_container``,
``azure_folder_prefix``; tenant config: ``landing.account_url`` when a SAS token is
used). How to get in is a secret from the tenant's ``.env``:
``AZURE_STORAGE_CONNECTION_STRING`` (an account key or a SAS token, with its endpoint) or
``AZURE_SAS_TOKEN``. Only that container and prefix are ever listed or read, with only
that tenant's credential (``landing.blob_client``).

This module does not import the Azure SDK (0.7 s), so loading the code location does not
pay for it; only a run that talks to Azure does.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from datawiz_pipelines.config.loader import Tenant
from datawiz_pipelines.landing.errors import LandingConfigError

CONNECTION_STRING = "AZURE_STORAGE_CONNECTION_STRING"
SAS_TOKEN = "AZURE_SAS_TOKEN"


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

    @property
    def secret(self) -> str:
        """The credential itself, for the blob client only: never put it in a message."""
        return self._secret

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
