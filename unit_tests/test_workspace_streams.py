"""Every workspace-level stream: the exact requests it sends and the records it emits, valid against its schema.

One table drives the common cases (endpoint, data key, API version, two pages of realistic records); the
streams with their own behaviour (workspace, labels, invites, functions, users, redaction) get their own tests.
"""

import copy
import re

import jsonschema
import pytest
from airbyte_cdk.models import AirbyteStreamStatus

from unit_tests.builders import (
    config,
    error,
    error_traces,
    json_response,
    list_request,
    mocked_api,
    page,
    records,
    run_read,
    segment_request,
    sent,
    serialized,
    stream_schemas,
    warnings,
)

WORKSPACE_ID = "9aQ1Lj62S4bomZKLF4DPqW"
SOURCE_ID = "rh5BDZp6QDHvXFCkibm1pR"
LOGOS = {"default": "https://cdn.filepicker.io/api/file/aRgo4XJQZausZxD4gZQq", "mark": "https://cdn.filepicker.io/api/file/kBpKZH7zTUyxRhi3k5dI", "alt": None}
OPTION = {"name": "apiKey", "type": "string", "required": True, "description": "Your API key.", "defaultValue": "", "label": "API Key"}
LABEL = {"key": "environment", "value": "prod", "description": "Production resources"}
PERMISSIONS = [
    {
        "roleName": "Source Admin",
        "roleId": "1K5gbPt5GOMBvsVC9WCb7eP5wnS",
        "resources": [{"id": SOURCE_ID, "type": "SOURCE", "labels": [LABEL]}],
        "labels": None,
    }
]
SOURCE_METADATA = {
    "id": "IqDTy1TpoU",
    "name": "Javascript",
    "slug": "javascript",
    "description": "Analytics.js collects data in the browser.",
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
    "options": [OPTION],
    "status": "PUBLIC",
    "previousNames": ["Amplitude (Actions)"],
    "categories": ["Analytics"],
    "website": "https://amplitude.com",
    "components": [{"type": "SERVER", "code": "https://github.com/segmentio/action-destinations", "owner": "SEGMENT"}],
    "supportedFeatures": {"cloudModeInstances": "MULTIPLE", "deviceModeInstances": "NONE", "replay": True, "browserUnbundling": False},
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
            "fields": [],
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
    "options": [OPTION],
}


def _two(first: dict, **second_changes) -> list:
    """Two records of a stream: a full one, and one with other ids and the optional fields null."""
    second = copy.deepcopy(first)
    second.update(second_changes)
    return [first, second]


