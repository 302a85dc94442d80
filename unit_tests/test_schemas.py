#
# Checks the hand-written JSON schemas in source_segment/schemas/ against the schema contract:
# they load through the CDK's ResourceSchemaLoader with every $ref resolved, are valid Draft-07,
# keep additionalProperties true on every object, keep key fields non-null, and accept realistic records.
#

import copy
import importlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import jsonschema
import pytest
from airbyte_cdk.sources.utils.schema_helpers import ResourceSchemaLoader

SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "source_segment" / "schemas"
DRAFT_07 = "http://json-schema.org/draft-07/schema#"

EXPECTED_STREAMS = [
    # workspace-level
    "workspace",
    "sources",
    "destinations",
    "warehouses",
    "catalog_sources",
    "catalog_destinations",
    "catalog_warehouses",
    "tracking_plans",
    "users",
    "groups",
    "roles",
    "invites",
    "labels",
    "transformations",
    "functions",
    "spaces",
    "reverse_etl_models",
    "regulations",
    # incremental
    "audit_events",
    "usage_api_calls_workspace_daily",
    "usage_api_calls_per_source_daily",
    "usage_mtu_workspace_daily",
    "usage_mtu_per_source_daily",
    "event_volume_daily",
    # relationship substreams
    "source_connected_destinations",
    "source_connected_warehouses",
    "source_schema_settings",
    "warehouse_connected_sources",
    "destination_subscriptions",
    "destination_filters",
    "destination_delivery_metrics_summary",
    "tracking_plan_rules",
    "tracking_plan_sources",
    "group_users",
    # issue 13: operational history and Engage configuration
    "warehouse_syncs",
    "delivery_overview",
    "reverse_etl_syncs",
    "source_regulations",
    "audiences",
    "computed_traits",
    "function_versions",
]

# Primary-key, cursor and parent-id fields: must exist at top level and must not accept null.
KEY_FIELDS: Dict[str, List[str]] = {
    "workspace": ["id"],
    "sources": ["id"],
    "destinations": ["id"],
    "warehouses": ["id"],
    "catalog_sources": ["id"],
    "catalog_destinations": ["id"],
    "catalog_warehouses": ["id"],
    "tracking_plans": ["id"],
    "users": ["id"],
    "groups": ["id"],
    "roles": ["id"],
    "invites": ["email"],
    "labels": ["key", "value"],
    "transformations": ["id"],
    "functions": ["id"],
    "spaces": ["id"],
    "reverse_etl_models": ["id"],
    "regulations": ["id"],
    "audit_events": ["id", "timestamp"],
    "usage_api_calls_workspace_daily": ["timestamp"],
    "usage_api_calls_per_source_daily": ["sourceId", "timestamp"],
    "usage_mtu_workspace_daily": ["timestamp"],
    "usage_mtu_per_source_daily": ["sourceId", "timestamp"],
    "event_volume_daily": ["day", "sourceId", "eventName", "eventType"],  # "" for a part the API leaves out
    "source_connected_destinations": ["id", "sourceId"],
    "source_connected_warehouses": ["id", "sourceId"],
    "source_schema_settings": ["sourceId"],
    "warehouse_connected_sources": ["id", "warehouseId"],
    "destination_subscriptions": ["id", "destinationId"],
    "destination_filters": ["id", "destinationId"],
    "destination_delivery_metrics_summary": ["sourceId", "destinationId", "windowStart"],
    "tracking_plan_rules": ["trackingPlanId", "type", "version"],
    "tracking_plan_sources": ["id", "trackingPlanId"],
    "group_users": ["id", "groupId"],
    "warehouse_syncs": ["warehouseId", "sourceId", "start"],
    "delivery_overview": ["stage", "sourceId", "destinationId", "time", "eventType", "discardReason"],
    "reverse_etl_syncs": ["syncId", "subscriptionId", "startedAt"],
    "source_regulations": ["sourceId", "id"],
    "audiences": ["spaceId", "id"],
    "computed_traits": ["spaceId", "id"],
    "function_versions": ["functionId", "id"],
}

