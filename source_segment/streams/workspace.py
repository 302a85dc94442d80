"""Workspace-level streams: one class per Segment list endpoint, declared by its endpoint and data key."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, MutableMapping, Optional

from airbyte_cdk.models import SyncMode

from source_segment.errors import SegmentApiError
from source_segment.streams.base import SegmentStream


class Workspace(SegmentStream):
    name = "workspace"
    endpoint = "/"
    data_key = "workspace"
    paginated = False
    single_object = True


class Sources(SegmentStream):
    name = "sources"
    endpoint = "/sources"
    data_key = "sources"
    redact_fields = ("writeKeys", "settings")
    remembers_parents = True


class Destinations(SegmentStream):
    name = "destinations"
    endpoint = "/destinations"
    data_key = "destinations"
    redact_fields = ("settings",)
    parent_fields = ("id", "sourceId")  # delivery metrics need the destination's source
    remembers_parents = True


class Warehouses(SegmentStream):
    name = "warehouses"
    endpoint = "/warehouses"
    data_key = "warehouses"
    redact_fields = ("settings",)
    remembers_parents = True


class CatalogSources(SegmentStream):
    name = "catalog_sources"
    endpoint = "/catalog/sources"
    data_key = "sourcesCatalog"


class CatalogDestinations(SegmentStream):
    name = "catalog_destinations"
    endpoint = "/catalog/destinations"
    data_key = "destinationsCatalog"


class CatalogWarehouses(SegmentStream):
    name = "catalog_warehouses"
    endpoint = "/catalog/warehouses"
    data_key = "warehousesCatalog"


class TrackingPlans(SegmentStream):
    name = "tracking_plans"
    endpoint = "/tracking-plans"
    data_key = "trackingPlans"
    feature = "protocols"
    remembers_parents = True


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


class Groups(SegmentStream):
    name = "groups"
    endpoint = "/groups"
    data_key = "userGroups"
    remembers_parents = True


class Roles(SegmentStream):
    name = "roles"
    endpoint = "/roles"
    data_key = "roles"


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


class Labels(SegmentStream):
    name = "labels"
    endpoint = "/labels"
    data_key = "labels"
    primary_key = ["key", "value"]
    paginated = False


class Transformations(SegmentStream):
    name = "transformations"
    endpoint = "/transformations"
    data_key = "transformations"
    feature = "protocols"


class Functions(SegmentStream):
    """`/functions` requires a `resourceType`: one slice per function type."""

    name = "functions"
    endpoint = "/functions"
    data_key = "functions"
    feature = "functions"
    prefetch = True
    RESOURCE_TYPES = ("DESTINATION", "INSERT_DESTINATION", "INSERT_SOURCE", "INSERT_TRANSFORMATION", "SOURCE")

    def slices(self, sync_mode: SyncMode) -> Iterable[Mapping[str, Any]]:
        for resource_type in self.RESOURCE_TYPES:
            yield {"params": {"resourceType": resource_type}}


class Spaces(SegmentStream):
    name = "spaces"
    endpoint = "/spaces"
    data_key = "spaces"
    version = "alpha"
    feature = "spaces"


class ReverseEtlModels(SegmentStream):
    name = "reverse_etl_models"
    endpoint = "/reverse-etl-models"
    data_key = "models"
    version = "alpha"
    feature = "reverse_etl"


class Regulations(SegmentStream):
    name = "regulations"
    endpoint = "/regulations"
    data_key = "regulations"
    # Segment answers 404, not an empty list, when every deletion request is older than its 90-day retention.
    not_found_means_empty = True


WORKSPACE_STREAMS = (
    Workspace, Sources, Destinations, Warehouses, CatalogSources, CatalogDestinations, CatalogWarehouses,
    TrackingPlans, Users, Groups, Roles, Invites, Labels, Transformations, Functions, Spaces, ReverseEtlModels,
    Regulations,
)
