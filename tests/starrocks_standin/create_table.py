"""CREATE TABLE as StarRocks reads and checks it (facts page, "Primary Key table").

Key columns come first, in key order; PRIMARY KEY columns are NOT NULL; no key
is FLOAT/DOUBLE; a PRIMARY KEY table's partition and bucket columns are key
columns; ``replication_num`` cannot exceed the number of BEs (one here).
"""

from __future__ import annotations

from sqlglot import exp

from .catalog import Column, Table
from .errors import StarRocksError

BACKENDS = 1
_FLOATING = (exp.DataType.Type.FLOAT, exp.DataType.Type.DOUBLE)


def _refused(detail: str) -> StarRocksError:
    return StarRocksError(f"Getting analyzing error. Detail message: {detail}")


def column_from_def(definition: exp.ColumnDef) -> Column:
    """A column definition as StarRocks keeps it (type spelled without spaces)."""
    kind = definition.args.get("kind")
    if kind is None:
        raise _refused(f"column '{definition.name}' has no type.")
    null_constraints = [
        c.args["kind"]
        for c in definition.constraints
        if isinstance(c.args.get("kind"), exp.NotNullColumnConstraint)
    ]
    nullable = not null_constraints or bool(null_constraints[0].args.get("allow_null"))
    return Column(definition.name, kind.sql("starrocks").replace(", ", ","), nullable)


def _key_model(definitions: list[exp.Expression], properties: list[exp.Expression], names: list[str]):
    primary = next((d for d in definitions if isinstance(d, exp.PrimaryKey)), None)
    duplicate = next((p for p in properties if isinstance(p, exp.DuplicateKeyProperty)), None)
    if primary is not None:
        return "PRIMARY", [e.name for e in primary.expressions], primary
    if duplicate is not None:
        return "DUPLICATE", [e.name for e in duplicate.expressions], None
    return "DUPLICATE", names[:1], None


def _check_keys(columns: list[Column], model: str, keys: list[str]) -> None:
    names = [c.name for c in columns]
    if names[: len(keys)] != keys:
        raise _refused("Key columns should be a ordered prefix of the schema.")
    for column in columns[: len(keys)]:
        if column.data_type.this in _FLOATING:
            raise _refused(f"Invalid data type of key column '{column.name}': '{column.type}'.")
        if model == "PRIMARY" and column.nullable:
            raise _refused(f"primary key column[{column.name}] cannot be nullable.")


def _check_layout(primary: exp.PrimaryKey | None, properties: list[exp.Expression], keys: list[str]) -> None:
    include = primary.args.get("include") if primary is not None else None
    partitioned = (
        [c.name for e in (include.args.get("partition_by") or []) for c in e.find_all(exp.Column)]
        if include
        else []
    )
    distributed = [
        c.name for p in properties if isinstance(p, exp.DistributedByProperty) for c in p.expressions
    ]
    for role, names in (("Partition", partitioned), ("Distribution", distributed)):
        outside = [name for name in names if primary is not None and name not in keys]
        if outside:
            raise _refused(f"{role} column[{outside[0]}] is not key column.")
    replicas = [
        int(p.args["value"].name)
        for p in properties
        if isinstance(p, exp.Property) and p.name == "replication_num"
    ]
    if any(r > BACKENDS for r in replicas):
        raise _refused(
            "Table replication num should be less than or equal to the number of available BE nodes. "
            f"Current alive backend is [{BACKENDS}]."
        )


def table_from_create(database: str, name: str, statement: exp.Create) -> Table:
    definitions = statement.this.expressions
    columns = [column_from_def(d) for d in definitions if isinstance(d, exp.ColumnDef)]
    properties_node = statement.args.get("properties")
    properties = properties_node.expressions if properties_node else []
    model, keys, primary = _key_model(definitions, properties, [c.name for c in columns])
    _check_keys(columns, model, keys)
    _check_layout(primary, properties, keys)
    return Table(database, name, columns, model, keys)
