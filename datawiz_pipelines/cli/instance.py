"""The Dagster instance the CLI records its runs in (the one ``dagster dev`` shows)."""

from __future__ import annotations

import os

from dagster import DagsterInstance

from datawiz_pipelines.settings import PROJECT_ROOT


def project_instance() -> DagsterInstance:
    """``$DAGSTER_HOME``'s instance; unset, the project's own ``dagster.yaml``.

    That file keeps its storage under ``.dagster/`` relative to the working directory,
    so the CLI then works from the project root, exactly as ``dagster dev`` does.
    """
    if not os.environ.get("DAGSTER_HOME"):
        os.environ["DAGSTER_HOME"] = str(PROJECT_ROOT)
        os.chdir(PROJECT_ROOT)
    return DagsterInstance.get()
