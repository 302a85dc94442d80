"""Engage configuration per space: audiences and computed traits (issue 13)."""

from __future__ import annotations

from source_segment.streams.children import SegmentChildStream
from source_segment.streams.gating import NotEnabledGate
from source_segment.streams.workspace import Spaces

AUDIENCES_MAX_PAGE = 200  # ListAudiencesPaginationInput: "Count is limited to 200"


class EngageChild(NotEnabledGate, SegmentChildStream):
    parent = Spaces
    parent_id_field = "spaceId"
    primary_key = ["spaceId", "id"]
    feature = "spaces"


class Audiences(EngageChild):
    """`GET /spaces/{spaceId}/audiences` (60 requests/min)."""

    name = "audiences"
    endpoint = "/spaces/{parent_id}/audiences"
    data_key = "audiences"

    def __init__(self, context):
        super().__init__(context)
        self.page_size = min(self.page_size, AUDIENCES_MAX_PAGE)  # asking for more is a 422


class ComputedTraits(EngageChild):
    """`GET /spaces/{spaceId}/computed-traits` (alpha, 25 requests/min)."""

    name = "computed_traits"
    endpoint = "/spaces/{parent_id}/computed-traits"
    data_key = "computedTraits"
    version = "alpha"


ENGAGE_STREAMS = (Audiences, ComputedTraits)
