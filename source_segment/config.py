"""Turns the user's config into a validated `SegmentConfig`, or a config error naming the field and the fix.

Validation lives here rather than in the spec's JSON schema alone because the CDK's schema errors
("'eu2' is not one of ['us', 'eu']") neither say how to fix the value nor cover the rules a schema
cannot express (loopback-only http, a start date in the future, a token pasted with a line break).

`normalize_config` first rewrites the spellings we accept (legacy regions, numeric strings, nulls for
"unset") into the spec's canonical form. `SourceSegment.configure` applies it before the CDK checks the
spec, so every config `parse_config` accepts also passes the spec; unit_tests/test_config.py proves it.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping, Optional
from urllib.parse import urlsplit


from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.airbyte_secrets_utils import update_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_segment.config_spelling import LEGACY_REGIONS, as_integer, json_type, normalize_config
from source_segment.redaction import MODES as REDACTION_MODES
from source_segment.timeutil import parse_datetime

REGION_HOSTS = {"us": "https://api.segmentapis.com", "eu": "https://eu1.api.segmentapis.com"}

MAX_PAGE_SIZE = 1000
FALLBACK_PAGE_SIZE = 200
DEFAULT_REQUESTS_PER_MINUTE = None  # unset: pace by the rate-limit headers Segment sends (rate_limiting.py)
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
    requests_per_minute: Optional[int] = DEFAULT_REQUESTS_PER_MINUTE  # a hard cap when set
    max_rate_limit_wait_seconds: int = 900
    max_retries: int = 5
    request_timeout_seconds: int = 60
    audit_events_lookback_minutes: int = 1440
    audit_events_window_days: int = 7
    event_volume_window_days: int = 7
    delivery_metrics_granularity: str = "HOUR"
    delivery_metrics_window_hours: int = 24
    delivery_overview_granularity: str = "HOUR"  # issue 13
    delivery_overview_lookback_hours: int = 24
    user_permissions_lookup: bool = False
    redact_secrets: bool = True  # deprecated alias: False when settings_redaction is "off"
    settings_redaction: str = "safe"
    num_workers: int = 4

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""


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
    value = as_integer(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(field, f"must be a whole number, got {value!r}", f"Set {what} between {low} and {high}.")
    if not low <= value <= high:
        raise ConfigError(field, f"is {value}, outside {low}..{high}", f"Set {what} between {low} and {high}, or remove it to use {'the default' if default is None else default}.")
    return value


def _choice(config: Mapping[str, Any], field: str, default: str, allowed: tuple) -> str:
    value = config.get(field) or default
    if value not in allowed:
        raise ConfigError(field, f"is {value!r}", f"Use one of {', '.join(allowed)}, or remove it to use {default}.")
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
    if raw is not None and not isinstance(raw, str):
        raise ConfigError("api_token", f"must be a string, got a {json_type(raw)}", "Put the token in quotes. " + fix)
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError("api_token", "is missing or empty", fix)
    token = raw.strip()
    if any(ch.isspace() for ch in token):
        raise ConfigError("api_token", "contains whitespace or a line break inside the token", fix)
    for position, ch in enumerate(token, start=1):
        # Tokens are printable ASCII; anything else (a zero-width space or smart quote from copy-paste) cannot
        # be sent in an HTTP header. Name the character, never the token.
        if not " " < ch < "\x7f":
            name = unicodedata.name(ch, "a control character")
            raise ConfigError(
                "api_token",
                f"contains U+{ord(ch):04X} ({name}) at position {position}, which cannot be part of a token (it often comes along with copy-paste)",
                "Re-copy the token, or type it into a plain-text editor first, and paste only the token itself.",
            )
    return token


def _region(config: Mapping[str, Any]) -> str:
    raw = config.get("region", "us")
    if raw in (None, ""):
        return "us"
    region = raw.strip().lower() if isinstance(raw, str) else None
    region = LEGACY_REGIONS.get(region, region)  # type: ignore[arg-type]
    if region not in REGION_HOSTS:
        raise ConfigError(
            "region",
            f"is {raw!r}, which is not a Segment region",
            "Use `us` (api.segmentapis.com) or `eu` (eu1.api.segmentapis.com): the region your workspace was created in.",
        )
    return region


def _start_date(config: Mapping[str, Any], now: datetime) -> datetime:
    raw = config.get("start_date")
    fix = "Use `YYYY-MM-DD` or an RFC 3339 date-time such as `2024-01-01T00:00:00Z`."
    if raw is not None and not isinstance(raw, str):
        raise ConfigError("start_date", f"must be a string, got a {json_type(raw)}", fix)
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError("start_date", "is missing", fix)
    parsed = parse_datetime(raw)
    if parsed is None:
        zoneless = re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?\s*", raw)
        problem = f"has no time zone ({raw!r})" if zoneless else f"is not a valid date ({raw!r})"
        raise ConfigError("start_date", problem, fix + (" Add `Z` for UTC." if zoneless else ""))
    if parsed > now:
        raise ConfigError("start_date", f"is in the future ({raw})", "Use a date in the past; incremental streams read from it up to now.")
    return parsed


def _settings_redaction(config: Mapping[str, Any]) -> str:
    """`settings_redaction` wins; the deprecated `redact_secrets: false` means `off` only where it is unset, so a
    UI that fills in the new field's default fails closed."""
    raw = config.get("settings_redaction")
    if raw in (None, ""):
        return "safe" if _boolean(config, "redact_secrets", True) else "off"
    mode = raw.strip().lower() if isinstance(raw, str) else raw
    if mode not in REDACTION_MODES:
        raise ConfigError(
            "settings_redaction",
            f"is {raw!r}",
            "Use `safe` (credentials hashed, the rest kept; the default), `strict` (every settings string hashed) or `off` (values as sent).",
        )
    return mode


def parse_config(config: Mapping[str, Any], now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> SegmentConfig:
    if not isinstance(config, Mapping):
        raise ConfigError("config", "is not a JSON object", "Pass a JSON object with at least `api_token` and `start_date`.")
    config = normalize_config(config)
    token = _token(config)
    # The CDK masks the raw value; mask the stripped token too, which is what we actually send.
    update_secrets([token])
    region = _region(config)
    granularity = config.get("delivery_metrics_granularity") or "HOUR"
    if not isinstance(granularity, str) or granularity not in DELIVERY_METRICS_LIMITS:
        raise ConfigError("delivery_metrics_granularity", f"is {granularity!r}, not a granularity", "Use MINUTE, HOUR or DAY.")
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
        audit_events_lookback_minutes=_integer(config, "audit_events_lookback_minutes", 1440, 0, 10080, "the lookback"),
        audit_events_window_days=_integer(config, "audit_events_window_days", 7, 1, 90, "the window"),
        event_volume_window_days=_integer(config, "event_volume_window_days", 7, 1, 30, "the window"),
        delivery_metrics_granularity=granularity,
        delivery_metrics_window_hours=_integer(
            config, "delivery_metrics_window_hours", min(24, max_hours), 1, max_hours, f"the window for {granularity} granularity"
        ),
        delivery_overview_granularity=_choice(config, "delivery_overview_granularity", "HOUR", ("HOUR", "DAY")),
        delivery_overview_lookback_hours=_integer(config, "delivery_overview_lookback_hours", 24, 0, 720, "the lookback"),
        user_permissions_lookup=_boolean(config, "user_permissions_lookup", False),
        redact_secrets=_settings_redaction(config) != "off",
        settings_redaction=_settings_redaction(config),
        num_workers=_integer(config, "num_workers", 4, 1, 16, "the worker count"),
    )
