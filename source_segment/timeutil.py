"""Time helpers every stream shares: the API's timestamp format and calendar steps."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Optional


def iso(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, whole seconds: the form every Segment time parameter accepts."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def month_start(moment: datetime) -> date:
    return date(moment.year, moment.month, 1)


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


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
