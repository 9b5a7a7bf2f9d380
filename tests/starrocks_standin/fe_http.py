"""The FE's HTTP port: Stream Load redirects and ``get_load_state`` (facts page, Stream Load).

Order of checks on ``PUT /api/{db}/{table}/_stream_load``: Basic auth (401 with
``WWW-Authenticate``), then ``Expect: 100-continue`` (HTTP 200 with a FAILED
DdlException), then INSERT on the table (401), then 307 to the BE. The FE never
reads the body and closes the connection after every answer. Unknown databases
and tables are not its business: the BE reports them.

``GET /api/{db}/get_load_state`` checks Basic auth, then, on a follower FE
(``HttpState.follower``), answers 307 to the same path and query on the leader FE,
which checks Basic auth again (``GetStreamLoadState``: ``redirectToLeader``).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from .errors import access_denied
from .http_base import Handler, rest_result

STREAM_LOAD = re.compile(r"^/api/(?P<db>[^/]+)/(?P<table>[^/]+)/_stream_load$")
LOAD_STATE = re.compile(r"^/api/(?P<db>[^/]+)/get_load_state$")
NO_CONTINUE = "class com.starrocks.common.DdlException: There is no 100-continue header"


class FrontendHandler(Handler):
    role = "fe"

    def handle_expect_100(self) -> bool:
        return True  # decide on the headers alone; the body is never asked for

    def _unauthorized(self, message: str) -> None:
        self.send_json(401, rest_result(message), {"WWW-Authenticate": 'Basic realm=""'})

    def _login(self) -> str | None:
        user = self.authenticated_user()
        if user is None:
            credentials = self.basic_auth()
            self._unauthorized(f"Access denied for user '{credentials[0] if credentials else ''}'")
        return user

    def do_PUT(self) -> None:
        self.record(0)
        fault = self.state.faults.take("fe")
        if fault is not None:
            self.send_json(500, rest_result("stand-in fault: internal error"))
            return
        match = STREAM_LOAD.fullmatch(urlsplit(self.path).path)
        if match is None:
            self.send_json(404, rest_result(f"no handler for {self.path}"))
            return
        user = self._login()
        if user is None:
            return
        if (self.headers.get("Expect") or "").lower() != "100-continue":
            self.send_json(200, {"Status": "FAILED", "Message": NO_CONTINUE})
            return
        db, table = match["db"], match["table"]
        if not self.state.privileges.allows(user, "TABLE", db, table, "INSERT"):
            self._unauthorized(access_denied("INSERT", "TABLE", table).msg)
            return
        self._redirect(self.state.be_port)

    def _redirect(self, port: int) -> None:
        """307 to the same path and query on another port of this host."""
        self.send_response(307)
        self.send_header("Location", f"http://127.0.0.1:{port}{self.path}")
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def _is_follower(self) -> bool:
        return self.state.follower

    def do_GET(self) -> None:
        self.record(0)
        parts = urlsplit(self.path)
        match = LOAD_STATE.fullmatch(parts.path)
        if match is None:
            self.send_json(404, rest_result(f"no handler for {self.path}"))
            return
        if self._login() is None:
            return
        if self._is_follower():
            self._redirect(self.state.leader_port)
            return
        db = match["db"]
        label = (parse_qs(parts.query).get("label") or [""])[0]
        with self.state.catalog.lock:
            known = db in self.state.catalog.databases
        if not known:
            self.send_json(200, rest_result(f"unknown database, database={db}"))
        elif not label:
            self.send_json(200, rest_result("No label selected."))
        else:
            record_state = self.state.labels.state(db, label)
            self.send_json(200, {**rest_result(), "state": record_state, "reason": ""})


class LeaderHandler(FrontendHandler):
    """The leader FE, on its own port: what a follower FE redirects ``get_load_state`` to."""

    role = "leader"

    def _is_follower(self) -> bool:
        return False
