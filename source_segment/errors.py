"""What a Segment error response means for the sync, and the words we use to tell the user."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

# feature key -> what the user needs, as named in the API's endpoint descriptions (REFERENCE §3)
FEATURES = {
    "audit_trail": "the Audit Trail (Business tier)",
    "protocols": "Protocols (tracking plans, transformations)",
    "functions": "Functions",
    "spaces": "Engage/Unify Spaces",
    "reverse_etl": "Reverse ETL",
    "destination_subscriptions": "Destination Subscriptions (Actions destinations, alpha API)",
    "delivery_metrics": "destination delivery metrics (beta API)",
}


class SegmentApiError(Exception):
    """A 4xx answer the stream may know how to handle (403/404 gate a stream; 422 on the page size)."""

    def __init__(self, status: int, path: str, message: str, field: Optional[str] = None):
        super().__init__(f"Segment API answered {status} on GET {path}: {message}")
        self.status = status
        self.path = path
        self.message = message
        self.field = field

    def as_failure(self, stream: str) -> AirbyteTracedException:
        failure = FailureType.config_error if self.status in (401, 403) else FailureType.system_error
        text = f"Stream `{stream}`: Segment API answered {self.status} on GET {self.path}: {self.message}"
        return AirbyteTracedException(message=text, internal_message=text, failure_type=failure)


def segment_error_message(body: Any) -> tuple[str, Optional[str]]:
    """Segment's own words from an error envelope `{"errors": [{"type", "message", "field", ...}]}`."""
    if isinstance(body, Mapping):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
            first = errors[0]
            message = first.get("message") or first.get("type") or "no message"
            return str(message), first.get("field")
    return "no error message in the response", None


def unauthorized(host: str) -> AirbyteTracedException:
    message = (
        f"Segment rejected the API token (HTTP 401 from {host}): the token is invalid, expired, or belongs to a "
        "workspace in the other region. Check `api_token`, and set `region` to `eu` for EU workspaces "
        "(eu1.api.segmentapis.com) or `us` otherwise."
    )
    return AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.config_error)


def skip_warning(stream: str, status: int, feature: Optional[str]) -> str:
    if feature:
        need = FEATURES[feature]
        return (
            f"Skipping stream `{stream}`: Segment answered {status} because this workspace or token has no access to "
            f"{need}. Enable it in Segment (or upgrade the plan), or deselect the stream to silence this warning."
        )
    return (
        f"Skipping stream `{stream}`: Segment answered {status} (the token lacks permission for this resource). "
        "Give the token's role read access, or deselect the stream."
    )
