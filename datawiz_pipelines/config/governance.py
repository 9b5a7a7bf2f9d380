"""A tenant's settings for the post-load SQL models and row-level security.

Both are sections of ``tenants/<id>/config.yaml``:

.. code-block:: yaml

    sql_models:
      disabled: [matviews/secondary_sales_matview]   # models this tenant does not build

    row_level_security:
      tables: [fact_invoice_secondary, secondary_sales_view]   # default: every protectable relation
      roles:
        west_mumbai:
          territories: [WSS0001, WSS0002]              # wss_territory_code values the role sees
          users: [mumbai_analyst]                      # StarRocks accounts granted the role
        national:
          territories: all

The models themselves are shared (``tenant_configs/sql/``); which names exist is checked
against them by ``datawiz_pipelines.sql_models.validation``, not here.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from datawiz_pipelines.config.identifiers import Identifier
from datawiz_pipelines.config.registry import StrictModel

MODEL_KINDS = ("views", "matviews", "derived")
"""The kinds of SQL model: the folder under ``tenant_configs/sql/`` and the asset key prefix."""

_MODEL_REF = re.compile(r"^(views|matviews|derived)/[a-z][a-z0-9_]{0,62}$")
_ROLE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
ROLE_MAX_LENGTH = 24
"""Role names end up in view names (``rls_<role>__<relation>``) and StarRocks role names
(``<tenant>__<role>``), which StarRocks caps at ``STARROCKS_ROLE_MAX_LENGTH``."""
TENANT_ROLE_SEPARATOR = "__"
STARROCKS_ROLE_MAX_LENGTH = 64
"""StarRocks' ``FeNameFormat.checkRoleName`` (``^[a-zA-Z]\\w{0,63}$``): a longer name is refused
with "invalid role format" when the role is created or granted."""


def _model_ref(value: str) -> str:
    if not _MODEL_REF.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a model reference: write <kind>/<name> with kind one of {MODEL_KINDS}"
        )
    return value


def _role_name(value: str) -> str:
    if not is_role_name(value):
        raise ValueError(
            f"{value!r} is not a valid role name: lowercase letters and digits in words joined by "
            f"single underscores, starting with a letter, at most {ROLE_MAX_LENGTH} characters"
        )
    return value


def is_role_name(value: str) -> bool:
    """Whether ``value`` could be a configured role's name (``RoleName`` would accept it)."""
    return bool(_ROLE.fullmatch(value)) and len(value) <= ROLE_MAX_LENGTH


def tenant_role_name(tenant_id: str, role: str) -> str:
    """The StarRocks role of a tenant's row-security role: ``<tenant>__<role>``, since StarRocks
    roles are cluster-wide. Role names never hold a double underscore nor start with an
    underscore, so no two (tenant, role) pairs share a name."""
    return f"{tenant_id}{TENANT_ROLE_SEPARATOR}{role}"


ModelRef = Annotated[str, AfterValidator(_model_ref)]
RoleName = Annotated[str, AfterValidator(_role_name)]


class SqlModelSettings(StrictModel):
    disabled: list[ModelRef] = Field(
        default_factory=list, description="shared models this tenant does not build (<kind>/<name>)"
    )


class RlsRole(StrictModel):
    """A role and the territories (``wss_territory_code`` values) whose rows it may read."""

    territories: list[Annotated[str, Field(min_length=1, max_length=64)]] | Literal["all"] = Field(
        description="territory codes the role sees, or 'all'"
    )
    users: list[Identifier] = Field(
        default_factory=list, description="StarRocks accounts granted the role (they must exist)"
    )
    description: str = ""

    @field_validator("territories")
    @classmethod
    def _some_territories(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, list):
            if not value:
                raise ValueError("list at least one territory, or write 'all'")
            repeated = sorted({code for code in value if value.count(code) > 1})
            if repeated:
                raise ValueError(f"territories repeated: {repeated}")
        return value


class RowLevelSecuritySettings(StrictModel):
    tables: list[Identifier] | None = Field(
        default=None,
        description="relations to protect (catalog tables or SQL models listed in "
        "tenant_configs/sql/security.yaml); default: all of them",
    )
    roles: dict[RoleName, RlsRole] = Field(default_factory=dict)

    def role_name_problems(self, tenant_id: str) -> list[str]:
        """``<field>: <problem>`` for each role whose StarRocks role would be too long for StarRocks.

        Checked where the tenant id is known (``ConfigRepository.load_tenant``), so an
        overlong name fails when the configuration loads rather than at GRANT time.
        """
        room = STARROCKS_ROLE_MAX_LENGTH - len(tenant_role_name(tenant_id, ""))
        fix = f"use a role name of at most {room} characters" if room > 0 else "shorten the tenant id"
        names = {role: tenant_role_name(tenant_id, role) for role in self.roles}
        return [
            f"row_level_security.roles.{role}: tenant {tenant_id}'s StarRocks role {name} is {len(name)} "
            f"characters, StarRocks allows at most {STARROCKS_ROLE_MAX_LENGTH}; {fix}"
            for role, name in names.items()
            if len(name) > STARROCKS_ROLE_MAX_LENGTH
        ]
