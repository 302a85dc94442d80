"""Daily event volume per source, event name and event type."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable, List, Mapping, Optional, Sequence

from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_segment.errors import SegmentApiError
from source_segment.streams.incremental import SegmentIncrementalStream
from source_segment.streams.volume_split import CAP, GROUP_BY, Answer, CapSplitter, Unresolvable, indexed


class EventVolumeDaily(SegmentIncrementalStream):
    """Daily event counts per (day, source, event name, event type), from `/events/volume` at DAY granularity.

    Windows cover whole UTC days up to yesterday; each sync re-reads the last complete day, which Segment
    may still have been counting when the previous sync ran. A window whose answer hits the API's 5000-group
    limit is re-read in parts (volume_split.py); a window is emitted only once all its groups are read.
    Groups without an event name, type or source (identify/page/screen/group/alias calls have no name) keep
    `""` in that key field. Days a group had no events are not emitted: a missing row means zero.
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
                "window": (day.isoformat(), end.isoformat()),
                # the cursor names the last complete day read; the next sync starts by re-reading it
                "complete_up_to": datetime.combine(end - timedelta(days=1), time.min, tzinfo=timezone.utc),
            }
            day = end

    def read_pages(self, stream_slice: Mapping[str, Any], stream_state: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        start, end = (date.fromisoformat(d) for d in stream_slice["window"])
        answer = self.query(start, end, GROUP_BY, None)
        groups = answer.groups
        if answer.capped:
            self.logger.info(f"Stream `{self.name}`: {start}..{end - timedelta(days=1)} holds {answer.cap} groups or more "
                             "(the API's limit); reading it per source instead.")
            try:
                groups = CapSplitter(self.query).resolve(start, end, groups)
            except Unresolvable as error:
                message = (f"Stream `{self.name}`: cannot read every event volume group of {start}..{end - timedelta(days=1)}: "
                           f"{error}. Nothing of that window was emitted and the cursor stays before it; "
                           "please report this to the connector's maintainers.")
                raise AirbyteTracedException(message=message, internal_message=message,
                                             failure_type=FailureType.system_error) from None
        for group in groups:
            yield from self.records_of(group)

    def query(self, start: date, end: date, group_by: Sequence[str], source_ids: Optional[Sequence[str]]) -> Answer:
        """Every page of one `/events/volume` question, and whether its answer may have been capped."""
        params = {"granularity": "DAY", "startTime": f"{start.isoformat()}T00:00:00Z",
                  "endTime": f"{end.isoformat()}T00:00:00Z", **indexed("groupBy", group_by)}
        if source_ids:
            params.update(indexed("sourceId", source_ids))
        groups: List[Mapping[str, Any]] = []
        cursor, seen, cap = None, set(), CAP
        while True:
            page = dict(params, **{"pagination.count": self.page_size})
            if cursor:
                page["pagination.cursor"] = cursor
            try:
                payload = self.client.get(self.endpoint, page, self.version)
            except SegmentApiError as error:
                if self._page_size_rejected(error):
                    continue
                raise
            data = payload.get("data") if isinstance(payload, Mapping) else None
            data = data if isinstance(data, Mapping) else {}
            echoed = data.get("query")
            if isinstance(echoed, Mapping) and isinstance(echoed.get("limit"), (int, float)) and echoed["limit"] > 0:
                cap = int(echoed["limit"])
            groups.extend(g for g in data.get(self.data_key) or [] if isinstance(g, Mapping))
            pagination = data.get("pagination") if isinstance(data.get("pagination"), Mapping) else {}
            total = pagination.get("totalEntries")
            if isinstance(total, (int, float)) and total >= cap:
                return Answer(groups, True, cap)  # capped whatever the remaining pages hold: spare reading them
            cursor = pagination.get("next")
            if not cursor:
                return Answer(groups, len(groups) >= cap or (isinstance(total, (int, float)) and total > len(groups)), cap)
            if cursor in seen:
                message = f"Stream `{self.name}`: Segment returned the pagination cursor {cursor!r} twice on GET {self.endpoint}; stopping instead of looping."
                raise AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.system_error)
            seen.add(cursor)

    def records_of(self, group: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        source = group.get("source") if isinstance(group.get("source"), Mapping) else {}
        key = {
            "sourceId": source.get("id") if isinstance(source.get("id"), str) else "",
            "sourceName": source.get("name"),
            "sourceSlug": source.get("slug"),
            "eventName": group.get("eventName") if isinstance(group.get("eventName"), str) else "",
            "eventType": group.get("eventType") if isinstance(group.get("eventType"), str) else "",
        }
        for point in group.get("series") or []:
            if not isinstance(point, Mapping) or not isinstance(point.get("time"), str):
                continue
            if point.get("count") == 0:
                continue  # zero-filled day: not emitted, whichever window it was read in
            yield {"day": point["time"][:10], **key, "count": point.get("count")}
