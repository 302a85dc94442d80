"""Segment's rate limits: pacing requests by the room the server reports, and reading how long a 429 says to wait.

Segment publishes no global number (REFERENCE §3) but reports its room on every answer: `X-RateLimit-Remaining`
and `X-RateLimit-Reset` (an RFC 5322 date). `CallBudget` sends as fast as the workers allow while that room
lasts, keeps a small reserve for requests in flight and for other clients of the token, and when the room is
spent sends one probe at the reset and waits for its answer before sending more. The per-endpoint limits the
API documents each get their own lane, fed only by their own answers, so a spent lane never stalls the rest.
A server that sends no headers gets today's conservative budget; `requests_per_minute`, when set, caps all.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Mapping, Optional

import requests

from source_segment.rate_limit_signals import http_date

# path regex -> requests per minute, from the operation descriptions of API v73
ENDPOINT_LIMITS_PER_MINUTE = {
    r"^/events/volume$": 60,
    r"^/tracking-plans/[^/]+/rules$": 200,
    r"^/warehouses/[^/]+/syncs$": 2,
    r"^/warehouses/[^/]+/connected-sources/[^/]+/syncs$": 2,
    r"^/spaces/[^/]+/audiences$": 60,
    r"^/spaces/[^/]+/computed-traits$": 25,
}
# When answers carry no rate-limit headers (a proxy, an older API): 500 stays under the 600/min reported for
# workspaces (REFERENCE §3).
FALLBACK_REQUESTS_PER_MINUTE = 500
# Requests kept back from the reported room: answers in flight count late, and other tools may share the token.
RESERVE = 2
# The user's cap is kept over a slightly longer window, so a request delayed on its way (a busy thread, the
# network) cannot bring two windows' worth into one 60-second window of the server's log.
CAP_WINDOW_SECONDS = 61.0
# Remaining=0 without a reset date: try again after this long (a 429 then says how long to wait).
UNKNOWN_RESET_SECONDS = 5.0


def endpoint_limit(path: str) -> Optional[int]:
    """The documented per-endpoint limit (requests per minute) of a concrete path, or None for the default."""
    for pattern, limit in ENDPOINT_LIMITS_PER_MINUTE.items():
        if re.match(pattern, path):
            return limit
    return None


class MovingWindow:
    """At most `limit` calls in any `period` seconds; `reserve` returns how long the caller must wait first.

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

    def record(self, now: float) -> None:
        """Counts a call made without waiting, so the window is right the moment it starts to apply."""
        with self._lock:
            while self._calls and self._calls[0] <= now - self.period:
                self._calls.popleft()
            self._calls.append(max(now, self._calls[-1]) if self._calls else now)


class ServerRoom:
    """What the server last said about one of its limits, and what we sent since.

    Requests are numbered as they are admitted; an answer to request `n` reporting `remaining` leaves
    `remaining - (requests admitted after n) - (requests before n still unanswered)` to spend: the server may
    count those after `n`. Numbers, not times: the estimate never depends on how fast answers come back, only
    on their order, and errs low (a request the server already counted is subtracted again).
    """

    def __init__(self, reserve: int):
        self.reserve = reserve
        self.admitted = 0
        self.basis = -1  # number of the request whose answer set `remaining`
        self.remaining: Optional[int] = None  # None: unknown (start, or after the reset passed)
        self.reset_at: Optional[float] = None  # monotonic time the server said the room comes back
        self.probe: Optional[int] = None  # number of the one request sent to learn the room, while in flight
        self.headerless = False  # the last 200 carried no rate-limit headers
        self.in_flight: set = set()

    def room(self) -> Optional[int]:
        if self.remaining is None:
            return None
        return self.remaining - (self.admitted - 1 - self.basis)

    def admit(self, now: float) -> Optional[tuple]:
        """(seconds to wait, request number, is probe), or None when the caller must wait for the probe's answer."""
        if self.headerless:
            return 0.0, self._next(), False
        if self.probe is not None:
            return None
        room = self.room()
        if room is not None and room > self.reserve:
            return 0.0, self._next(), False
        # Room unknown or spent: one probe, at the reset when the server named one.
        wait = 0.0
        if room is not None:
            reset_at = self.reset_at if self.reset_at is not None else now + UNKNOWN_RESET_SECONDS
            wait = max(0.0, reset_at - now)
            self.reset_at = reset_at
        number = self._next()
        self.probe = number
        return wait, number, True

    def answered(self, number: int, remaining: Optional[int], reset_in: Optional[float], headerless: bool, now: float) -> None:
        self.in_flight.discard(number)
        if self.probe == number:
            self.probe = None
        if remaining is not None:
            self.headerless = False
            if number >= self.basis:
                overtaken = sum(1 for other in self.in_flight if other < number)
                self.basis, self.remaining = number, remaining - overtaken
                self.reset_at = now + reset_in if reset_in is not None else None
        elif headerless:
            self.headerless = True
            self.remaining, self.reset_at = None, None
        elif self.remaining is not None and self.reset_at is not None and self.reset_at <= now:
            # A probe lost (no answer, or an error without headers) after the reset: learn the room afresh.
            self.remaining = None

    def throttled(self, number: int, wait: float, now: float) -> None:
        """A 429: nothing left until `wait` has passed, whatever the headers said."""
        self.headerless = False
        self.basis = max(self.basis, number)
        self.remaining = 0
        self.reset_at = now + wait

    def _next(self) -> int:
        number = self.admitted
        self.admitted += 1
        self.in_flight.add(number)
        return number


