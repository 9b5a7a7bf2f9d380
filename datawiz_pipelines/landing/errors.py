"""Landing errors. Messages name the tenant, container and file, never a credential."""

from __future__ import annotations


class LandingError(RuntimeError):
    """The landing zone could not be synced; the message is safe to log and show."""


class LandingConfigError(LandingError):
    """The tenant's landing settings or secrets are incomplete (names what is missing, not values)."""


class UnpackError(LandingError):
    """A downloaded archive is unsafe or too large to unpack (zip-slip, zip bomb, too many members)."""
