"""What a Segment error response means for the sync, and the words we use to tell the user."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_segment.redaction import redact_text

# feature key -> what the user needs, as named in the API's endpoint descriptions (REFERENCE §3)
FEATURES = {
    "audit_trail": "the Audit Trail (Business tier)",
    "protocols": "Protocols (tracking plans, transformations)",
    "functions": "Functions",
    "spaces": "Engage/Unify Spaces",
    "reverse_etl": "Reverse ETL",
    "destination_subscriptions": "Destination Subscriptions (Actions destinations, alpha API)",
    "delivery_metrics": "destination delivery metrics (beta API)",
    "delivery_overview": "Delivery Overview (beta API)",
}
# stream -> what a token's role must be able to read, for streams no plan feature gates (Segment documents 401
# for "the provided API token does not have permission to access the resource" and names no roles per endpoint).
AREAS = {
    **dict.fromkeys(("users", "groups", "roles", "invites", "group_users"), "Access Management (users, groups, roles, invites)"),
    **dict.fromkeys(("regulations", "source_regulations"), "Privacy (deletion and suppression regulations)"),
    **dict.fromkeys(("usage_api_calls_workspace_daily", "usage_api_calls_per_source_daily", "usage_mtu_workspace_daily",
                     "usage_mtu_per_source_daily"), "workspace usage (API calls and MTUs)"),
    **dict.fromkeys(("sources", "source_connected_destinations", "source_connected_warehouses", "source_schema_settings",
                     "event_volume_daily"), "sources (Source Read-only)"),
    **dict.fromkeys(("destinations", "destination_filters"), "destinations"),
    **dict.fromkeys(("warehouses", "warehouse_connected_sources", "warehouse_syncs"), "warehouses"),
    **dict.fromkeys(("catalog_sources", "catalog_destinations", "catalog_warehouses"), "the integrations catalog"),
    "labels": "labels",
}


class SegmentApiError(Exception):
    """A 4xx answer the stream may know how to handle (403/404 gate a stream; 422 on the page size)."""

    def __init__(self, status: int, path: str, message: str, field: Optional[str] = None, answered: Optional[int] = None):
        self.answered = answered or status  # what Segment sent: a permission 401 is acted on as 403 (client.py)
        super().__init__(f"Segment API answered {self.answered} on GET {path}: {message}")
        self.status = status
        self.path = path
        self.message = message
        self.field = field

    def as_failure(self, stream: str) -> AirbyteTracedException:
        failure = FailureType.config_error if self.status in (401, 403) else FailureType.system_error
        text = f"Stream `{stream}`: Segment API answered {self.answered} on GET {self.path}: {self.message}"
        return AirbyteTracedException(message=text, internal_message=text, failure_type=failure)


def segment_error_message(body: Any) -> tuple[str, Optional[str]]:
    """Segment's own words from an error envelope `{"errors": [{"type", "message", "field", ...}]}`."""
    if isinstance(body, Mapping):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
            first = errors[0]
            message = first.get("message") or first.get("type") or "no message"
            return redact_text(str(message)), first.get("field")  # Segment may echo a setting's value
    return "no error message in the response", None


def unauthorized(host: str) -> AirbyteTracedException:
    message = (
        f"Segment rejected the API token (HTTP 401 from {host}): the token is invalid, expired, or belongs to a "
        "workspace in the other region. Check `api_token`, and set `region` to `eu` for EU workspaces "
        "(eu1.api.segmentapis.com) or `us` otherwise."
    )
    return AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.config_error)


def skip_warning(stream: str, status: int, feature: Optional[str]) -> str:
    """The one warning for a stream skipped because the workspace or the token cannot read it: the stream, what
    it needs, and the fix. 401 and 403 read alike: Segment sends 401 when the token's role lacks access."""
    need = FEATURES[feature] if feature else AREAS.get(stream, "this resource")
    if status in (401, 403):
        causes = "the token's role cannot read it" + (", or the workspace does not have it enabled (plan)" if feature else "")
        return (
            f"Skipping stream `{stream}`: Segment denied access (HTTP 401/403) to {need}: {causes}. Give the token a "
            "role with access to it (Settings > Workspace settings > Access Management > Tokens)"
            + (", enable it in Segment" if feature else "") + ", or deselect the stream to silence this warning."
        )
    return (
        f"Skipping stream `{stream}`: Segment answered {status} because {need} is not enabled for this workspace. "
        "Enable it in Segment (or upgrade the plan), or deselect the stream to silence this warning."
    )
