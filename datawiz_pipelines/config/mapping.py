"""A tenant's mapping of its own source files onto one catalog table.

``tenant_configs/tenants/<id>/mappings/<table>.yaml`` says where the files are,
how to read them, which source column feeds which canonical column, how to
parse it, what to compute, what to filter out and which rules the rows obey.
"""

from __future__ import annotations

import codecs
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from datawiz_pipelines.config.catalog import CatalogTable
from datawiz_pipelines.config.identifiers import Identifier
from datawiz_pipelines.config.registry import StrictModel


class CsvOptions(StrictModel):
    separator: str = Field(default=",", min_length=1, max_length=1)
    quote_char: str | None = Field(default='"', min_length=1, max_length=1)
    encoding: str = "utf-8"
    has_header: bool = True
    skip_rows: int = Field(default=0, ge=0, description="lines to skip before the header")
    null_values: list[str] = Field(default_factory=lambda: [""])
    comment_prefix: str | None = None

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            return codecs.lookup(value).name
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None


class ExcelOptions(StrictModel):
    sheet: str | int = Field(default=0, description="sheet name, or 0-based index")
    skip_rows: int = Field(default=0, ge=0, description="rows to skip before the header")
    has_header: bool = True


class SourceSpec(StrictModel):
    patterns: list[str] = Field(
        min_length=1,
        description="globs relative to the tenant's landing folder (seeds folder for seeds)",
    )
    format: Literal["auto", "csv", "excel", "parquet"] = "auto"
    csv: CsvOptions = CsvOptions()
    excel: ExcelOptions = ExcelOptions()

    @model_validator(mode="before")
    @classmethod
    def _single_pattern(cls, data: object) -> object:
        if isinstance(data, dict) and "pattern" in data:
            data = dict(data)
            pattern = data.pop("pattern")
            data["patterns"] = [pattern] if isinstance(pattern, str) else pattern
        return data

    @field_validator("patterns")
    @classmethod
    def _relative_patterns(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if pattern.startswith("/") or ".." in pattern.split("/"):
                raise ValueError(f"pattern {pattern!r} must stay inside the tenant's folder")
        return patterns


class ColumnMapping(StrictModel):
    source: str = Field(min_length=1, description="column name in the source file")
    format: str | None = Field(
        default=None, description="strptime format for DATE/DATETIME, e.g. %Y%m%d or %d.%m.%Y"
    )
    decimal_comma: bool = Field(default=False, description="numbers written as 1.234,56")
    thousands_separator: str | None = Field(default=None, max_length=1)
    true_values: list[str] = Field(default_factory=lambda: ["true", "t", "yes", "y", "1"])
    false_values: list[str] = Field(default_factory=lambda: ["false", "f", "no", "n", "0"])
    round: int | None = Field(default=None, ge=0, le=38)
    trim: bool = True


class ComputedColumn(StrictModel):
    name: Identifier
    expr: str = Field(min_length=1, description="a SQL expression over target columns")


class _Rule(StrictModel):
    severity: Literal["error", "warn"] = "error"


class _RowRule(_Rule):
    on_fail: Literal["reject", "check"] = Field(
        default="reject",
        description="reject: quarantine failing rows; check: keep them, fail the asset check",
    )


class NotNullRule(_RowRule):
    rule: Literal["not_null"]
    columns: list[Identifier] = Field(min_length=1)


class AcceptedValuesRule(_RowRule):
    rule: Literal["accepted_values"]
    column: Identifier
    values: list[str | int | float | bool] = Field(min_length=1)


class RangeRule(_RowRule):
    rule: Literal["range"]
    column: Identifier
    min: float | str | None = None
    max: float | str | None = None

    @model_validator(mode="after")
    def _has_bound(self) -> RangeRule:
        if self.min is None and self.max is None:
            raise ValueError("a range rule needs min, max or both")
        return self


class ExpressionRule(_RowRule):
    rule: Literal["expression"]
    name: Identifier
    expr: str = Field(min_length=1, description="a SQL condition every valid row satisfies")


class RelationshipRule(_RowRule):
    rule: Literal["relationship"]
    column: Identifier
    to_table: Identifier
    to_column: Identifier


class UniqueRule(_Rule):
    rule: Literal["unique"]
    columns: list[Identifier] = Field(min_length=1)


ValidationRule = Annotated[
    NotNullRule | AcceptedValuesRule | RangeRule | ExpressionRule | RelationshipRule | UniqueRule,
    Field(discriminator="rule"),
]
RowRule = NotNullRule | AcceptedValuesRule | RangeRule | ExpressionRule | RelationshipRule


class TableMapping(StrictModel):
    version: int = Field(default=1, ge=1, description="bump when the mapping changes meaning")
    source: SourceSpec
    columns: dict[Identifier, ColumnMapping] = Field(min_length=1)
    computed: list[ComputedColumn] = Field(default_factory=list)
    filters: list[str] = Field(
        default_factory=list,
        description="SQL conditions rows must meet to be kept; ${rule} names a business rule",
    )
    validations: list[ValidationRule] = Field(default_factory=list)
    on_cast_error: Literal["reject", "fail"] = "reject"
    on_duplicate_key: Literal["fail", "keep_latest"] | None = Field(
        default=None, description="default: keep_latest for incremental tables, else fail"
    )
    max_reject_ratio: float | None = Field(default=None, ge=0, le=1)

    @field_validator("columns", mode="before")
    @classmethod
    def _shorthand(cls, columns: object) -> object:
        if isinstance(columns, dict):
            return {
                target: {"source": spec} if isinstance(spec, str) else spec
                for target, spec in columns.items()
            }
        return columns

    def problems_against(self, table: CatalogTable) -> list[str]:
        """Every way this mapping does not fit ``table``, as ``field.path: message``."""
        known = set(table.column_names)
        problems = []
        for target, spec in self.columns.items():
            if target not in known:
                problems.append(f"columns.{target}: not a column of {table.name}")
                continue
            kind = table.column(target).type
            if spec.format and not kind.is_temporal:
                problems.append(f"columns.{target}.format: only DATE/DATETIME columns take a format")
            if spec.round is not None and not kind.is_numeric:
                problems.append(f"columns.{target}.round: only numeric columns can be rounded")
        computed = [column.name for column in self.computed]
        for index, name in enumerate(computed):
            if name not in known:
                problems.append(f"computed.{index}.name: {name!r} is not a column of {table.name}")
            if name in self.columns:
                problems.append(f"computed.{index}.name: {name!r} is also mapped from a source")
        provided = set(self.columns) | set(computed)
        for column in table.columns:
            if not column.nullable and column.name not in provided:
                problems.append(f"columns: required column {column.name!r} has no source")
        declared = {(ref.column, ref.table, ref.to_column) for ref in table.references}
        for index, rule in enumerate(self.validations):
            for column in _rule_columns(rule):
                if column not in known:
                    problems.append(f"validations.{index}: unknown column {column!r}")
            if isinstance(rule, RelationshipRule) and (
                (rule.column, rule.to_table, rule.to_column) not in declared
            ):
                problems.append(
                    f"validations.{index}: {table.name}.{rule.column} -> "
                    f"{rule.to_table}.{rule.to_column} is not a reference in the catalog"
                )
        return problems

    def duplicate_key_policy(self, table: CatalogTable) -> Literal["fail", "keep_latest"]:
        if self.on_duplicate_key:
            return self.on_duplicate_key
        return "keep_latest" if table.load_mode == "incremental" else "fail"


def _rule_columns(rule: ValidationRule) -> list[str]:
    if isinstance(rule, NotNullRule | UniqueRule):
        return list(rule.columns)
    if isinstance(rule, AcceptedValuesRule | RangeRule | RelationshipRule):
        return [rule.column]
    return []
