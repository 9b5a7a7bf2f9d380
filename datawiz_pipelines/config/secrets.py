"""Per-tenant secrets from ``tenant_configs/tenants/<id>/.env``.

Every secret is a ``SecretStr``: its ``repr``, ``str`` and any metadata built from
it show ``**********``; only ``get_secret_value()`` at the point of use reveals it.
"""

from __future__ import annotations

from pathlib import Path

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, SecretStr, field_validator


class TenantSecrets(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    DB_PASSWORD: SecretStr | None = None
    AZURE_STORAGE_CONNECTION_STRING: SecretStr | None = None
    AZURE_SAS_TOKEN: SecretStr | None = None
    SMTP_PASSWORD: SecretStr | None = None
    EMAIL_RECIPIENTS: list[str] = []

    @field_validator("EMAIL_RECIPIENTS", mode="before")
    @classmethod
    def _split_recipients(cls, value: object) -> object:
        if value is None:  # EMAIL_RECIPIENTS= (empty): nobody to mail, not an invalid file
            return []
        if isinstance(value, str):
            return [address.strip() for address in value.split(",") if address.strip()]
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_missing(cls, value: object) -> object:
        return None if value == "" else value

    def __repr_args__(self):  # extra keys are secrets too: never show their values
        for name, value in super().__repr_args__():
            yield name, value if name in type(self).model_fields else "**********"

    @classmethod
    def from_env_file(cls, path: Path) -> TenantSecrets:
        """The secrets in ``path``; a missing file means no secrets, not an error."""
        values = dotenv_values(path) if path.is_file() else {}
        known = {key: value for key, value in values.items() if key in cls.model_fields}
        extra = {key: SecretStr(value or "") for key, value in values.items() if key not in known}
        return cls(**known, **extra)

    def missing(self, required: list[str]) -> list[str]:
        """Names in ``required`` that have no value."""
        return [name for name in required if not getattr(self, name, None)]
