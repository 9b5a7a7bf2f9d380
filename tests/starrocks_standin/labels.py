"""Stream Load labels per database, with the states ``get_load_state`` reports."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field

FINISHED_STATES = ("COMMITTED", "VISIBLE")


@dataclass
class LabelRecord:
    txn_id: int
    state: str
    reason: str = ""


@dataclass
class Labels:
    _records: dict[tuple[str, str], LabelRecord] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _txn_ids: itertools.count = field(default_factory=lambda: itertools.count(1001))
    _timers: list[threading.Timer] = field(default_factory=list)

    def begin(self, database: str, label: str) -> tuple[LabelRecord, bool]:
        """Start a transaction under ``label``: (its record, True), or (the earlier job's record,
        False) when the label is taken. Labels of aborted loads can be reused."""
        with self._lock:
            existing = self._records.get((database, label))
            if existing is not None and existing.state != "ABORTED":
                return existing, False
            record = self._records[(database, label)] = LabelRecord(next(self._txn_ids), "PREPARE")
            return record, True

    def state(self, database: str, label: str) -> str:
        with self._lock:
            record = self._records.get((database, label))
            return record.state if record else "UNKNOWN"

    def set_state(self, database: str, label: str, state: str, reason: str = "") -> None:
        with self._lock:
            record = self._records[(database, label)]
            record.state, record.reason = state, reason

    def later(self, delay: float, action) -> None:
        """Run ``action`` after ``delay`` seconds (cancelled when the stand-in stops)."""
        timer = threading.Timer(delay, action)
        timer.daemon = True
        with self._lock:
            self._timers.append(timer)
        timer.start()

    def stop(self) -> None:
        with self._lock:
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
