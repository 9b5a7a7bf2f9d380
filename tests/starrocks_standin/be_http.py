"""The BE's HTTP port: the Stream Load itself, and the error logs its answers point to.

Always HTTP 200 with the documented JSON (fields in the BE's order), success or
failure, except where an armed fault says otherwise. Labels are unique per
database; a taken label answers "Label Already Exists" with the earlier job's
status. Rows land in one write: PRIMARY KEY tables upsert, others append.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .catalog import Table
from .errors import StarRocksError, access_denied
from .faults import Fault
from .http_base import Handler
from .labels import FINISHED_STATES
from .stream_csv import ParsedLoad, parse_load

STREAM_LOAD = re.compile(r"^/api/(?P<db>[^/]+)/(?P<table>[^/]+)/_stream_load$")
ERROR_LOG = re.compile(r"^/api/_load_error_log\?file=(?P<file>[\w-]+)$")
PUBLISH_TIMEOUT = "transaction commit successfully, BUT data will be visible later"


@dataclass
class Answer:
    """The BE's response body, built in ``stream_load_context.cpp``'s field order."""

    label: str
    txn_id: int = -1
    status: str = "Fail"
    message: str = ""
    existing: str | None = None
    total: int = 0
    loaded: int = 0
    filtered: int = 0
    load_bytes: int = 0
    started: float = field(default_factory=time.monotonic)
    error_url: str | None = None
    reset: bool = False
    """Cut the connection instead of answering (a fault)."""

    def body(self) -> dict[str, Any]:
        elapsed = int((time.monotonic() - self.started) * 1000)
        body: dict[str, Any] = {"TxnId": self.txn_id, "Label": self.label, "Status": self.status}
        if self.existing:
            body["ExistingJobStatus"] = self.existing
        body |= {
            "Message": self.message,
            "NumberTotalRows": self.total,
            "NumberLoadedRows": self.loaded,
            "NumberFilteredRows": self.filtered,
            "NumberUnselectedRows": 0,
            "LoadBytes": self.load_bytes,
            "LoadTimeMs": elapsed,
            "BeginTxnTimeMs": 0,
            "StreamLoadPlanTimeMs": 0,
            "ReadDataTimeMs": 0,
            "WriteDataTimeMs": elapsed,
            "CommitAndPublishTimeMs": 0,
        }
        if self.error_url:
            body["ErrorURL"] = self.error_url
        return body


class BackendHandler(Handler):
    role = "be"

    def do_GET(self) -> None:
        self.record(0)
        match = ERROR_LOG.fullmatch(self.path)
        text = self.state.error_logs.get(match["file"]) if match else None
        if text is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self, fault: Fault | None) -> bytes | None:
        """The request body; None when a fault cut the connection half-way through it."""
        length = int(self.headers.get("Content-Length") or 0)
        if fault is not None and fault.kind == "reset_mid_body":
            self.rfile.read(length // 2)
            self.reset()
            return None
        return self.rfile.read(length)

    def do_PUT(self) -> None:
        fault = self.state.faults.take("be")
        body = self._body(fault)
        self.record(-1 if body is None else len(body))
        if body is None:
            return
        if fault is not None and fault.kind == "http_500":
            self.send_json(500, {"status": "FAILED", "msg": "stand-in fault: internal error"})
            return
        match = STREAM_LOAD.fullmatch(self.path.split("?")[0])
        if match is None:
            self.send_json(404, {"status": "FAILED", "msg": f"no handler for {self.path}"})
            return
        answer = Answer(label=self.headers.get("label") or str(uuid.uuid4()))
        if fault is not None and fault.kind == "fail_retryable":
            answer.message = "[E1008]Reached timeout=600000ms @127.0.0.1:8060 (stand-in fault)"
        else:
            self._load(match["db"], match["table"], body, answer, fault)
        if answer.reset:
            self.reset()
            return
        self.send_json(200, answer.body())

    def _table(self, db: str, name: str) -> Table:
        """The target table, after the checks the BE (via the FE) makes: login, names, INSERT."""
        credentials = self.basic_auth()
        if credentials is None:
            raise StarRocksError("no valid Basic authorization")
        user = self.authenticated_user()
        if user is None:
            raise StarRocksError(f"Access denied for user '{credentials[0]}'")
        catalog = self.state.catalog
        with catalog.lock:
            if db not in catalog.databases:
                raise StarRocksError(f"unknown database, database={db}")
            table = catalog.databases[db].get(name)
        if table is None:
            raise StarRocksError(f'unknown table "{db}.{name}"')
        if not self.state.privileges.allows(user, "TABLE", db, name, "INSERT"):
            raise access_denied("INSERT", "TABLE", name)
        return table

    def _load(self, db: str, name: str, body: bytes, answer: Answer, fault: Fault | None) -> None:
        labels = self.state.labels
        try:
            table = self._table(db, name)
        except StarRocksError as exc:
            answer.message = exc.msg
            return
        record, new = labels.begin(db, answer.label)
        answer.txn_id = record.txn_id
        if not new:
            answer.status = "Label Already Exists"
            answer.existing = "FINISHED" if record.state in FINISHED_STATES else "RUNNING"
            answer.message = f"Label [{answer.label}] has already been used."
            return
        try:
            self._parse_and_commit(db, table, body, answer, fault)
        except Exception as exc:  # bad headers or body, or an internal error: the transaction aborts
            labels.set_state(db, answer.label, "ABORTED", str(exc))
            answer.status, answer.message = "Fail", str(exc)

    def _parse_and_commit(
        self, db: str, table: Table, body: bytes, answer: Answer, fault: Fault | None
    ) -> None:
        labels = self.state.labels
        parsed, ratio = parse_load(table, self.headers, body)
        answer.total, answer.filtered, answer.load_bytes = parsed.total, parsed.filtered, parsed.load_bytes
        if parsed.errors:
            answer.error_url = self._error_log(parsed)
        if parsed.filtered > ratio * parsed.total:
            labels.set_state(db, answer.label, "ABORTED", "too many filtered rows")
            answer.message = "too many filtered rows"
            return
        self._commit(db, table, parsed, answer, fault)

    def _commit(self, db: str, table: Table, parsed: ParsedLoad, answer: Answer, fault: Fault | None) -> None:
        labels, label = self.state.labels, answer.label
        kind, delay = (fault.kind, fault.delay) if fault is not None else (None, 0.0)

        def land(state: str = "VISIBLE") -> None:
            self.state.catalog.write(table, parsed.rows)
            labels.set_state(db, label, state)

        if kind == "label_running":
            if delay is not None:
                labels.later(delay, land)
            answer.reset = True
            return
        if kind == "slow":
            time.sleep(delay or 0)
        land("COMMITTED" if kind == "publish_timeout" else "VISIBLE")
        answer.loaded = parsed.rows.height
        answer.reset = kind == "reset_after_commit"
        if kind == "publish_timeout":
            answer.status, answer.message = "Publish Timeout", PUBLISH_TIMEOUT
            labels.later(delay or 0, lambda: labels.set_state(db, label, "VISIBLE"))
        else:
            answer.status, answer.message = "Success", "OK"

    def _error_log(self, parsed: ParsedLoad) -> str:
        name = f"error_log_{uuid.uuid4().hex}"
        self.state.error_logs[name] = "\n".join(parsed.errors) + "\n"
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/_load_error_log?file={name}"