# stream -> (endpoint, data key, Accept version key, [record on page 1, record on page 2])
LIST_STREAMS = {
    "sources": ("/sources", "sources", "v1", _two(
        {"id": SOURCE_ID, "slug": "website_prod", "name": "Website (prod)", "metadata": SOURCE_METADATA, "workspaceId": WORKSPACE_ID,
         "enabled": True, "writeKeys": ["wk_9f8e7d6c5b4a"], "settings": {"trackAllPages": True}, "labels": [LABEL]},
        id="src_2", slug="ios_app", name=None, enabled=False, writeKeys=[], settings=None, labels=[],
    )),
    "destinations": ("/destinations", "destinations", "v1", _two(
        {"id": "fP7qoQw2HTWt9WdMr718gn", "name": "Amplitude prod", "enabled": True, "metadata": DESTINATION_METADATA,
         "sourceId": SOURCE_ID, "settings": {"region": "EU", "trackAllPages": False}},
        id="dst_2", name=None, enabled=False, settings={},
    )),
    "warehouses": ("/warehouses", "warehouses", "v1", _two(
        {"id": "2ocVTbCqrAVFWnE3xcTPz6", "metadata": WAREHOUSE_METADATA, "workspaceId": WORKSPACE_ID, "enabled": True,
         "settings": {"name": "analytics", "database": "SEGMENT", "warehouse": "LOADING"}},
        id="wh_2", enabled=False, settings={"name": None},
    )),
    "catalog_sources": ("/catalog/sources", "sourcesCatalog", "v1", _two(SOURCE_METADATA, id="1bow82lmk", slug="ios", name="iOS", partnerOwned=True)),
    "catalog_destinations": ("/catalog/destinations", "destinationsCatalog", "v1", _two(
        DESTINATION_METADATA, id="54521fd525e721e32a72ee8f", slug="google-analytics", contacts=None, supportedRegions=None,
        multiInstanceSupportedVersion=None, actions=[], presets=[],
    )),
    "catalog_warehouses": ("/catalog/warehouses", "warehousesCatalog", "v1", _two(WAREHOUSE_METADATA, id="jb4szh2sdk", slug="bigquery", name="BigQuery")),
    "tracking_plans": ("/tracking-plans", "trackingPlans", "v1", _two(
        {"id": "tp_2Hw7Y6e4eWGV2b8C1ZUkXU8Kvm3", "name": "Web Tracking Plan", "slug": "web", "description": "Events from the website.",
         "type": "LIVE", "updatedAt": "2024-03-01T16:41:20.000Z", "createdAt": "2023-11-01T10:00:00.000Z"},
        id="tp_2", name=None, slug=None, description=None, type="PROPERTY_LIBRARY", updatedAt=None, createdAt=None,
    )),
    "users": ("/users", "users", "v1", _two(
        {"id": "u_jane", "name": "Jane Doe", "email": "jane@example.com", "permissions": PERMISSIONS},
        id="u_john", name="John Roe", email="john@example.com", permissions=None,
    )),
    "groups": ("/groups", "userGroups", "v1", _two(
        {"id": "g_eng", "name": "Engineers", "memberCount": 12, "permissions": PERMISSIONS},
        id="g_mkt", name="Marketing", memberCount=0, permissions=None,
    )),
    "roles": ("/roles", "roles", "v1", _two(
        {"id": "1K5gbPt5GOMBvsVC9WCb7eP5wnS", "name": "Workspace Owner", "description": "Full access to the workspace."},
        id="1K5gbPt5GOMBvsVC9WCb7eP5wnT", name="Workspace Member", description="",
    )),
    "transformations": ("/transformations", "transformations", "v1", _two(
        {"id": "2HnSXaFA5XRM5cmqTFuXbvZHbOv", "name": "Rename signup", "sourceId": SOURCE_ID, "destinationMetadataId": None,
         "enabled": True, "if": 'event = "Sign Up"', "drop": False, "newEventName": "Signed Up",
         "propertyRenames": [{"oldName": "plan_name", "newName": "plan"}],
         "propertyValueTransformations": [{"propertyPaths": ["properties.plan"], "propertyValue": "pro"}],
         "fqlDefinedProperties": None, "allowProperties": None,
         "hashPropertiesConfiguration": {"algorithm": "SHA-256", "key": None, "encoding": "HEX", "paths": ["traits.email"]}},
        id="tr_2", destinationMetadataId="5f7dd6d21ad74f3842b1fc47", drop=None, newEventName=None, propertyRenames=None,
        propertyValueTransformations=None, hashPropertiesConfiguration=None,
    )),
    "spaces": ("/spaces", "spaces", "alpha", _two({"id": "spa_prod", "slug": "production", "name": "Production"}, id="spa_dev", slug="dev", name="Dev")),
    "reverse_etl_models": ("/reverse-etl-models", "models", "alpha", _two(
        {"id": "mdl_active_users", "sourceId": SOURCE_ID, "name": "Active users", "description": "Users seen in 30 days",
         "enabled": True, "query": "select id, email from users where last_seen > current_date - 30", "queryIdentifierColumn": "id"},
        id="mdl_2", description="", enabled=False,
    )),
    "regulations": ("/regulations", "regulations", "v1", _two(
        {"id": "reg_1", "subjectType": "USER_ID", "subjects": ["user-123", "user-456"], "status": "FINISHED",
         "createdAt": "2024-05-01T00:00:00Z", "regulationType": "SUPPRESS_WITH_DELETE", "finishedAt": "2024-05-03T12:00:00Z"},
        id="reg_2", subjects=["user-789"], status="RUNNING", regulationType="DELETE_ONLY", finishedAt=None,
    )),
}
FUNCTION_TYPES = ("DESTINATION", "INSERT_DESTINATION", "INSERT_SOURCE", "INSERT_TRANSFORMATION", "SOURCE")
WORKSPACE = {"id": WORKSPACE_ID, "slug": "acme", "name": "Acme Inc."}
LABELS = [LABEL, {"key": "team", "value": "growth", "description": None}]
INVITES = ["new.hire@example.com", "contractor@agency.example"]


def emitted_form(record: dict) -> dict:
    """A record as it reaches the output: the CDK's AirbyteMessageSerializer (omit_none=True) drops the record's
    top-level null fields (nested nulls stay); a destination reads a missing field as null."""
    return {key: value for key, value in record.items() if value is not None}


@pytest.fixture(scope="module")
def schemas():
    return stream_schemas()


def _assert_valid(schemas, stream, emitted):
    validator = jsonschema.Draft7Validator(schemas[stream])
    for record in emitted:
        problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(record)]
        assert not problems, (stream, problems)


