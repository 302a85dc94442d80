"""Incremental streams: the audit trail, the four daily usage streams and daily event volume.

All three kinds slice time into windows and commit the cursor only when a window is complete, so an
interrupted sync resumes at the first unfinished window and never skips a record. The cursor advances in
full-refresh mode too, so a full refresh followed by an incremental sync does not start over.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable, Mapping, MutableMapping, Optional

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams import CheckpointMixin

from source_segment.config import parse_datetime
from source_segment.streams.base import SegmentStream


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def month_start(moment: datetime) -> date:
    return date(moment.year, moment.month, 1)


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


class SegmentIncrementalStream(SegmentStream, CheckpointMixin):
    """State is `{cursor_field: <ISO value>}`: one value per stream, never growing with records."""

    cursor_field = "timestamp"

    def __init__(self, context):
        super().__init__(context)
        self._cursor: Optional[datetime] = None
        self._formatted: tuple = (None, {})
        self.now = datetime.now(timezone.utc)  # one "now" per sync, so windows do not drift while reading

    @property
    def state(self) -> MutableMapping[str, Any]:
        # The CDK reads the state after every record: format it only when the cursor moves.
        if self._formatted[0] is not self._cursor:
            self._formatted = (self._cursor, {self.cursor_field: self.format_cursor(self._cursor)} if self._cursor else {})
        return dict(self._formatted[1])

    @state.setter
    def state(self, value: Mapping[str, Any]) -> None:
        raw = value.get(self.cursor_field) if isinstance(value, Mapping) else None
        parsed = parse_datetime(raw) if isinstance(raw, str) else None
        if value and parsed is None:
            self.logger.warning(
                f"Stream `{self.name}`: ignoring unreadable state {dict(value) if isinstance(value, Mapping) else value!r}; "
                f"reading from start_date {iso(self.config.start_date)} instead."
            )
        self._cursor = min(parsed, self.now) if parsed else None

    def format_cursor(self, cursor: datetime) -> str:
        return iso(cursor)

    def resume_point(self, sync_mode: SyncMode) -> Optional[datetime]:
        """Where reading resumes: the saved cursor in incremental mode; a full refresh reads everything
        (the CDK hands state to full-refresh streams too) and moves the cursor from scratch."""
        if sync_mode != SyncMode.incremental:
            self._cursor = None
        return self._cursor

    def advance(self, cursor: datetime) -> None:
        if self._cursor is None or cursor > self._cursor:
            self._cursor = cursor

    def read_records(self, sync_mode=SyncMode.full_refresh, cursor_field=None, stream_slice=None, stream_state=None) -> Iterable[Mapping[str, Any]]:
        yield from super().read_records(sync_mode, cursor_field, stream_slice, stream_state)
        if stream_slice and not self.skipped:
            self.advance(stream_slice["complete_up_to"])  # the whole window is read: commit it


class UsageStream(SegmentIncrementalStream):
    """Daily cumulative usage snapshots, one slice per usage month (`period=YYYY-MM-01`).

    Segment revises a month's rows until the month has closed, so each sync re-reads from the month of the
    saved cursor (or the previous month during the first days of a new one); downstream dedupes by primary key.
    """

    count_fields: tuple = ()
    REVISION_DAYS = 3  # how long after month end Segment may still revise that month (observed: a day or two)

    def slices(self, sync_mode: SyncMode) -> Iterable[Mapping[str, Any]]:
        start, cursor = self.config.start_date, self.resume_point(sync_mode)
        if cursor:
            start = max(start, cursor - timedelta(days=self.REVISION_DAYS))
        month, last = month_start(start), month_start(self.now)
        while month <= last:
            following = next_month(month)
            month_end = datetime.combine(following, time.min, tzinfo=timezone.utc) - timedelta(days=1)
            yield {"params": {"period": month.isoformat()}, "complete_up_to": min(month_end, self.now)}
            month = following

    def transform(self, item: Any, stream_slice: Mapping[str, Any]) -> Optional[MutableMapping[str, Any]]:
        record = super().transform(item, stream_slice)
        if record is None:
            return None
        for field in self.count_fields:
            value = record.get(field)
            if value.__class__ is str:
                try:
                    record[field] = int(value)  # a bigint in a string: Python ints do not overflow
                except ValueError:
                    self.logger.warning(f"Stream `{self.name}`: {field}={value!r} is not an integer; kept as sent.")
        return record


class UsageApiCallsWorkspaceDaily(UsageStream):
    name = "usage_api_calls_workspace_daily"
    endpoint = "/usage/api-calls/daily"
    data_key = "dailyWorkspaceAPICallsUsage"
    primary_key = "timestamp"
    count_fields = ("apiCalls",)


class UsageApiCallsPerSourceDaily(UsageStream):
    name = "usage_api_calls_per_source_daily"
    endpoint = "/usage/api-calls/sources/daily"
    data_key = "dailyPerSourceAPICallsUsage"
    primary_key = ["sourceId", "timestamp"]
    count_fields = ("apiCalls",)


MTU_COUNTS = ("anonymous", "anonymousIdentified", "identified", "neverIdentified", "periodStart", "periodEnd")


class UsageMtuWorkspaceDaily(UsageStream):
    name = "usage_mtu_workspace_daily"
    endpoint = "/usage/mtu/daily"
    data_key = "dailyWorkspaceMTUUsage"
    primary_key = "timestamp"
    count_fields = MTU_COUNTS


class UsageMtuPerSourceDaily(UsageStream):
    name = "usage_mtu_per_source_daily"
    endpoint = "/usage/mtu/sources/daily"
    data_key = "dailyPerSourceMTUUsage"
    primary_key = ["sourceId", "timestamp"]
    count_fields = MTU_COUNTS


class AuditEvents(SegmentIncrementalStream):
    """The audit trail, in `startTime`/`endTime` windows.

    Segment returns events newest first, so no record inside a window says how far the window is done:
    the cursor moves to a window's end only after its last page. Each sync starts `lookback` before the
    cursor to catch events that arrive late; their duplicates are removed by primary key downstream.
    """

    name = "audit_events"
    endpoint = "/audit-events"
    data_key = "events"
    feature = "audit_trail"
    prefetch = True

    def slices(self, sync_mode: SyncMode) -> Iterable[Mapping[str, Any]]:
        start, cursor = self.config.start_date, self.resume_point(sync_mode)
        if cursor:
            start = max(start, cursor - timedelta(minutes=self.config.audit_events_lookback_minutes))
        step = timedelta(days=self.config.audit_events_window_days)
        while start < self.now:
            end = min(start + step, self.now)
            yield {"params": {"startTime": iso(start), "endTime": iso(end)}, "complete_up_to": end}
            start = end


class EventVolumeDaily(SegmentIncrementalStream):
    """Daily event counts per (day, source, event name, event type), from `/events/volume` at DAY granularity.

    Windows cover whole UTC days up to yesterday; each sync re-reads the last complete day, which Segment
    may still have been counting when the previous sync ran.
    """

    name = "event_volume_daily"
    endpoint = "/events/volume"
    data_key = "result"
    primary_key = ["day", "sourceId", "eventName", "eventType"]
    cursor_field = "day"
    # No prefetch: the endpoint allows 60 requests/min, so concurrency gains nothing, and a window explodes into
    # (groups x days) records that would all sit in memory while queued.

    def format_cursor(self, cursor: datetime) -> str:
        return cursor.date().isoformat()

    def slices(self, sync_mode: SyncMode) -> Iterable[Mapping[str, Any]]:
        day = (self.resume_point(sync_mode) or self.config.start_date).date()
        today = self.now.date()
        step = timedelta(days=self.config.event_volume_window_days)
        while day < today:
            end = min(day + step, today)
            yield {
                "params": {
                    "granularity": "DAY",
                    "startTime": f"{day.isoformat()}T00:00:00Z",
                    "endTime": f"{end.isoformat()}T00:00:00Z",
                    "groupBy": "eventName,eventType,source",
                },
                # the cursor names the last complete day read; the next sync starts by re-reading it
                "complete_up_to": datetime.combine(end - timedelta(days=1), time.min, tzinfo=timezone.utc),
            }
            day = end

    def parse_data(self, data: Mapping[str, Any], stream_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        for group in data.get(self.data_key) or []:
            if not isinstance(group, Mapping):
                continue
            source = group.get("source") if isinstance(group.get("source"), Mapping) else {}
            for point in group.get("series") or []:
                if not isinstance(point, Mapping) or not isinstance(point.get("time"), str):
                    continue
                record = {
                    "day": point["time"][:10],
                    "sourceId": source.get("id"),
                    "sourceName": source.get("name"),
                    "sourceSlug": source.get("slug"),
                    "eventName": group.get("eventName"),
                    "eventType": group.get("eventType"),
                    "count": point.get("count"),
                }
                if self._has_primary_key(record):
                    yield record


INCREMENTAL_STREAMS = (
    AuditEvents, UsageApiCallsWorkspaceDaily, UsageApiCallsPerSourceDaily, UsageMtuWorkspaceDaily,
    UsageMtuPerSourceDaily, EventVolumeDaily,
)