# Counts the API sends as bigint strings, which the connector converts: the schema promises integers.
INTEGER_FIELDS: Dict[str, List[str]] = {
    "usage_api_calls_workspace_daily": ["apiCalls"],
    "usage_api_calls_per_source_daily": ["apiCalls"],
    "usage_mtu_workspace_daily": ["anonymous", "anonymousIdentified", "identified", "neverIdentified"],
    "usage_mtu_per_source_daily": ["anonymous", "anonymousIdentified", "identified", "neverIdentified"],
}

# JSON numbers in the SDK models (Union[StrictFloat, StrictInt]): a float is legal, so "integer" would reject it.
NUMBER_FIELDS: Dict[str, List[str]] = {
    "groups": ["memberCount"],
    "usage_mtu_workspace_daily": ["periodStart", "periodEnd"],
    "usage_mtu_per_source_daily": ["periodStart", "periodEnd"],
    "event_volume_daily": ["count"],
    "tracking_plan_rules": ["version"],
    "warehouse_syncs": ["duration", "count"],
    "delivery_overview": ["count", "retryCount"],
}

# Free-form, workspace-specific objects: no properties may be listed for them.
FREE_FORM_FIELDS: Dict[str, List[str]] = {
    "sources": ["settings"],
    "destinations": ["settings"],
    "warehouses": ["settings"],
    "source_connected_destinations": ["settings"],
    "source_connected_warehouses": ["settings"],
    "warehouse_connected_sources": ["settings"],
    "tracking_plan_sources": ["settings"],
    "destination_subscriptions": ["settings"],
}

# ------------------------------------------------------------------------------------------ sample records

