"""A local, stdlib-only simulator of the Segment Public API (GET endpoints a source connector reads).

See integration_tests/simulator/README.md for the behaviour it models.
"""
from __future__ import annotations

import base64
import binascii
import bisect
import datetime as dt
import email.utils
import json
import math
import re
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Deque, Dict, Iterable, List, Optional, Sequence, Tuple, Union
from urllib.parse import parse_qs, urlsplit

from .data import FUNCTION_TYPES, PLAN_TYPES, UTC, Workspace, generate, u01
from . import operations

FEATURES = frozenset({"audit_trail", "protocols", "functions", "spaces", "reverse_etl", "destination_subscriptions",
                      "delivery_metrics", "public_api"})
# Routes a narrow-role token (issue 14: `Simulator(narrow_token=...)`) cannot read: it gets 401 "does not have
# permission" there, as Segment documents, while GET / and the rest answer 200.
NARROW_ROLE_DENIED = frozenset({"audit_events", "tracking_plans", "transformations", "tp_rules", "tp_sources", "functions",
                                "function_versions", "spaces", "audiences", "computed_traits", "regulations",
                                "source_regulations"})
FAULT_KINDS = frozenset({"429_retry_after", "429_ms_before_next", "429_reset", "500", "502", "503_html", "504", "reset",
                         "timeout", "truncated", "invalid_json"})
SIGNALS = frozenset({"retry_after", "ms_before_next", "reset", "all"})
WINDOW = 60.0
DEFAULT_COUNT = 200
# Hour-of-day weights used to split a day's event count into hours (sums stay consistent).
_HOUR_W = [2, 1, 1, 1, 1, 2, 4, 6, 8, 9, 10, 10, 10, 10, 9, 9, 9, 9, 8, 7, 6, 5, 4, 3]
_HOUR_CUM = [sum(_HOUR_W[:i]) for i in range(25)]
MAX_SERIES_POINTS = 20000


@dataclass
class FaultSpec:
    kind: str
    rate: float
    max_consecutive: int = 1
    paths: Optional[Sequence[str]] = None
    timeout_seconds: float = 2.0
    spared: Sequence[str] = ()  # path regexes never faulted (fullmatch)
    at_least_once: bool = False  # the first eligible request gets the fault whatever the rate (a low rate may miss)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if not 0.0 <= float(self.rate) <= 1.0:
            raise ValueError("rate must be within 0..1")
        if self.max_consecutive < 1:
            raise ValueError("max_consecutive must be >= 1")


@dataclass
class RequestLogEntry:
    method: str
    path: str
    query: Dict[str, List[str]]
    status: int  # 0 when the connection was reset without a response
    headers: Dict[str, str]  # request headers (Accept, Authorization, ...)
    ts: float  # wall-clock time.time()
    fault: Optional[str] = None
    response_headers: Dict[str, str] = field(default_factory=dict)
    total: Optional[int] = None  # data.pagination.totalEntries of a 200 page (the benchmark's minimum-request count)


class ApiError(Exception):
    def __init__(self, status: int, type_: str, message: str, field_: Optional[str] = None):
        super().__init__(message)
        self.status, self.type, self.message, self.field = status, type_, message, field_

    def body(self) -> Dict[str, Any]:
        err: Dict[str, Any] = {"type": self.type, "message": self.message}
        if self.field:
            err["field"] = self.field
        if self.status != 422:
            err["status"] = self.status
        return {"errors": [err]}


def _validation(message: str, field_: str) -> ApiError:
    return ApiError(422, "validation", message, field_)


def _not_found() -> ApiError:
    return ApiError(404, "not-found", "Resource not found")


_FRAC = re.compile(r"\.(\d+)")
_TOTAL_ENTRIES = re.compile(rb'"totalEntries":(\d+)')


def parse_time(value: str, name: str) -> dt.datetime:
    v = value.strip()
    if not v:
        raise _validation(f"{name} is not a valid ISO-8601 date", name)
    if v.endswith(("Z", "z")):
        v = v[:-1] + "+00:00"
    v = _FRAC.sub(lambda m: "." + (m.group(1) + "000000")[:6], v, count=1)
    try:
        t = dt.datetime.fromisoformat(v)
    except ValueError:
        raise _validation(f"{name} is not a valid ISO-8601 date: {value!r}", name) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


class _Window:
    """60 s window counter: moving, or `fixed` (starts at its first hit and empties whole when it ends, as
    rate-limiter-flexible, whose field names Segment's 429 bodies carry, counts)."""

    def __init__(self, limit: Optional[int], fixed: bool = False):
        self.limit = limit
        self.fixed = fixed
        self.hits: Deque[float] = deque()

    def purge(self, now: float) -> None:
        h = self.hits
        if self.fixed:
            if h and h[0] <= now - WINDOW:
                h.clear()
            return
        while h and h[0] <= now - WINDOW:
            h.popleft()

    def full(self, now: float) -> bool:
        self.purge(now)
        return self.limit is not None and len(self.hits) >= self.limit

    def reset_at(self, now: float) -> float:
        return (self.hits[0] + WINDOW) if self.hits else now + WINDOW


