"""Faults a test arms on the stand-in, each for a bounded number of requests.

``where`` is ``fe`` or ``be``. Kinds:

- ``http_500``: answer HTTP 500 and do nothing else (FE or BE).
- ``reset_mid_body``: read half the body, then reset the connection; nothing is loaded.
- ``reset_after_commit``: load and commit, then reset instead of answering.
- ``slow``: keep the label RUNNING for ``delay`` seconds before loading and answering.
- ``publish_timeout``: load, answer "Publish Timeout"; the label is COMMITTED for ``delay``
  seconds, then VISIBLE.
- ``label_running``: reset the connection and leave the label RUNNING for ``delay`` seconds
  (None: for ever) before the load lands.
- ``fail_retryable``: answer Status "Fail" with a transient message; nothing is loaded.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal[
    "http_500",
    "reset_mid_body",
    "reset_after_commit",
    "slow",
    "publish_timeout",
    "label_running",
    "fail_retryable",
]
_FE_KINDS = {"http_500"}


@dataclass
class Fault:
    kind: FaultKind
    where: Literal["fe", "be"] = "be"
    times: int = 1
    delay: float | None = 0.0

    def __post_init__(self) -> None:
        if self.where == "fe" and self.kind not in _FE_KINDS:
            raise ValueError(f"the FE stand-in only injects {sorted(_FE_KINDS)}")
        if not 1 <= self.times <= 20:
            raise ValueError("a fault fires between 1 and 20 times")


@dataclass
class Faults:
    _armed: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    fired: list[str] = field(default_factory=list)

    def arm(self, *faults: Fault) -> None:
        with self._lock:
            self._armed.extend(faults)

    def take(self, where: str) -> Fault | None:
        """The next armed fault for this server, used up by one request."""
        with self._lock:
            for fault in self._armed:
                if fault.where == where and fault.times > 0:
                    fault.times -= 1
                    self.fired.append(f"{where}:{fault.kind}")
                    return fault
        return None