LOGOS = {
    "default": "https://cdn.filepicker.io/api/file/aRgo4XJQZausZxD4gZQq",
    "mark": "https://cdn.filepicker.io/api/file/kBpKZH7zTUyxRhi3k5dI",
    "alt": None,
}
OPTIONS = [
    {"name": "apiKey", "type": "string", "required": True, "description": "Your API key.", "defaultValue": "", "label": "API Key"},
    {"name": "trackAllPages", "type": "boolean", "required": False, "description": None, "defaultValue": False, "label": None},
    {"name": "ignoredEvents", "type": "array", "required": False, "defaultValue": [], "label": "Ignored events"},
]
SOURCE_METADATA = {
    "id": "IqDTy1TpoU",
    "name": "Javascript",
    "slug": "javascript",
    "description": "Analytics.js is a JavaScript library for collecting analytics data.",
    "logos": LOGOS,
    "options": [],
    "categories": ["Website"],
    "isCloudEventSource": False,
    "status": "PUBLIC",
    "partnerOwned": None,
}
DESTINATION_METADATA = {
    "id": "5f7dd6d21ad74f3842b1fc47",
    "name": "Actions Amplitude",
    "description": "Send events to Amplitude.",
    "slug": "actions-amplitude",
    "logos": LOGOS,
    "options": OPTIONS,
    "status": "PUBLIC",
    "previousNames": ["Amplitude (Actions)"],
    "categories": ["Analytics"],
    "website": "https://amplitude.com",
    "components": [{"type": "SERVER", "code": "https://github.com/segmentio/action-destinations", "owner": "SEGMENT"}],
    "supportedFeatures": {
        "cloudModeInstances": "MULTIPLE",
        "deviceModeInstances": "NONE",
        "replay": True,
        "browserUnbundling": False,
        "browserUnbundlingPublic": None,
    },
    "supportedMethods": {"pageview": True, "identify": True, "alias": False, "track": True, "group": True},
    "supportedPlatforms": {"browser": True, "server": True, "mobile": True},
    "actions": [
        {
            "id": "s3gdG4vPDw3b9kqJX2fQxd",
            "slug": "logEventV2",
            "name": "Log Event V2",
            "description": "Send an event to Amplitude.",
            "platform": "CLOUD",
            "hidden": False,
            "defaultTrigger": None,
            "fields": [
                {
                    "id": "rD1dWwnGbBmA6PiJDFN8bN",
                    "sortOrder": 0,
                    "fieldKey": "user_id",
                    "label": "User ID",
                    "type": "STRING",
                    "description": "A readable ID specified by you.",
                    "placeholder": "",
                    "defaultValue": {"@path": "$.userId"},
                    "required": False,
                    "multiple": False,
                    "choices": None,
                    "dynamic": False,
                    "allowNull": True,
                }
            ],
        }
    ],
    "presets": [{"actionId": "s3gdG4vPDw3b9kqJX2fQxd", "name": "Track Calls", "fields": {}, "trigger": 'type = "track"'}],
    "contacts": None,
    "partnerOwned": False,
    "supportedRegions": ["us-west-2", "eu-west-1"],
    "regionEndpoints": None,
    "multiInstanceSupportedVersion": "SUPPORTED",
}
WAREHOUSE_METADATA = {
    "id": "aea3bdec6a4e",
    "name": "Snowflake",
    "slug": "snowflake",
    "description": "Snowflake is a data warehouse built for the cloud.",
    "logos": {"default": "https://cdn.filepicker.io/api/file/OBhrGoCRKaSyvAhDX3fw", "mark": None, "alt": None},
    "options": OPTIONS,
}
LABELS = [{"key": "environment", "value": "prod", "description": None}]
PERMISSIONS = [
    {
        "roleName": "Workspace Owner",
        "roleId": "1K5gbPt5GOMBvsVC9WCb7eP5wnS",
        "resources": [{"id": "9aQ1Lj62S4bomZKLF4DPqW", "type": "WORKSPACE", "labels": []}],
        "labels": None,
    }
]
SOURCE = {
    "id": "rh5BDZp6QDHvXFCkibm1pR",
    "slug": "website_prod",
    "name": None,
    "metadata": SOURCE_METADATA,
    "workspaceId": "9aQ1Lj62S4bomZKLF4DPqW",
    "enabled": True,
    "writeKeys": ["redacted:sha256:3f1c2a9b8d7e"],
    "settings": None,
    "labels": LABELS,
}
DESTINATION = {
    "id": "fP7qoQw2HTWt9WdMr718gn",
    "name": None,
    "enabled": True,
    "metadata": DESTINATION_METADATA,
    "sourceId": "rh5BDZp6QDHvXFCkibm1pR",
    "settings": {"apiKey": "<redacted>", "trackAllPages": False},
}
WAREHOUSE = {
    "id": "2ocVTbCqrAVFWnE3xcTPz6",
    "metadata": WAREHOUSE_METADATA,
    "workspaceId": "9aQ1Lj62S4bomZKLF4DPqW",
    "enabled": False,
    "settings": {"name": "analytics", "database": "SEGMENT"},
}
MTU = {
    "periodStart": 1667260800,
    "periodEnd": 1669852799,
    "anonymous": 8412,
    "anonymousIdentified": 120,
    "identified": 2711,
    "neverIdentified": 0,
    "timestamp": "2022-11-03T00:00:00Z",
}

