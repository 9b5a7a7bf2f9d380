"""DDL generated from the catalog: every table parses as StarRocks SQL and matches its schema."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlglot
from sqlglot import exp
from starrocks_standin.catalog import Column
from starrocks_standin.info_schema import column_type

from datawiz_pipelines.config.catalog import Catalog, CatalogTable
from datawiz_pipelines.config.loader import Tenant
from datawiz_pipelines.config.tenant import StarRocksTableSettings
from datawiz_pipelines.lineage import TABLE_LINEAGE_COLUMNS
from datawiz_pipelines.warehouse.starrocks import StarRocksWarehouse, ddl

CATALOG_TABLES = [
    "dim_customer_master",
    "dim_dealer_master",
    "dim_hierarchy",
    "dim_material",
    "dim_material_mapping",
    "dim_sales_group",
    "fact_invoice_details",
    "fact_invoice_secondary",
    "ref_material_mapping",
    "ref_sales_group",
]


def _parsed(table: CatalogTable, settings: StarRocksTableSettings) -> exp.Create:
    statement = sqlglot.parse_one(ddl.create_table_sql("tenant_db", table, settings), read="starrocks")
    assert isinstance(statement, exp.Create)
    return statement


def _same_type(parsed: exp.DataType, declared: str) -> bool:
    return parsed == exp.DataType.build(declared, dialect="starrocks")


def test_every_catalog_table_is_covered(catalog: Catalog) -> None:
    assert sorted(catalog.tables) == CATALOG_TABLES


@pytest.mark.parametrize("name", CATALOG_TABLES)
def test_create_table_parses_and_matches_the_catalog(catalog: Catalog, name: str) -> None:
    table = catalog[name]
    statement = _parsed(table, StarRocksTableSettings())
    assert statement.this.this.name == name and statement.this.this.db == "tenant_db"
    assert statement.args["exists"], "CREATE TABLE IF NOT EXISTS keeps provisioning idempotent"

    definitions = [d for d in statement.this.expressions if isinstance(d, exp.ColumnDef)]
    expected = ddl.warehouse_columns(table)
    assert [d.name for d in definitions] == [c.name for c in expected]
    for definition, column in zip(definitions, expected, strict=True):
        assert _same_type(definition.args["kind"], column.type.starrocks), column.name
        not_null = [
            c.args["kind"]
            for c in definition.constraints
            if isinstance(c.args["kind"], exp.NotNullColumnConstraint)
        ]
        assert not_null and bool(not_null[0].args.get("allow_null")) == column.nullable, column.name

    names = [d.name for d in definitions]
    catalog_names = {c.name for c in table.columns}
    assert set(names[: len(catalog_names)]) == catalog_names, "canonical columns come before lineage"
    assert names[len(catalog_names) :] == list(TABLE_LINEAGE_COLUMNS), "lineage columns come last, in order"
    assert names[: len(table.keys)] == table.keys, "key columns first, in key order"
    assert all(not table.column(key).nullable for key in table.keys)

    primary = next(d for d in statement.this.expressions if isinstance(d, exp.PrimaryKey))
    assert [e.name for e in primary.expressions] == table.keys


@pytest.mark.parametrize("name", CATALOG_TABLES)
def test_partition_distribution_and_properties(catalog: Catalog, name: str) -> None:
    table = catalog[name]
    settings = StarRocksTableSettings(buckets=16, replication_num=3)
    statement = _parsed(table, settings)
    properties = statement.args["properties"].expressions
    distributed = next(p for p in properties if isinstance(p, exp.DistributedByProperty))
    assert distributed.args["kind"] == "HASH"
    assert int(distributed.args["buckets"].name) == 16
    hashed = [e.name for e in distributed.expressions]
    assert hashed and set(hashed) <= set(table.keys), "bucket columns must be key columns"
    replication = next(p for p in properties if isinstance(p, exp.Property) and p.name == "replication_num")
    assert replication.args["value"].name == "3"

    primary = next(d for d in statement.this.expressions if isinstance(d, exp.PrimaryKey))
    include = primary.args.get("include")
    partition = include.args.get("partition_by") if include else None
    if table.partition_column:
        assert table.kind == "fact"
        (trunc,) = partition
        assert isinstance(trunc, exp.TimestampTrunc) and trunc.unit.name.upper() == "DAY"
        assert trunc.this.name == table.partition_column
        assert table.partition_column not in hashed, "a day's rows spread over all buckets"
    else:
        assert not partition


def test_fact_table_ddl_reads_as_expected(catalog: Catalog) -> None:
    sql = ddl.create_table_sql("acme_dw", catalog["fact_invoice_details"], StarRocksTableSettings())
    assert "PRIMARY KEY(`invoice_date`, `invoice_no`, `line_no`)" in sql
    assert "PARTITION BY date_trunc('day', `invoice_date`)" in sql
    assert "DISTRIBUTED BY HASH(`invoice_no`, `line_no`) BUCKETS 8" in sql
    assert 'PROPERTIES ("replication_num" = "1")' in sql
    assert "`quantity` DECIMAL(18,3) NOT NULL" in sql


def test_staging_table_has_the_same_shape(catalog: Catalog) -> None:
    table = catalog["dim_material"]
    sql = ddl.create_table_sql(
        "d", table, StarRocksTableSettings(), name="dim_material__staging_x", if_not_exists=False
    )
    assert sql.startswith("CREATE TABLE `d`.`dim_material__staging_x` (")
    normal = ddl.create_table_sql("d", table, StarRocksTableSettings(), if_not_exists=False)
    assert sql.replace("__staging_x", "") == normal


def _existing(
    table: CatalogTable, *, drop: set[str] = frozenset(), **changes: tuple[str, bool]
) -> list[ddl.ExistingColumn]:
    """The columns information_schema would report for ``table``, as real StarRocks spells
    types (the stand-in's spelling)."""
    columns = []
    for column in ddl.warehouse_columns(table):
        if column.name in drop:
            continue
        _, spelled = column_type(Column(column.name, column.type.starrocks, column.nullable))
        reported, nullable = changes.get(column.name, (spelled, column.nullable))
        columns.append(ddl.ExistingColumn(column.name, reported, nullable, column.name in table.keys))
    return columns


def test_unchanged_table_needs_nothing(catalog: Catalog) -> None:
    for table in catalog:
        assert ddl.new_columns(table, _existing(table)) == []


def test_gained_columns_are_added_in_catalog_order(catalog: Catalog) -> None:
    table = catalog["dim_material"]
    existing = _existing(table, drop={"pack_size", "_dw_load_id"})
    added = ddl.new_columns(table, existing)
    assert [c.name for c in added] == ["pack_size", "_dw_load_id"]
    sql = ddl.add_columns_sql("acme_dw", table, added)
    statement = sqlglot.parse_one(sql, read="starrocks")
    assert isinstance(statement, exp.Alter)
    actions = statement.args["actions"]
    assert [a.name for a in actions] == ["pack_size", "_dw_load_id"]
    assert [a.args["position"].this.name for a in actions] == ["base_uom", "_dw_source_modified"]
    assert _same_type(actions[0].args["kind"], "DECIMAL(12,3)")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"drop": {"customer_name"}}, "new column 'customer_name' is NOT NULL"),
        (
            {"changes": {"city": ("varchar(32)", True)}},
            "column 'city' is varchar(32), the catalog says VARCHAR(64)",
        ),
        (
            {"changes": {"channel": ("varchar(32)", False)}},
            "column 'channel' is NOT NULL, the catalog says NULL",
        ),
    ],
)
def test_incompatible_changes_are_refused(catalog: Catalog, change: dict, message: str) -> None:
    table = catalog["dim_customer_master"]
    existing = _existing(table, drop=change.get("drop", set()), **change.get("changes", {}))
    with pytest.raises(ddl.SchemaChangeError, match="dim_customer_master cannot follow the catalog") as error:
        ddl.new_columns(table, existing)
    assert message in str(error.value)


