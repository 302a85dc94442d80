"""Time helpers every stream shares: the API's timestamp format and calendar steps."""

from __future__ import annotations

from datetime import date, datetime, timezone


def iso(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, whole seconds: the form every Segment time parameter accepts."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def month_start(moment: datetime) -> date:
    return date(moment.year, moment.month, 1)


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)
