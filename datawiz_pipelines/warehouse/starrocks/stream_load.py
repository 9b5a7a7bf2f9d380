"""A Stream Load client that follows StarRocks' HTTP protocol to the letter.

- PUT to the FE with Basic auth and ``Expect: 100-continue``; the FE answers
  307 with the BE's address. The FE never reads the body (it redirects on the
  headers), so the FE request carries an empty body and the chunk crosses the
  network once, to the BE. ``requests`` would drop Authorization on the
  cross-port redirect, so the redirect is followed by hand with the header
  re-attached and the chunk (bytes, re-sendable) as the body. ``get_load_state``
  polls follow a follower FE's redirect to the leader the same way.
- Labels are content-addressed (tenant, target table, mapping version, chunk
  sha256): a retried chunk that StarRocks already committed answers "Label
  Already Exists" instead of loading twice.
- Retries with exponential backoff on 5xx, dropped connections, timeouts and
  ``Fail`` answers that are not known to be permanent; never on auth errors,
  unknown tables or "too many filtered rows". "Publish Timeout" is committed.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests
from pydantic import SecretStr

from datawiz_pipelines.config.tenant import StreamLoadSettings
from datawiz_pipelines.warehouse.base import WarehouseError
from datawiz_pipelines.warehouse.starrocks.csv_chunks import CSV_HEADERS, CsvChunk

log = logging.getLogger(__name__)

LABEL_PATTERN = re.compile(r"^[-\w]{1,128}$")
PERMANENT_MESSAGES = (
    "too many filtered rows",
    "access denied",
    "primary key size exceed the limit",
    "no valid basic authorization",
    "unknown database",
    "unknown table",
    "there is no 100-continue header",
    "no database selected",
    "no table selected",
)
"""Fail messages a retry cannot fix (matched case-insensitively, as StarRocks wording varies)."""
COMMITTED_STATES = ("VISIBLE", "COMMITTED")
ERROR_LOG_EXCERPT_BYTES = 2048


class StreamLoadError(WarehouseError):
    """A chunk could not be loaded; the message names tenant, table and label, never a secret."""


class _Transient(Exception):
    """An attempt failed in a way the next attempt (same label) may not."""


def load_label(tenant_id: str, table: str, mapping_version: int, chunk_digest: str) -> str:
    """``dw-<tenant>-<table>-<digest>``: readable prefix, identity in the digest.

    The digest covers every input, so the prefix may be cut to stay within
    StarRocks' 128 characters without two loads ever sharing a label.
    """
    identity = f"{tenant_id}\0{table}\0{mapping_version}\0{chunk_digest}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:40]
    prefix = f"dw-{tenant_id}-{table}"[: 128 - len(digest) - 1]
    label = f"{prefix}-{digest}"
    assert LABEL_PATTERN.fullmatch(label), label
    return label


@dataclass(frozen=True)
class StreamLoadTarget:
    """Where and as whom to load: the tenant's own user, never the admin."""

    tenant_id: str
    host: str
    http_port: int
    user: str
    password: SecretStr
    database: str

    def authorization(self) -> str:
        token = f"{self.user}:{self.password.get_secret_value()}".encode()
        return "Basic " + base64.b64encode(token).decode()


@dataclass(frozen=True)
class RetryPolicy:
    backoff_seconds: float = 2.0
    max_backoff_seconds: float = 30.0
    connect_timeout_seconds: float = 10.0
    read_timeout_margin_seconds: float = 60.0
    """Added to the load's own ``timeout`` header before the client gives up waiting."""
    poll_interval_seconds: float = 1.0
    poll_timeout_seconds: float = 60.0

    def delay(self, attempt: int) -> float:
        return min(self.backoff_seconds * 2 ** (attempt - 1), self.max_backoff_seconds)


