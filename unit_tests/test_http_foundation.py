"""The HTTP layer every stream shares: headers, cursor pagination, error mapping, 429 waits, retries, no token leaks.

Waits are recorded by the `waits` fixture (conftest.py) instead of slept.
"""

import email.utils
import json
from datetime import datetime, timedelta, timezone

import pytest
from airbyte_cdk.models import AirbyteStreamStatus, FailureType
from airbyte_cdk.test.mock_http import HttpResponse
from airbyte_cdk.test.mock_http.request import ANY_QUERY_PARAMS, HttpRequest
from airbyte_cdk.test.models.outcome import ExpectedOutcome

from source_segment.client import ACCEPT
from unit_tests.builders import (
    TOKEN,
    US,
    config,
    config_errors,
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

ROLES = [
    {"id": f"role_{n}", "name": f"Role {n}", "description": f"Grants level {n} access."}
    for n in range(1, 7)
]
FAIL = ExpectedOutcome.EXPECT_EXCEPTION


def _roles_read(responses, cfg=None, expected_outcome=ExpectedOutcome.EXPECT_SUCCESS):
    """Reads `roles` where GET /roles answers `responses` in turn; returns (output, requests sent)."""
    with mocked_api() as mocker:
        mocker.get(list_request("/roles"), responses)
        output = run_read("roles", cfg, expected_outcome=expected_outcome)
        return output, sent(mocker)


def _raw_page(data_key, items, pagination):
    return json_response({"data": {data_key: items, "pagination": pagination}})


# ------------------------------------------------------------------------------------------ headers


@pytest.mark.parametrize(
    "stream,endpoint,data_key,media_type",
    [
        ("sources", "/sources", "sources", "application/vnd.segment.v1+json"),
        ("roles", "/roles", "roles", "application/vnd.segment.v1+json"),
        ("spaces", "/spaces", "spaces", "application/vnd.segment.v1alpha+json"),
        ("reverse_etl_models", "/reverse-etl-models", "models", "application/vnd.segment.v1alpha+json"),
    ],
)
def test_requests_carry_bearer_token_and_the_endpoints_api_version(stream, endpoint, data_key, media_type):
    with mocked_api() as mocker:
        mocker.get(HttpRequest(US + endpoint, query_params=ANY_QUERY_PARAMS), page(data_key, []))
        run_read(stream)
        (request,) = sent(mocker)
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == media_type
    assert request.qs == {"pagination.count": ["1000"]}


def test_accept_media_types_are_segments_three_versions():
    assert ACCEPT == {
        "v1": "application/vnd.segment.v1+json",
        "beta": "application/vnd.segment.v1beta+json",
        "alpha": "application/vnd.segment.v1alpha+json",
    }


# ------------------------------------------------------------------------------------------ pagination


def test_pagination_follows_next_cursor_across_three_pages():
    with mocked_api() as mocker:
        mocker.get(list_request("/roles"), page("roles", ROLES[:2], next_cursor="Mg=="))
        mocker.get(list_request("/roles", cursor="Mg=="), page("roles", ROLES[2:4], next_cursor="NA==", current="Mg=="))
        mocker.get(list_request("/roles", cursor="NA=="), page("roles", ROLES[4:], current="NA=="))
        output = run_read("roles")
        queries = [request.qs for request in sent(mocker)]
    assert records(output) == ROLES
    assert queries == [
        {"pagination.count": ["1000"]},
        {"pagination.count": ["1000"], "pagination.cursor": ["mg=="]},  # requests_mock lower-cases .qs values
        {"pagination.count": ["1000"], "pagination.cursor": ["na=="]},
    ]


def test_pagination_stops_when_next_is_null():
    output, requests = _roles_read(_raw_page("roles", ROLES[:2], {"current": "MA==", "next": None, "previous": None, "totalEntries": 2}))
    assert records(output) == ROLES[:2]
    assert len(requests) == 1


def test_pagination_stops_when_next_is_absent():
    output, requests = _roles_read(_raw_page("roles", ROLES[:2], {"current": "MA=="}))
    assert records(output) == ROLES[:2]
    assert len(requests) == 1


def test_pagination_stops_when_the_page_has_no_pagination_object():
    output, requests = _roles_read(json_response({"data": {"roles": ROLES[:1]}}))
    assert records(output) == ROLES[:1]
    assert len(requests) == 1


def test_a_next_cursor_that_repeats_is_an_error_not_an_endless_loop():
    with mocked_api() as mocker:
        mocker.get(list_request("/roles"), page("roles", ROLES[:2], next_cursor="Mg=="))
        mocker.get(list_request("/roles", cursor="Mg=="), page("roles", ROLES[2:4], next_cursor="NA=="))
        mocker.get(list_request("/roles", cursor="NA=="), page("roles", ROLES[4:], next_cursor="Mg=="))
        output = run_read("roles", expected_outcome=FAIL)
        assert len(sent(mocker)) == 3
    trace = error_traces(output)[0]
    assert "'Mg=='" in trace.message and "twice" in trace.message and "`roles`" in trace.message
    assert output.get_stream_statuses("roles")[-1] == AirbyteStreamStatus.INCOMPLETE


def test_422_on_pagination_count_retries_once_with_200_and_keeps_paging():
    with mocked_api() as mocker:
        mocker.get(list_request("/roles"), error(422, "pagination.count must be between 1 and 200", field="pagination.count"))
        mocker.get(list_request("/roles", count=200), page("roles", ROLES[:3], next_cursor="Mw=="))
        mocker.get(list_request("/roles", count=200, cursor="Mw=="), page("roles", ROLES[3:]))
        output = run_read("roles")
        counts = [request.qs["pagination.count"] for request in sent(mocker)]
    assert records(output) == ROLES
    assert counts == [["1000"], ["200"], ["200"]]
    assert any("pagination.count=1000" in line and "200" in line for line in warnings(output))


def test_422_on_pagination_count_named_only_in_the_message_also_falls_back():
    with mocked_api() as mocker:
        mocker.get(list_request("/roles"), error(422, "Invalid value for pagination.count: 1000"))
        mocker.get(list_request("/roles", count=200), page("roles", ROLES))
        output = run_read("roles")
    assert records(output) == ROLES


def test_422_on_pagination_count_at_200_already_fails_instead_of_looping():
    with mocked_api() as mocker:
        mocker.get(list_request("/roles", count=200), error(422, "count too large", field="pagination.count"))
        output = run_read("roles", config(page_size=200), expected_outcome=FAIL)
        assert len(sent(mocker)) == 1
    assert "count too large" in error_traces(output)[0].message


def test_other_422_fails_with_segments_own_error_message():
    output, requests = _roles_read(error(422, "Invalid filter: resourceType FOO is not supported", field="resourceType"), expected_outcome=FAIL)
    assert len(requests) == 1
    trace = error_traces(output)[0]
    assert "Invalid filter: resourceType FOO is not supported" in trace.message
    assert "422" in trace.message and "`roles`" in trace.message
    assert output.get_stream_statuses("roles")[-1] == AirbyteStreamStatus.INCOMPLETE


def test_404_on_an_ungated_stream_fails_with_the_message():
    output, _ = _roles_read(error(404, "Resource not found"), expected_outcome=FAIL)
    assert "Resource not found" in error_traces(output)[0].message


def test_401_during_read_is_a_config_error_about_token_and_region():
    # A 401 elsewhere may be a narrow role (issue 14): GET / refusing the token too makes it the token error.
    with mocked_api() as mocker:
        mocker.get(list_request("/roles"), error(401, "Unauthorized"))
        mocker.get(segment_request("/"), error(401, "Unauthorized"))
        output = run_read("roles", expected_outcome=FAIL)
        requests = sent(mocker)
    assert [request.path for request in requests] == ["/roles", "/"]  # never retried
    trace = config_errors(output)[0]
    assert "invalid, expired" in trace.message and "`region`" in trace.message


# ------------------------------------------------------------------------------------------ gated streams


@pytest.mark.parametrize(
    "stream,request_,feature_words",
    [
        ("spaces", HttpRequest(US + "/spaces", query_params=ANY_QUERY_PARAMS), "Spaces"),
        ("transformations", HttpRequest(US + "/transformations", query_params=ANY_QUERY_PARAMS), "Protocols"),
        ("tracking_plans", HttpRequest(US + "/tracking-plans", query_params=ANY_QUERY_PARAMS), "Protocols"),
        ("reverse_etl_models", HttpRequest(US + "/reverse-etl-models", query_params=ANY_QUERY_PARAMS), "Reverse ETL"),
        ("audit_events", HttpRequest(US + "/audit-events", query_params=ANY_QUERY_PARAMS), "Audit Trail"),
    ],
)
def test_403_on_a_gated_stream_skips_it_with_a_warning_and_the_sync_succeeds(stream, request_, feature_words):
    with mocked_api() as mocker:
        mocker.get(request_, [error(403, "Forbidden")] * 1)
        mocker.get(list_request("/roles"), page("roles", ROLES[:1]))
        output = run_read([stream, "roles"])
    assert records(output, stream) == []
    assert records(output, "roles") == ROLES[:1]  # the sync goes on
    assert output.get_stream_statuses(stream)[-1] == AirbyteStreamStatus.INCOMPLETE  # skipped (issue 14)
    assert error_traces(output) == []
    skip = [line for line in warnings(output) if f"`{stream}`" in line]
    assert skip and feature_words in skip[0] and "403" in skip[0]


def test_403_on_functions_skips_the_stream_and_stops_requesting_more_function_types():
    with mocked_api(strict=False) as mocker:
        for resource_type in ("DESTINATION", "INSERT_DESTINATION", "INSERT_SOURCE", "INSERT_TRANSFORMATION", "SOURCE"):
            mocker.get(list_request("/functions", resourceType=resource_type), error(403, "Forbidden"))
        output = run_read("functions")
        requests = sent(mocker)
    assert records(output) == []
    assert output.get_stream_statuses("functions")[-1] == AirbyteStreamStatus.INCOMPLETE  # skipped (issue 14)
    assert 1 <= len(requests) <= 4  # at most the prefetched types (num_workers=4), never all five
    skip = [line for line in warnings(output) if "`functions`" in line]
    assert skip and "Functions" in skip[0]


def test_403_on_functions_logs_the_skip_warning_once():
    with mocked_api(strict=False) as mocker:
        for resource_type in ("DESTINATION", "INSERT_DESTINATION", "INSERT_SOURCE", "INSERT_TRANSFORMATION", "SOURCE"):
            mocker.get(list_request("/functions", resourceType=resource_type), error(403, "Forbidden"))
        output = run_read("functions")
    assert len([line for line in warnings(output) if "`functions`" in line]) == 1


def test_404_on_regulations_is_an_empty_stream_and_the_sync_succeeds():
    with mocked_api() as mocker:
        mocker.get(list_request("/regulations"), error(404, "Resource not found"))
        output = run_read("regulations")
    assert records(output) == []
    assert output.get_stream_statuses("regulations")[-1] == AirbyteStreamStatus.COMPLETE
    assert error_traces(output) == []


# ------------------------------------------------------------------------------------------ 429


def _http_date(seconds_ahead: int) -> str:
    return email.utils.format_datetime(datetime.now(timezone.utc) + timedelta(seconds=seconds_ahead), usegmt=True)


def test_429_waits_retry_after_seconds_then_reads(waits):
    output, requests = _roles_read([error(429, "Too many requests", headers={"Retry-After": "7"}), page("roles", ROLES)])
    assert waits == [7]
    assert records(output) == ROLES and len(requests) == 2


def test_429_retry_after_wins_over_the_body_and_reset_header(waits):
    throttled = error(429, "Too many requests", headers={"Retry-After": "3", "X-RateLimit-Reset": _http_date(50)}, data={"msBeforeNext": 20000})
    output, _ = _roles_read([throttled, page("roles", ROLES)])
    assert waits == [3]
    assert records(output) == ROLES


def test_429_waits_ms_before_next_from_the_body(waits):
    body = {"remainingPoints": 0, "msBeforeNext": 2500, "consumedPoints": 21}
    output, _ = _roles_read([error(429, "Too many requests", data=body), page("roles", ROLES)])
    assert waits == [2.5]
    assert records(output) == ROLES


def test_429_ms_before_next_beats_the_reset_header(waits):
    throttled = error(429, "Too many requests", headers={"X-RateLimit-Reset": _http_date(40)}, data={"msBeforeNext": 1500})
    output, _ = _roles_read([throttled, page("roles", ROLES)])
    assert waits == [1.5]


def test_429_waits_until_the_x_ratelimit_reset_date(waits):
    output, _ = _roles_read([error(429, "Too many requests", headers={"X-RateLimit-Reset": _http_date(30)}), page("roles", ROLES)])
    assert len(waits) == 1 and 29 <= waits[0] <= 31
    assert records(output) == ROLES


def test_429_with_a_reset_date_in_the_past_retries_at_once(waits):
    output, _ = _roles_read([error(429, "Too many requests", headers={"X-RateLimit-Reset": _http_date(-5)}), page("roles", ROLES)])
    assert waits == [0]
    assert records(output) == ROLES


def test_429_without_any_signal_backs_off_exponentially(waits):
    output, _ = _roles_read([error(429, "Too many requests")] * 3 + [page("roles", ROLES)])
    assert waits == [1, 2, 4]
    assert records(output) == ROLES


def test_429_without_any_signal_still_retries_and_reads(waits):
    output, _ = _roles_read([error(429, "Too many requests"), page("roles", ROLES)])
    assert waits == [1]
    assert records(output) == ROLES


def test_repeated_429s_each_wait_as_told_and_do_not_use_up_the_retry_budget(waits):
    throttled = [error(429, "Too many requests", headers={"Retry-After": "2"})] * 4
    output, requests = _roles_read(throttled + [page("roles", ROLES)], cfg=config(max_retries=1))
    assert waits == [2, 2, 2, 2]
    assert records(output) == ROLES and len(requests) == 5


def test_429_beyond_max_rate_limit_wait_seconds_is_a_transient_error(waits):
    throttled = [error(429, "Too many requests", headers={"Retry-After": "6"})] * 2
    output, requests = _roles_read(throttled, cfg=config(max_rate_limit_wait_seconds=10), expected_outcome=FAIL)
    assert waits == [6]
    assert len(requests) == 2
    trace = error_traces(output)[0]
    assert trace.failure_type == FailureType.transient_error
    assert "max_rate_limit_wait_seconds=10" in trace.message
    assert records(output) == []


# ------------------------------------------------------------------------------------------ pacing by the headers


def _paged_roles(headers_per_page, cfg=None):
    """Three pages of roles, each answer with the given rate-limit headers."""
    pages = [ROLES[:2], ROLES[2:4], ROLES[4:]]
    cursors = [None, "Mg==", "NA=="]
    with mocked_api() as mocker:
        for n, (items, headers) in enumerate(zip(pages, headers_per_page)):
            body = {"data": {"roles": items, "pagination": {"current": "MA==", "next": cursors[n + 1] if n < 2 else None, "totalEntries": 6}}}
            mocker.get(list_request("/roles", cursor=cursors[n]), json_response(body, headers=headers))
        return run_read("roles", cfg)


def test_with_room_reported_the_requests_go_without_any_wait(budget_waits):
    plenty = {"X-RateLimit-Remaining": "4000", "X-RateLimit-Consumed": "1", "X-RateLimit-Reset": _http_date(60)}
    output = _paged_roles([plenty] * 3)
    assert records(output) == ROLES
    assert budget_waits == []


def test_when_the_reported_room_is_spent_the_next_request_waits_for_the_reset(budget_waits):
    spent = {"X-RateLimit-Remaining": "1", "X-RateLimit-Consumed": "599", "X-RateLimit-Reset": _http_date(30)}
    plenty = {"X-RateLimit-Remaining": "598", "X-RateLimit-Consumed": "2", "X-RateLimit-Reset": _http_date(60)}
    output = _paged_roles([spent, plenty, plenty])
    assert records(output) == ROLES
    assert len(budget_waits) == 1 and 28 < budget_waits[0] <= 30


def test_requests_per_minute_is_a_hard_cap_even_when_the_server_reports_room(budget_waits):
    plenty = {"X-RateLimit-Remaining": "4000", "X-RateLimit-Consumed": "1", "X-RateLimit-Reset": _http_date(60)}
    output = _paged_roles([plenty] * 3, config(requests_per_minute=2))
    assert records(output) == ROLES
    assert len(budget_waits) == 1 and 59 < budget_waits[0] <= 61


def test_after_a_429_the_budget_holds_back_for_its_retry_after_not_the_later_reset_date(waits, budget_waits):
    throttled = error(429, "Too many requests", headers={"Retry-After": "7", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": _http_date(50)})
    output, _ = _roles_read([throttled, page("roles", ROLES)])
    assert waits == [7]
    # Here the client's 7 s were recorded, not slept, so the budget asks for them again; never for the 50 s.
    assert budget_waits and all(wait <= 7 for wait in budget_waits)
    assert records(output) == ROLES


# ------------------------------------------------------------------------------------------ 5xx and bad bodies


def test_server_errors_are_retried_with_exponential_backoff_then_records_arrive(waits):
    html = HttpResponse("<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>", status_code=503, headers={"Content-Type": "text/html"})
    responses = [error(500, "internal"), error(502, "bad gateway"), html, error(504, "gateway timeout"), page("roles", ROLES)]
    output, requests = _roles_read(responses)
    assert waits == [1, 2, 4, 8]
    assert records(output) == ROLES and len(requests) == 5
    assert error_traces(output) == []


def test_408_request_timeout_is_retried(waits):
    output, _ = _roles_read([error(408, "timeout"), page("roles", ROLES)])
    assert waits == [1]
    assert records(output) == ROLES


def test_server_errors_beyond_max_retries_fail_with_a_trace(waits):
    output, requests = _roles_read([error(500, "internal")] * 4, cfg=config(max_retries=3), expected_outcome=FAIL)
    assert waits == [1, 2, 4]
    assert len(requests) == 4
    trace = error_traces(output)[0]
    assert "HTTP 500" in trace.message and "gave up after 4 attempts" in trace.message
    assert trace.failure_type == FailureType.transient_error
    assert output.get_stream_statuses("roles")[-1] == AirbyteStreamStatus.INCOMPLETE


def test_backoff_is_capped_at_60_seconds(waits):
    output, _ = _roles_read([error(502, "bad gateway")] * 8 + [page("roles", ROLES)], cfg=config(max_retries=8))
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]
    assert records(output) == ROLES


@pytest.mark.parametrize(
    "body",
    ["<html>Bad Gateway</html>", '{"data": {"roles": [{"id": "role_1", "na', ""],
    ids=["html", "truncated-json", "empty"],
)
def test_200_with_a_body_that_is_not_json_is_retried(waits, body):
    output, requests = _roles_read([HttpResponse(body, status_code=200), page("roles", ROLES)])
    assert waits == [1]
    assert records(output) == ROLES and len(requests) == 2


def test_200_without_a_data_object_is_an_empty_page_with_a_warning():
    output, _ = _roles_read(json_response({"unexpected": True}))
    assert records(output) == []
    assert any("`roles`" in line and "no `data`" in line for line in warnings(output))


# ------------------------------------------------------------------------------------------ redirects and secrets


def _redirected_read(status):
    evil = "https://collector.evil.example"
    with mocked_api(strict=False) as mocker:
        mocker.get(list_request("/roles"), HttpResponse("", status_code=status, headers={"Location": evil + "/roles?pagination.count=1000"}))
        mocker.get(HttpRequest(evil + "/roles", query_params=ANY_QUERY_PARAMS), page("roles", ROLES))
        output = run_read("roles", expected_outcome=FAIL)
        return output, sent(mocker)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_are_never_followed_so_the_token_stays_with_segment(status):
    output, requests = _redirected_read(status)
    assert [request.hostname for request in requests] == ["api.segmentapis.com"]
    assert records(output) == []
    assert error_traces(output)
    assert output.get_stream_statuses("roles")[-1] == AirbyteStreamStatus.INCOMPLETE


@pytest.mark.parametrize("status", [302, 307])
def test_a_refused_redirect_fails_naming_the_status_and_where_it_pointed(status):
    output, _ = _redirected_read(status)
    message = error_traces(output)[0].message
    assert str(status) in message and "collector.evil.example" in message and "not followed" in message


FAILING_RUNS = [
    pytest.param([error(401, "Unauthorized")], {}, id="401"),
    pytest.param([error(500, "internal")] * 2, {"max_retries": 1}, id="5xx-exhausted"),
    pytest.param([error(429, "Too many requests", headers={"Retry-After": "5"})] * 2, {"max_rate_limit_wait_seconds": 5}, id="429-exhausted"),
    pytest.param([error(422, f"Bad token format Bearer {TOKEN}")], {}, id="422-echoing-the-token"),
    pytest.param([HttpResponse("", status_code=302, headers={"Location": "https://other.example/"})], {}, id="redirect"),
    pytest.param([HttpResponse("not json", status_code=200)] * 2, {"max_retries": 1}, id="invalid-json-exhausted"),
]


@pytest.mark.parametrize("responses,overrides", FAILING_RUNS)
def test_the_token_never_appears_in_the_output_of_a_failing_run(responses, overrides):
    output, _ = _roles_read(responses, cfg=config(**overrides), expected_outcome=FAIL)
    text = serialized(output)
    assert error_traces(output)  # it did fail, and said so
    assert TOKEN not in text
    assert TOKEN[:24] not in text  # not even a prefix of it


def test_the_token_never_appears_in_the_output_of_a_skipped_stream():
    with mocked_api() as mocker:
        mocker.get(list_request("/spaces", version="alpha"), error(403, f"token {TOKEN} lacks access"))
        output = run_read("spaces")
    assert TOKEN not in serialized(output)


def test_the_token_never_appears_in_the_output_of_a_successful_run_with_retries(waits):
    output, _ = _roles_read([error(503, "unavailable"), error(429, "slow down", data={"msBeforeNext": 10}), page("roles", ROLES)])
    assert records(output) == ROLES
    assert TOKEN not in serialized(output)