SAMPLE_RECORDS: Dict[str, Dict[str, Any]] = {
    "workspace": {"id": "9aQ1Lj62S4bomZKLF4DPqW", "slug": "acme", "name": "Acme Inc."},
    "sources": SOURCE,
    "destinations": DESTINATION,
    "warehouses": WAREHOUSE,
    "catalog_sources": SOURCE_METADATA,
    "catalog_destinations": DESTINATION_METADATA,
    "catalog_warehouses": WAREHOUSE_METADATA,
    "tracking_plans": {
        "id": "tp_2Hw7Y6e4eWGV2b8C1ZUkXU8Kvm3",
        "name": "Web Tracking Plan",
        "slug": None,
        "description": None,
        "type": "LIVE",
        "updatedAt": "2022-11-01T16:41:20.000Z",
        "createdAt": None,
    },
    "users": {"id": "u_1", "name": "Jane Doe", "email": "jane@example.com", "permissions": PERMISSIONS},
    "groups": {"id": "g_1", "name": "Engineers", "memberCount": 12, "permissions": None},
    "roles": {"id": "1K5gbPt5GOMBvsVC9WCb7eP5wnS", "name": "Workspace Owner", "description": "Full access."},
    "invites": {"email": "new.hire@example.com"},
    "labels": {"key": "environment", "value": "prod", "description": None},
    "transformations": {
        "id": "2HnSXaFA5XRM5cmqTFuXbvZHbOv",
        "name": "Rename signup",
        "sourceId": "rh5BDZp6QDHvXFCkibm1pR",
        "destinationMetadataId": None,
        "enabled": True,
        "if": 'event = "Sign Up"',
        "drop": False,
        "newEventName": "Signed Up",
        "propertyRenames": [{"oldName": "plan_name", "newName": "plan"}],
        "propertyValueTransformations": [{"propertyPaths": ["properties.plan"], "propertyValue": "pro"}],
        "fqlDefinedProperties": None,
        "allowProperties": None,
        "hashPropertiesConfiguration": {"algorithm": "SHA-256", "key": None, "encoding": "HEX", "paths": ["traits.email"]},
    },
    "functions": {
        "id": "dfn_62c4f7b4e7d51e0d4a1aa8f5",
        "resourceType": "DESTINATION",
        "createdAt": "2022-07-06T02:34:28.000Z",
        "createdBy": "u_1",
        "displayName": "Send to webhook",
        "description": None,
        "logoUrl": None,
        "catalogId": "62c4f7b4e7d51e0d4a1aa8f5",
    },
    "spaces": {"id": "spa_9aQ1Lj62S4bomZKLF4DPqW", "slug": "production", "name": "Production"},
    "reverse_etl_models": {
        "id": "mdl_1",
        "sourceId": "rh5BDZp6QDHvXFCkibm1pR",
        "name": "Active users",
        "description": "",
        "enabled": True,
        "query": "select * from users",
        "queryIdentifierColumn": "id",
    },
    "regulations": {
        "id": "reg_1",
        "subjectType": "USER_ID",
        "subjects": ["user-123"],
        "status": "FINISHED",
        "createdAt": "2022-11-01T00:00:00Z",
        "regulationType": "SUPPRESS_WITH_DELETE",
        "finishedAt": None,
    },
    "audit_events": {
        "id": "2HKXdnXVpGB2aHZoUbJbjAGZ1Zw",
        "timestamp": "2022-11-15T09:01:02.123Z",
        "type": "Source Created",
        "actor": "u_1",
        "actorEmail": None,
        "resourceId": "rh5BDZp6QDHvXFCkibm1pR",
        "resourceType": "Source",
        "resourceName": "Website",
    },
    "usage_api_calls_workspace_daily": {"apiCalls": 120394, "timestamp": "2022-11-03T00:00:00Z"},
    "usage_api_calls_per_source_daily": {
        "sourceId": "rh5BDZp6QDHvXFCkibm1pR",
        "apiCalls": 0,
        "timestamp": "2022-11-03T00:00:00Z",
    },
    "usage_mtu_workspace_daily": MTU,
    "usage_mtu_per_source_daily": dict(MTU, sourceId="rh5BDZp6QDHvXFCkibm1pR", neverIdentified=None),
    "event_volume_daily": {
        "day": "2022-11-14",
        "sourceId": "",
        "sourceName": None,
        "sourceSlug": None,
        "eventName": "Order Completed",
        "eventType": "track",
        "count": 4521,
    },
    "source_connected_destinations": DESTINATION,
    "source_connected_warehouses": dict(WAREHOUSE, sourceId="rh5BDZp6QDHvXFCkibm1pR"),
    "source_schema_settings": {
        "sourceId": "rh5BDZp6QDHvXFCkibm1pR",
        "track": {
            "allowUnplannedEvents": True,
            "allowUnplannedEventProperties": True,
            "allowEventOnViolations": True,
            "allowPropertiesOnViolations": True,
            "commonEventOnViolations": "ALLOW",
        },
        "identify": {"allowUnplannedTraits": True, "allowTraitsOnViolations": False, "commonEventOnViolations": "OMIT_TRAITS"},
        "group": None,
        "forwardingViolationsTo": None,
        "forwardingBlockedEventsTo": None,
    },
    "warehouse_connected_sources": dict(SOURCE, warehouseId="2ocVTbCqrAVFWnE3xcTPz6"),
    "destination_subscriptions": {
        "id": "sub_1",
        "name": "Track Calls",
        "actionId": "s3gdG4vPDw3b9kqJX2fQxd",
        "actionSlug": "logEventV2",
        "destinationId": "fP7qoQw2HTWt9WdMr718gn",
        "enabled": True,
        "settings": {"user_id": {"@path": "$.userId"}},
        "trigger": 'type = "track"',
        "modelId": None,
        "reverseETLSchedule": None,
    },
    "destination_filters": {
        "id": "df_1",
        "sourceId": "rh5BDZp6QDHvXFCkibm1pR",
        "destinationId": "fP7qoQw2HTWt9WdMr718gn",
        "if": 'event = "Debug"',
        "actions": [
            {"type": "DROP"},
            {"id": "a2", "type": "SAMPLE", "fields": None, "percent": 0.25, "path": "userId"},
            {"type": "DROP_PROPERTIES", "fields": {"properties": ["email"]}},
        ],
        "title": "Drop debug events",
        "description": None,
        "enabled": True,
        "createdAt": "2022-10-01T12:00:00Z",
        "updatedAt": "2022-10-02T12:00:00Z",
    },
    "destination_delivery_metrics_summary": {
        "sourceId": "rh5BDZp6QDHvXFCkibm1pR",
        "destinationId": "fP7qoQw2HTWt9WdMr718gn",
        "destinationMetadataId": "5f7dd6d21ad74f3842b1fc47",
        "metrics": [
            {"metricName": "successes", "total": 1200, "breakdown": None},
            {"metricName": "failures", "total": 3.0, "breakdown": [{"metricName": "rate_limited", "value": 3}]},
        ],
        "windowStart": "2022-11-14T00:00:00Z",
        "windowEnd": "2022-11-15T00:00:00Z",
        "granularity": "DAY",
    },
    "tracking_plan_rules": {
        "trackingPlanId": "tp_2Hw7Y6e4eWGV2b8C1ZUkXU8Kvm3",
        "type": "TRACK",
        "key": "Order Completed",
        "jsonSchema": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {}},
        "version": 1,
        "createdAt": "2022-11-01T00:00:00Z",
        "updatedAt": None,
        "deprecatedAt": None,
    },
    "tracking_plan_sources": dict(SOURCE, trackingPlanId="tp_2Hw7Y6e4eWGV2b8C1ZUkXU8Kvm3"),
    "group_users": {"id": "u_1", "name": "Jane Doe", "email": "jane@example.com", "groupId": "g_1"},
    "warehouse_syncs": {"warehouseId": "wh_1", "sourceId": "src_1", "start": "2024-03-10T23:50:00.000Z", "end": None,
                        "status": "RUNNING", "duration": 612.5, "humanDuration": "10m 12s", "count": 1200,
                        "notices": [{"level": "warning", "message": "Column too long", "createdAt": "2024-03-10T23:55:00Z"}]},
    "delivery_overview": {"stage": "failed_delivery", "sourceId": "src_1", "destinationId": "dst_1", "time": "2024-03-10T10:00:00Z",
                          "eventType": "track", "discardReason": "Bad Request", "count": 5, "retryCount": None, "granularity": "HOUR"},
    "reverse_etl_syncs": {"syncId": "s_1", "subscriptionId": "sub_1", "modelId": "m_1", "sourceId": "src_1", "syncStatus": "SUCCESS",
                          "duration": "5m0s", "startedAt": "2024-03-10T10:00:00Z", "finishedAt": "2024-03-10T10:05:00Z",
                          "extractPhase": {"addedCount": "10", "updatedCount": "2", "deletedCount": "0", "extractCount": "12",
                                           "errorCode": "", "startedAt": "2024-03-10T10:00:00Z", "finishedAt": "2024-03-10T10:01:00Z"},
                          "loadPhase": {"deliverSuccessCount": "12", "deliverFailureCount": "0", "errorCode": "",
                                        "startedAt": "2024-03-10T10:01:00Z", "finishedAt": "2024-03-10T10:05:00Z"},
                          "error": None, "errorCode": None},
    "source_regulations": {"sourceId": "src_1", "id": "r_1", "subjectType": "USER_ID", "subjects": ["u_1"], "status": "FINISHED",
                           "createdAt": "2024-03-01T00:00:00Z", "regulationType": "SUPPRESS_WITH_DELETE", "finishedAt": ""},
    "audiences": {"spaceId": "spa_1", "id": "aud_1", "name": "Buyers", "description": None, "key": "buyers", "enabled": True,
                  "definition": None, "status": "Live", "createdBy": "u_1", "updatedBy": "u_1", "createdAt": "2024-01-01T00:00:00Z",
                  "updatedAt": "2024-01-02T00:00:00Z", "audienceType": "USERS", "computeCadence": {"type": "REALTIME"},
                  "size": {"count": 1.5e6, "type": "USERS"}, "options": {"filterByExternalIds": ["email"]},
                  "schedules": [{"id": "sch_1", "strategy": "SPECIFIC_DAYS", "config": {"days": [1], "hours": [9], "timezone": "UTC"}}]},
    "computed_traits": {"spaceId": "spa_1", "id": "ct_1", "name": "LTV", "description": None, "key": "ltv", "enabled": True,
                        "definition": {"query": "sum(revenue)", "type": "USERS"}, "status": None, "createdBy": "u_1",
                        "updatedBy": "u_1", "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-02T00:00:00Z",
                        "options": {"includeHistoricalData": True}},
    "function_versions": {"functionId": "fn_1", "id": "v_1", "author": None, "code": "async function onTrack() {}",
                          "isDeployed": True, "createdAt": None, "updatedAt": None, "deployedAt": "2024-01-02T00:00:00Z"},
}

