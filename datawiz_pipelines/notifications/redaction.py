"""Keeping secrets out of anything a human will read: mails, notification logs.

Two layers: every value in the tenant's ``.env`` (and the parts of connection strings
and SAS tokens) is replaced wherever it appears, and anything shaped like a secret
(``password=...``, ``AccountKey=...``, ``sig=...``, ``user:password@`` in a URL) is
masked even when its value is not known.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import SecretStr

from datawiz_pipelines.config.secrets import TenantSecrets

MASK = "**********"
MIN_SECRET_LENGTH = 4
"""Shorter values are not masked: replacing every "ab" in a text would mangle it, not protect it."""
_NOT_SECRET = frozenset({"EMAIL_RECIPIENTS"})

_SECRET_PART = re.compile(
    r"(?i)account_?key|shared_?access_?signature|sig|signature|password|passwd|pwd|secret|token|\w*key"
)
"""Keys of a compound secret (``AccountKey=...;``, ``...&sig=...``) whose value is a secret on its own."""
_URL_PASSWORD = re.compile(r"://[^\s/:@]+:([^\s/@]+)@")

_SHAPED = [
    # key=value / key: value pairs whose key names a secret
    re.compile(
        r"(?i)\b(account_?key|shared_?access_?signature|sig|signature|password|passwd|pwd|"
        r"secret|token|sas_?token|api_?key|access_?key|client_?secret)(\s*[=:]\s*)(['\"]?)[^\s;&'\",]+"
    ),
    # credentials in a URL: scheme://user:password@host
    re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/:@]+)(:)()[^\s/@]+(?=@)"),
]


def secret_values(secrets: TenantSecrets) -> list[str]:
    """Every secret value of a tenant, and the parts of compound ones, longest first."""
    values: set[str] = set()
    names = list(type(secrets).model_fields) + list(secrets.model_extra or {})
    for name in names:
        if name in _NOT_SECRET:
            continue
        value = getattr(secrets, name, None)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if not isinstance(value, str) or not value:
            continue
        values.add(value)
        for part in re.split(r"[;&?]", value):  # connection strings and SAS tokens
            key, sep, tail = part.partition("=")
            if sep and _SECRET_PART.fullmatch(key.strip()):
                values.update({part, tail})
        values.update(match[1] for match in _URL_PASSWORD.finditer(value))  # scheme://user:password@
    return sorted((v for v in values if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True)


class Redactor:
    def __init__(self, known_secrets: Iterable[str] = ()):
        self.known = sorted({s for s in known_secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)

    @classmethod
    def for_tenant(cls, secrets: TenantSecrets) -> Redactor:
        return cls(secret_values(secrets))

    def __call__(self, text: str) -> str:
        for value in self.known:
            text = text.replace(value, MASK)
        for pattern in _SHAPED:
            text = pattern.sub(lambda match: f"{match[1]}{match[2]}{match[3]}{MASK}", text)
        return text
