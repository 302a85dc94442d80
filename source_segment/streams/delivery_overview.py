"""Delivery Overview: per-stage event counts per source and destination, bucketed by hour or day (issue 13)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional

from airbyte_cdk.models import SyncMode

from source_segment.timeutil import parse_datetime
from source_segment.errors import SegmentApiError
from source_segment.streams.base import SegmentStream
from source_segment.streams.gating import NotEnabledGate, feature_not_enabled
from source_segment.streams.incremental import SegmentIncrementalStream
from source_segment.streams.workspace import Destinations, Sources
from source_segment.timeutil import iso



SOURCE_STAGES = ("successfully_received", "failed_on_ingest", "filtered_at_source")
DESTINATION_STAGES = ("successful_delivery", "failed_delivery", "filtered_at_destination")
GRANULARITIES = {  # bucket, longest window per request, as the API allows them
    "HOUR": (timedelta(hours=1), timedelta(days=14)),
    "DAY": (timedelta(days=1), timedelta(days=30)),
}
OLDEST = timedelta(days=30)  # no start older than now - 30 days, whatever the granularity


def _floor(moment: datetime, bucket: timedelta) -> datetime:
    seconds = int(moment.timestamp())
    step = int(bucket.total_seconds())
    return datetime.fromtimestamp(seconds - seconds % step, timezone.utc)


class DeliveryOverview(NotEnabledGate, SegmentIncrementalStream):
    """One record per Delivery Overview series point with events: (stage, source, destination, bucket, event type,
    discard reason). Reads from max(start_date, now - 30 days + 1 hour) up to the last complete bucket, in the
    longest windows the API allows, window after window across every source and destination, so the cursor
    (`time`, the end of the last fully read window) moves as each window completes. Each sync re-reads
    `delivery_overview_lookback_hours` before the cursor: recent buckets fill in late."""

    name = "delivery_overview"
    endpoint = "/delivery-overview/{stage_path}"
    data_key = "dataset"
    primary_key = ["stage", "sourceId", "destinationId", "time", "eventType", "discardReason"]
    cursor_field = "time"
    version = "beta"
    feature = "delivery_overview"
    prefetch = True
    has_multiple_slices = True

    def path(self, *, stream_slice=None, **kwargs: Any) -> str:
        return self.endpoint.format(stage_path=(stream_slice or {})["stage"].replace("_", "-"))

    def window(self, sync_mode: SyncMode) -> tuple:
        bucket, _ = GRANULARITIES[self.config.delivery_overview_granularity]
        lower = max(self.config.start_date, self.now - OLDEST + timedelta(hours=1))
        start = _floor(lower, bucket)
        if start < self.now - OLDEST:  # DAY buckets: the day holding the bound starts too early; take the next
            start += bucket
        cursor = self.resume_point(sync_mode)
        if cursor:
            start = max(start, _floor(cursor - timedelta(hours=self.config.delivery_overview_lookback_hours), bucket))
        return start, _floor(self.now, bucket)

    def entities(self) -> Optional[List[tuple]]:
        """(stage, sourceId, destinationId or None) for every source stage and connected destination stage."""
        sources = self.context.parents(Sources(self.context))
        destinations = self.context.parents(Destinations(self.context))
        if sources is None and destinations is None:
            return None
        out = [(stage, s["id"], None) for s in sources or [] if s.get("id") for stage in SOURCE_STAGES]
        for d in destinations or []:
            if not d.get("id"):
                continue
            if not d.get("sourceId"):
                self.logger.info(f"Stream `{self.name}`: destination {d['id']} has no source; skipped.")
                continue
            out += [(stage, d["sourceId"], d["id"]) for stage in DESTINATION_STAGES]
        return out

    def slices(self, sync_mode: SyncMode) -> Iterable[Mapping[str, Any]]:
        start, end = self.window(sync_mode)
        if start >= end:
            return
        entities = self.entities()
        if entities is None:
            self.skip(403, "delivery_overview")
            return
        _, longest = GRANULARITIES[self.config.delivery_overview_granularity]
        while start < end:
            stop = min(start + longest, end)
            for index, (stage, source_id, destination_id) in enumerate(entities):
                params = {"sourceId": source_id, "granularity": self.config.delivery_overview_granularity,
                          "startTime": iso(start), "endTime": iso(stop), "groupBy.0": "eventType"}
                if stage != "successfully_received":  # that stage has no discard reasons (422 if asked)
                    params["groupBy.1"] = "discardReason"
                if destination_id:
                    params["destinationConfigId"] = destination_id
                yield {"stage": stage, "params": params, "sourceId": source_id, "destinationId": destination_id or "",
                       "complete_up_to": stop if index == len(entities) - 1 else None}
            if not entities:
                self.advance(stop)
            start = stop

    def fetch(self, stream_slice: Mapping[str, Any], stream_state: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        try:
            return super().fetch(stream_slice, stream_state)
        except SegmentApiError as error:
            if error.status == 404 and not feature_not_enabled(error):
                who = stream_slice["destinationId"] or stream_slice["sourceId"]
                self.logger.info(f"Stream `{self.name}`: {who} no longer exists (404); skipped.")
                return []
            raise

    def is_unavailable(self, error: SegmentApiError) -> bool:
        return error.status == 403 or feature_not_enabled(error)

    def parse_data(self, data: Mapping[str, Any], stream_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        items = data.get(self.data_key)
        if not isinstance(items, list):
            if items is not None:
                self.logger.warning(f"Stream `{self.name}`: expected a list under data.{self.data_key}; skipped the page.")
            return
        for item in items:
            if not isinstance(item, Mapping):
                continue
            for point in item.get("series") or []:
                record = self._record(item, point, stream_slice)
                if record is not None:
                    yield record

    def _record(self, item: Mapping[str, Any], point: Any, stream_slice: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
        if not isinstance(point, Mapping):
            return None
        count, retries = point.get("count") or 0, point.get("retryCount")
        if not (count > 0 or (retries or 0) > 0):
            return None  # a missing bucket means zero events
        moment = parse_datetime(point["time"]) if isinstance(point.get("time"), str) else None
        if moment is None:
            self.logger.warning(f"Stream `{self.name}`: skipped a series point with an unreadable time {point.get('time')!r}.")
            return None
        record: Dict[str, Any] = {
            "stage": stream_slice["stage"],
            "sourceId": stream_slice["sourceId"],
            "destinationId": stream_slice["destinationId"],
            "time": iso(moment),
            "eventType": item.get("eventType") or "",
            "discardReason": item.get("discardReason") or "",
            "count": count,
        }
        if retries is not None:
            record["retryCount"] = retries
        record["granularity"] = self.config.delivery_overview_granularity
        return record

    def read_records(self, sync_mode=SyncMode.full_refresh, cursor_field=None, stream_slice=None, stream_state=None) -> Iterable[Mapping[str, Any]]:
        yield from SegmentStream.read_records(self, sync_mode, cursor_field, stream_slice, stream_state)
        if stream_slice and stream_slice.get("complete_up_to") and not self.skipped:
            self.advance(stream_slice["complete_up_to"])  # every source and destination of the window is read
