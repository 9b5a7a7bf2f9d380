"""Does the Dagster instance (``dagster.yaml``) enforce the registry's ``global_config``?

The registry is where limits are decided; the instance is what enforces them, and
``dagster.yaml`` is static YAML read by the webserver and the daemon, not by this
code. So the values are copied by hand, and this module makes a difference visible:

* ``datawiz check-instance`` (or ``python -m datawiz_pipelines.instance_check``)
  prints every mismatch and exits 1;
* loading the code location logs a warning for each one.

Registry -> instance::

    max_concurrent_tenants  -> concurrency.runs.max_concurrent_runs
    (one run per tenant)    -> concurrency.runs.tag_concurrency_limits:
                                 {key: dagster/partition, value: {applyLimitPerUniqueValue: true}, limit: 1}
    tenant_timeout          -> run_monitoring.max_runtime_seconds (run_monitoring.enabled: true);
                               also the dagster/max_runtime tag of every scheduled run
    fail_fast: false        -> nothing to set: every tenant's run is independent; transient
                               failures are retried by run_retries
    (per-tenant log files)  -> python_logs.dagster_handler_config (TenantLogHandler)
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from datawiz_pipelines.config.errors import ConfigError
from datawiz_pipelines.config.loader import ConfigRepository
from datawiz_pipelines.config.registry import GlobalConfig
from datawiz_pipelines.run_tags import PARTITION_TAG
from datawiz_pipelines.settings import PROJECT_ROOT, ProjectPaths

TENANT_LOG_HANDLER = "datawiz_pipelines.observability.tenant_logs.TenantLogHandler"
logger = logging.getLogger("datawiz_pipelines.instance_check")


def instance_yaml_path() -> Path:
    """``$DAGSTER_HOME/dagster.yaml``; without ``DAGSTER_HOME``, the project's own."""
    home = os.environ.get("DAGSTER_HOME")
    return (Path(home) if home else PROJECT_ROOT) / "dagster.yaml"


def expected_instance_settings(global_config: GlobalConfig) -> dict[str, Any]:
    """The ``dagster.yaml`` sections that enforce ``global_config``."""
    return {
        "concurrency": {
            "runs": {
                "max_concurrent_runs": global_config.max_concurrent_tenants,
                "tag_concurrency_limits": [
                    {"key": PARTITION_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
                ],
            }
        },
        "run_monitoring": {"enabled": True, "max_runtime_seconds": global_config.tenant_timeout},
        "run_retries": {"enabled": True, "max_retries": 2, "retry_on_asset_or_op_failure": False},
        "python_logs": {
            "dagster_handler_config": {
                "handlers": {"tenant_files": {"()": TENANT_LOG_HANDLER, "level": "DEBUG"}}
            }
        },
    }


def check_instance_config(global_config: GlobalConfig, instance: dict[str, Any]) -> list[str]:
    """Every way ``instance`` (a parsed dagster.yaml) fails to enforce ``global_config``."""
    problems: list[str] = []
    runs = _runs_config(instance)
    limit = runs.get("max_concurrent_runs")
    if limit != global_config.max_concurrent_tenants:
        problems.append(
            f"concurrency.runs.max_concurrent_runs is {_shown(limit)}, but the registry's "
            f"max_concurrent_tenants is {global_config.max_concurrent_tenants}"
        )
    if not any(_is_per_tenant_limit(rule) for rule in runs.get("tag_concurrency_limits") or []):
        problems.append(
            "concurrency.runs.tag_concurrency_limits has no limit of 1 per unique value of the "
            f"'{PARTITION_TAG}' tag: two runs of one tenant could run at once"
        )
    monitoring = instance.get("run_monitoring") or {}
    if not monitoring.get("enabled"):
        problems.append("run_monitoring.enabled is not true: tenant_timeout is not enforced")
    elif monitoring.get("max_runtime_seconds") != global_config.tenant_timeout:
        problems.append(
            f"run_monitoring.max_runtime_seconds is {_shown(monitoring.get('max_runtime_seconds'))}, "
            f"but the registry's tenant_timeout is {global_config.tenant_timeout}"
        )
    retries = instance.get("run_retries") or {}
    if not retries.get("enabled") or not retries.get("max_retries"):
        problems.append(
            "run_retries is not enabled with max_retries >= 1: transient failures are not retried"
        )
    coordinator = (instance.get("run_coordinator") or {}).get("class")
    if coordinator not in (None, "QueuedRunCoordinator"):
        problems.append(f"run_coordinator is {coordinator}: only QueuedRunCoordinator enforces the limits")
    handlers = ((instance.get("python_logs") or {}).get("dagster_handler_config") or {}).get("handlers") or {}
    if not any((handler or {}).get("()") == TENANT_LOG_HANDLER for handler in handlers.values()):
        problems.append(
            "python_logs.dagster_handler_config has no TenantLogHandler: logs/<tenant>/ files are not written"
        )
    if global_config.fail_fast:
        problems.append(
            "fail_fast is true, but queued runs are independent: other tenants keep running "
            "(only `datawiz run` stops at the first failure)"
        )
    return problems


def check_instance(paths: ProjectPaths | None = None, instance_path: Path | None = None) -> list[str]:
    """Problems between the registry under ``paths`` and the instance file (default: the active one)."""
    paths = paths or ProjectPaths.from_env()
    instance_path = instance_path or instance_yaml_path()
    global_config = ConfigRepository(paths.config_dir).registry.global_config
    try:
        instance = yaml.safe_load(instance_path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return [f"{instance_path}: not found; the instance enforces none of the registry's limits"]
    except yaml.YAMLError as exc:
        return [f"{instance_path}: invalid YAML: {exc}"]
    return [f"{instance_path}: {problem}" for problem in check_instance_config(global_config, instance)]


def warn_on_instance_mismatch(global_config: GlobalConfig) -> list[str]:
    """Log a warning per mismatch with the active instance file (at definitions load)."""
    path = instance_yaml_path()
    if not path.is_file():
        return []
    try:
        instance = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return []
    problems = check_instance_config(global_config, instance if isinstance(instance, dict) else {})
    for problem in problems:
        logger.warning("%s: %s (see `datawiz check-instance`)", path, problem)
    return problems


def _runs_config(instance: dict[str, Any]) -> dict[str, Any]:
    """The run queue settings, wherever this dagster.yaml keeps them."""
    runs = (instance.get("concurrency") or {}).get("runs")
    if runs:
        return runs
    if instance.get("run_queue"):
        return instance["run_queue"]
    return ((instance.get("run_coordinator") or {}).get("config")) or {}


def _is_per_tenant_limit(rule: dict[str, Any]) -> bool:
    value = rule.get("value")
    return (
        rule.get("key") == PARTITION_TAG
        and isinstance(value, dict)
        and value.get("applyLimitPerUniqueValue") is True
        and rule.get("limit") == 1
    )


def _shown(value: object) -> str:
    return "not set" if value is None else repr(value)


def main(argv: list[str] | None = None) -> int:
    del argv
    try:
        problems = check_instance()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not problems:
        print(f"{instance_yaml_path()}: enforces the registry's global_config")
        return 0
    print("\n".join(problems), file=sys.stderr)
    print("\nExpected sections (from the registry):", file=sys.stderr)
    global_config = ConfigRepository(ProjectPaths.from_env().config_dir).registry.global_config
    print(yaml.safe_dump(expected_instance_settings(global_config), sort_keys=False), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
