"""Segment's rate limits: pacing requests before they are sent, and reading how long a 429 says to wait.

Segment publishes no global number (REFERENCE §3): the default budget is a documented, configurable
guess (`requests_per_minute`), while the per-endpoint limits below are the ones the API documents.
"""

from __future__ import annotations

import email.utils
import math
import re
import threading
import time
from collections import deque
from datetime import datetime, timezone
from typing import Callable, Optional

import requests

# path regex -> requests per minute, from the operation descriptions of API v73
ENDPOINT_LIMITS_PER_MINUTE = {
    r"^/events/volume$": 60,
    r"^/tracking-plans/[^/]+/rules$": 200,
}


class MovingWindow:
    """At most `limit` calls in any `period` seconds; `acquire` returns how long the caller must wait first.

    Thread-safe; reserves the slot before returning so concurrent callers never overshoot the window.
    """

    def __init__(self, limit: int, period: float = 60.0):
        self.limit = limit
        self.period = period
        self._calls: deque = deque()
        self._lock = threading.Lock()

    def reserve(self, now: float) -> float:
        with self._lock:
            while self._calls and self._calls[0] <= now - self.period:
                self._calls.popleft()
            start = now if len(self._calls) < self.limit else self._calls[-self.limit] + self.period
            self._calls.append(start)
            return max(0.0, start - now)


class CallBudget:
    """One budget shared by every stream: a request waits for its endpoint's window and for the global one.

    Not the CDK's `HttpAPIBudget`: with pyrate-limiter 3.1 its moving window asked for a wait as long as the
    idle time before any call that followed a pause (measured: 1.2 s idle -> 1.2 s wait at 500/min), which
    would stall every sync; and it charges a request to one policy only.
    """

    clock: Callable[[], float] = staticmethod(time.monotonic)
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    def __init__(self, requests_per_minute: int):
        self._global = MovingWindow(requests_per_minute)
        self._endpoints = [(re.compile(pattern), MovingWindow(limit)) for pattern, limit in ENDPOINT_LIMITS_PER_MINUTE.items()]

    def acquire(self, path: str) -> float:
        """Blocks until `path` may be requested; returns the seconds waited."""
        windows = [window for pattern, window in self._endpoints if pattern.match(path)] + [self._global]
        now = self.clock()
        wait = max(window.reserve(now) for window in windows)
        if wait > 0:
            self.sleep(wait)
        return wait


def wait_seconds_from_429(response: requests.Response, now: Optional[datetime] = None) -> Optional[float]:
    """How long a 429 asks us to wait: `Retry-After`, else `errors[0].data.msBeforeNext`, else `X-RateLimit-Reset`."""
    now = now or datetime.now(timezone.utc)
    retry_after = response.headers.get("Retry-After")
    if retry_after:
        retry_after = retry_after.strip()
        if retry_after.replace(".", "", 1).isdigit():
            return float(retry_after)
        when = _http_date(retry_after)
        if when:
            return max(0.0, (when - now).total_seconds())
    try:
        ms = response.json()["errors"][0]["data"]["msBeforeNext"]
        if isinstance(ms, (int, float)) and not isinstance(ms, bool) and ms >= 0:
            return ms / 1000.0
    except (ValueError, KeyError, IndexError, TypeError):
        pass
    reset = _http_date(response.headers.get("X-RateLimit-Reset", ""))
    if reset:
        # The header has whole-second resolution: round up so we never come back a moment too early.
        return float(max(0, math.ceil((reset - now).total_seconds())))
    return None


def _http_date(value: str) -> Optional[datetime]:
    """Parses an RFC 5322 date (Segment's `X-RateLimit-Reset`), which the CDK's budget would pass to int()."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
