"""Segment's rate limits: pacing requests before they are sent, and reading how long a 429 says to wait.

Segment publishes no global number (REFERENCE §3): the default budget is a documented, configurable
guess (`requests_per_minute`), while the per-endpoint limits below are the ones the API documents.
"""

from __future__ import annotations

import email.utils
import math
from datetime import datetime, timedelta, timezone
from typing import Optional

import requests
from airbyte_cdk.sources.streams.call_rate import HttpAPIBudget, HttpRequestRegexMatcher, MovingWindowCallRatePolicy, Rate

# path regex -> requests per minute, from the operation descriptions of API v73
ENDPOINT_LIMITS_PER_MINUTE = {
    r"^/events/volume$": 60,
    r"^/tracking-plans/[^/]+/rules$": 200,
}


class CallBudget:
    """One budget shared by every stream: the per-endpoint limits and the global one both apply.

    The CDK's `APIBudget` charges a request to its first matching policy only, so an endpoint limit and
    the global limit are two budgets acquired one after the other.
    """

    def __init__(self, requests_per_minute: int):
        self._endpoint_budget = HttpAPIBudget(
            policies=[
                MovingWindowCallRatePolicy(
                    rates=[Rate(limit, timedelta(minutes=1))],
                    matchers=[HttpRequestRegexMatcher(url_path_pattern=pattern)],
                )
                for pattern, limit in ENDPOINT_LIMITS_PER_MINUTE.items()
            ]
        )
        self._global_budget = HttpAPIBudget(
            policies=[MovingWindowCallRatePolicy(rates=[Rate(requests_per_minute, timedelta(minutes=1))], matchers=[])]
        )

    def acquire(self, request: requests.PreparedRequest) -> None:
        self._endpoint_budget.acquire_call(request)
        self._global_budget.acquire_call(request)


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
