"""Tokens that are valid but limited (issue 14): Segment answers 401 both to a bad token and to a role without
access to one resource. A 401 on GET / is the token/region error; a 401 elsewhere, once GET / accepts the token,
skips that stream (or that parent's children) with one warning naming what it needs, and the rest syncs.
Feature-gated 404/422 "... not enabled" answers on a feature stream skip it the same way."""

import pytest
from airbyte_cdk.models import AirbyteStreamStatus, FailureType
from airbyte_cdk.test.mock_http.request import ANY_QUERY_PARAMS, HttpRequest
from airbyte_cdk.test.models.outcome import ExpectedOutcome

from unit_tests.builders import (
    TOKEN,
    US,
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
    warnings,
)

WORKSPACE = {"id": "ws1", "slug": "acme", "name": "Acme"}
ROLES = [{"id": "r1", "name": "Workspace Owner", "description": "all"}]
PERMISSION_401 = "The provided API token does not have permission to access the resource"


def _any(path: str) -> HttpRequest:
    return HttpRequest(US + path, query_params=ANY_QUERY_PARAMS)


def _workspace_ok(mocker) -> None:
    mocker.get(segment_request("/"), json_response({"data": {"workspace": WORKSPACE}}))


def _skips(output, stream: str) -> list:
    return [line for line in warnings(output) if line.startswith(f"Skipping stream `{stream}`")]


@pytest.mark.parametrize(
    "stream,path,need",
    [
        ("audit_events", "/audit-events", "the Audit Trail (Business tier)"),
        ("transformations", "/transformations", "Protocols"),
        ("tracking_plans", "/tracking-plans", "Protocols"),
        ("functions", "/functions", "Functions"),
        ("spaces", "/spaces", "Engage/Unify Spaces"),
        ("regulations", "/regulations", "Privacy"),
        ("users", "/users", "Access Management"),
        ("usage_mtu_workspace_daily", "/usage/mtu/daily", "workspace usage"),
    ],
)
def test_a_401_after_get_root_accepts_the_token_skips_only_that_stream_naming_what_it_needs(stream, path, need):
    with mocked_api(strict=False) as mocker:
        mocker.get(_any(path), error(401, PERMISSION_401))
        _workspace_ok(mocker)
        mocker.get(list_request("/roles"), page("roles", ROLES))
        output = run_read([stream, "roles"])
        paths = [request.path for request in sent(mocker)]
    assert records(output, "roles") == ROLES  # the rest syncs
    assert records(output, stream) == []
    assert error_traces(output) == []  # exit 0: no error trace
    (skip,) = _skips(output, stream)
    assert need in skip and "401" in skip and "Access Management > Tokens" in skip
    assert output.get_stream_statuses(stream)[-1] == AirbyteStreamStatus.INCOMPLETE
    assert output.get_stream_statuses("roles")[-1] == AirbyteStreamStatus.COMPLETE
    assert paths.count("/") == 1  # GET / asked once, to tell a narrow role from a bad token
    assert TOKEN not in serialized(output)


def test_get_root_is_asked_once_however_many_streams_answer_401():
    with mocked_api(strict=False) as mocker:
        for path in ("/audit-events", "/transformations", "/spaces", "/regulations"):
            mocker.get(_any(path), error(401, PERMISSION_401))
        _workspace_ok(mocker)
        output = run_read(["audit_events", "transformations", "spaces", "regulations"])
        paths = [request.path for request in sent(mocker)]
    assert paths.count("/") == 1
    assert {name: len(_skips(output, name)) for name in ("audit_events", "transformations", "spaces", "regulations")} == {
        "audit_events": 1, "transformations": 1, "spaces": 1, "regulations": 1,
    }
    assert error_traces(output) == []


def test_a_401_elsewhere_is_the_token_error_when_get_root_refuses_the_token_too():
    with mocked_api() as mocker:
        mocker.get(_any("/audit-events"), error(401, "Unauthorized"))
        mocker.get(segment_request("/"), error(401, "Unauthorized"))
        output = run_read(["audit_events"], expected_outcome=ExpectedOutcome.EXPECT_EXCEPTION)
    trace = error_traces(output)[0]  # the stream's error; the CDK adds its "streams did not sync" summary
    assert trace.failure_type == FailureType.config_error
    assert "invalid, expired" in trace.message and "`api_token`" in trace.message and "`region`" in trace.message
    assert _skips(output, "audit_events") == []


