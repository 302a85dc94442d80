"""`check` (GET / and what each answer tells the user) and `discover` (the workspace streams and their keys)."""

import logging

import pytest
from airbyte_cdk.models import Status, SyncMode

from source_segment import SourceSegment
from unit_tests.builders import EU, TOKEN, US, config, error, json_response, mocked_api, run_discover, segment_request, sent

LOGGER = logging.getLogger("airbyte")
WORKSPACE = {"id": "9aQ1Lj62S4bomZKLF4DPqW", "slug": "acme-prod", "name": "Acme Production"}

WORKSPACE_STREAM_KEYS = {
    "workspace": [["id"]],
    "sources": [["id"]],
    "destinations": [["id"]],
    "warehouses": [["id"]],
    "catalog_sources": [["id"]],
    "catalog_destinations": [["id"]],
    "catalog_warehouses": [["id"]],
    "tracking_plans": [["id"]],
    "users": [["id"]],
    "groups": [["id"]],
    "roles": [["id"]],
    "invites": [["email"]],
    "labels": [["key"], ["value"]],
    "transformations": [["id"]],
    "functions": [["id"]],
    "spaces": [["id"]],
    "reverse_etl_models": [["id"]],
    "regulations": [["id"]],
}


def _check(cfg=None, response=None, base=US):
    with mocked_api() as mocker:
        mocker.get(segment_request("/", base=base), response)
        status = SourceSegment().check(LOGGER, cfg or config())
        requests = sent(mocker)
    assert len(requests) == 1
    assert TOKEN not in (status.message or "")
    return status


def test_check_succeeds_on_200_and_logs_workspace_name_and_slug(caplog):
    caplog.set_level(logging.INFO)
    status = _check(response=json_response({"data": {"workspace": WORKSPACE}}))
    assert status.status == Status.SUCCEEDED
    connected = [record.getMessage() for record in caplog.records if "Acme Production" in record.getMessage()]
    assert connected and "acme-prod" in connected[0]


def test_check_sends_the_bearer_token_and_v1_accept_header():
    with mocked_api() as mocker:
        mocker.get(segment_request("/"), json_response({"data": {"workspace": WORKSPACE}}))
        SourceSegment().check(LOGGER, config())
        (request,) = sent(mocker)
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/vnd.segment.v1+json"
    assert request.url == US + "/"


def test_check_fails_on_401_naming_the_token_and_the_region():
    status = _check(response=error(401, "Unauthorized"))
    assert status.status == Status.FAILED
    assert "token" in status.message and "`api_token`" in status.message
    assert "region" in status.message
    assert "invalid, expired" in status.message


def test_check_fails_on_403_explaining_the_plan_needs_public_api_access():
    status = _check(response=error(403, "Forbidden: workspace plan does not include the Public API"))
    assert status.status == Status.FAILED
    assert "plan" in status.message
    assert "Public API" in status.message
    assert "Forbidden: workspace plan does not include the Public API" in status.message  # Segment's own words too


def test_check_with_an_eu_token_against_the_us_host_tells_to_set_region_eu():
    # An EU workspace's token is unknown to the US host, which answers 401.
    status = _check(cfg=config(region="us"), response=error(401, "Unauthorized"))
    assert status.status == Status.FAILED
    assert "api.segmentapis.com" in status.message  # the host that refused it
    assert "set `region` to `eu`" in status.message


def test_check_against_the_eu_host_with_a_us_token_names_the_eu_host():
    status = _check(cfg=config(region="eu"), response=error(401, "Unauthorized"), base=EU)
    assert status.status == Status.FAILED
    assert "eu1.api.segmentapis.com" in status.message and "`region`" in status.message


def test_check_fails_without_stack_trace_after_server_errors_exhaust_retries(waits):
    with mocked_api() as mocker:
        mocker.get(segment_request("/"), [error(503, "unavailable")] * 3)
        status = SourceSegment().check(LOGGER, config(max_retries=2))
    assert status.status == Status.FAILED
    assert "503" in status.message and "Traceback" not in status.message
    assert waits == [1, 2]


# ------------------------------------------------------------------------------------------ discover


def test_discover_lists_every_workspace_stream_with_its_primary_key():
    output = run_discover()
    streams = {stream.name: stream for stream in output.catalog.catalog.streams}
    assert WORKSPACE_STREAM_KEYS.keys() <= streams.keys()
    for name, key in WORKSPACE_STREAM_KEYS.items():
        assert streams[name].source_defined_primary_key == key, name
        assert SyncMode.full_refresh in streams[name].supported_sync_modes, name
        assert streams[name].json_schema.get("properties"), name


def test_discover_makes_no_request():
    with mocked_api() as mocker:
        run_discover()
        assert sent(mocker) == []


@pytest.mark.parametrize("name", sorted(WORKSPACE_STREAM_KEYS))
def test_discovered_schema_declares_the_primary_key_fields(name):
    streams = {stream.name: stream for stream in run_discover().catalog.catalog.streams}
    properties = streams[name].json_schema["properties"]
    for (field,) in WORKSPACE_STREAM_KEYS[name]:
        assert field in properties
