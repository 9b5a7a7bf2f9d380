"""Finding a tenant's source files: what is picked up, what is skipped, and in which order."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from datawiz_pipelines.bronze.source_files import SourceFile, find_source_files


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("id\n1\n")


def relative_paths(files: list[SourceFile]) -> list[str]:
    return [file.relative_path for file in files]


def test_globs_match_recursively_and_results_are_sorted_by_relative_path(tmp_path: Path) -> None:
    touch(tmp_path, "b.csv", "a.csv", "2024/02/z.csv", "2024/01/y.csv", "notes.md")

    files = find_source_files(tmp_path, ["**/*.csv"])

    assert relative_paths(files) == ["2024/01/y.csv", "2024/02/z.csv", "a.csv", "b.csv"]
    assert all(file.path.is_absolute() and file.path.is_file() for file in files)


def test_a_single_level_glob_does_not_descend(tmp_path: Path) -> None:
    touch(tmp_path, "a.csv", "sub/b.csv")

    assert relative_paths(find_source_files(tmp_path, ["*.csv"])) == ["a.csv"]


def test_overlapping_patterns_list_each_file_once(tmp_path: Path) -> None:
    touch(tmp_path, "orders_1.csv", "orders_2.csv")

    files = find_source_files(tmp_path, ["orders_*.csv", "*.csv", "orders_1.csv"])

    assert relative_paths(files) == ["orders_1.csv", "orders_2.csv"]


def test_hidden_files_hidden_folders_and_partial_downloads_are_skipped(tmp_path: Path) -> None:
    touch(tmp_path, "ok.csv", ".hidden.csv", ".cache/inside.csv", "in.csv.tmp", "in.csv.part", "IN.PART")

    assert relative_paths(find_source_files(tmp_path, ["**/*"])) == ["ok.csv"]


def test_folders_are_not_files(tmp_path: Path) -> None:
    (tmp_path / "looks_like.csv").mkdir()

    assert find_source_files(tmp_path, ["*.csv", "**"]) == []


def test_symlinks_escaping_the_root_are_ignored(tmp_path: Path) -> None:
    other_tenant = tmp_path / "other_tenant"
    touch(other_tenant, "secret.csv")
    root = tmp_path / "acme"
    touch(root, "mine.csv")
    (root / "stolen.csv").symlink_to(other_tenant / "secret.csv")
    (root / "linked_folder").symlink_to(other_tenant, target_is_directory=True)

    files = find_source_files(root, ["*.csv", "**/*.csv", "linked_folder/*.csv", "../other_tenant/*.csv"])

    assert relative_paths(files) == ["mine.csv"]


def test_symlinks_staying_inside_the_root_are_followed(tmp_path: Path) -> None:
    touch(tmp_path, "archive/orders.csv")
    (tmp_path / "latest.csv").symlink_to(tmp_path / "archive" / "orders.csv")

    [file] = find_source_files(tmp_path, ["latest.csv"])

    assert file.relative_path == "latest.csv"
    assert file.size == (tmp_path / "archive" / "orders.csv").stat().st_size


def test_a_missing_root_has_no_files(tmp_path: Path) -> None:
    assert find_source_files(tmp_path / "never_created", ["*.csv"]) == []


def test_size_and_utc_modification_time_are_recorded(tmp_path: Path) -> None:
    touch(tmp_path, "a.csv")
    modified_ns = 1_717_243_200_123_456_789  # 2024-06-01 12:00:00.123456789 UTC
    os.utime(tmp_path / "a.csv", ns=(modified_ns, modified_ns))

    [file] = find_source_files(tmp_path, ["a.csv"])

    assert file.size == len("id\n1\n")
    assert file.modified == datetime(2024, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert file.fingerprint == "5-1717243200123456"


def test_the_fingerprint_changes_when_the_file_is_rewritten_even_at_the_same_size(tmp_path: Path) -> None:
    touch(tmp_path, "a.csv")
    os.utime(tmp_path / "a.csv", ns=(1_700_000_000 * 10**9,) * 2)
    [before] = find_source_files(tmp_path, ["a.csv"])
    (tmp_path / "a.csv").write_text("id\n2\n")
    os.utime(tmp_path / "a.csv", ns=(1_700_000_001 * 10**9,) * 2)

    [after] = find_source_files(tmp_path, ["a.csv"])

    assert after.size == before.size
    assert after.fingerprint != before.fingerprint