def _function(resource_type: str, n: int) -> dict:
    return {
        "id": f"dfn_{resource_type.lower()}_{n}",
        "resourceType": resource_type,
        "createdAt": "2024-07-06T02:34:28.000Z",
        "createdBy": "u_jane",
        "displayName": f"{resource_type.title()} function {n}",
        "description": None if n == 2 else "Forwards events to a webhook.",
        "logoUrl": None,
        "catalogId": f"cat_{resource_type.lower()}_{n}",
    }


# ------------------------------------------------------------------------------------------ list streams


@pytest.mark.parametrize("stream", sorted(LIST_STREAMS))
def test_list_stream_requests_two_pages_and_emits_their_records_as_sent(stream, schemas):
    endpoint, data_key, version, (first, second) = LIST_STREAMS[stream]
    with mocked_api() as mocker:
        mocker.get(list_request(endpoint, version=version), page(data_key, [first], next_cursor="MQ==", total=2))
        mocker.get(list_request(endpoint, cursor="MQ==", version=version), page(data_key, [second], current="MQ==", total=2))
        output = run_read(stream, config(redact_secrets=False))
        requests = sent(mocker)
    assert [request.path for request in requests] == [endpoint] * 2
    assert records(output) == [emitted_form(first), emitted_form(second)]  # nested objects kept, nothing flattened or added
    assert output.get_stream_statuses(stream)[-1] == AirbyteStreamStatus.COMPLETE
    assert error_traces(output) == []
    _assert_valid(schemas, stream, records(output))
    _assert_valid(schemas, stream, [first, second])  # the optional fields' nulls, as the API sends them, are allowed


@pytest.mark.parametrize("stream", sorted(LIST_STREAMS))
def test_list_stream_records_with_default_redaction_still_match_the_schema(stream, schemas):
    endpoint, data_key, version, items = LIST_STREAMS[stream]
    with mocked_api() as mocker:
        mocker.get(list_request(endpoint, version=version), page(data_key, copy.deepcopy(items)))
        output = run_read(stream)
    assert len(records(output)) == 2
    _assert_valid(schemas, stream, records(output))


def test_workspace_is_one_unpaginated_get_of_the_root(schemas):
    with mocked_api() as mocker:
        mocker.get(segment_request("/"), json_response({"data": {"workspace": WORKSPACE}}))
        output = run_read("workspace")
        (request,) = sent(mocker)
    assert request.url == "https://api.segmentapis.com/"
    assert records(output) == [WORKSPACE]
    _assert_valid(schemas, "workspace", records(output))


def test_labels_are_one_unpaginated_request(schemas):
    with mocked_api() as mocker:
        mocker.get(segment_request("/labels"), json_response({"data": {"labels": LABELS}}))
        output = run_read("labels")
        (request,) = sent(mocker)
    assert request.qs == {}
    assert records(output) == [emitted_form(label) for label in LABELS]
    _assert_valid(schemas, "labels", records(output))


def test_labels_ignore_a_next_cursor_since_the_endpoint_has_no_pagination():
    with mocked_api() as mocker:
        mocker.get(segment_request("/labels"), page("labels", LABELS, next_cursor="MQ=="))
        output = run_read("labels")
        assert len(sent(mocker)) == 1
    assert records(output) == [emitted_form(label) for label in LABELS]


def test_invites_are_emails_wrapped_as_objects_across_pages(schemas):
    with mocked_api() as mocker:
        mocker.get(list_request("/invites"), page("invites", INVITES[:1], next_cursor="MQ=="))
        mocker.get(list_request("/invites", cursor="MQ=="), page("invites", INVITES[1:]))
        output = run_read("invites")
    assert records(output) == [{"email": email} for email in INVITES]
    _assert_valid(schemas, "invites", records(output))


def test_functions_are_read_once_per_resource_type_each_paginated(schemas):
    with mocked_api() as mocker:
        for resource_type in FUNCTION_TYPES:
            mocker.get(list_request("/functions", resourceType=resource_type), page("functions", [_function(resource_type, 1)], next_cursor="MQ=="))
            mocker.get(list_request("/functions", cursor="MQ==", resourceType=resource_type), page("functions", [_function(resource_type, 2)]))
        output = run_read("functions")
        requests = sent(mocker)
    assert sorted(request.qs["resourcetype"][0].upper() for request in requests) == sorted(FUNCTION_TYPES * 2)
    assert records(output) == [emitted_form(_function(resource_type, n)) for resource_type in FUNCTION_TYPES for n in (1, 2)]
    _assert_valid(schemas, "functions", records(output))