def test_a_401_on_the_workspace_stream_itself_is_the_token_error():
    with mocked_api() as mocker:
        mocker.get(segment_request("/"), error(401, "Unauthorized"))
        output = run_read(["workspace"], expected_outcome=ExpectedOutcome.EXPECT_EXCEPTION)
        assert len(sent(mocker)) == 1
    assert any("invalid, expired" in e.message for e in error_traces(output))


def test_a_401_on_every_parent_of_a_child_stream_skips_it_once_and_its_parent_syncs():
    plans = [{"id": f"tp{i}", "name": f"plan {i}", "type": "LIVE"} for i in range(4)]
    with mocked_api(strict=False) as mocker:
        mocker.get(_any("/tracking-plans"), page("trackingPlans", plans))
        for plan in plans:
            mocker.get(_any(f"/tracking-plans/{plan['id']}/rules"), error(401, PERMISSION_401))
        _workspace_ok(mocker)
        output = run_read(["tracking_plans", "tracking_plan_rules"], config(num_workers=1))
    assert [r["id"] for r in records(output, "tracking_plans")] == [p["id"] for p in plans]
    (skip,) = _skips(output, "tracking_plan_rules")
    assert "Protocols" in skip
    assert output.get_stream_statuses("tracking_plan_rules")[-1] == AirbyteStreamStatus.INCOMPLETE
    assert output.get_stream_statuses("tracking_plans")[-1] == AirbyteStreamStatus.COMPLETE
    assert error_traces(output) == []


def test_a_401_on_one_parent_after_another_answered_skips_that_parent_only():
    groups = [{"id": "g1", "name": "one", "memberCount": 1}, {"id": "g2", "name": "two", "memberCount": 1}]
    user = {"id": "u1", "name": "Ada", "email": "ada@example.com"}
    with mocked_api(strict=False) as mocker:
        mocker.get(_any("/groups"), page("userGroups", groups))
        mocker.get(_any("/groups/g1/users"), page("users", [user]))
        mocker.get(_any("/groups/g2/users"), error(401, PERMISSION_401))
        _workspace_ok(mocker)
        output = run_read(["group_users"], config(num_workers=1))
    assert [(r["groupId"], r["id"]) for r in records(output, "group_users")] == [("g1", "u1")]
    assert _skips(output, "group_users") == []
    assert output.get_stream_statuses("group_users")[-1] == AirbyteStreamStatus.COMPLETE


@pytest.mark.parametrize("status", [404, 422])
@pytest.mark.parametrize(
    "stream,path,version,need",
    [("spaces", "/spaces", "alpha", "Engage/Unify Spaces"), ("transformations", "/transformations", "v1", "Protocols")],
)
def test_feature_not_enabled_on_a_feature_stream_skips_it_naming_the_feature(status, stream, path, version, need):
    with mocked_api(strict=False) as mocker:
        mocker.get(_any(path), error(status, f"The {need} feature is not enabled for this workspace"))
        mocker.get(list_request("/roles"), page("roles", ROLES))
        output = run_read([stream, "roles"])
    (skip,) = _skips(output, stream)
    assert f"answered {status}" in skip and need in skip and "not enabled" in skip
    assert records(output, "roles") == ROLES
    assert output.get_stream_statuses(stream)[-1] == AirbyteStreamStatus.INCOMPLETE
    assert error_traces(output) == []


def test_a_422_that_is_not_about_a_feature_still_fails_the_stream():
    with mocked_api() as mocker:
        mocker.get(_any("/spaces"), error(422, "Invalid filter"))
        output = run_read(["spaces"], expected_outcome=ExpectedOutcome.EXPECT_EXCEPTION)
    assert any("Invalid filter" in e.message for e in error_traces(output))
    assert _skips(output, "spaces") == []


def test_not_enabled_on_a_stream_no_feature_gates_fails_rather_than_hiding_rows():
    with mocked_api() as mocker:
        mocker.get(_any("/roles"), error(422, "feature is not enabled"))
        output = run_read(["roles"], expected_outcome=ExpectedOutcome.EXPECT_EXCEPTION)
    assert error_traces(output)
    assert _skips(output, "roles") == []
