"""Workspace-level streams: one row per Segment list endpoint; classes only where a stream does more."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable, Mapping, MutableMapping, Optional

from airbyte_cdk.models import SyncMode

from source_segment.errors import SegmentApiError
from source_segment.streams.base import SegmentStream
from source_segment.streams.declare import declare

Workspace = declare("workspace", endpoint="/", data_key="workspace", paginated=False, single_object=True)
Sources = declare("sources", endpoint="/sources", data_key="sources", redact_fields=("writeKeys", "settings"), remembers_parents=True)
# delivery metrics need the destination's source, hence parent_fields
Destinations = declare("destinations", endpoint="/destinations", data_key="destinations", redact_fields=("settings",),
                       parent_fields=("id", "sourceId"), remembers_parents=True)
Warehouses = declare("warehouses", endpoint="/warehouses", data_key="warehouses", redact_fields=("settings",), remembers_parents=True)
CatalogSources = declare("catalog_sources", endpoint="/catalog/sources", data_key="sourcesCatalog")
CatalogDestinations = declare("catalog_destinations", endpoint="/catalog/destinations", data_key="destinationsCatalog")
CatalogWarehouses = declare("catalog_warehouses", endpoint="/catalog/warehouses", data_key="warehousesCatalog")
TrackingPlans = declare("tracking_plans", endpoint="/tracking-plans", data_key="trackingPlans", feature="protocols", remembers_parents=True)


class Users(SegmentStream):
    """Users; with `user_permissions_lookup` the permissions the list omits come from GET /users/{id}."""

    name = "users"
    endpoint = "/users"
    data_key = "users"

    def transform(self, item: Any, stream_slice: Mapping[str, Any]) -> Optional[MutableMapping[str, Any]]:
        record = super().transform(item, stream_slice)
        if record is None or not self.config.user_permissions_lookup or record.get("permissions") is not None or not record.get("id"):
            return record
        try:
            detail = self.client.get(f"/users/{record['id']}", version=self.version).get("data", {}).get("user")
        except SegmentApiError as error:
            if error.status not in (403, 404):
                raise error.as_failure(self.name) from None
            self.logger.info(f"Stream `users`: no detail for user {record['id']} ({error.status}); kept the list record.")
            return record
        if isinstance(detail, Mapping) and detail.get("permissions") is not None:
            record["permissions"] = detail["permissions"]
        return record


Groups = declare("groups", endpoint="/groups", data_key="userGroups", remembers_parents=True)
Roles = declare("roles", endpoint="/roles", data_key="roles")


class Invites(SegmentStream):
    """The API lists invites as bare email strings; each becomes `{"email": ...}`."""

    name = "invites"
    endpoint = "/invites"
    data_key = "invites"
    primary_key = "email"

    def transform(self, item: Any, stream_slice: Mapping[str, Any]) -> Optional[MutableMapping[str, Any]]:
        if isinstance(item, str):
            return {"email": item}
        return super().transform(item, stream_slice)


Labels = declare("labels", endpoint="/labels", data_key="labels", primary_key=["key", "value"], paginated=False)
Transformations = declare("transformations", endpoint="/transformations", data_key="transformations", feature="protocols")


class Functions(SegmentStream):
    """`/functions` requires a `resourceType`: one slice per function type."""

    name = "functions"
    endpoint = "/functions"
    data_key = "functions"
    feature = "functions"
    prefetch = True
    redact_fields = ("settings",)  # setting definitions; Segment flags the secret ones `sensitive: true`
    RESOURCE_TYPES = ("DESTINATION", "INSERT_DESTINATION", "INSERT_SOURCE", "INSERT_TRANSFORMATION", "SOURCE")

    def slices(self, sync_mode: SyncMode) -> Iterable[Mapping[str, Any]]:
        for resource_type in self.RESOURCE_TYPES:
            yield {"params": {"resourceType": resource_type}}

    def transform(self, item: Any, stream_slice: Mapping[str, Any]) -> Optional[MutableMapping[str, Any]]:
        record = super().transform(item, stream_slice)
        if record is not None and not isinstance(record.get("id"), str):
            # Every field of ListFunctionItemV1 is optional. A function listed without an id still gets a stable key:
            # the same item always derives the same id, so re-reads dedupe; an edit to it yields a new row, never a loss.
            canonical = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str)
            record["id"] = "derived:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]
        return record


Spaces = declare("spaces", endpoint="/spaces", data_key="spaces", version="alpha", feature="spaces", remembers_parents=True)
ReverseEtlModels = declare("reverse_etl_models", endpoint="/reverse-etl-models", data_key="models", version="alpha", feature="reverse_etl")
# Segment answers 404, not an empty list, when every deletion request is older than its 90-day retention.
Regulations = declare("regulations", endpoint="/regulations", data_key="regulations", not_found_means_empty=True)


WORKSPACE_STREAMS = (
    Workspace, Sources, Destinations, Warehouses, CatalogSources, CatalogDestinations, CatalogWarehouses,
    TrackingPlans, Users, Groups, Roles, Invites, Labels, Transformations, Functions, Spaces, ReverseEtlModels,
    Regulations,
)
