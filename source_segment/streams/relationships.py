"""Relationship substreams: how sources, destinations, warehouses, tracking plans and groups connect.

Most are one declaration row (see `child_stream`); classes remain only where a stream does more.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, MutableMapping, Optional

from airbyte_cdk.models import SyncMode

from source_segment.config import DELIVERY_METRICS_LIMITS
from source_segment.errors import SegmentApiError
from source_segment.streams.children import SegmentChildStream
from source_segment.streams.declare import child_stream
from source_segment.streams.gating import NotEnabledGate, feature_not_enabled
from source_segment.streams.workspace import Destinations, Functions, Groups, Sources, TrackingPlans, Warehouses
from source_segment.timeutil import iso

SourceConnectedDestinations = child_stream(
    "source_connected_destinations", parent=Sources, endpoint="/sources/{parent_id}/connected-destinations",
    data_key="destinations", primary_key=["sourceId", "id"], parent_id_field="sourceId", redact_fields=("settings",))
SourceConnectedWarehouses = child_stream(
    "source_connected_warehouses", parent=Sources, endpoint="/sources/{parent_id}/connected-warehouses",
    data_key="warehouses", primary_key=["sourceId", "id"], parent_id_field="sourceId", redact_fields=("settings",))
SourceSchemaSettings = child_stream(
    "source_schema_settings", parent=Sources, endpoint="/sources/{parent_id}/settings", data_key="settings",
    primary_key="sourceId", parent_id_field="sourceId", paginated=False, single_object=True,
    redact_fields=("track", "identify", "group"))
WarehouseConnectedSources = child_stream(
    "warehouse_connected_sources", parent=Warehouses, endpoint="/warehouses/{parent_id}/connected-sources",
    data_key="sources", primary_key=["warehouseId", "id"], parent_id_field="warehouseId", redact_fields=("writeKeys", "settings"))
DestinationSubscriptions = child_stream(
    "destination_subscriptions", parent=Destinations, endpoint="/destinations/{parent_id}/subscriptions",
    data_key="subscriptions", parent_id_field="destinationId", version="alpha", feature="destination_subscriptions",
    redact_fields=("settings",))  # action field mappings; a webhook action's URL and headers live here too
DestinationFilters = child_stream(  # singular `destination`, as the API has it
    "destination_filters", parent=Destinations, endpoint="/destination/{parent_id}/filters", data_key="filters",
    parent_id_field="destinationId")
TrackingPlanSources = child_stream(
    "tracking_plan_sources", parent=TrackingPlans, endpoint="/tracking-plans/{parent_id}/sources", data_key="sources",
    primary_key=["trackingPlanId", "id"], parent_id_field="trackingPlanId", feature="protocols",
    redact_fields=("writeKeys", "settings"))
GroupUsers = child_stream(
    "group_users", parent=Groups, endpoint="/groups/{parent_id}/users", data_key="users",
    primary_key=["groupId", "id"], parent_id_field="groupId")


class DestinationDeliveryMetricsSummary(SegmentChildStream):
    """A delivery snapshot per destination over the configured window (default: last 24 hours, HOUR granularity)."""

    name = "destination_delivery_metrics_summary"
    parent = Destinations
    endpoint = "/destinations/{parent_id}/delivery-metrics"
    data_key = "deliveryMetricsSummary"
    primary_key = ["sourceId", "destinationId"]
    parent_id_field = "destinationId"
    version = "beta"
    feature = "delivery_metrics"
    paginated = False
    single_object = True

    # Segment checks the oldest allowed start (MINUTE 48 h, HOUR 7 d, DAY 14 d before now) when each request
    # arrives, after we computed the window: start this much later than the limit so a long read stays inside it.
    OLDEST_MARGIN = timedelta(minutes=15)

    def __init__(self, context):
        super().__init__(context)
        self.window = self.current_window()

    def current_window(self) -> tuple:
        """Whole minutes, a minute behind the clock as Segment recommends; every destination shares one window."""
        now = datetime.now(timezone.utc)
        end = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
        start = end - timedelta(hours=self.config.delivery_metrics_window_hours)
        _, oldest = DELIVERY_METRICS_LIMITS[self.config.delivery_metrics_granularity]
        earliest = (now - oldest + self.OLDEST_MARGIN).replace(second=0, microsecond=0) + timedelta(minutes=1)
        return (max(start, earliest), end)

    def slices(self, sync_mode):
        # The window is fixed when this stream starts reading, not when the sync started: other streams may have
        # taken long enough in between for a window at the granularity's limit to fall outside it.
        self.window = self.current_window()
        if self.window[1] - self.window[0] < timedelta(hours=self.config.delivery_metrics_window_hours):
            self.logger.info(
                f"Stream `{self.name}`: the window starts at {iso(self.window[0])}, the oldest start Segment allows at "
                f"{self.config.delivery_metrics_granularity} granularity (plus {int(self.OLDEST_MARGIN.total_seconds() // 60)} minutes)."
            )
        yield from super().slices(sync_mode)

    def wants(self, parent: Mapping[str, Any]) -> bool:
        if not parent.get("sourceId"):
            self.logger.info(f"Stream `{self.name}`: destination {parent['id']} has no source; skipped.")
        return bool(parent.get("sourceId"))

    def slice_for(self, parent: Mapping[str, Any]) -> Mapping[str, Any]:
        stream_slice = dict(super().slice_for(parent))
        stream_slice["params"] = {
            "sourceId": parent.get("sourceId"),
            "granularity": self.config.delivery_metrics_granularity,
            "startTime": iso(self.window[0]),
            "endTime": iso(self.window[1]),
        }
        return stream_slice

    def transform(self, item: Any, stream_slice: Mapping[str, Any]) -> Optional[MutableMapping[str, Any]]:
        record = super().transform(item, stream_slice)
        if record is not None:
            record.setdefault("sourceId", stream_slice["params"]["sourceId"])
            record.update(
                windowStart=stream_slice["params"]["startTime"],
                windowEnd=stream_slice["params"]["endTime"],
                granularity=self.config.delivery_metrics_granularity,
            )
        return record


class TrackingPlanRules(SegmentChildStream):
    name = "tracking_plan_rules"
    parent = TrackingPlans
    endpoint = "/tracking-plans/{parent_id}/rules"
    data_key = "rules"
    primary_key = ["trackingPlanId", "type", "key", "version"]
    parent_id_field = "trackingPlanId"
    feature = "protocols"

    def transform(self, item: Any, stream_slice: Mapping[str, Any]) -> Optional[MutableMapping[str, Any]]:
        record = super().transform(item, stream_slice)
        if record is not None and record.get("key") is None:
            # Rules of type COMMON, IDENTIFY and GROUP have no key; "" keeps them addressable by primary key.
            record["key"] = ""
        return record


class SourceRegulations(SegmentChildStream):
    """`GET /regulations/sources/{sourceId}`: no pagination in the answer, so one page of the largest size is all
    there is; 404 means no deletion request in the last 90 days."""

    name = "source_regulations"
    parent = Sources
    endpoint = "/regulations/sources/{parent_id}"
    data_key = "regulations"
    primary_key = ["sourceId", "id"]
    parent_id_field = "sourceId"
    not_found_means_empty = True

    def parse_data(self, data: Mapping[str, Any], stream_slice: Mapping[str, Any]) -> Any:
        items = data.get(self.data_key)
        if isinstance(items, list) and len(items) >= self.page_size and not data.get("pagination"):
            self.logger.warning(
                f"Stream `{self.name}`: source {stream_slice['parent']['id']} returned {len(items)} regulations, the page "
                "size, and no way to ask for more; older ones may be missing (see /regulations for the workspace list).")
        return super().parse_data(data, stream_slice)


class FunctionVersions(NotEnabledGate, SegmentChildStream):
    """`GET /functions/{functionId}/versions` (alpha)."""

    name = "function_versions"
    parent = Functions
    endpoint = "/functions/{parent_id}/versions"
    data_key = "versions"
    primary_key = ["functionId", "id"]
    parent_id_field = "functionId"
    version = "alpha"
    feature = "functions"

    def slices(self, sync_mode: SyncMode) -> Iterable[Mapping[str, Any]]:
        # /functions needs a resourceType per request, so the parent list is read slice by slice
        functions = Functions(self.context)
        try:
            listed = [functions.parent_view(record) for part in functions.slices(sync_mode)
                      for record in functions.read_pages(part, {}) if isinstance(record, Mapping)]
        except SegmentApiError as error:
            if error.status in (403, 404) or feature_not_enabled(error):
                self.skip(error.status)
                return
            raise self.fail(error) from None
        for record in listed[self.cursor.resume_index(listed):]:
            # ListFunctionItemV1.id is optional; the functions stream derives one (`derived:...`) Segment cannot know
            if record.get("id") and not str(record["id"]).startswith("derived:"):
                yield self.slice_for(record)


RELATIONSHIP_STREAMS = (
    SourceConnectedDestinations, SourceConnectedWarehouses, SourceSchemaSettings, WarehouseConnectedSources,
    DestinationSubscriptions, DestinationFilters, DestinationDeliveryMetricsSummary, TrackingPlanRules,
    TrackingPlanSources, GroupUsers, SourceRegulations, FunctionVersions,
)
