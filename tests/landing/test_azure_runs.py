"""An Azure tenant through Dagster: landing sync, incremental runs, backup, and a wrong key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from azure.storage.blob import ContainerClient
from dagster import AssetKey, DagsterInstance, materialize

from datawiz_pipelines.assets.landing import BACKUP_KEY, SOURCE_FILES_KEY
from datawiz_pipelines.definitions import build_definitions
from datawiz_pipelines.run_summary import failure_message
from datawiz_pipelines.settings import ProjectPaths

from .conftest import (
    WRONG_KEY,
    Azurite,
    add_tenant,
    assert_same_tables,
    full_recompute,
    gz,
    materialization,
    materials_csv,
    run_etl,
    sales_csv,
    succeeded,
    warehouse_tables,
    write_file,
    zipped,
)

TENANT = "azrun"
FACT = "fact_invoice_secondary"
FAST = {"resources": {"landing": {"config": {"retry_total": 1, "retry_backoff_s": 0.05}}}}


def test_an_azure_tenant_lands_loads_incrementally_and_backs_up(
    project: ProjectPaths,
    instance: DagsterInstance,
    azurite: Azurite,
    container: ContainerClient,
    tmp_path: Path,
):
    add_tenant(
        project,
        TENANT,
        landing={"kind": "azure"},
        container=container.container_name,
        prefix="exports/",
        env={"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string()},
    )
    container.upload_blob("exports/master/materials.csv", materials_csv(["M1", "M2"]))
    container.upload_blob("exports/sales/day1.csv.gz", gz(sales_csv([("20240401", "I1", 1, "M1", 1, 10)])))
    container.upload_blob(
        "exports/sales/batch.zip",
        zipped(
            {
                "day2.csv": sales_csv([("20240402", "I2", 1, "M2", 2, 20)]),
                "day3.csv": sales_csv([("20240403", "I3", 1, "M1", 3, 30)]),
            }
        ),
    )
    first = run_etl(project, instance, TENANT, run_config=FAST)
    assert succeeded(first)
    landing = materialization(first, "source_files")
    assert (landing["landing_kind"], landing["container"], landing["prefix"]) == (
        "azure",
        container.container_name,
        "exports/",
    )
    assert sorted(landing["files_new"]) == [
        "master/materials.csv",
        "sales/day1.csv",
        "sales/day2.csv",
        "sales/day3.csv",
    ]
    assert materialization(first, "warehouse", FACT)["dagster/row_count"] == 3

    # a new blob, a changed blob with the same name, a blob deleted upstream
    container.upload_blob("exports/sales/day4.csv", sales_csv([("20240404", "I4", 1, "M2", 4, 40)]))
    container.upload_blob(
        "exports/sales/day1.csv.gz", gz(sales_csv([("20240401", "I1", 1, "M1", 1, 11)])), overwrite=True
    )
    container.upload_blob(
        "exports/sales/batch.zip",
        zipped({"day2.csv": sales_csv([("20240402", "I2", 1, "M2", 2, 20)])}),
        overwrite=True,
    )
    second = run_etl(project, instance, TENANT, run_config=FAST)
    assert succeeded(second)
    landing = materialization(second, "source_files")
    assert landing["files_new"] == ["sales/day4.csv"]
    assert sorted(landing["files_changed"]) == ["sales/day1.csv", "sales/day2.csv"]
    assert landing["files_deleted_upstream"] == ["sales/day3.csv"]
    assert materialization(second, "warehouse", FACT)["load_mode"] == "replace"
    assert materialization(second, "bronze", "dim_material")["files_parsed"] == 0
    tables = warehouse_tables(project, TENANT)
    assert sorted(tables[FACT]["invoice_no"].to_list()) == ["I1", "I2", "I4"]
    assert_same_tables(tables, full_recompute(project, TENANT, tmp_path, copy_landing=False))

    defs = build_definitions(project, backend="duckdb")
    backup = [defs.resolve_assets_def(BACKUP_KEY)]
    archived = materialize(backup, partition_key=TENANT, instance=instance, run_config=FAST)
    assert archived.success
    day = dt.datetime.now(dt.UTC).date().isoformat()
    names = sorted(b.name for b in container.list_blobs(name_starts_with="exports_backup/"))
    assert names == [
        f"exports_backup/{day}/master/materials.csv",
        f"exports_backup/{day}/sales/batch.zip",
        f"exports_backup/{day}/sales/day1.csv.gz",
        f"exports_backup/{day}/sales/day4.csv",
    ]
    again = materialize(backup, partition_key=TENANT, instance=instance, run_config=FAST)
    metadata = again.asset_materializations_for_node(again.get_asset_materialization_events()[0].step_key)[
        0
    ].metadata
    assert (metadata["archived"].value, metadata["archived_before"].value) == (0, 4)


def test_a_wrong_key_fails_the_landing_step_clearly_and_never_shows_the_key(
    project: ProjectPaths, instance: DagsterInstance, azurite: Azurite, container: ContainerClient
):
    add_tenant(
        project,
        "azwrong",
        landing={"kind": "azure"},
        container=container.container_name,
        env={"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string(key=WRONG_KEY)},
    )
    result = run_etl(project, instance, "azwrong", assets=[SOURCE_FILES_KEY], run_config=FAST)
    assert not result.success
    [failure] = result.get_step_failure_events()
    message = failure_message(failure.step_failure_data.error)
    assert "tenant azwrong" in message and container.container_name in message and "HTTP 403" in message
    everything = "\n".join(str(entry) for entry in instance.all_logs(result.run_id))
    assert WRONG_KEY not in everything and WRONG_KEY[:16] not in everything
    assert AssetKey("source_files") not in {
        e.step_materialization_data.materialization.asset_key
        for e in result.get_asset_materialization_events()
    }


def test_a_local_tenant_backs_up_processed_files_once(project: ProjectPaths, instance: DagsterInstance):
    add_tenant(project, "locbak")
    root = project.data_dir / "locbak" / "source_files"
    write_file(root, "master/materials.csv", materials_csv(["M1"]), dt.datetime(2024, 4, 1, tzinfo=dt.UTC))
    write_file(
        root,
        "sales/day1.csv",
        sales_csv([("20240401", "I1", 1, "M1", 1, 10)]),
        dt.datetime(2024, 4, 1, tzinfo=dt.UTC),
    )
    write_file(
        root, "unmapped/notes.txt", b"not a source of any table\n", dt.datetime(2024, 4, 1, tzinfo=dt.UTC)
    )
    assert succeeded(run_etl(project, instance, "locbak"))
    defs = build_definitions(project, backend="duckdb")
    backup = [defs.resolve_assets_def(BACKUP_KEY)]
    assert materialize(backup, partition_key="locbak", instance=instance).success
    day = dt.datetime.now(dt.UTC).date().isoformat()
    archive = project.data_dir / "locbak" / "backup" / day
    assert sorted(p.relative_to(archive).as_posix() for p in archive.rglob("*") if p.is_file()) == [
        "master/materials.csv",
        "sales/day1.csv",
    ]
    assert (archive / "sales/day1.csv").read_bytes() == (root / "sales/day1.csv").read_bytes()
