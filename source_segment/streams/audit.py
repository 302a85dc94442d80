"""The audit trail, read in time windows."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping, MutableMapping

from airbyte_cdk.models import SyncMode

from source_segment.streams.incremental import SegmentIncrementalStream
from source_segment.timeutil import iso


class AuditEvents(SegmentIncrementalStream):
    """The audit trail, in `startTime`/`endTime` windows.

    Segment returns events newest first, so no record inside a window says how far the window is done:
    the cursor moves to a window's end only after its last page. Segment may list an event some time after
    it happened (no latency is documented), so the cursor never passes `now - lookback` (default one day):
    the trail before the cursor is settled, the span after it is re-read by the next sync and its
    duplicates are removed by primary key downstream.
    """

    name = "audit_events"
    endpoint = "/audit-events"
    data_key = "events"
    feature = "audit_trail"
    prefetch = True
    # Marks a cursor that already stays `lookback` behind its sync. Older versions saved the sync's end instead;
    # their cursor is moved back by the lookback once, so the upgrade does not skip what was still filling in.
    SETTLED = "settled"

    def __init__(self, context):
        super().__init__(context)
        self.lookback = timedelta(minutes=self.config.audit_events_lookback_minutes)

    @property
    def state(self) -> MutableMapping[str, Any]:
        state = SegmentIncrementalStream.state.fget(self)
        if state:
            state[self.SETTLED] = True
        return state

    @state.setter
    def state(self, value: Mapping[str, Any]) -> None:
        SegmentIncrementalStream.state.fset(self, value)
        if self._cursor is not None and not (isinstance(value, Mapping) and value.get(self.SETTLED) is True):
            self._cursor -= self.lookback

    def advance(self, cursor: datetime) -> None:
        super().advance(min(cursor, self.now - self.lookback))

    def slices(self, sync_mode: SyncMode) -> Iterable[Mapping[str, Any]]:
        start, cursor = self.config.start_date, self.resume_point(sync_mode)
        if cursor:
            start = max(start, cursor)
        step = timedelta(days=self.config.audit_events_window_days)
        while start < self.now:
            end = min(start + step, self.now)
            yield {"params": {"startTime": iso(start), "endTime": iso(end)}, "complete_up_to": end}
            start = end