@dataclass
class _Route:
    name: str
    regex: "re.Pattern[str]"
    handler: Callable[..., Dict[str, Any]]
    feature: Optional[str] = None
    bucket: Optional[str] = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SegmentSim/1.0"

    def version_string(self) -> str:
        return self.server_version
    sim: "Simulator"

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.sim._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.sim._track(self.connection, False)

    def handle(self) -> None:
        try:
            super().handle()
        except ValueError:
            if not self.wfile.closed:  # our own abort() closed the files: expected
                raise
        except (ConnectionError, socket.timeout):
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr logging
        pass

    def do_GET(self) -> None:
        self.sim._serve(self)

    def _not_allowed(self) -> None:
        self.sim._serve(self, method_not_allowed=True)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _not_allowed


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, OSError, ValueError)):
            return  # client went away / our own aborts
        super().handle_error(request, client_address)


class Simulator:
    """Segment Public API simulator. Use as ``with Simulator(...) as sim:`` or ``sim = Simulator(...).start()``."""

    def __init__(
        self,
        token: str = "sim-token-0123456789abcdef",
        seed: int = 1,
        size: str = "tiny",
        today: Optional[dt.date] = None,
        latency: float = 0.0,
        rate_limit_per_minute: Optional[int] = None,
        enforce_endpoint_limits: bool = True,
        rate_limit_signal: str = "all",
        rate_limit_window: str = "moving",
        faults: Union[None, FaultSpec, Iterable[FaultSpec]] = None,
        disabled_features: Iterable[str] = (),
        narrow_token: Optional[str] = None,
        feature_gate_status: int = 403,
        deleted_parents: int = 0,
        max_page_count: int = 1000,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Optional[Callable[[], float]] = None,
        awkward: bool = False,
        events_volume_cap: Optional[int] = 5000,
        events_volume_cap_hint: bool = False,
        strict_array_params: Optional[bool] = None,
        omit_empty_volume_groups: Optional[bool] = None,
        max_url_length: Optional[int] = None,
        audit_max_delay_seconds: float = 0.0,
        usage_retention_months: Optional[int] = None,
        now: Optional[dt.datetime] = None,
    ):
        from .data import SIZES

        if size not in SIZES:
            raise ValueError(f"size must be one of {sorted(SIZES)}")
        if rate_limit_signal not in SIGNALS:
            raise ValueError(f"rate_limit_signal must be one of {sorted(SIGNALS)}")
        disabled = frozenset(disabled_features)
        if disabled - FEATURES:
            raise ValueError(f"unknown features {sorted(disabled - FEATURES)}; expected a subset of {sorted(FEATURES)}")
        if isinstance(faults, FaultSpec):
            faults = [faults]
        self.token = token
        self.seed = seed
        self.size = size
        self.today: dt.date = today or dt.datetime.now(UTC).date()
        self.latency = float(latency)
        self.rate_limit_per_minute = rate_limit_per_minute or None
        self.enforce_endpoint_limits = enforce_endpoint_limits
        self.rate_limit_signal = rate_limit_signal
        self.faults: List[FaultSpec] = list(faults or [])
        self.disabled_features = disabled
        if feature_gate_status not in (403, 404, 422):
            raise ValueError("feature_gate_status must be 403, 404 or 422")
        self.narrow_token = narrow_token  # a second accepted token, with a role that cannot read NARROW_ROLE_DENIED
        self.feature_gate_status = feature_gate_status  # how a disabled feature's routes answer ("... not enabled")
        self.deleted_parents = deleted_parents
        self.max_page_count = int(max_page_count)
        self.host, self.port = host, port
        self.clock: Callable[[], float] = clock or time.monotonic
        # Issue 12: answers the API may legally send. `awkward` turns them all on (data and server side);
        # each knob can be set on its own. See README "Legal but awkward answers".
        self.awkward = bool(awkward)
        self.events_volume_cap = events_volume_cap
        self.events_volume_cap_hint = bool(events_volume_cap_hint)
        self.strict_array_params = self.awkward if strict_array_params is None else bool(strict_array_params)
        self.omit_empty_volume_groups = self.awkward if omit_empty_volume_groups is None else bool(omit_empty_volume_groups)
        self.max_url_length = max_url_length if max_url_length is not None else (8192 if self.awkward else None)
        self.audit_max_delay_seconds = float(audit_max_delay_seconds)
        self.usage_retention_months = usage_retention_months
        self._now: Optional[float] = None
        if now is not None:
            self.now = now

        self._log: List[RequestLogEntry] = []
        self._log_lock = threading.Lock()
        self._rl_lock = threading.Lock()
        self._windows: Dict[str, _Window] = {
            "global": _Window(self.rate_limit_per_minute, fixed=rate_limit_window == "fixed"),
            "events_volume": _Window(60),
            "tracking_plan_rules": _Window(200),
        }
        self._fault_lock = threading.Lock()
        self._fault_seen: Dict[Any, int] = {}
        self._fault_consec: Dict[Any, int] = {}
        self._faults_used: set = set()  # indexes of the fault specs injected at least once
        self._ws: Optional[Workspace] = None
        self._ws_ready = threading.Event()
        self._gen_lock = threading.Lock()
        self._gen_started = False
        self._ws_error: Optional[BaseException] = None
        self._stopping = threading.Event()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._conns: set = set()
        self._conns_lock = threading.Lock()
        self._audit_sorted: Optional[Tuple[List[float], List[Dict[str, Any]]]] = None
        self._routes = self._build_routes()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "Simulator":
        if self._server is not None:
            return self
        handler = type("SimHandler", (_Handler,), {"sim": self})
        self._server = _Server((self.host, self.port), handler)
        self.port = self._server.server_address[1]
        # Data is generated in the background so start() returns immediately; requests and
        # ``sim.workspace`` wait for it (large takes ~1 s).
        with self._gen_lock:
            if not self._gen_started:
                self._gen_started = True
                threading.Thread(target=self._generate, name="segment-sim-data", daemon=True).start()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="segment-sim-http", daemon=True)
        self._thread.start()
        return self

    def _generate(self) -> None:
        try:
            ws = generate(self.seed, self.size, self.today, self.deleted_parents, awkward=self.awkward)
            pairs = sorted(zip(ws._audit_epochs, ws.audit_events), key=lambda p: (-p[0], p[1]["id"]))
            self._audit_sorted = ([-p[0] for p in pairs], [p[1] for p in pairs])
            self._ws = ws
        except BaseException as exc:  # pragma: no cover - surfaced through .workspace
            self._ws_error = exc
        finally:
            self._ws_ready.set()

    def stop(self) -> None:
        self._stopping.set()
        srv, self._server = self._server, None
        if srv is not None:
            srv.shutdown()
            with self._conns_lock:
                conns = list(self._conns)
            for c in conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            srv.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "Simulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._conns_lock:
            (self._conns.add if add else self._conns.discard)(conn)

    # ------------------------------------------------------------------ public helpers
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def workspace(self) -> Workspace:
        with self._gen_lock:
            if not self._gen_started:  # not started: generate synchronously
                self._gen_started = True
                self._generate()
        self._ws_ready.wait()
        if self._ws is None:
            raise RuntimeError("workspace generation failed") from self._ws_error
        return self._ws

    @property
    def deleted_ids(self) -> Dict[str, set]:
        return self.workspace.deleted_ids

    @property
    def requests(self) -> List[RequestLogEntry]:
        with self._log_lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    @property
    def now(self) -> dt.datetime:
        """The simulated "now" (UTC) that decides audit visibility and the oldest allowed windows: the wall
        clock unless set (``sim.now = datetime`` / ``sim.now = None``) for time-travel tests."""
        return dt.datetime.fromtimestamp(self._now_ts(), UTC)

    @now.setter
    def now(self, value: Optional[dt.datetime]) -> None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        self._now = None if value is None else value.timestamp()

    def _now_ts(self) -> float:
        return time.time() if self._now is None else self._now

    def audit_visible_at(self, event: Dict[str, Any]) -> float:
        """Epoch seconds from which an audit event is listed: its timestamp plus a deterministic delay (half
        within a minute, a quarter within an hour, a quarter up to ``audit_max_delay_seconds``)."""
        ts = parse_time(event["timestamp"], "timestamp").timestamp()
        if self.audit_max_delay_seconds <= 0:
            return ts
        x = u01(self.seed, "audit-delay", event["id"])
        if x < 0.5:
            return ts + min(60.0, self.audit_max_delay_seconds) * x / 0.5
        if x < 0.75:
            return ts + min(3600.0, self.audit_max_delay_seconds) * (x - 0.5) / 0.25
        return ts + self.audit_max_delay_seconds * (x - 0.75) / 0.25

    def reset_rate_limits(self) -> None:
        with self._rl_lock:
            for w in self._windows.values():
                w.hits.clear()

    # ------------------------------------------------------------------ request handling
    def _serve(self, h: _Handler, method_not_allowed: bool = False) -> None:
        split = urlsplit(h.path)
        path = split.path or "/"
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/") or "/"
        query = parse_qs(split.query, keep_blank_values=True)
        req_headers = {k: v for k, v in h.headers.items()}
        entry = RequestLogEntry(h.command, path, query, 0, req_headers, time.time())
        if self.latency > 0:
            self._stopping.wait(self.latency)
        if self.max_url_length and len(h.path) > self.max_url_length:
            # a strict front end refuses long URLs before the API sees them
            status, body, headers = self._json(414, ApiError(414, "validation", f"URI too long: {len(h.path)} characters, "
                                                             f"the limit is {self.max_url_length}").body(), {})
            fault = None
        else:
            status, body, headers, fault = self._dispatch(h.command, path, query, h.headers, method_not_allowed)
        entry.fault = fault
        entry.response_headers = headers
        entry.status = 0 if fault == "reset" else status
        if status == 200:
            found = _TOTAL_ENTRIES.search(body)
            entry.total = int(found.group(1)) if found else None
        with self._log_lock:  # logged before sending so slow (timeout) responses are visible at once
            self._log.append(entry)
        try:
            if fault == "reset":
                self._abort(h)
                return
            if fault == "timeout":
                spec = next((f for f in self.faults if f.kind == "timeout"), None)
                self._stopping.wait(spec.timeout_seconds if spec else 2.0)
            h.send_response(status)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            if fault == "truncated":
                # half the promised bytes, then a clean close (FIN): clients see an incomplete read
                h.wfile.write(body[: len(body) // 2])
                h.wfile.flush()
                h.close_connection = True
                try:
                    h.connection.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            if h.command != "HEAD":
                h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, OSError):
            h.close_connection = True

    @staticmethod
    def _abort(h: _Handler) -> None:
        """Close the connection abruptly (RST via SO_LINGER 0) without (the rest of) a response."""
        h.close_connection = True
        try:
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        for f in (h.rfile, h.wfile):
            try:
                f.close()
            except OSError:
                pass
        try:
            h.connection.close()
        except OSError:
            pass

    def _json(self, status: int, obj: Any, headers: Dict[str, str]) -> Tuple[int, bytes, Dict[str, str]]:
        headers = dict(headers)
        headers["Content-Type"] = "application/json; charset=utf-8"
        return status, json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), headers

    def _dispatch(self, method: str, path: str, query: Dict[str, List[str]], req_headers: Any,
                  method_not_allowed: bool) -> Tuple[int, bytes, Dict[str, str], Optional[str]]:
        with self._rl_lock:
            now = self.clock()
            allw = self._windows.setdefault("all", _Window(None))
            allw.purge(now)
            early = self._rl_headers(allw, now)
        auth = req_headers.get("Authorization")
        narrow = self.narrow_token is not None and auth == f"Bearer {self.narrow_token}"
        if auth != f"Bearer {self.token}" and not narrow:
            return self._json(401, {"errors": [{"type": "unauthorized", "message": "Unauthorized", "status": 401}]}, early) + (None,)
        if "public_api" in self.disabled_features:
            return self._json(403, ApiError(403, "forbidden", "public_api is not enabled for this workspace").body(), early) + (None,)
        route, params = self._match(path)
        if route is None:
            return self._json(404, _not_found().body(), early) + (None,)
        if method_not_allowed:
            return self._json(405, ApiError(405, "validation", f"{method} is not supported by the simulator").body(), early) + (None,)

        # ---- rate limits (moving 60 s window; global + per endpoint)
        with self._rl_lock:
            now = self.clock()
            buckets = []
            if self.rate_limit_per_minute:
                buckets.append(self._windows["global"])
            if route.bucket and self.enforce_endpoint_limits:
                buckets.append(self._windows[route.bucket])
            blocked = next((w for w in buckets if w.full(now)), None)
            if blocked is not None:
                reset_in = max(0.001, blocked.reset_at(now) - now)
                hdrs = self._rl_headers(blocked, now)
                return self._too_many(hdrs, reset_in, len(blocked.hits), self.rate_limit_signal) + (None,)
            for w in buckets:
                w.hits.append(now)
            allw = self._windows.setdefault("all", _Window(None))
            allw.purge(now)
            allw.hits.append(now)
            main = buckets[-1] if buckets else allw
            hdrs = self._rl_headers(main, now)

        # ---- injected faults
        fault = self._pick_fault(path, query)
        if fault and fault.startswith("429_"):
            signal = {"429_retry_after": "retry_after", "429_ms_before_next": "ms_before_next", "429_reset": "reset"}[fault]
            return self._too_many(dict(hdrs), None, 1, signal, short=True) + (fault,)
        if fault in ("500", "502", "504"):
            msg = {"500": "Internal server error", "502": "Bad gateway", "504": "Gateway timeout"}[fault]
            return self._json(int(fault), {"errors": [{"type": "server", "message": msg, "status": int(fault)}]}, hdrs) + (fault,)
        if fault == "503_html":
            html = ("<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head><body>"
                    "<h1>503 Service Temporarily Unavailable</h1><p>upstream connect error</p></body></html>").encode()
            return 503, html, {**hdrs, "Content-Type": "text/html; charset=utf-8"}, fault
        if fault == "invalid_json":
            return 200, b'{"data": {"oops": [1, 2, <upstream garbage>\n', {**hdrs, "Content-Type": "application/json"}, fault

        # ---- feature flags
        if narrow and route.name in NARROW_ROLE_DENIED:
            denied = "The provided API token does not have permission to access the resource"
            return self._json(401, {"errors": [{"type": "unauthorized", "message": denied, "status": 401}]}, hdrs) + (fault,)
        if route.feature and route.feature in self.disabled_features:
            status = self.feature_gate_status
            kind = {403: "forbidden", 404: "not-found", 422: "validation"}[status]
            return self._json(status, ApiError(status, kind, f"{route.feature} is not enabled for this workspace").body(), hdrs) + (fault,)
        try:
            ws = self.workspace
            extra = {"headers": req_headers} if getattr(route.handler, "wants_headers", False) else {}
            data = route.handler(ws, query, **params, **extra)
            return self._json(200, {"data": data}, hdrs) + (fault,)
        except ApiError as e:
            return self._json(e.status, e.body(), hdrs) + (fault,)
        except Exception as e:  # pragma: no cover - bug in the simulator: report as 500
            return self._json(500, {"errors": [{"type": "server", "message": f"simulator bug: {e!r}", "status": 500}]}, hdrs) + (fault,)

    def _rl_headers(self, w: _Window, now: float) -> Dict[str, str]:
        consumed = len(w.hits)
        limit = w.limit if w.limit is not None else 100000
        reset_wall = time.time() + max(0.0, w.reset_at(now) - now)
        return {"X-RateLimit-Consumed": str(consumed), "X-RateLimit-Remaining": str(max(0, limit - consumed)),
                "X-RateLimit-Reset": email.utils.format_datetime(dt.datetime.fromtimestamp(math.ceil(reset_wall), UTC), usegmt=True)}

    def _too_many(self, hdrs: Dict[str, str], reset_in: Optional[float], consumed: int, signal: str,
                  short: bool = False) -> Tuple[int, bytes, Dict[str, str]]:
        hdrs = dict(hdrs)
        if short:  # injected fault: short waits so fault runs stay fast
            ms = 50 if signal == "ms_before_next" else 1000
            hdrs["X-RateLimit-Remaining"] = "0"
            hdrs["X-RateLimit-Reset"] = email.utils.format_datetime(
                dt.datetime.fromtimestamp(math.ceil(time.time()) + 1, UTC), usegmt=True)
        else:
            ms = int(math.ceil((reset_in or 0) * 1000))
        data: Dict[str, Any] = {"remainingPoints": 0}
        if signal in ("ms_before_next", "all"):
            data["msBeforeNext"] = ms
        data["consumedPoints"] = consumed
        if signal in ("retry_after", "all"):
            hdrs["Retry-After"] = str(max(1, math.ceil(ms / 1000)))
        return self._json(429, {"errors": [{"type": "RequestError", "message": "Too many requests", "data": data}]}, hdrs)

    def _pick_fault(self, path: str, query: Dict[str, List[str]]) -> Optional[str]:
        if not self.faults:
            return None
        key = (path, tuple(sorted((k, tuple(v)) for k, v in query.items())))
        with self._fault_lock:
            n = self._fault_seen.get(key, 0)
            self._fault_seen[key] = n + 1
            consec = self._fault_consec.get(key, 0)
            chosen = None
            for i, spec in enumerate(self.faults):
                if spec.paths and not any(path.startswith(p) for p in spec.paths):
                    continue
                if any(re.fullmatch(p, path) for p in spec.spared):
                    continue
                if consec >= spec.max_consecutive:
                    continue
                first = spec.at_least_once and i not in self._faults_used
                if first or u01(self.seed, "fault", i, spec.kind, key, n) < spec.rate:
                    chosen = spec.kind
                    self._faults_used.add(i)
                    break
            self._fault_consec[key] = consec + 1 if chosen else 0
            return chosen

    # ------------------------------------------------------------------ routing
    def _match(self, path: str) -> Tuple[Optional[_Route], Dict[str, str]]:
        for r in self._routes:
            m = r.regex.fullmatch(path)
            if m:
                return r, m.groupdict()
        return None, {}

    def _build_routes(self) -> List[_Route]:
        ID = r"(?P<id>[^/]+)"
        R = lambda name, pat, fn, feature=None, bucket=None: _Route(name, re.compile(pat), fn, feature, bucket)  # noqa: E731
        return [
            R("workspace", r"/", lambda ws, q: {"workspace": ws.workspace}),
            R("sources", r"/sources", self._list("sources", "sources")),
            R("destinations", r"/destinations", self._list("destinations", "destinations")),
            R("warehouses", r"/warehouses", self._list("warehouses", "warehouses")),
            R("catalog_sources", r"/catalog/sources", self._list("catalog_sources", "sourcesCatalog")),
            R("catalog_destinations", r"/catalog/destinations", self._list("catalog_destinations", "destinationsCatalog")),
            R("catalog_warehouses", r"/catalog/warehouses", self._list("catalog_warehouses", "warehousesCatalog")),
            R("tracking_plans", r"/tracking-plans", self._tracking_plans, "protocols"),
            R("users", r"/users", self._list("users", "users")),
            R("user", rf"/users/{ID}", self._user),
            R("groups", r"/groups", self._list("groups", "userGroups")),
            R("roles", r"/roles", self._list("roles", "roles")),
            R("invites", r"/invites", self._list("invites", "invites")),
            R("labels", r"/labels", lambda ws, q: {"labels": ws.labels}),
            R("transformations", r"/transformations", self._list("transformations", "transformations"), "protocols"),
            R("functions", r"/functions", self._functions, "functions"),
            R("spaces", r"/spaces", self._list("spaces", "spaces"), "spaces"),
            R("reverse_etl_models", r"/reverse-etl-models", self._list("reverse_etl_models", "models"), "reverse_etl"),
            R("regulations", r"/regulations", self._list("regulations", "regulations")),
            R("audit_events", r"/audit-events", self._audit_events, "audit_trail"),
            R("usage_api_ws", r"/usage/api-calls/daily", self._usage("usage_api_calls_workspace", "dailyWorkspaceAPICallsUsage")),
            R("usage_api_src", r"/usage/api-calls/sources/daily", self._usage("usage_api_calls_per_source", "dailyPerSourceAPICallsUsage")),
            R("usage_mtu_ws", r"/usage/mtu/daily", self._usage("usage_mtu_workspace", "dailyWorkspaceMTUUsage")),
            R("usage_mtu_src", r"/usage/mtu/sources/daily", self._usage("usage_mtu_per_source", "dailyPerSourceMTUUsage")),
            R("events_volume", r"/events/volume", self._events_volume, None, "events_volume"),
            R("src_dest", rf"/sources/{ID}/connected-destinations", self._child("sources", "source_connected_destinations", "destinations")),
            R("src_wh", rf"/sources/{ID}/connected-warehouses", self._child("sources", "source_connected_warehouses", "warehouses")),
            R("src_settings", rf"/sources/{ID}/settings", self._source_settings),
            R("wh_src", rf"/warehouses/{ID}/connected-sources", self._child("warehouses", "warehouse_connected_sources", "sources")),
            R("dest_subs", rf"/destinations/{ID}/subscriptions", self._child("destinations", "destination_subscriptions", "subscriptions"),
              "destination_subscriptions"),
            R("dest_filters", rf"/destination/{ID}/filters", self._child("destinations", "destination_filters", "filters")),
            R("dest_metrics", rf"/destinations/{ID}/delivery-metrics", self._delivery_metrics, "delivery_metrics"),
            R("tp_rules", rf"/tracking-plans/{ID}/rules", self._child("tracking_plans", "tracking_plan_rules", "rules"),
              "protocols", "tracking_plan_rules"),
            R("tp_sources", rf"/tracking-plans/{ID}/sources", self._child("tracking_plans", "tracking_plan_sources", "sources"), "protocols"),
            R("group_users", rf"/groups/{ID}/users", self._child("groups", "group_users", "users")),
        ] + operations.routes(self, R)  # issue 13: integration_tests/simulator/operations.py

    # ------------------------------------------------------------------ pagination
    @staticmethod
    def _cursor(tag: str, offset: int) -> str:
        return base64.urlsafe_b64encode(f"seg1|{tag}|{offset}".encode()).decode()

    def _paginate(self, q: Dict[str, List[str]], items: Sequence[Any], tag: str) -> Tuple[List[Any], Dict[str, Any]]:
        count = DEFAULT_COUNT
        raw = q.get("pagination.count")
        if raw is not None:
            v = raw[-1].strip()
            if not re.fullmatch(r"\d{1,9}", v):
                raise _validation(f"pagination.count must be an integer between 1 and {self.max_page_count}", "pagination.count")
            count = int(v)
            if not 1 <= count <= self.max_page_count:
                raise _validation(f"pagination.count must be between 1 and {self.max_page_count}, got {count}", "pagination.count")
        offset = 0
        rawc = q.get("pagination.cursor")
        if rawc is not None and rawc[-1] != "":
            offset = self._decode_cursor(rawc[-1], tag, len(items))
        total = len(items)
        page = list(items[offset: offset + count])
        pag: Dict[str, Any] = {"current": self._cursor(tag, offset)}
        if offset + count < total:
            pag["next"] = self._cursor(tag, offset + count)
        pag["previous"] = self._cursor(tag, max(0, offset - count)) if offset > 0 else None
        pag["totalEntries"] = total
        return page, pag

    def _decode_cursor(self, raw: str, tag: str, total: int) -> int:
        s = raw.strip().replace(" ", "+")
        try:
            s2 = s.replace("+", "-").replace("/", "_")
            s2 += "=" * (-len(s2) % 4)
            text = base64.urlsafe_b64decode(s2.encode("ascii")).decode("utf-8")
            magic, ctag, off = text.split("|")
            offset = int(off)
        except (ValueError, binascii.Error, UnicodeError):
            raise _validation("pagination.cursor is invalid", "pagination.cursor") from None
        if magic != "seg1" or ctag != tag or not 0 <= offset <= total:
            raise _validation("pagination.cursor does not belong to this request", "pagination.cursor")
        return offset

    # ------------------------------------------------------------------ handlers
    def _list(self, attr: str, key: str) -> Callable[..., Dict[str, Any]]:
        def handler(ws: Workspace, q: Dict[str, List[str]]) -> Dict[str, Any]:
            page, pag = self._paginate(q, getattr(ws, attr), attr)
            return {key: page, "pagination": pag}
        return handler

    def _parent_ok(self, ws: Workspace, kind: str, pid: str) -> None:
        index = {"sources": ws.source_by_id, "destinations": ws.destination_by_id, "warehouses": ws.warehouse_by_id,
                 "tracking_plans": ws.plan_by_id, "groups": ws.group_by_id}[kind]
        if pid not in index or pid in ws.deleted_ids.get(kind, ()):
            raise _not_found()

    def _child(self, kind: str, attr: str, key: str) -> Callable[..., Dict[str, Any]]:
        def handler(ws: Workspace, q: Dict[str, List[str]], id: str) -> Dict[str, Any]:  # noqa: A002
            self._parent_ok(ws, kind, id)
            page, pag = self._paginate(q, getattr(ws, attr).get(id, []), f"{attr}:{id}")
            return {key: page, "pagination": pag}
        return handler

    def _user(self, ws: Workspace, q: Dict[str, List[str]], id: str) -> Dict[str, Any]:  # noqa: A002
        if id not in ws.user_details:
            raise _not_found()
        return {"user": ws.user_details[id]}

    def _tracking_plans(self, ws: Workspace, q: Dict[str, List[str]]) -> Dict[str, Any]:
        items = ws.tracking_plans
        tag = "tracking_plans"
        if q.get("type"):
            t = q["type"][-1]
            if t not in set(PLAN_TYPES):
                raise _validation(f"type must be one of {sorted(set(PLAN_TYPES))}", "type")
            items = [p for p in items if p["type"] == t]
            tag += ":" + t
        page, pag = self._paginate(q, items, tag)
        return {"trackingPlans": page, "pagination": pag}

    def _functions(self, ws: Workspace, q: Dict[str, List[str]]) -> Dict[str, Any]:
        rt = (q.get("resourceType") or [""])[-1]
        if rt not in FUNCTION_TYPES:
            raise _validation(f"resourceType is required and must be one of {FUNCTION_TYPES}", "resourceType")
        items = [f for f in ws.functions if f.get("resourceType") == rt]
        page, pag = self._paginate(q, items, "functions:" + rt)
        return {"functions": page, "pagination": pag}

    def _source_settings(self, ws: Workspace, q: Dict[str, List[str]], id: str) -> Dict[str, Any]:  # noqa: A002
        self._parent_ok(ws, "sources", id)
        return {"settings": ws.source_settings[id], "sourceId": id}

    def _audit_events(self, ws: Workspace, q: Dict[str, List[str]]) -> Dict[str, Any]:
        assert self._audit_sorted is not None
        neg_ts, events = self._audit_sorted  # newest first; neg_ts ascending
        lo, hi = 0, len(events)
        if q.get("startTime") and q["startTime"][-1]:
            st = parse_time(q["startTime"][-1], "startTime").timestamp()
            hi = bisect.bisect_right(neg_ts, -st)  # keep ts >= st
        if q.get("endTime") and q["endTime"][-1]:
            et = parse_time(q["endTime"][-1], "endTime").timestamp()
            lo = bisect.bisect_right(neg_ts, -et)  # drop ts >= et
        items = events[lo:hi] if lo < hi else []
        if self.audit_max_delay_seconds > 0:
            # the trail fills in late: an event is listed only once visible at the simulated now
            now = self._now_ts()
            items = [e for e in items if self._audit_visibility(e) <= now]
        for f in ("resourceId", "resourceType"):
            if q.get(f) and q[f][-1]:
                items = [e for e in items if e.get(f) == q[f][-1]]
        page, pag = self._paginate(q, items, "audit_events")
        return {"events": page, "pagination": pag}

    def _audit_visibility(self, event: Dict[str, Any]) -> float:
        cache = self.__dict__.setdefault("_audit_vis_cache", {})
        key = (event["id"], self.audit_max_delay_seconds)
        if key not in cache:
            cache[key] = self.audit_visible_at(event)
        return cache[key]

    def _usage(self, attr: str, key: str) -> Callable[..., Dict[str, Any]]:
        def handler(ws: Workspace, q: Dict[str, List[str]]) -> Dict[str, Any]:
            raw = (q.get("period") or [""])[-1]
            if not re.fullmatch(r"\d{4}-\d{2}-01", raw):
                raise _validation("period is required and must be the first day of a month (YYYY-MM-01)", "period")
            try:
                dt.date.fromisoformat(raw)
            except ValueError:
                raise _validation("period is not a valid date", "period") from None
            if self.usage_retention_months is not None:
                this_month = self.now.date().replace(day=1)
                m = this_month.year * 12 + this_month.month - 1 - self.usage_retention_months
                oldest = dt.date(m // 12, m % 12 + 1, 1)
                if raw < oldest.isoformat():
                    raise _validation(f"period {raw} is older than the usage retention; the oldest period is "
                                      f"{oldest.isoformat()}", "period")
            page, pag = self._paginate(q, getattr(ws, attr)[raw], f"{attr}:{raw}")
            return {key: page, "pagination": pag}
        return handler

    _ARRAY_PARAMS = ("groupBy", "sourceId", "eventName", "eventType", "appVersion")

    def _multi(self, q: Dict[str, List[str]], name: str) -> List[str]:
        """An array query parameter. Strict (as the SDKs send it): only `name.0=..&name.1=..`; a plain or
        comma-joined `name=a,b` is refused, naming the field. Lenient: also `name=a,b`, repeated `name`, `name[]`."""
        prefix = name + "."
        indexed: List[Tuple[int, str]] = []
        for k, vals in q.items():
            if k.startswith(prefix):
                idx = k[len(prefix):]
                if not idx.isdigit():
                    raise _validation(f"{k} is not a valid array index; send {name}.0, {name}.1, ...", name)
                indexed.extend((int(idx), v) for v in vals)
        out = [v.strip() for _, v in sorted(indexed, key=lambda p: p[0]) if v.strip()]
        loose = [v for k in (name, name + "[]") for v in q.get(k, [])]
        if loose and self.strict_array_params:
            raise _validation(f"{name} is an array: send it as indexed parameters {name}.0=...&{name}.1=...; "
                              f"got {name}={loose[0]!r}", name)
        for v in loose:
            out.extend(x.strip() for x in v.split(",") if x.strip())
        return out

    def _events_volume(self, ws: Workspace, q: Dict[str, List[str]]) -> Dict[str, Any]:
        gran = (q.get("granularity") or [""])[-1]
        if gran not in ("DAY", "HOUR", "MINUTE"):
            raise _validation("granularity is required and must be one of DAY, HOUR, MINUTE", "granularity")
        for f in ("startTime", "endTime"):
            if not (q.get(f) and q[f][-1]):
                raise _validation(f"{f} is required", f)
        start = parse_time(q["startTime"][-1], "startTime")
        end = parse_time(q["endTime"][-1], "endTime")
        if end <= start:
            raise _validation("endTime must be after startTime", "endTime")
        arrays = {n: self._multi(q, n) for n in self._ARRAY_PARAMS}
        group_by = arrays["groupBy"]
        bad = [g for g in group_by if g not in ("eventName", "eventType", "source")]
        if bad:
            raise _validation(f"groupBy values must be among eventName, eventType, source; got {bad}", "groupBy")
        step = {"DAY": 86400, "HOUR": 3600, "MINUTE": 60}[gran]
        t0 = int(start.timestamp()) // step * step
        t_end = end.timestamp()
        n_points = max(0, math.ceil((t_end - t0) / step))
        if n_points > MAX_SERIES_POINTS:
            raise _validation(f"time range too large for granularity {gran}", "startTime")
        buckets = [t0 + i * step for i in range(n_points)]

        f_src, f_name, f_type = arrays["sourceId"], arrays["eventName"], arrays["eventType"]
        # A group's absent key part (None) never matches a filter value, as on a server filtering on the column.
        groups: Dict[Tuple[Any, ...], List[Tuple[Any, Any, Any]]] = {}
        for trip in ws.event_volume.triples:
            sid, name, typ = trip
            if (f_src and sid not in f_src) or (f_name and name not in f_name) or (f_type and typ not in f_type):
                continue
            gkey = tuple(v for g, v in (("source", sid), ("eventName", name), ("eventType", typ)) if g in group_by)
            groups.setdefault(gkey, []).append(trip)
        ev = ws.event_volume
        epoch_ord = dt.date(1970, 1, 1).toordinal()
        day_cache: Dict[Tuple[int, Tuple[Any, Any, Any]], int] = {}

        def day_count(day_start: int, trip: Tuple[Any, Any, Any]) -> int:
            k = (day_start, trip)
            c = day_cache.get(k)
            if c is None:
                c = day_cache[k] = ev.count_ordinal(epoch_ord + day_start // 86400, trip)
            return c

        def series_of(trips: List[Tuple[Any, Any, Any]]) -> Tuple[List[Dict[str, Any]], int]:
            series, total = [], 0
            for b in buckets:
                day_start = b // 86400 * 86400
                counts = [day_count(day_start, t) for t in trips]
                c = sum(counts) if gran == "DAY" else sum(self._split(x, b - day_start, gran) for x in counts if x)
                total += c
                series.append({"time": _iso(dt.datetime.fromtimestamp(b, UTC)), "count": c})
            return series, total

        # "ordered by the total count of events in all series"; "the limit of entries returned is 5000"
        computed = {gkey: series_of(trips) for gkey, trips in groups.items()}
        keys = [k for k in groups if computed[k][1] > 0 or not self.omit_empty_volume_groups]
        keys.sort(key=lambda k: (-computed[k][1], tuple("" if v is None else v for v in k)))
        uncapped = len(keys)
        cap = self.events_volume_cap
        if cap is not None and uncapped > cap:
            keys = keys[:cap]
        tag = "events_volume:" + ",".join(sorted(group_by))
        page_keys, pag = self._paginate(q, keys, tag)
        if self.events_volume_cap_hint and uncapped > len(keys):
            pag["totalEntries"] = uncapped  # PaginationOutput.totalEntries: "the total number of entries available"
        result = []
        for gkey in page_keys:
            series, total = computed[gkey]
            item: Dict[str, Any] = {}
            vals = dict(zip([g for g in ("source", "eventName", "eventType") if g in group_by], gkey))
            if vals.get("source") is not None:
                s = ws.source_by_id[vals["source"]]
                src = {"id": s["id"]}
                if isinstance(s.get("name"), str):
                    src["name"] = s["name"]
                src["slug"] = s["slug"]
                item["source"] = src
            if vals.get("eventName") is not None:
                item["eventName"] = vals["eventName"]
            if vals.get("eventType") is not None:
                item["eventType"] = vals["eventType"]
            item["total"] = total
            item["series"] = series
            result.append(item)
        if self.strict_array_params:
            echo: Dict[str, Any] = {"workspaceId": ws.workspace["id"], "granularity": gran,
                                    "startTime": q["startTime"][-1], "endTime": q["endTime"][-1]}
            echo.update({n: v for n, v in arrays.items() if v})
            if cap is not None:
                echo["limit"] = cap
        else:
            echo = {k: (v if len(v) > 1 or k in self._ARRAY_PARAMS else v[-1]) for k, v in q.items()}
            if "groupBy" in echo:
                echo["groupBy"] = group_by
        return {"path": "/events/volume", "query": echo, "result": result, "pagination": pag}

    @staticmethod
    def _split(c: int, offset: int, gran: str) -> int:
        """Share of a day's count falling in the hour/minute starting `offset` seconds after midnight."""
        hour = offset // 3600
        ch = c * _HOUR_CUM[hour + 1] // _HOUR_CUM[24] - c * _HOUR_CUM[hour] // _HOUR_CUM[24]
        if gran == "HOUR":
            return ch
        m = (offset % 3600) // 60
        return ch * (m + 1) // 60 - ch * m // 60

    def _delivery_metrics(self, ws: Workspace, q: Dict[str, List[str]], id: str) -> Dict[str, Any]:  # noqa: A002
        self._parent_ok(ws, "destinations", id)
        sid = (q.get("sourceId") or [""])[-1]
        if not sid:
            raise _validation("sourceId is required", "sourceId")
        dest = ws.destination_by_id[id]
        if sid != dest["sourceId"]:
            raise _validation("sourceId is not connected to this destination", "sourceId")
        gran = (q.get("granularity") or ["MINUTE"])[-1]
        limits = {"MINUTE": (4 * 3600, 48 * 3600, 3600), "HOUR": (7 * 86400, 7 * 86400, 7 * 86400),
                  "DAY": (14 * 86400, 14 * 86400, 14 * 86400)}
        if gran not in limits:
            raise _validation("granularity must be one of MINUTE, HOUR, DAY", "granularity")
        max_range, oldest, default_back = limits[gran]
        now = self._now_ts()
        end = parse_time(q["endTime"][-1], "endTime").timestamp() if q.get("endTime") and q["endTime"][-1] else now
        start = parse_time(q["startTime"][-1], "startTime").timestamp() if q.get("startTime") and q["startTime"][-1] \
            else end - default_back
        if end <= start:
            raise _validation("endTime must be after startTime", "endTime")
        if end - start > max_range + 1:
            raise _validation(f"time range exceeds the maximum for granularity {gran}", "startTime")
        if start < now - oldest - (0 if self.awkward else 60):  # strict: no grace for clock skew or slow syncs
            raise _validation(f"startTime is older than allowed for granularity {gran}", "startTime")
        tpl = ws.delivery_metrics[id]
        frac = (end - start) / max_range
        metrics = []
        for m in tpl["metrics"]:
            mm: Dict[str, Any] = {"metricName": m["metricName"], "total": int(m["total"] * frac)}
            if "breakdown" in m:
                mm["breakdown"] = [{"metricName": b["metricName"], "value": int(b["value"] * frac)} for b in m["breakdown"]]
            metrics.append(mm)
        return {"deliveryMetricsSummary": {"sourceId": tpl["sourceId"], "destinationMetadataId": tpl["destinationMetadataId"],
                                           "metrics": metrics}}
