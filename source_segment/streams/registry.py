"""Every stream the connector offers, in the order discover lists them."""

from __future__ import annotations

from source_segment.streams.audit import AuditEvents
from source_segment.streams.delivery_overview import DeliveryOverview
from source_segment.streams.engage import ENGAGE_STREAMS
from source_segment.streams.event_volume import EventVolumeDaily
from source_segment.streams.relationships import RELATIONSHIP_STREAMS
from source_segment.streams.sync_history import ReverseEtlSyncs, WarehouseSyncs
from source_segment.streams.usage import USAGE_STREAMS
from source_segment.streams.workspace import WORKSPACE_STREAMS

INCREMENTAL_STREAMS = (AuditEvents,) + USAGE_STREAMS + (EventVolumeDaily,)
ALL_STREAMS = WORKSPACE_STREAMS + INCREMENTAL_STREAMS + RELATIONSHIP_STREAMS + (WarehouseSyncs, DeliveryOverview, ReverseEtlSyncs) + ENGAGE_STREAMS
