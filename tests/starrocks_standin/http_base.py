"""What the FE and BE HTTP handlers share: Basic auth, JSON answers, resets, a request log."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import socket
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from .catalog import Catalog
from .faults import Faults
from .labels import Labels
from .privileges import Privileges


@dataclass(frozen=True)
class RecordedRequest:
    server: str
    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    body_bytes: int


@dataclass
class HttpState:
    catalog: Catalog
    privileges: Privileges
    labels: Labels = field(default_factory=Labels)
    faults: Faults = field(default_factory=Faults)
    error_logs: dict[str, str] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    be_port: int = 0
    leader_port: int = 0
    follower: bool = False
    """The FE port acts as a follower FE: ``get_load_state`` redirects to the leader's port."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self.requests.append(request)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    role: ClassVar[str]
    state: ClassVar[HttpState]

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet test servers

    def finish(self) -> None:
        with contextlib.suppress(OSError):  # the handler may have reset the connection on purpose
            super().finish()

    def record(self, body_bytes: int) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.state.record(RecordedRequest(self.role, self.command, self.path, headers, body_bytes))

    def basic_auth(self) -> tuple[str, str] | None:
        value = self.headers.get("Authorization") or ""
        if not value.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(value[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user, password

    def authenticated_user(self) -> str | None:
        credentials = self.basic_auth()
        if credentials is None:
            return None
        user, password = credentials
        return user if self.state.privileges.password(user) == password else None

    def send_json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, indent="\t").encode()
        self.send_response(status)
        for name, value in {**(headers or {}), "Content-Type": "application/json"}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def reset(self) -> None:
        """Close with RST (SO_LINGER 0), as a crashed or cut-off server does."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True


def rest_result(message: str | None = None) -> dict[str, str]:
    """The FE's RestBaseResult: OK without a message, FAILED with one."""
    if message is None:
        return {"status": "OK", "code": "0", "msg": "Success", "message": "OK"}
    return {"status": "FAILED", "code": "1", "msg": message, "message": message}


def serve(handler: type[Handler]) -> tuple[ThreadingHTTPServer, threading.Thread]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread
