"""Landing resources: syncing a tenant's Azure container, and reprocess requests.

``landing`` holds platform-wide settings only (retries, timeouts, unpack limits): the
tenant's container, prefix and credential are read from its configuration and ``.env``
at run time, so one resource serves every tenant and a run only ever holds its own
tenant's credential. Per tenant it builds dagster-azure's ``AzureBlobStorageResource``
(``TenantBlobStorage``, which adds a bounded retry policy) with that credential.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from datawiz_pipelines.config.loader import Tenant
from datawiz_pipelines.landing.azure import azure_location, backup_prefix
from datawiz_pipelines.landing.errors import LandingConfigError
from datawiz_pipelines.landing.ledger import Ledger
from datawiz_pipelines.landing.reprocess import ReprocessRequest
from datawiz_pipelines.landing.sync import SyncReport, UnpackLimits, sync_container


class LandingResource(ConfigurableResource):
    """Syncs a tenant's Azure Blob container and prefix into its landing folder."""

    retry_total: int = Field(default=3, ge=0, description="retries of a failed Azure request (503, timeouts)")
    retry_backoff_s: float = Field(default=1.0, ge=0, description="first wait; doubles per retry")
    retry_backoff_max_s: float = Field(default=30.0, ge=0)
    connection_timeout_s: float = Field(default=20.0, gt=0)
    read_timeout_s: float = Field(default=120.0, gt=0)
    max_unpacked_bytes: int = Field(
        default=20 * 1024**3, ge=1, description="most bytes one downloaded .gz/.zip may unpack to"
    )
    max_zip_members: int = Field(default=10_000, ge=1)

    @property
    def retry(self) -> dict[str, float | int]:
        return {
            "retry_total": self.retry_total,
            "retry_backoff_s": self.retry_backoff_s,
            "retry_backoff_max_s": self.retry_backoff_max_s,
            "connection_timeout_s": self.connection_timeout_s,
            "read_timeout_s": self.read_timeout_s,
        }

    def sync(
        self,
        tenant: Tenant,
        *,
        landing: Path,
        ledger: Ledger,
        scratch: Path,
        run_id: str,
        warn: Callable[[str], None],
    ) -> SyncReport:
        location = azure_location(tenant)
        try:
            archive = backup_prefix(tenant)
        except LandingConfigError:
            archive = None
        return sync_container(
            location,
            landing,
            ledger,
            scratch,
            limits=UnpackLimits(self.max_unpacked_bytes, self.max_zip_members),
            retry=self.retry,
            run_id=run_id,
            warn=warn,
            exclude_prefix=archive if archive and archive.startswith(location.prefix) else None,
        )


class ReprocessResource(ConfigurableResource):
    """What to read again in this run; empty (the default) means incremental.

    Set it in the launchpad's run config (``resources: {reprocess: {config: {...}}}``) or
    with run tags (see ``datawiz_pipelines.landing.reprocess``).
    """

    full: bool = Field(default=False, description="reread every file and rebuild every table")
    files: list[str] = Field(
        default_factory=list, description="files (relative to the landing folder, or globs) to reread"
    )
    since: str | None = Field(default=None, description="reread files modified on or after (YYYY-MM-DD, UTC)")
    until: str | None = Field(
        default=None, description="reread files modified on or before (YYYY-MM-DD, UTC)"
    )

    def request(self, tags: Mapping[str, str]) -> ReprocessRequest:
        configured = ReprocessRequest.from_values(
            full=self.full, files=self.files, since=self.since, until=self.until
        )
        return configured.merged(ReprocessRequest.from_tags(tags))