# ------------------------------------------------------------------------------------------ helpers


def _types(node: Dict[str, Any]) -> List[str]:
    t = node.get("type", [])
    return [t] if isinstance(t, str) else list(t)


def _walk(node: Any, path: str = "$") -> Iterator[Tuple[str, Any]]:
    """Yield every schema dict nested in node (the structure is JSON, so recursion is shallow)."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


def _object_nodes(schema: Dict[str, Any]) -> Iterator[Tuple[str, Dict[str, Any]]]:
    for path, node in _walk(schema):
        # skip the "properties" maps themselves (their keys are field names, not keywords)
        if path.endswith(".properties"):
            continue
        if "object" in _types(node) or "properties" in node:
            yield path, node


def _raw_files() -> List[Path]:
    return sorted(SCHEMAS_DIR.glob("*.json")) + sorted((SCHEMAS_DIR / "shared").glob("*.json"))


@pytest.fixture(scope="module")
def schema_loader(tmp_path_factory) -> ResourceSchemaLoader:
    """ResourceSchemaLoader over source_segment's schemas, or over a throwaway copy if the package does not import yet."""
    try:
        package = importlib.import_module("source_segment")
        if package.__file__ and Path(package.__file__).resolve().parent == SCHEMAS_DIR.parent:
            yield ResourceSchemaLoader("source_segment")
            return
    except Exception:  # the package is being written concurrently; fall back to a copy of the schemas
        pass
    root = tmp_path_factory.mktemp("schema_pkg")
    package_name = "source_segment_schemas_under_test"
    package_dir = root / package_name
    package_dir.mkdir()
    (package_dir / "__init__.py").write_text("")
    shutil.copytree(SCHEMAS_DIR, package_dir / "schemas")
    sys.path.insert(0, str(root))
    try:
        yield ResourceSchemaLoader(package_name)
    finally:
        sys.path.remove(str(root))
        sys.modules.pop(package_name, None)


