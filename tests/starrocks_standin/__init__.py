"""A protocol-faithful StarRocks stand-in for tests (FE MySQL port, FE and BE HTTP ports).

It follows ``shared/reference/starrocks-facts.md``; where they disagree, the facts page wins.
Rows live in DuckDB; statements are parsed with sqlglot's StarRocks dialect.
Tests import it as ``starrocks_standin`` (pytest puts ``tests/`` on ``sys.path``) and use
``running_standin()``, which starts everything on 127.0.0.1 ephemeral ports and always stops it.
"""

from .faults import Fault
from .standin import StandIn, running_standin

__all__ = ["Fault", "StandIn", "running_standin"]
