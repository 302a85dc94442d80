"""Relationship substreams: how sources, destinations, warehouses, tracking plans and groups connect.

Most are one declaration row (see `child_stream`); classes remain only where a stream does more.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, MutableMapping, Optional

from source_segment.streams.children import SegmentChildStream
from source_segment.streams.declare import child_stream
from source_segment.streams.workspace import Destinations, Groups, Sources, TrackingPlans, Warehouses
from source_segment.timeutil import iso

SourceConnectedDestinations = child_stream(
    "source_connected_destinations", parent=Sources, endpoint="/sources/{parent_id}/connected-destinations",
    data_key="destinations", primary_key=["sourceId", "id"], parent_id_field="sourceId", redact_fields=("settings",))
SourceConnectedWarehouses = child_stream(
    "source_connected_warehouses", parent=Sources, endpoint="/sources/{parent_id}/connected-warehouses",
    data_key="warehouses", primary_key=["sourceId", "id"], parent_id_field="sourceId", redact_fields=("settings",))
SourceSchemaSettings = child_stream(
    "source_schema_settings", parent=Sources, endpoint="/sources/{parent_id}/settings", data_key="settings",
    primary_key="sourceId", parent_id_field="sourceId", paginated=False, single_object=True)
WarehouseConnectedSources = child_stream(
    "warehouse_connected_sources", parent=Warehouses, endpoint="/warehouses/{parent_id}/connected-sources",
    data_key="sources", primary_key=["warehouseId", "id"], parent_id_field="warehouseId", redact_fields=("writeKeys", "settings"))
DestinationSubscriptions = child_stream(
    "destination_subscriptions", parent=Destinations, endpoint="/destinations/{parent_id}/subscriptions",
    data_key="subscriptions", parent_id_field="destinationId", version="alpha", feature="destination_subscriptions")
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

    def __init__(self, context):
        super().__init__(context)
        # Whole minutes, a minute behind the clock as Segment recommends, so every destination shares one window.
        end = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=1)
        self.window = (end - timedelta(hours=self.config.delivery_metrics_window_hours), end)

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


RELATIONSHIP_STREAMS = (
    SourceConnectedDestinations, SourceConnectedWarehouses, SourceSchemaSettings, WarehouseConnectedSources,
    DestinationSubscriptions, DestinationFilters, DestinationDeliveryMetricsSummary, TrackingPlanRules,
    TrackingPlanSources, GroupUsers,
)