class _ResolvedSchemas(dict):
    """Loads each stream's schema on first use, so one broken file fails only that stream's tests."""

    def __init__(self, loader: ResourceSchemaLoader):
        super().__init__()
        self._loader = loader

    def __missing__(self, stream: str) -> Dict[str, Any]:
        self[stream] = self._loader.get_schema(stream)
        return self[stream]


@pytest.fixture(scope="module")
def schemas(schema_loader) -> Dict[str, Dict[str, Any]]:
    return _ResolvedSchemas(schema_loader)


# ------------------------------------------------------------------------------------------ tests


def test_every_expected_stream_has_a_schema_file():
    missing = [name for name in EXPECTED_STREAMS if not (SCHEMAS_DIR / f"{name}.json").is_file()]
    assert not missing


def test_no_schema_file_without_a_stream():
    extra = sorted(p.stem for p in SCHEMAS_DIR.glob("*.json") if p.stem not in EXPECTED_STREAMS)
    assert not extra


def test_every_file_is_valid_json():
    for path in _raw_files():
        json.loads(path.read_text())


@pytest.mark.parametrize("stream", EXPECTED_STREAMS)
def test_schema_loads_with_all_refs_resolved(schemas, stream):
    text = json.dumps(schemas[stream])
    assert "$ref" not in text
    assert "definitions" not in schemas[stream]