def test_functions_with_one_worker_still_read_all_five_series():
    with mocked_api() as mocker:
        for resource_type in FUNCTION_TYPES:
            mocker.get(list_request("/functions", resourceType=resource_type), page("functions", [_function(resource_type, 1)]))
        output = run_read("functions", config(num_workers=1))
    assert [record["resourceType"] for record in records(output)] == list(FUNCTION_TYPES)


# ------------------------------------------------------------------------------------------ users


USER_WITH = {"id": "u_jane", "name": "Jane Doe", "email": "jane@example.com", "permissions": PERMISSIONS}
USER_WITHOUT = {"id": "u_john", "name": "John Roe", "email": "john@example.com"}
USER_GONE = {"id": "u_gone", "name": "Gone User", "email": "gone@example.com", "permissions": None}
JOHN_PERMISSIONS = [{"roleName": "Workspace Member", "roleId": "1K5gbPt5GOMBvsVC9WCb7eP5wnT", "resources": [{"id": WORKSPACE_ID, "type": "WORKSPACE"}]}]


def test_user_permissions_lookup_fills_missing_permissions_from_the_user_detail(schemas):
    with mocked_api() as mocker:
        mocker.get(list_request("/users"), page("users", [copy.deepcopy(USER_WITH), copy.deepcopy(USER_WITHOUT)], next_cursor="MQ=="))
        mocker.get(list_request("/users", cursor="MQ=="), page("users", [copy.deepcopy(USER_GONE)]))
        mocker.get(segment_request("/users/u_john"), json_response({"data": {"user": dict(USER_WITHOUT, permissions=JOHN_PERMISSIONS)}}))
        mocker.get(segment_request("/users/u_gone"), error(404, "Resource not found"))
        output = run_read("users", config(user_permissions_lookup=True))
        paths = [request.path for request in sent(mocker)]
    assert records(output) == [USER_WITH, dict(USER_WITHOUT, permissions=JOHN_PERMISSIONS), emitted_form(USER_GONE)]
    assert "/users/u_jane" not in paths  # permissions already listed: no lookup
    assert error_traces(output) == []
    _assert_valid(schemas, "users", records(output) + [USER_GONE])


def test_without_user_permissions_lookup_no_detail_request_is_made():
    with mocked_api() as mocker:
        mocker.get(list_request("/users"), page("users", [copy.deepcopy(USER_WITH), copy.deepcopy(USER_WITHOUT)]))
        output = run_read("users")
        paths = [request.path for request in sent(mocker)]
    assert paths == ["/users"]
    assert records(output) == [USER_WITH, USER_WITHOUT]


# ------------------------------------------------------------------------------------------ redaction

REDACTED = re.compile(r"^redacted:sha256:[0-9a-f]{12}$")
WRITE_KEYS = ["wk_live_4f9a8b7c6d5e4f3a", "wk_live_0a1b2c3d4e5f6a7b"]
DESTINATION_SECRETS = {"apiKey": "amp_key_51c0ffee", "secretKey": "amp_secret_deadbeef", "accessToken": "ya29.a0AfH6SMB", "password": "hunter2-long"}
DESTINATION_PLAIN = {"region": "EU", "trackAllPages": False, "username": "segment_loader", "endpoint": "https://api2.amplitude.com"}
WAREHOUSE_SECRETS = {"password": "Sn0wfl@ke-pass", "privateKey": "-----BEGIN PRIVATE KEY-----MIIEvQ"}
WAREHOUSE_PLAIN = {"database": "SEGMENT", "username": "LOADER", "warehouse": "LOADING", "port": 443}


def _redaction_read(cfg):
    source = dict(LIST_STREAMS["sources"][3][0], writeKeys=list(WRITE_KEYS), settings={"trackAllPages": True, "nested": {"clientSecret": "cs_1234567890"}})
    destination = dict(LIST_STREAMS["destinations"][3][0], settings={**DESTINATION_SECRETS, **DESTINATION_PLAIN, "enabled": True, "apiKeyOptional": ""})
    warehouse = dict(LIST_STREAMS["warehouses"][3][0], settings={**WAREHOUSE_SECRETS, **WAREHOUSE_PLAIN})
    with mocked_api() as mocker:
        mocker.get(list_request("/sources"), page("sources", [source]))
        mocker.get(list_request("/destinations"), page("destinations", [destination]))
        mocker.get(list_request("/warehouses"), page("warehouses", [warehouse]))
        output = run_read(["sources", "destinations", "warehouses"], cfg)
    return output, {stream: records(output, stream)[0] for stream in ("sources", "destinations", "warehouses")}


