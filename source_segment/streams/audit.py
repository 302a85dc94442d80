"""The audit trail, read in time windows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Iterable, Mapping

from airbyte_cdk.models import SyncMode

from source_segment.streams.incremental import SegmentIncrementalStream
from source_segment.timeutil import iso


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