def test_shared_refs_nested_in_shared_files_are_resolved(schemas):
    # shared/source_metadata.json itself references shared/logos.json and shared/integration_options.json
    metadata = schemas["sources"]["properties"]["metadata"]
    assert "default" in metadata["properties"]["logos"]["properties"]
    assert "name" in metadata["properties"]["options"]["items"]["properties"]
    actions = schemas["destinations"]["properties"]["metadata"]["properties"]["actions"]
    assert "fields" in actions["items"]["properties"]


@pytest.mark.parametrize("stream", EXPECTED_STREAMS)
def test_schema_is_valid_draft7(schemas, stream):
    jsonschema.Draft7Validator.check_schema(schemas[stream])


@pytest.mark.parametrize("stream", EXPECTED_STREAMS)
def test_top_level_is_an_open_draft7_object(schemas, stream):
    schema = schemas[stream]
    assert schema["$schema"] == DRAFT_07
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is True
    assert schema["properties"]


@pytest.mark.parametrize("stream", EXPECTED_STREAMS)
def test_every_object_allows_additional_properties(schemas, stream):
    closed = [path for path, node in _object_nodes(schemas[stream]) if node.get("additionalProperties") is not True]
    assert not closed, f"object nodes without additionalProperties: true: {closed}"


def test_raw_shared_files_allow_additional_properties():
    for path in (SCHEMAS_DIR / "shared").glob("*.json"):
        closed = [p for p, node in _object_nodes(json.loads(path.read_text())) if node.get("additionalProperties") is not True]
        assert not closed, f"{path.name}: {closed}"


@pytest.mark.parametrize("stream", EXPECTED_STREAMS)
def test_key_fields_exist_at_top_level_and_are_non_null(schemas, stream):
    properties = schemas[stream]["properties"]
    for field in KEY_FIELDS[stream]:
        assert field in properties, f"{stream}.{field} missing"
        assert "null" not in _types(properties[field]), f"{stream}.{field} must be non-null"


@pytest.mark.parametrize("stream", EXPECTED_STREAMS)
def test_non_key_top_level_fields_accept_null(schemas, stream):
    not_nullable = [
        name
        for name, prop in schemas[stream]["properties"].items()
        if name not in KEY_FIELDS[stream] and "type" in prop and "null" not in _types(prop)
    ]
    assert not not_nullable


@pytest.mark.parametrize("stream", EXPECTED_STREAMS)
def test_top_level_fields_have_descriptions(schemas, stream):
    undocumented = [name for name, prop in schemas[stream]["properties"].items() if not prop.get("description")]
    assert not undocumented


