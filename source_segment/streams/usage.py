"""The four daily usage streams: API calls and MTUs, per workspace and per source, one slice per month."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Any, Iterable, Mapping, MutableMapping, Optional

from airbyte_cdk.models import SyncMode

from source_segment.errors import SegmentApiError
from source_segment.streams.incremental import SegmentIncrementalStream
from source_segment.timeutil import month_start, next_month


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

    def read_pages(self, stream_slice: Mapping[str, Any], stream_state: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        try:
            yield from super().read_pages(stream_slice, stream_state)
        except SegmentApiError as error:
            period = stream_slice["params"]["period"]
            # A past month the API refuses is beyond its usage retention: it will never be readable, so skipping
            # it (and letting the cursor pass it) loses nothing; the current month failing is a real error.
            if error.status != 422 or period >= month_start(self.now).isoformat() or "period" not in f"{error.field} {error.message}":
                raise
            self.logger.warning(
                f"Stream `{self.name}`: Segment no longer serves usage for {period[:7]} ({error.message}); "
                "that month was skipped and the later months are read."
            )

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


# periodStart/periodEnd are JSON numbers in the SDK model: only a string form is converted; a float stays a float.
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


USAGE_STREAMS = (UsageApiCallsWorkspaceDaily, UsageApiCallsPerSourceDaily, UsageMtuWorkspaceDaily, UsageMtuPerSourceDaily)
