"""The table catalog: one canonical schema per table, shared by every tenant.

Each ``tenant_configs/catalog/<table>.yaml`` declares the columns, types, keys and
load mode of one table. Tenants never change these; they map their own files
onto them (see ``mapping.py``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, PlainSerializer, model_validator

from datawiz_pipelines.config.column_types import ColumnType
from datawiz_pipelines.config.identifiers import Identifier
from datawiz_pipelines.config.registry import StrictModel


def _parse_type(value: object) -> ColumnType:
    return value if isinstance(value, ColumnType) else ColumnType.parse(str(value))


CanonicalType = Annotated[ColumnType, BeforeValidator(_parse_type), PlainSerializer(str)]


class CatalogColumn(StrictModel):
    name: Identifier
    type: CanonicalType
    nullable: bool = True
    description: str = ""


class Reference(StrictModel):
    """``column`` of this table must exist as ``to_column`` of ``table`` (same tenant)."""

    column: Identifier
    table: Identifier
    to_column: Identifier


class CatalogTable(StrictModel):
    name: Identifier
    description: str = Field(min_length=1)
    kind: Literal["dimension", "fact", "reference"]
    source: Literal["landing", "seed"] = Field(
        default="landing",
        description="landing: the tenant's landing zone; seed: the tenant's seeds/ folder",
    )
    load_mode: Literal["replace", "incremental"]
    columns: list[CatalogColumn] = Field(min_length=1)
    keys: list[Identifier] = Field(min_length=1)
    partition_column: Identifier | None = None
    references: list[Reference] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> CatalogTable:
        names = [column.name for column in self.columns]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"columns repeated: {repeated}")
        for key in self.keys:
            if key not in names:
                raise ValueError(f"key column {key!r} is not a column of the table")
            if self.column(key).nullable:
                raise ValueError(f"key column {key!r} must be declared nullable: false")
            if self.column(key).type.name in ("FLOAT", "DOUBLE"):
                raise ValueError(f"key column {key!r} cannot be FLOAT or DOUBLE")
        if self.partition_column is not None:
            if self.partition_column not in self.keys:
                raise ValueError(f"partition_column {self.partition_column!r} must be a key column")
            if not self.column(self.partition_column).type.is_temporal:
                raise ValueError(f"partition_column {self.partition_column!r} must be DATE or DATETIME")
        for reference in self.references:
            if reference.column not in names:
                raise ValueError(f"reference column {reference.column!r} is not a column")
        return self

    def column(self, name: str) -> CatalogColumn:
        return next(column for column in self.columns if column.name == name)

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def referenced_tables(self) -> list[str]:
        return sorted({reference.table for reference in self.references})


class Catalog(StrictModel):
    tables: dict[str, CatalogTable]

    @model_validator(mode="after")
    def _references_resolve(self) -> Catalog:
        for table in self.tables.values():
            for reference in table.references:
                target = self.tables.get(reference.table)
                if target is None:
                    raise ValueError(f"{table.name}: references unknown table {reference.table!r}")
                if reference.to_column not in target.column_names:
                    raise ValueError(
                        f"{table.name}: references unknown column {reference.table}.{reference.to_column}"
                    )
        return self

    def __getitem__(self, name: str) -> CatalogTable:
        return self.tables[name]

    def __iter__(self):
        return iter(self.tables.values())
