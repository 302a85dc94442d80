"""What Segment's rate-limit signals say: how long a 429 asks us to wait, and the RFC 5322 dates its headers carry."""

from __future__ import annotations

import email.utils
import math
from datetime import datetime, timezone
from typing import Optional

import requests


def wait_seconds_from_429(response: requests.Response, now: Optional[datetime] = None) -> Optional[float]:
    """How long a 429 asks us to wait: `Retry-After`, else `errors[0].data.msBeforeNext`, else `X-RateLimit-Reset`."""
    now = now or datetime.now(timezone.utc)
    retry_after = response.headers.get("Retry-After")
    if retry_after:
        retry_after = retry_after.strip()
        if retry_after.replace(".", "", 1).isdigit():
            return float(retry_after)
        when = http_date(retry_after)
        if when:
            return max(0.0, (when - now).total_seconds())
    try:
        ms = response.json()["errors"][0]["data"]["msBeforeNext"]
        if isinstance(ms, (int, float)) and not isinstance(ms, bool) and ms >= 0:
            return ms / 1000.0
    except (ValueError, KeyError, IndexError, TypeError):
        pass
    reset = http_date(response.headers.get("X-RateLimit-Reset", ""))
    if reset:
        # The header has whole-second resolution: round up so we never come back a moment too early.
        return float(max(0, math.ceil((reset - now).total_seconds())))
    return None


def http_date(value: str) -> Optional[datetime]:
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
