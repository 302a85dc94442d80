"""Turns the user's config into a validated `SegmentConfig`, or a config error naming the field and the fix.

Validation lives here rather than in the spec's JSON schema alone because the CDK's schema errors
("'EU' is not one of ['us', 'eu']") neither say how to fix the value nor cover the rules a schema
cannot express (loopback-only http, a start date in the future, a token pasted with a line break).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Mapping, Optional
from urllib.parse import urlsplit

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.airbyte_secrets_utils import update_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

REGION_HOSTS = {"us": "https://api.segmentapis.com", "eu": "https://eu1.api.segmentapis.com"}
# Other Segment connectors name the regions after the host prefix; their configs keep working here.
LEGACY_REGIONS = {"api": "us", "eu1": "eu"}

MAX_PAGE_SIZE = 1000
FALLBACK_PAGE_SIZE = 200
DEFAULT_REQUESTS_PER_MINUTE = 500
DELIVERY_METRICS_LIMITS = {  # granularity -> (max window, oldest start) as the API enforces them
    "MINUTE": (timedelta(hours=4), timedelta(hours=48)),
    "HOUR": (timedelta(days=7), timedelta(days=7)),
    "DAY": (timedelta(days=14), timedelta(days=14)),
}


class ConfigError(AirbyteTracedException):
    def __init__(self, field: str, problem: str, fix: str):
        message = f"Invalid configuration: `{field}` {problem}. {fix}"
        super().__init__(message=message, internal_message=message, failure_type=FailureType.config_error)
        self.field = field


@dataclass(frozen=True)
class SegmentConfig:
    api_token: str
    region: str
    base_url: str
    start_date: datetime
    page_size: int = MAX_PAGE_SIZE
    requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE
    max_rate_limit_wait_seconds: int = 900
    max_retries: int = 5
    request_timeout_seconds: int = 60
    audit_events_lookback_minutes: int = 5
    audit_events_window_days: int = 7
    event_volume_window_days: int = 7
    delivery_metrics_granularity: str = "HOUR"
    delivery_metrics_window_hours: int = 24
    user_permissions_lookup: bool = False
    redact_secrets: bool = True
    num_workers: int = 4

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""


def parse_datetime(value: str) -> Optional[datetime]:
    """Parses `YYYY-MM-DD` or an RFC 3339 date-time (fractional seconds optional, `Z` or offset) to aware UTC."""
    text = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=timezone.utc)
        except ValueError:
            return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", text):
        return None
    normalized = text.replace("z", "Z").replace("Z", "+00:00")
    match = re.match(r"(.*?\.)(\d+)(.*)", normalized)
    if match:  # fromisoformat on 3.10 only takes 3 or 6 fractional digits
        normalized = match.group(1) + match.group(2)[:6].ljust(6, "0") + match.group(3)
    try:
        return datetime.fromisoformat(normalized).astimezone(timezone.utc)
    except ValueError:
        return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _base_url(config: Mapping[str, Any], region: str) -> str:
    raw = config.get("base_url")
    if raw in (None, ""):
        return REGION_HOSTS[region]
    if not isinstance(raw, str):
        raise ConfigError("base_url", "must be a URL string", "Remove it to use the region's Segment host.")
    parts = urlsplit(raw.strip())
    fix = "Use only a scheme and host, e.g. `https://api.segmentapis.com`, or remove `base_url` to use the region's host."
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError("base_url", f"is not an http(s) URL ({raw!r})", fix)
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            "base_url",
            "uses plain http to a non-loopback host",
            "Segment only answers https; plain http is allowed only to 127.0.0.1, localhost or ::1 (a local simulator).",
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError("base_url", "must not contain a path, query, fragment or credentials", fix)
    return f"{parts.scheme}://{parts.netloc}"


def _integer(config: Mapping[str, Any], field: str, default: int, low: int, high: int, what: str) -> int:
    value = config.get(field, default)
    if value is None:
        return default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(field, f"must be a whole number, got {value!r}", f"Set {what} between {low} and {high}.")
    if not low <= value <= high:
        raise ConfigError(field, f"is {value}, outside {low}..{high}", f"Set {what} between {low} and {high}, or remove it to use {default}.")
    return value


def _boolean(config: Mapping[str, Any], field: str, default: bool) -> bool:
    value = config.get(field, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ConfigError(field, f"must be true or false, got {value!r}", "Use a JSON boolean.")
    return value


def _token(config: Mapping[str, Any]) -> str:
    raw = config.get("api_token")
    fix = "Create a Public API token in Segment (Settings > Workspace settings > Access Management > Tokens) and paste it on one line."
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError("api_token", "is missing or empty", fix)
    token = raw.strip()
    if any(ch.isspace() for ch in token):
        raise ConfigError("api_token", "contains whitespace or a line break inside the token", fix)
    return token


def _region(config: Mapping[str, Any]) -> str:
    raw = config.get("region", "us")
    if raw in (None, ""):
        return "us"
    if not isinstance(raw, str) or (raw not in REGION_HOSTS and raw not in LEGACY_REGIONS):
        raise ConfigError(
            "region",
            f"is {raw!r}, which is not a Segment region",
            "Use `us` (api.segmentapis.com) or `eu` (eu1.api.segmentapis.com), lower case: the region your workspace was created in.",
        )
    return LEGACY_REGIONS.get(raw, raw)


def _start_date(config: Mapping[str, Any], now: datetime) -> datetime:
    raw = config.get("start_date")
    fix = "Use `YYYY-MM-DD` or an RFC 3339 date-time such as `2024-01-01T00:00:00Z`."
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError("start_date", "is missing", fix)
    parsed = parse_datetime(raw)
    if parsed is None:
        raise ConfigError("start_date", f"is not a valid date ({raw!r})", fix)
    if parsed > now:
        raise ConfigError("start_date", f"is in the future ({raw})", "Use a date in the past; incremental streams read from it up to now.")
    return parsed


def parse_config(config: Mapping[str, Any], now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> SegmentConfig:
    if not isinstance(config, Mapping):
        raise ConfigError("config", "is not a JSON object", "Pass a JSON object with at least `api_token` and `start_date`.")
    token = _token(config)
    # The CDK masks the raw value; mask the stripped token too, which is what we actually send.
    update_secrets([token])
    region = _region(config)
    granularity = config.get("delivery_metrics_granularity") or "HOUR"
    if granularity not in DELIVERY_METRICS_LIMITS:
        raise ConfigError("delivery_metrics_granularity", f"is {granularity!r}", "Use MINUTE, HOUR or DAY.")
    max_window, _ = DELIVERY_METRICS_LIMITS[granularity]
    max_hours = int(max_window.total_seconds() // 3600)
    return SegmentConfig(
        api_token=token,
        region=region,
        base_url=_base_url(config, region),
        start_date=_start_date(config, now()),
        page_size=_integer(config, "page_size", MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE, "the page size"),
        requests_per_minute=_integer(config, "requests_per_minute", DEFAULT_REQUESTS_PER_MINUTE, 1, 6000, "the request rate"),
        max_rate_limit_wait_seconds=_integer(config, "max_rate_limit_wait_seconds", 900, 0, 86400, "the total rate-limit wait"),
        max_retries=_integer(config, "max_retries", 5, 0, 20, "the retry count"),
        request_timeout_seconds=_integer(config, "request_timeout_seconds", 60, 1, 600, "the read timeout"),
        audit_events_lookback_minutes=_integer(config, "audit_events_lookback_minutes", 5, 0, 1440, "the lookback"),
        audit_events_window_days=_integer(config, "audit_events_window_days", 7, 1, 90, "the window"),
        event_volume_window_days=_integer(config, "event_volume_window_days", 7, 1, 30, "the window"),
        delivery_metrics_granularity=granularity,
        delivery_metrics_window_hours=_integer(
            config, "delivery_metrics_window_hours", min(24, max_hours), 1, max_hours, f"the window for {granularity} granularity"
        ),
        user_permissions_lookup=_boolean(config, "user_permissions_lookup", False),
        redact_secrets=_boolean(config, "redact_secrets", True),
        num_workers=_integer(config, "num_workers", 4, 1, 16, "the worker count"),
    )
