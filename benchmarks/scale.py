"""Definitions load, schedule evaluation and a new-files sensor tick with 1,000 registered tenants.

    /work/venv/bin/python benchmarks/scale.py                  # 1,000 tenants
    /work/venv/bin/python benchmarks/scale.py --tenants 200 --keep

What it does, in a temporary folder:

1. generates a registry of N tenants (90% enabled), each a copy of the sample tenants'
   configuration (``tenant1`` or ``tenant2`` alternately: config, mappings, seeds) with
   its own timezone and start times (five zones, three evening times), and gives every
   tenant the sample source files (38 files, hard links to one generated copy);
2. measures the definitions load twice: a cold ``python -c "import
   datawiz_pipelines.definitions"`` in a fresh process (interpreter, imports, registry,
   assets, jobs, schedules, sensors), and ``build_definitions`` + resolving the
   repository in a warm process (what a code-location reload costs);
3. evaluates ``evening_schedule`` through Dagster (``evaluate_tick``, as the daemon's
   code server does) at an instant where a fifth of the tenants are due: first tick
   (every tenant's config parsed) and next tick (from cache);
4. ticks ``new_files_sensor`` through Dagster: the first pass after a start (empty
   cursor: every mapping parsed, every folder listed, one run request per enabled
   tenant; a tick stops after its 6 s budget and the next resumes, so the pass may take
   several ticks), a quiet tick over every tenant (nothing changed), and a tick after
   new files arrived for 10 tenants.

Targets (issue 4): definitions load under 5 s, one sensor tick over 1,000 tenants
under 10 s. Wall and CPU seconds are printed (on a loaded machine wall time grows, CPU
time much less). The script prints the figures and always exits 0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ZONES = ["Asia/Kolkata", "America/New_York", "Europe/London", "Asia/Singapore", "UTC"]
EVENING_TIMES = ["18:00", "19:30", "20:00"]
TEMPLATES = ["tenant1", "tenant2"]


def generate(root: Path, tenants: int) -> tuple[Path, Path, list[str]]:
    """A configuration tree and a data tree for ``tenants`` tenants under ``root``."""
    from datawiz_pipelines.sample_data.generator import generate_sample_data

    source = ROOT / "tenant_configs"
    config_dir, data_dir = root / "tenant_configs", root / "data"
    shutil.copytree(source, config_dir, ignore=shutil.ignore_patterns("tenants", ".env"))
    (config_dir / "tenants").mkdir()
    shutil.copytree(source / "tenants" / "_template", config_dir / "tenants" / "_template")
    samples = root / "samples"
    generate_sample_data(source, samples, TEMPLATES, fact_rows=60)
    registry = yaml.safe_load((source / "registry.yaml").read_text())
    entries, ids = [], []
    for index in range(tenants):
        tenant_id = f"t{index + 1:04d}"
        template = TEMPLATES[index % 2]
        ids.append(tenant_id)
        directory = config_dir / "tenants" / tenant_id
        shutil.copytree(source / "tenants" / template, directory, ignore=shutil.ignore_patterns(".env"))
        config = yaml.safe_load((directory / "config.yaml").read_text())
        config["tenant_id"] = tenant_id
        config["scheduler"].update(
            timezone=ZONES[index % len(ZONES)], evening_start_time=EVENING_TIMES[index % len(EVENING_TIMES)]
        )
        (directory / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        entries.append(
            {
                "tenant_id": tenant_id,
                "tenant_name": f"Benchmark tenant {index + 1}",
                "enabled": index % 10 != 9,
                "database_name": f"datawiz_{tenant_id}",
                "database_user": f"{tenant_id}_admin",
                "schedule_priority": index % 100,
                "tier": "standard",
            }
        )
        landing = samples / template / "source_files"
        for file in landing.rglob("*"):
            if file.is_file():
                target = data_dir / tenant_id / "source_files" / file.relative_to(landing)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(file, target)
    registry["tenants"] = entries
    (config_dir / "registry.yaml").write_text(yaml.safe_dump(registry, sort_keys=False))
    return config_dir, data_dir, ids


CPU_SECONDS: dict[str, float] = {}


def timed(function, label: str | None = None):
    """Wall seconds of ``function()`` (its CPU seconds are kept under ``label``)."""
    start, cpu = time.perf_counter(), time.process_time()
    result = function()
    if label:
        CPU_SECONDS[label] = time.process_time() - cpu
    return time.perf_counter() - start, result


def cold_definitions_load(env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds of a fresh ``import datawiz_pipelines.definitions``, the part after the
    interpreter started, and the child's CPU seconds."""
    code = (
        "import time; t = time.perf_counter(); import datawiz_pipelines.definitions as d; "
        "d.defs.get_repository_def(); print(time.perf_counter() - t)"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, float(out.strip().splitlines()[-1]), cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the generated folder")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="datawiz-scale-"))
    env = {
        **os.environ,
        "DATAWIZ_CONFIG_DIR": str(root / "tenant_configs"),
        "DATAWIZ_DATA_DIR": str(root / "data"),
        "DATAWIZ_LOGS_DIR": str(root / "logs"),
        "DATAWIZ_WAREHOUSE": "duckdb",
        "DAGSTER_HOME": str(root / "dagster_home"),
    }
    (root / "dagster_home").mkdir()
    shutil.copy(ROOT / "dagster.yaml", root / "dagster_home" / "dagster.yaml")
    os.environ.update(env)
    try:
        seconds, (config_dir, data_dir, ids) = timed(lambda: generate(root, args.tenants))
        print(
            f"generated {len(ids)} tenants, {sum(1 for _ in data_dir.rglob('*.*'))} files in {seconds:.1f}s"
        )
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n")
        figures = measure(env, config_dir, data_dir, ids)
    finally:
        if args.keep:
            print(f"\nkept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    width = max(len(name) for name, *_ in figures)
    print(f"\n{'measurement':<{width}}  {'wall s':>7}  {'cpu s':>6}  {'target':<12}  detail")
    for name, seconds, target, detail in figures:
        verdict = "" if target is None else ("ok" if seconds < target else "MISSED")
        shown = "" if target is None else f"< {target:g}s {verdict}"
        cpu = f"{CPU_SECONDS[name]:6.2f}" if name in CPU_SECONDS else "     -"
        print(f"{name:<{width}}  {seconds:7.2f}  {cpu}  {shown:<12}  {detail}")
    print(f"\nload average after: {os.getloadavg()[0]:.1f} (wall times grow with it; cpu s much less)")
    return 0


def measure(env: dict[str, str], config_dir: Path, data_dir: Path, ids: list[str]) -> list[tuple]:
    from dagster import DagsterInstance, build_schedule_context, build_sensor_context

    from datawiz_pipelines.definitions import build_definitions
    from datawiz_pipelines.sensors.new_files import decode_cursor
    from datawiz_pipelines.settings import ProjectPaths

    figures: list[tuple] = []
    wall, inside, cpu = cold_definitions_load(env)
    name = f"definitions load, cold process ({len(ids)} tenants)"
    CPU_SECONDS[name] = cpu
    figures.append((name, wall, 5.0, f"python -c import; {inside:.2f}s after the interpreter started"))
    sample = {**env, "DATAWIZ_CONFIG_DIR": str(ROOT / "tenant_configs")}
    wall, inside, cpu = cold_definitions_load(sample)
    name = "definitions load, cold process (the 3 sample tenants)"
    CPU_SECONDS[name] = cpu
    figures.append((name, wall, None, "the same, for comparison: imports dominate"))
    paths = ProjectPaths(config_dir=config_dir, data_dir=data_dir, logs_dir=data_dir.parent / "logs")
    build_definitions(paths)  # warm the imports
    name = "definitions load, warm process (build + resolve)"
    seconds, repository = timed(lambda: build_definitions(paths).get_repository_def(), name)
    figures.append((name, seconds, 5.0, "a code-location reload"))

    schedule = repository.get_schedule_def("evening_schedule")
    sensor = repository.get_sensor_def("new_files_sensor")
    with DagsterInstance.ephemeral() as instance:
        tick = dt.datetime(2025, 1, 15, 12, 30, tzinfo=dt.UTC)  # 18:00 Asia/Kolkata
        for label in ("first", "next"):
            context = build_schedule_context(
                instance=instance, scheduled_execution_time=tick, repository_def=repository
            )
            name = f"evening_schedule tick, {label} ({len(ids)} tenants)"
            seconds, result = timed(lambda context=context: schedule.evaluate_tick(context), name)
            figures.append((name, seconds, None, f"{len(result.run_requests)} runs due"))

        def sensor_tick(cursor):
            context = build_sensor_context(instance=instance, cursor=cursor, repository_def=repository)
            return sensor.evaluate_tick(context)

        # the first pass after a start: every mapping parsed, every folder listed, spread over
        # ticks of at most TICK_BUDGET_SECONDS (+ the tenant being looked at when it ran out)
        cursor, ticks, requested, pass_wall, pass_cpu, longest = None, 0, 0, 0.0, 0.0, 0.0
        while True:
            name = "new_files_sensor first pass"
            seconds, result = timed(lambda cursor=cursor: sensor_tick(cursor), name)
            ticks, cursor = ticks + 1, result.cursor
            requested += len(result.run_requests or [])
            pass_wall, pass_cpu, longest = (
                pass_wall + seconds,
                pass_cpu + CPU_SECONDS[name],
                max(longest, seconds),
            )
            if decode_cursor(cursor).resume_after is None:
                break
        name = "new_files_sensor first pass, longest tick"
        CPU_SECONDS[name] = pass_cpu
        figures.append(
            (
                name,
                longest,
                10.0,
                f"{ticks} tick(s), {pass_wall:.1f}s wall / {pass_cpu:.1f}s cpu in all; "
                f"{requested} runs requested",
            )
        )
        for label in ("quiet tick (all tenants)", "tick after new files for 10 tenants"):
            if label.startswith("tick after"):
                for tenant_id in ids[:10]:
                    incoming = data_dir / tenant_id / "source_files" / "incremental"
                    sample = next(p for p in sorted(incoming.rglob("*")) if p.is_file())
                    shutil.copy(sample, sample.with_name(sample.name.replace("202404", "202405")))
            name = f"new_files_sensor {label}"
            seconds, result = timed(lambda cursor=cursor: sensor_tick(cursor), name)
            cursor = result.cursor
            state = decode_cursor(cursor)
            figures.append(
                (
                    name,
                    seconds,
                    10.0,
                    f"{len(result.run_requests or [])} runs requested, {len(state.digests)} tenants in "
                    f"the cursor ({len(cursor):,} chars), pass complete: {state.resume_after is None}",
                )
            )
    return figures


if __name__ == "__main__":
    sys.exit(main())
