"""The one place that talks HTTP to Segment: auth, versioned Accept headers, pacing, retries and waits.

We do not use the CDK's `HttpClient` retry stack because Segment needs things it cannot do: wait
exactly as long as a 429 says (the CDK adds a second to every custom wait and gives up on rate limits
after `max_retries`), bound the *total* rate-limit wait instead, retry a 200 whose body is truncated or
not JSON, and let tests inject the clock instead of sleeping.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Mapping, Optional

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_segment.config import SegmentConfig
from source_segment.errors import SegmentApiError, segment_error_message, unauthorized
from source_segment.rate_limit_signals import wait_seconds_from_429
from source_segment.rate_limiting import CallBudget, Ticket

ACCEPT = {
    "v1": "application/vnd.segment.v1+json",
    "beta": "application/vnd.segment.v1beta+json",
    "alpha": "application/vnd.segment.v1alpha+json",
}
RETRYABLE_STATUS = {408, 500, 502, 503, 504}
TRANSIENT_ERRORS = (
    requests.exceptions.ConnectionError,  # includes resets and refused connections
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,  # a body cut short
    requests.exceptions.ContentDecodingError,
)
USER_AGENT = "airbyte-source-segment"


class SegmentClient:
    # Seams for tests: replace with a fake clock/sleep instead of waiting for real.
    sleep: Callable[[float], None] = staticmethod(time.sleep)
    connect_timeout = 10  # seconds

    def __init__(self, config: SegmentConfig, logger: Optional[logging.Logger] = None, budget: Optional[CallBudget] = None):
        self._config = config
        self._logger = logger or logging.getLogger("airbyte")
        self._budget = budget or CallBudget(config.requests_per_minute)
        self._local = threading.local()
        self.request_count = 0

    @property
    def _session(self) -> requests.Session:
        # One keep-alive session per thread: requests.Session is not documented as thread-safe.
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update({"Authorization": f"Bearer {self._config.api_token}", "User-Agent": USER_AGENT})
            self._local.session = session
        return session

    def get(self, path: str, params: Optional[Mapping[str, Any]] = None, version: str = "v1") -> Mapping[str, Any]:
        """GETs `path` and returns the parsed JSON body of a 200, retrying what is transient.

        Raises `SegmentApiError` for 4xx answers a stream may handle, and an `AirbyteTracedException`
        for a bad token, or when retries or the rate-limit wait budget run out.
        """
        request = self._session.prepare_request(
            requests.Request("GET", self._config.base_url + path, params=params, headers={"Accept": ACCEPT[version]})
        )
        failures = 0
        throttles = 0  # 429s that carried no wait signal: those back off exponentially
        rate_limit_waited = 0.0
        while True:
            ticket = self._budget.acquire(path)
            problem, response = self._send(request, ticket)
            if problem is None:
                return response  # type: ignore[return-value]
            if isinstance(response, requests.Response) and response.status_code == 429:
                wait = wait_seconds_from_429(response)
                if wait is None:  # no signal at all: back off as for any transient error
                    throttles += 1
                    wait = min(60.0, 2.0 ** min(throttles - 1, 6))
                self._budget.throttled(ticket, wait)
                if rate_limit_waited + wait > self._config.max_rate_limit_wait_seconds:
                    raise self._give_up(path, f"still rate limited after waiting {rate_limit_waited:.0f} s in total "
                                        f"(max_rate_limit_wait_seconds={self._config.max_rate_limit_wait_seconds})")
                rate_limit_waited += wait
                self._logger.info(f"Rate limited on GET {path}; waiting {wait:.3f} s as Segment asked.")
                self.sleep(wait)
                continue
            failures += 1
            if failures > self._config.max_retries:
                raise self._give_up(path, f"{problem} (gave up after {failures} attempts)")
            wait = min(60.0, 2.0 ** (failures - 1))
            self._logger.warning(f"GET {path} failed: {problem}; retry {failures}/{self._config.max_retries} in {wait:.0f} s.")
            self.sleep(wait)

    def _send(self, request: requests.PreparedRequest, ticket: Ticket) -> tuple[Optional[str], Any]:
        """Returns (None, body) on success, or (what went wrong, response-or-None) for a retryable failure."""
        self.request_count += 1
        response = None
        try:
            timeout = (self.connect_timeout, self._config.request_timeout_seconds)
            response = self._session.send(request, timeout=timeout, allow_redirects=False)
        except TRANSIENT_ERRORS as error:
            return f"{type(error).__name__}", None
        finally:
            # At once, before the body is parsed: requests waiting for this answer's room go on meanwhile.
            self._budget.complete(ticket, response)
        status = response.status_code
        if status == 200:
            try:
                return None, response.json()
            except ValueError:
                return "the response body is not valid JSON (truncated or an error page)", response
        if status == 429:
            return "rate limited (429)", response
        if status in RETRYABLE_STATUS or status >= 500:
            return f"HTTP {status}", response
        path = request.path_url.split("?")[0]
        if 300 <= status < 400:
            # Following a redirect could hand the token to another host: refuse it.
            raise SegmentApiError(status, path, f"unexpected redirect to {response.headers.get('Location')!r}; not followed")
        if status == 401:
            # Segment answers 401 to a bad token and to a role without access to this resource alike; only GET /
            # tells them apart. Once it accepts the token, a 401 is a permission gate: handled as 403 (errors.py).
            if path == "/" or not self.token_accepted():
                raise unauthorized(self._config.host)
            status = 403
        try:
            body = response.json()
        except ValueError:
            body = None
        message, field = segment_error_message(body)
        raise SegmentApiError(status, path, message, field, answered=response.status_code)

    _token_lock = threading.Lock()

    def token_accepted(self) -> bool:
        """Asks GET / once per client; raises the token/region config error if Segment refuses the token there."""
        with self._token_lock:
            if not self.__dict__.get("_token_accepted"):
                self.get("/")
                self._token_accepted = True
        return True

    def _give_up(self, path: str, reason: str) -> AirbyteTracedException:
        message = f"GET {path} to Segment failed: {reason}."
        return AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.transient_error)