def test_removed_columns_and_changed_keys_are_refused(catalog: Catalog) -> None:
    table = catalog["dim_sales_group"]
    existing = [*_existing(table), ddl.ExistingColumn("legacy_flag", "boolean", True, False)]
    with pytest.raises(ddl.SchemaChangeError, match="'legacy_flag' is not in the catalog"):
        ddl.new_columns(table, existing)
    rekeyed = [
        ddl.ExistingColumn(
            c.name, c.column_type, c.nullable, c.name in ("sales_group_code", "sales_group_name")
        )
        for c in _existing(table)
    ]
    with pytest.raises(ddl.SchemaChangeError, match=r"key is \(sales_group_code, sales_group_name\)"):
        ddl.new_columns(table, rekeyed)


@pytest.mark.parametrize(
    ("reported", "declared"),
    [
        ("int(11)", "INT"),
        ("bigint(20)", "BIGINT"),
        ("tinyint(4)", "TINYINT"),
        ("tinyint(1)", "BOOLEAN"),
        ("bigint(20) unsigned", "LARGEINT"),
        ("largeint(40)", "LARGEINT"),
        ("decimal32(9, 2)", "DECIMAL(9,2)"),
        ("decimal64(18, 2)", "DECIMAL(18,2)"),
        ("decimal128(38, 6)", "DECIMAL(38,6)"),
        ("decimal(18,2)", "DECIMAL(18,2)"),
        ("varchar(65533)", "STRING"),
        ("varchar(20)", "VARCHAR(20)"),
        ("datetime", "DATETIME"),
    ],
)
def test_type_spellings_compare_equal(reported: str, declared: str) -> None:
    assert ddl.normalize_type(reported) == ddl.normalize_type(declared)