def _secrets():
    return WRITE_KEYS + ["cs_1234567890"] + list(DESTINATION_SECRETS.values()) + list(WAREHOUSE_SECRETS.values())


def test_redaction_is_on_by_default_and_replaces_write_keys_and_secret_settings(schemas):
    output, emitted = _redaction_read(config())
    assert all(REDACTED.match(key) for key in emitted["sources"]["writeKeys"])
    assert len(set(emitted["sources"]["writeKeys"])) == 2  # different keys stay distinguishable
    assert REDACTED.match(emitted["sources"]["settings"]["nested"]["clientSecret"])
    for key in DESTINATION_SECRETS:
        assert REDACTED.match(emitted["destinations"]["settings"][key]), key
    for key in WAREHOUSE_SECRETS:
        assert REDACTED.match(emitted["warehouses"]["settings"][key]), key
    text = serialized(output)
    assert not [secret for secret in _secrets() if secret in text]
    for stream, record in emitted.items():
        _assert_valid(schemas, stream, [record])


def test_redaction_leaves_non_secret_settings_untouched():
    _, emitted = _redaction_read(config())
    assert emitted["sources"]["settings"]["trackAllPages"] is True
    for key, value in DESTINATION_PLAIN.items():
        assert emitted["destinations"]["settings"][key] == value, key
    assert emitted["destinations"]["settings"]["enabled"] is True
    assert emitted["destinations"]["settings"]["apiKeyOptional"] == ""  # nothing to hide in an empty value
    for key, value in WAREHOUSE_PLAIN.items():
        assert emitted["warehouses"]["settings"][key] == value, key
    assert emitted["sources"]["slug"] == "website_prod" and emitted["sources"]["metadata"] == SOURCE_METADATA


def test_redaction_markers_are_stable_across_runs():
    _, first = _redaction_read(config())
    _, second = _redaction_read(config())
    assert first == second


def test_different_secret_values_get_different_markers():
    _, emitted = _redaction_read(config())
    # the warehouse and destination passwords differ, so must their markers
    assert emitted["destinations"]["settings"]["password"] != emitted["warehouses"]["settings"]["password"]


def test_with_redaction_off_values_are_emitted_as_sent():
    _, emitted = _redaction_read(config(redact_secrets=False))
    assert emitted["sources"]["writeKeys"] == WRITE_KEYS
    assert emitted["sources"]["settings"]["nested"]["clientSecret"] == "cs_1234567890"
    assert emitted["destinations"]["settings"] == {**DESTINATION_SECRETS, **DESTINATION_PLAIN, "enabled": True, "apiKeyOptional": ""}
    assert emitted["warehouses"]["settings"] == {**WAREHOUSE_SECRETS, **WAREHOUSE_PLAIN}


# ------------------------------------------------------------------------------------------ odd records


@pytest.mark.parametrize(
    "stream,endpoint,data_key,good,bad",
    [
        ("roles", "/roles", "roles", {"id": "r1", "name": "Owner", "description": ""}, [{"name": "No id", "description": ""}, {"id": None, "name": "Null id"}]),
        ("sources", "/sources", "sources", LIST_STREAMS["sources"][3][1], [{"slug": "orphan", "enabled": True}]),
        ("invites", "/invites", "invites", "ok@example.com", [None, 42]),
    ],
)
def test_records_missing_their_primary_key_are_dropped_with_a_warning(stream, endpoint, data_key, good, bad):
    with mocked_api() as mocker:
        mocker.get(list_request(endpoint), page(data_key, [bad[0], copy.deepcopy(good), *bad[1:]]))
        output = run_read(stream)
    expected = {"email": good} if isinstance(good, str) else emitted_form(good)
    assert records(output) == [expected]
    assert output.get_stream_statuses(stream)[-1] == AirbyteStreamStatus.COMPLETE
    assert len([line for line in warnings(output) if f"`{stream}`" in line]) == len(bad)


def test_labels_missing_part_of_their_composite_key_are_dropped():
    with mocked_api() as mocker:
        mocker.get(segment_request("/labels"), json_response({"data": {"labels": [{"key": "env", "value": None}, LABEL, {"value": "x"}]}}))
        output = run_read("labels")
    assert records(output) == [LABEL]
    assert len([line for line in warnings(output) if "`labels`" in line and "primary key" in line]) == 2


def test_an_empty_data_object_is_an_empty_stream_with_a_log_line():
    with mocked_api() as mocker:
        mocker.get(list_request("/sources"), json_response({"data": {}}))
        output = run_read("sources")
    assert records(output) == []
    assert output.get_stream_statuses("sources")[-1] == AirbyteStreamStatus.COMPLETE