@dataclass
class Ticket:
    """One admitted request: the rooms it was counted in, with its number in each."""

    path: str
    lane: Optional[ServerRoom]
    numbers: dict = field(default_factory=dict)  # id(room) -> request number
    waited: float = 0.0


class CallBudget:
    """One budget shared by every stream: `acquire` before each request, `complete` with its answer.

    Not the CDK's `HttpAPIBudget`: with pyrate-limiter 3.1 its moving window asked for a wait as long as the
    idle time before any call that followed a pause, it charges a request to one policy only, and it cannot
    read an RFC 5322 reset date.
    """

    clock: Callable[[], float] = staticmethod(time.monotonic)
    sleep: Callable[[float], None] = staticmethod(time.sleep)
    wall: Callable[[], datetime] = staticmethod(lambda: datetime.now(timezone.utc))

    def __init__(self, requests_per_minute: Optional[int] = None, reserve: int = RESERVE):
        self._condition = threading.Condition()
        self._global = ServerRoom(reserve)
        self._fallback = MovingWindow(FALLBACK_REQUESTS_PER_MINUTE)
        self._cap = MovingWindow(requests_per_minute, CAP_WINDOW_SECONDS) if requests_per_minute else None
        # Lanes keep no reserve: their documented window already keeps them under the limit.
        self._lanes = [(re.compile(pattern), MovingWindow(limit), ServerRoom(0)) for pattern, limit in ENDPOINT_LIMITS_PER_MINUTE.items()]

    def acquire(self, path: str) -> Ticket:
        """Blocks until `path` may be requested. The lane's documented window comes first and no room is held
        while waiting on it, so a request queued on a slow lane never blocks requests to other endpoints."""
        lane = next(((window, room) for pattern, window, room in self._lanes if pattern.match(path)), None)
        ticket = Ticket(path, lane[1] if lane else None)
        if lane:
            self._pause(ticket, lane[0].reserve(self.clock()))
            self._admit(ticket, lane[1])
        self._admit(ticket, self._global)
        now = self.clock()
        windows = [self._cap] if self._cap else []
        if self._global.headerless:
            windows.append(self._fallback)
        else:
            self._fallback.record(now)
        if windows:
            self._pause(ticket, max(window.reserve(now) for window in windows))
        return ticket

    def complete(self, ticket: Ticket, response: Optional[requests.Response]) -> None:
        """Learns from an answer (None: no answer at all). A lane's answers describe the lane's own limit, so
        they never move the global room."""
        room = ticket.lane or self._global
        remaining, reset_in = self._headers(response)
        headerless = response is not None and response.status_code == 200 and remaining is None
        with self._condition:
            now = self.clock()
            room.answered(ticket.numbers[id(room)], remaining, reset_in, headerless, now)
            if ticket.lane is not None:
                self._global.answered(ticket.numbers[id(self._global)], None, None, False, now)
            self._condition.notify_all()

    def throttled(self, ticket: Ticket, wait: float) -> None:
        """A 429 on this request's lane (or globally): hold every request to it back for `wait` seconds."""
        room = ticket.lane or self._global
        with self._condition:
            room.throttled(ticket.numbers[id(room)], wait, self.clock())
            self._condition.notify_all()

    def _admit(self, ticket: Ticket, room: ServerRoom) -> None:
        with self._condition:
            while True:
                decision = room.admit(self.clock())
                if decision is not None:
                    break
                # Woken by any answer; the timeout only guards against a lost wake-up, it decides nothing.
                self._condition.wait(timeout=1.0)
        wait, number, _probe = decision
        ticket.numbers[id(room)] = number
        self._pause(ticket, wait)

    def _pause(self, ticket: Ticket, seconds: float) -> None:
        if seconds > 0:
            ticket.waited += seconds
            self.sleep(seconds)

    def _headers(self, response: Optional[requests.Response]) -> tuple:
        """(remaining, seconds until the reset) from an answer's headers; (None, None) when it has none."""
        if response is None:
            return None, None
        headers: Mapping[str, str] = response.headers
        raw = (headers.get("X-RateLimit-Remaining") or "").strip()
        if not raw.isdigit():
            return None, None
        reset = http_date(headers.get("X-RateLimit-Reset", ""))
        if reset is None:
            return int(raw), None
        # Both dates have whole-second resolution; measured against the server's own Date when it sends one,
        # so a skewed local clock cannot bring us back early.
        now = http_date(headers.get("Date", "")) or self.wall()
        return int(raw), max(0.0, (reset - now).total_seconds())