def test_type_differences_still_differ() -> None:
    assert ddl.normalize_type("varchar(20)") != ddl.normalize_type("VARCHAR(40)")
    assert ddl.normalize_type("decimal(18,3)") != ddl.normalize_type("DECIMAL(18,2)")
    assert ddl.normalize_type("int(11)") != ddl.normalize_type("BIGINT")
    assert ddl.normalize_type("tinyint(4)") != ddl.normalize_type("BOOLEAN")
    assert ddl.normalize_type("tinyint(1)") != ddl.normalize_type("TINYINT")
    assert ddl.normalize_type("bigint(20) unsigned") != ddl.normalize_type("BIGINT")


EVERY_TYPE = [
    "BOOLEAN", "TINYINT", "SMALLINT", "INT", "BIGINT", "LARGEINT", "FLOAT", "DOUBLE",
    "DECIMAL(9,2)", "DECIMAL(18,2)", "DECIMAL(38,6)", "VARCHAR(40)", "STRING", "DATE", "DATETIME",
]  # fmt: skip


def test_provisioning_an_existing_table_of_every_type_again_changes_nothing(
    warehouse: StarRocksWarehouse, make_tenant: Callable[..., Tenant]
) -> None:
    """information_schema says tinyint(1), bigint(20) unsigned, decimal64(18, 2), int(11) ...
    where the catalog says BOOLEAN, LARGEINT, DECIMAL(18,2), INT: still the same table."""
    table = CatalogTable.model_validate(
        {
            "name": "every_type",
            "description": "One column per catalog type.",
            "kind": "dimension",
            "load_mode": "replace",
            "columns": [{"name": "k", "type": "BIGINT", "nullable": False}]
            + [{"name": f"c{position}", "type": declared} for position, declared in enumerate(EVERY_TYPE)],
            "keys": ["k"],
        }
    )
    tenant = make_tenant("acme")
    warehouse.provision(tenant, [table])
    again = warehouse.provision(tenant, [table])  # a difference would raise SchemaChangeError
    assert again.created == [], "no ALTER TABLE ... ADD COLUMN either"
    assert "table acme_dw.every_type" in again.existing