@pytest.mark.parametrize("stream", EXPECTED_STREAMS)
def test_formats_only_annotate_strings(schemas, stream):
    for path, node in _walk(schemas[stream]):
        if path.endswith(".properties") or "format" not in node:
            continue
        assert node["format"] in ("date-time", "date"), path
        assert [t for t in _types(node) if t != "null"] == ["string"], path


@pytest.mark.parametrize("stream, fields", sorted(INTEGER_FIELDS.items()))
def test_counts_are_integers(schemas, stream, fields):
    for field in fields:
        assert [t for t in _types(schemas[stream]["properties"][field]) if t != "null"] == ["integer"], field


@pytest.mark.parametrize("stream, fields", sorted(NUMBER_FIELDS.items()))
def test_sdk_numbers_are_numbers_so_a_float_validates(schemas, stream, fields):
    for field in fields:
        assert [t for t in _types(schemas[stream]["properties"][field]) if t != "null"] == ["number"], field
        jsonschema.Draft7Validator(schemas[stream]).validate(dict(SAMPLE_RECORDS[stream], **{field: 1.5}))


@pytest.mark.parametrize("stream", ["audit_events", "regulations", "functions", "tracking_plans", "tracking_plan_rules",
                                    "destination_filters", "usage_api_calls_workspace_daily", "usage_mtu_per_source_daily"])
def test_plain_string_timestamps_claim_no_date_time_format(schemas, stream):
    # The SDK types these as plain strings: an empty or unusual value must not fail a strict destination.
    for name, prop in schemas[stream]["properties"].items():
        assert "format" not in prop, (stream, name)


@pytest.mark.parametrize("stream, fields", sorted(FREE_FORM_FIELDS.items()))
def test_workspace_specific_settings_stay_free_form(schemas, stream, fields):
    for field in fields:
        node = schemas[stream]["properties"][field]
        assert "object" in _types(node)
        assert node["additionalProperties"] is True
        assert "properties" not in node


def test_catalog_status_is_a_plain_string_not_an_enum(schemas):
    for stream in ("catalog_sources", "catalog_destinations"):
        status = schemas[stream]["properties"]["status"]
        assert "enum" not in status
        assert "string" in _types(status)


@pytest.mark.parametrize("stream", EXPECTED_STREAMS)
def test_sample_record_validates(schemas, stream):
    jsonschema.Draft7Validator(schemas[stream]).validate(SAMPLE_RECORDS[stream])


@pytest.mark.parametrize("stream", EXPECTED_STREAMS)
def test_sample_record_fields_are_all_described(schemas, stream):
    # every top-level field the sample (i.e. the API object) carries is a documented property
    assert not set(SAMPLE_RECORDS[stream]) - set(schemas[stream]["properties"])


@pytest.mark.parametrize("stream", EXPECTED_STREAMS)
def test_record_with_null_key_field_is_rejected(schemas, stream):
    validator = jsonschema.Draft7Validator(schemas[stream])
    for field in KEY_FIELDS[stream]:
        record = copy.deepcopy(SAMPLE_RECORDS[stream])
        record[field] = None
        assert not validator.is_valid(record), f"{stream}.{field}=None was accepted"


def test_usage_counts_sent_as_bigint_strings_are_rejected(schemas):
    # the API sends "A bigint" strings; the connector must convert them before emitting
    validator = jsonschema.Draft7Validator(schemas["usage_mtu_workspace_daily"])
    assert not validator.is_valid(dict(MTU, anonymous="8412"))
    validator = jsonschema.Draft7Validator(schemas["usage_api_calls_workspace_daily"])
    assert not validator.is_valid({"apiCalls": "120394", "timestamp": "2022-11-03T00:00:00Z"})


def test_extra_unknown_fields_are_accepted_at_every_level(schemas):
    record = copy.deepcopy(SAMPLE_RECORDS["sources"])
    record["newTopLevelField"] = {"x": 1}
    record["metadata"]["newMetadataField"] = True
    record["metadata"]["logos"]["newLogo"] = "https://example.com/logo.svg"
    record["labels"][0]["extra"] = 1
    jsonschema.Draft7Validator(schemas["sources"]).validate(record)