@dataclass(frozen=True)
class ChunkLoad:
    """What StarRocks said about one chunk, for LoadResult details."""

    label: str
    status: str
    rows_sent: int
    body_bytes: int
    attempts: int
    loaded_rows: int | None = None
    filtered_rows: int = 0
    load_time_ms: int | None = None
    error_url: str | None = None
    already_loaded: bool = False

    def as_details(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


@dataclass
class StreamLoader:
    """Loads CSV chunks into one table of the target database."""

    target: StreamLoadTarget
    settings: StreamLoadSettings
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        # No proxies or .netrc from the environment: .netrc would replace our Authorization.
        self.session.trust_env = False

    def close(self) -> None:
        self.session.close()

    def where(self, table: str) -> str:
        return f"tenant {self.target.tenant_id}, table {self.target.database}.{table}"

    def headers(self, label: str, columns: list[str]) -> dict[str, str]:
        headers = {
            "Authorization": self.target.authorization(),
            "Expect": "100-continue",
            "label": label,
            "columns": ",".join(columns),
            **CSV_HEADERS,
            "strict_mode": "true" if self.settings.strict_mode else "false",
            "max_filter_ratio": repr(self.settings.max_filter_ratio),
            "timeout": str(self.settings.timeout_seconds),
        }
        if self.settings.timezone:
            headers["timezone"] = self.settings.timezone
        if self.settings.compression == "gzip":
            # The BE picks gzipped CSV by format (gzip -> FORMAT_CSV_GZ); the ``compression``
            # header is for JSON, and a CSV load sent with it reads the gzip bytes as text.
            headers["format"] = "gzip"
        return headers

    def load(self, table: str, columns: list[str], chunk: CsvChunk, label: str) -> ChunkLoad:
        """Load one chunk, retrying transient failures under the same label."""
        headers = self.headers(label, columns)
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(table, chunk, label, headers, attempt)
            except _Transient as problem:
                if attempt > self.settings.max_retries:
                    raise StreamLoadError(
                        f"Stream Load for {self.where(table)} (label {label}) failed {attempt} times; "
                        f"last: {problem}"
                    ) from None
                pause = self.retry.delay(attempt)
                log.warning(
                    "Stream Load %s label %s attempt %d: %s; retrying in %.1fs",
                    self.where(table),
                    label,
                    attempt,
                    problem,
                    pause,
                )
                time.sleep(pause)

    def _url(self, path: str) -> str:
        return f"http://{self.target.host}:{self.target.http_port}{path}"

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        timeout: float | tuple[float, float],
        body: bytes = b"",
    ) -> requests.Response:
        """One request with its redirect left to the caller, which follows it by hand:
        ``requests`` drops Authorization on a redirect to another host or port."""
        try:
            return self.session.request(
                method, url, data=body, headers=headers, allow_redirects=False, timeout=timeout
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _Transient(f"{type(exc).__name__} talking to {url.split('/api/')[0]}") from None

    def _put(self, url: str, headers: dict[str, str], body: bytes) -> requests.Response:
        read_timeout = self.settings.timeout_seconds + self.retry.read_timeout_margin_seconds
        return self._send("PUT", url, headers, (self.retry.connect_timeout_seconds, read_timeout), body)

    def _backend_url(self, table: str, headers: dict[str, str]) -> str:
        response = self._put(self._url(f"/api/{self.target.database}/{table}/_stream_load"), headers, b"")
        location = _redirect(response)
        if location:
            return location
        message = _message(response)
        if response.status_code >= 500:
            raise _Transient(f"FE answered HTTP {response.status_code}: {message}")
        if response.status_code == 200 and not _is_permanent(message):
            raise _Transient(f"FE answered: {message}")
        raise StreamLoadError(
            f"Stream Load for {self.where(table)} refused by the FE (HTTP {response.status_code}): {message}"
        )

    def _attempt(
        self, table: str, chunk: CsvChunk, label: str, headers: dict[str, str], attempt: int
    ) -> ChunkLoad:
        response = self._put(self._backend_url(table, headers), headers, chunk.body)
        if response.status_code != 200:
            message = _message(response)
            if response.status_code >= 500:
                raise _Transient(f"BE answered HTTP {response.status_code}: {message}")
            raise StreamLoadError(
                f"Stream Load for {self.where(table)} refused by the BE "
                f"(HTTP {response.status_code}): {message}"
            )
        answer = _json(response)
        status = answer.get("Status", "")
        if status in ("Success", "Publish Timeout"):
            return self._checked(table, chunk, label, answer, attempt)
        if status == "Label Already Exists":
            return self._existing(table, chunk, label, answer.get("ExistingJobStatus"), attempt)
        message = answer.get("Message", "")
        if status == "Fail" and not _is_permanent(message):
            raise _Transient(f"Status Fail: {message}")
        raise StreamLoadError(self._failure(table, label, chunk, answer))

    def _checked(
        self, table: str, chunk: CsvChunk, label: str, answer: dict[str, Any], attempt: int
    ) -> ChunkLoad:
        """A committed load, after checking StarRocks read exactly the rows that were sent."""
        total = int(answer.get("NumberTotalRows", -1))
        loaded = int(answer.get("NumberLoadedRows", -1))
        filtered = int(answer.get("NumberFilteredRows", 0))
        unselected = int(answer.get("NumberUnselectedRows", 0))
        if total != chunk.rows or loaded + filtered + unselected != total:
            raise StreamLoadError(
                f"Stream Load for {self.where(table)} (label {label}) committed but StarRocks counted "
                f"{total} rows ({loaded} loaded, {filtered} filtered) where {chunk.rows} were sent: "
                "the CSV and its load headers disagree"
            )
        if filtered:
            log.warning(
                "Stream Load %s label %s filtered %d of %d rows (allowed by max_filter_ratio=%s); see %s",
                self.where(table),
                label,
                filtered,
                total,
                self.settings.max_filter_ratio,
                answer.get("ErrorURL"),
            )
        return ChunkLoad(
            label=label,
            status=answer["Status"],
            rows_sent=chunk.rows,
            body_bytes=len(chunk.body),
            attempts=attempt,
            loaded_rows=loaded,
            filtered_rows=filtered,
            load_time_ms=answer.get("LoadTimeMs"),
            error_url=answer.get("ErrorURL"),
        )

    def _existing(
        self, table: str, chunk: CsvChunk, label: str, job_status: str | None, attempt: int
    ) -> ChunkLoad:
        """The label was used before: done if that load committed, else wait for it."""
        if job_status != "FINISHED":
            state = self._wait_for_label(table, label)
            if state not in COMMITTED_STATES:
                raise _Transient(f"earlier load under label {label} ended {state}; loading again")
        log.info("Stream Load %s label %s was already loaded", self.where(table), label)
        return ChunkLoad(
            label=label,
            status="Label Already Exists",
            rows_sent=chunk.rows,
            body_bytes=len(chunk.body),
            attempts=attempt,
            already_loaded=True,
        )

    def _wait_for_label(self, table: str, label: str) -> str:
        """Poll ``get_load_state`` while the label's load is still running (bounded)."""
        deadline = time.monotonic() + self.retry.poll_timeout_seconds
        state = "RUNNING"
        while True:
            state = self._load_state(label) or state
            if state in (*COMMITTED_STATES, "ABORTED", "UNKNOWN"):
                return state
            if time.monotonic() >= deadline:
                raise StreamLoadError(
                    f"Stream Load for {self.where(table)}: label {label} still {state} after "
                    f"{self.retry.poll_timeout_seconds:g}s; check it with "
                    f"GET /api/{self.target.database}/get_load_state?label={label}"
                )
            time.sleep(self.retry.poll_interval_seconds)

    def _load_state(self, label: str) -> str | None:
        """The label's state from the FE, or None when the FE cannot say right now.
        A follower FE redirects to the leader, which wants the credentials too."""
        url = self._url(f"/api/{self.target.database}/get_load_state?{urlencode({'label': label})}")
        headers = {"Authorization": self.target.authorization()}
        timeout = self.retry.connect_timeout_seconds
        try:
            response = self._send("GET", url, headers, timeout)
            leader = _redirect(response)
            if leader:
                response = self._send("GET", leader, headers, timeout)
        except _Transient:
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        return body.get("state") if response.status_code == 200 and isinstance(body, dict) else None

    def _failure(self, table: str, label: str, chunk: CsvChunk, answer: dict[str, Any]) -> str:
        text = (
            f"Stream Load for {self.where(table)} failed: Status {answer.get('Status')}, "
            f"Message {answer.get('Message')!r}, label {label}, rows sent {chunk.rows}, "
            f"filtered {answer.get('NumberFilteredRows', '?')}"
        )
        error_url = answer.get("ErrorURL")
        if error_url:
            text += f"; ErrorURL {error_url}"
            excerpt = self._error_log_excerpt(error_url)
            if excerpt:
                text += f"\nfirst rejected rows:\n{excerpt}"
        return text

    def _error_log_excerpt(self, error_url: str) -> str:
        """The start of the BE's error log, best effort: the URL stays in the message either way."""
        try:
            response = self.session.get(error_url, timeout=self.retry.connect_timeout_seconds)
        except (requests.ConnectionError, requests.Timeout):
            return ""
        if response.status_code != 200:
            return ""
        return response.content[:ERROR_LOG_EXCERPT_BYTES].decode("utf-8", "replace").strip()


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        raise _Transient(f"HTTP {response.status_code} with a body that is not JSON") from None
    return value if isinstance(value, dict) else {}


def _redirect(response: requests.Response) -> str | None:
    """Where a 307/302 answer points (the FE redirecting to a BE or to the leader FE)."""
    return response.headers.get("Location") if response.status_code in (302, 307) else None


def _message(response: requests.Response) -> str:
    """The StarRocks message in an FE/BE answer, whatever casing its JSON uses."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if not isinstance(body, dict):
        return response.text[:200]
    for key in ("Message", "message", "msg"):
        if body.get(key):
            return str(body[key])
    return response.text[:200]


def _is_permanent(message: str) -> bool:
    lowered = message.lower()
    return any(marker in lowered for marker in PERMANENT_MESSAGES)
