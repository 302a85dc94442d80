#
# The ten relationship substreams (issue 5): the child request per parent (path, Accept version, params), the
# parent id in every record, pagination inside a child, one parent listing per sync, the per-parent 404/403
# skips and the workspace-level 403 gate, delivery-metrics windows, and resuming after the last finished parent.
#
# Child slices may be fetched ahead on worker threads, so tests assert which requests were made (and how
# often), not their order; the order of emitted records and states is asserted.
#

from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, NamedTuple, Optional

import pytest
from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest
from airbyte_cdk.test.models.outcome import ExpectedOutcome

from unit_tests.builders import (
    TOKEN,
    all_states,
    config,
    error,
    error_messages,
    final_state,
    freeze_now,
    json_response,
    list_request,
    log_messages,
    page,
    record_client_calls,
    records,
    run_read,
    segment_request,
    warnings,
)

# A "now" with seconds, so the delivery-metrics window shows its truncation to the minute.
NOW = datetime(2024, 3, 10, 12, 0, 42, 123456, tzinfo=timezone.utc)
WINDOW_END = "2024-03-10T11:59:00Z"
WINDOW_START = "2024-03-09T11:59:00Z"


class Child(NamedTuple):
    stream: str
    parent_stream: str
    parent_path: str
    parent_key: str
    parent_prefix: str
    path: str  # with {id}
    data_key: str
    parent_field: str
    version: str
    paginated: bool
    item: Callable[[str, int], Dict[str, Any]]  # (parent id, n) -> the API's item
    primary_key: tuple


def _connected_destination(pid: str, n: int) -> Dict[str, Any]:
    return {"id": f"dst_{pid}_{n}", "name": f"Destination {n}", "enabled": True, "metadata": {"id": "meta_1", "name": "Webhooks"}}


def _connected_warehouse(pid: str, n: int) -> Dict[str, Any]:
    return {"id": f"wh_{pid}_{n}", "enabled": True, "metadata": {"id": "meta_2", "name": "Postgres"}}


def _schema_settings(pid: str, n: int) -> Dict[str, Any]:
    return {"track": {"allowUnplannedEvents": n % 2 == 0, "commonEventOnViolations": "ALLOW"}, "forwardingBlockedEventsTo": f"src_blocked_{pid}"}


def _connected_source(pid: str, n: int) -> Dict[str, Any]:
    return {"id": f"src_{pid}_{n}", "slug": f"source-{n}", "enabled": True, "labels": []}


def _subscription(pid: str, n: int) -> Dict[str, Any]:
    return {"id": f"sub_{pid}_{n}", "name": f"Send {n}", "actionId": "act_1", "actionSlug": "send", "trigger": 'type = "track"', "enabled": True}


def _filter(pid: str, n: int) -> Dict[str, Any]:
    return {"id": f"flt_{pid}_{n}", "sourceId": "src_x", "destinationId": pid, "if": 'event = "x"', "actions": [{"type": "DROP"}], "enabled": True}


def _delivery_metrics(pid: str, n: int) -> Dict[str, Any]:
    return {"sourceId": f"src_of_{pid}", "destinationMetadataId": "meta_1", "metrics": [{"metricName": "successes", "total": 10 * n, "breakdown": []}]}


def _rule(pid: str, n: int) -> Dict[str, Any]:
    return {"type": "TRACK", "key": f"Event {pid} {n}", "version": 1, "jsonSchema": {"type": "object"}, "createdAt": "2024-01-01T00:00:00Z"}


def _tracking_plan_source(pid: str, n: int) -> Dict[str, Any]:
    return {"id": f"src_{pid}_{n}", "slug": f"tp-source-{n}", "enabled": True}


def _group_user(pid: str, n: int) -> Dict[str, Any]:
    return {"id": f"usr_{pid}_{n}", "name": f"User {n}", "email": f"user{n}@example.com"}


CHILDREN = {
    c.stream: c
    for c in [
        Child("source_connected_destinations", "sources", "/sources", "sources", "src", "/sources/{id}/connected-destinations", "destinations", "sourceId", "v1", True, _connected_destination, ("sourceId", "id")),
        Child("source_connected_warehouses", "sources", "/sources", "sources", "src", "/sources/{id}/connected-warehouses", "warehouses", "sourceId", "v1", True, _connected_warehouse, ("sourceId", "id")),
        Child("source_schema_settings", "sources", "/sources", "sources", "src", "/sources/{id}/settings", "settings", "sourceId", "v1", False, _schema_settings, ("sourceId",)),
        Child("warehouse_connected_sources", "warehouses", "/warehouses", "warehouses", "wh", "/warehouses/{id}/connected-sources", "sources", "warehouseId", "v1", True, _connected_source, ("warehouseId", "id")),
        Child("destination_subscriptions", "destinations", "/destinations", "destinations", "dst", "/destinations/{id}/subscriptions", "subscriptions", "destinationId", "alpha", True, _subscription, ("id",)),
        Child("destination_filters", "destinations", "/destinations", "destinations", "dst", "/destination/{id}/filters", "filters", "destinationId", "v1", True, _filter, ("id",)),
        Child("destination_delivery_metrics_summary", "destinations", "/destinations", "destinations", "dst", "/destinations/{id}/delivery-metrics", "deliveryMetricsSummary", "destinationId", "beta", False, _delivery_metrics, ("sourceId", "destinationId")),
        Child("tracking_plan_rules", "tracking_plans", "/tracking-plans", "trackingPlans", "tp", "/tracking-plans/{id}/rules", "rules", "trackingPlanId", "v1", True, _rule, ("trackingPlanId", "type", "key", "version")),
        Child("tracking_plan_sources", "tracking_plans", "/tracking-plans", "trackingPlans", "tp", "/tracking-plans/{id}/sources", "sources", "trackingPlanId", "v1", True, _tracking_plan_source, ("trackingPlanId", "id")),
        Child("group_users", "groups", "/groups", "userGroups", "grp", "/groups/{id}/users", "users", "groupId", "v1", True, _group_user, ("groupId", "id")),
    ]
}
ALL_CHILDREN = [pytest.param(child, id=name) for name, child in CHILDREN.items()]
PAGINATED_CHILDREN = [pytest.param(child, id=name) for name, child in CHILDREN.items() if child.paginated]


# --- builders ------------------------------------------------------------------------------------------


def _parent(child: Child, n: int) -> Dict[str, Any]:
    pid = f"{child.parent_prefix}_{n}"
    record: Dict[str, Any] = {"id": pid, "name": f"Parent {n}"}
    if child.parent_stream == "destinations":
        record["sourceId"] = f"src_of_{pid}"
    if child.parent_stream == "groups":
        record["memberCount"] = 1
    return record


def _parents(child: Child, count: int) -> List[Dict[str, Any]]:
    return [_parent(child, n) for n in range(1, count + 1)]


def _mock_parents(m: HttpMocker, child: Child, parents: List[Dict[str, Any]]) -> HttpRequest:
    request = list_request(child.parent_path)
    m.get(request, page(child.parent_key, parents))
    return request


def _child_request(child: Child, parent: Dict[str, Any], cursor: Optional[str] = None) -> HttpRequest:
    path = child.path.format(id=parent["id"])
    if child.stream == "destination_delivery_metrics_summary":
        params = {"sourceId": parent["sourceId"], "granularity": "HOUR", "startTime": WINDOW_START, "endTime": WINDOW_END}
        return segment_request(path, params, version=child.version)
    if not child.paginated:
        return segment_request(path, version=child.version)
    return list_request(path, cursor=cursor, version=child.version)


def _child_response(child: Child, items: List[Dict[str, Any]], next_cursor: Optional[str] = None):
    if not child.paginated:
        (item,) = items
        return json_response({"data": {child.data_key: item}})
    return page(child.data_key, items, next_cursor=next_cursor)


def _mock_child(m: HttpMocker, child: Child, parent: Dict[str, Any], response=None) -> HttpRequest:
    request = _child_request(child, parent)
    m.get(request, response if response is not None else _child_response(child, [child.item(parent["id"], 1)]))
    return request


def _read_with_answers(monkeypatch, child: Child, answers: List[Any], read_config=None):
    """Reads `child` over one parent per answer: each parent's child request gets its answer (None: one item).
    Returns the parents and the read's output."""
    freeze_now(monkeypatch, NOW)
    parents = _parents(child, len(answers))
    with HttpMocker() as m:
        _mock_parents(m, child, parents)
        for parent, answer in zip(parents, answers):
            _mock_child(m, child, parent, answer)
        output = run_read(child.stream, read_config)
    return parents, output


def _expected(child: Child, parent: Dict[str, Any], n: int = 1) -> Dict[str, Any]:
    record = dict(child.item(parent["id"], n))
    record[child.parent_field] = parent["id"]
    if child.stream == "destination_delivery_metrics_summary":
        record.update(windowStart=WINDOW_START, windowEnd=WINDOW_END, granularity="HOUR")
    if child.stream == "tracking_plan_rules":
        record.setdefault("key", "")
    return record


def _parent_ids(output, child: Child) -> List[str]:
    return [r[child.parent_field] for r in records(output, child.stream)]


def _child_paths(calls: List[tuple], child: Child) -> List[str]:
    prefix = child.path.split("{id}")[0]
    return sorted(path for path, _, _ in calls if path.startswith(prefix) and path != child.parent_path)


# --- the request per parent and the parent id -----------------------------------------------------------


@pytest.mark.parametrize("child", ALL_CHILDREN)
def test_child_stream_requests_each_parent_once_and_names_the_parent_in_every_record(monkeypatch, child):
    freeze_now(monkeypatch, NOW)
    parents = _parents(child, 3)
    with HttpMocker() as m:
        _mock_parents(m, child, parents)
        requests = [_mock_child(m, child, parent) for parent in parents]
        output = run_read(child.stream)
        for request in requests:
            m.assert_number_of_calls(request, 1)

    assert records(output, child.stream) == [_expected(child, parent) for parent in parents]
    for record in records(output, child.stream):
        assert all(record.get(key) is not None for key in child.primary_key), record
    assert not output.errors


@pytest.mark.parametrize("child", PAGINATED_CHILDREN)
def test_child_stream_follows_pagination_inside_one_parent(monkeypatch, child):
    freeze_now(monkeypatch, NOW)
    parent = _parent(child, 1)
    with HttpMocker() as m:
        _mock_parents(m, child, [parent])
        m.get(_child_request(child, parent), _child_response(child, [child.item(parent["id"], 1), child.item(parent["id"], 2)], next_cursor="cGFnZTI="))
        second = _child_request(child, parent, cursor="cGFnZTI=")
        m.get(second, _child_response(child, [child.item(parent["id"], 3)]))
        output = run_read(child.stream)
        m.assert_number_of_calls(second, 1)

    assert records(output, child.stream) == [_expected(child, parent, n) for n in (1, 2, 3)]


def test_child_stream_reads_every_parent_of_a_paginated_parent_list(monkeypatch):
    child = CHILDREN["source_connected_warehouses"]
    parents = _parents(child, 3)
    with HttpMocker() as m:
        m.get(list_request("/sources"), page("sources", parents[:2], next_cursor="c291cmNlczI="))
        m.get(list_request("/sources", cursor="c291cmNlczI="), page("sources", parents[2:]))
        for parent in parents:
            _mock_child(m, child, parent)
        output = run_read(child.stream)

    assert _parent_ids(output, child) == ["src_1", "src_2", "src_3"]


# --- one parent listing per sync ---------------------------------------------------------------------------


SOURCE_CHILDREN = ["source_connected_destinations", "source_connected_warehouses", "source_schema_settings"]
DESTINATION_CHILDREN = ["destination_subscriptions", "destination_filters", "destination_delivery_metrics_summary"]


@pytest.mark.parametrize(
    "catalog_streams",
    [
        pytest.param(["sources"] + SOURCE_CHILDREN, id="sources-then-its-3-children"),
        pytest.param(SOURCE_CHILDREN, id="3-children-without-the-parent-stream"),
        pytest.param(
            SOURCE_CHILDREN + ["sources"],
            id="3-children-then-sources",
        ),
        pytest.param(["destinations"] + DESTINATION_CHILDREN, id="destinations-then-its-3-children"),
    ],
)
def test_parent_list_is_requested_once_per_sync_and_every_child_still_reads_all_parents(monkeypatch, catalog_streams):
    freeze_now(monkeypatch, NOW)
    children = [CHILDREN[name] for name in catalog_streams if name in CHILDREN]
    parents = _parents(children[0], 2)
    with HttpMocker() as m:
        parent_request = _mock_parents(m, children[0], parents)
        for child in children:
            for parent in parents:
                _mock_child(m, child, parent)
        output = run_read(catalog_streams)
        m.assert_number_of_calls(parent_request, 1)

    for child in children:  # never silently empty because the parent stream was read first
        assert _parent_ids(output, child) == [p["id"] for p in parents], child.stream
    parent_stream = children[0].parent_stream
    if parent_stream in catalog_streams:
        assert [r["id"] for r in records(output, parent_stream)] == [p["id"] for p in parents]


# --- per-parent 404 and 403, and the workspace gate ---------------------------------------------------------


@pytest.mark.parametrize("child", ALL_CHILDREN)
def test_404_for_one_parent_skips_that_parent_with_a_log_line_and_the_others_still_emit(monkeypatch, child):
    parents, output = _read_with_answers(monkeypatch, child, [None, error(404, "Not Found"), None])

    assert records(output, child.stream) == [_expected(child, parents[0]), _expected(child, parents[2])]
    assert any(parents[1]["id"] in line and "404" in line for line in log_messages(output, "INFO"))
    assert not [w for w in warnings(output) if "Skipping stream" in w]
    assert not output.errors


@pytest.mark.parametrize("child", ALL_CHILDREN)
def test_403_for_one_parent_after_one_that_answered_skips_only_that_parent(monkeypatch, child):
    forbidden = error(403, "Forbidden")
    parents, output = _read_with_answers(monkeypatch, child, [None, forbidden, forbidden, None])

    assert records(output, child.stream) == [_expected(child, parents[0]), _expected(child, parents[3])]
    info = log_messages(output, "INFO")
    assert any(parents[1]["id"] in line and "403" in line for line in info)
    assert any(parents[2]["id"] in line and "403" in line for line in info)
    assert not [w for w in warnings(output) if "Skipping stream" in w]
    assert not output.errors


@pytest.mark.parametrize("workers", [pytest.param(1, id="sequential"), pytest.param(4, id="prefetching")])
@pytest.mark.parametrize("child", ALL_CHILDREN)
def test_403_on_the_first_three_parents_skips_the_stream_with_a_warning_and_no_further_child_requests(monkeypatch, child, workers):
    freeze_now(monkeypatch, NOW)
    parents = _parents(child, 6)
    with HttpMocker() as m:
        _mock_parents(m, child, parents)
        forbidden = [_mock_child(m, child, parent, error(403, "Forbidden")) for parent in parents[:3]]
        later = [_mock_child(m, child, parent) for parent in parents[3:]]
        output = run_read(child.stream, config(num_workers=workers))
        for request in forbidden:
            m.assert_number_of_calls(request, 1)
        for request in later:
            m.assert_number_of_calls(request, 0)

    assert records(output, child.stream) == []
    skips = [w for w in warnings(output) if f"Skipping stream `{child.stream}`" in w]
    assert skips and all("403" in w and TOKEN not in w for w in skips), skips
    assert not output.errors


@pytest.mark.parametrize("child", ALL_CHILDREN)
def test_a_child_stream_gated_for_the_workspace_warns_exactly_once(monkeypatch, child):
    _, output = _read_with_answers(monkeypatch, child, [error(403, "Forbidden")] * 4, config(num_workers=1))

    skips = [w for w in warnings(output) if f"Skipping stream `{child.stream}`" in w]
    assert len(skips) == 1, skips


def test_403_on_every_parent_of_a_short_parent_list_still_skips_the_stream_with_a_warning(monkeypatch):
    child = CHILDREN["tracking_plan_rules"]
    parents = _parents(child, 2)
    with HttpMocker() as m:
        _mock_parents(m, child, parents)
        for parent in parents:
            _mock_child(m, child, parent, error(403, "Forbidden"))
        output = run_read(child.stream)

    assert records(output, child.stream) == []
    skips = [w for w in warnings(output) if "Skipping stream `tracking_plan_rules`" in w]
    assert len(skips) == 1 and "Protocols" in skips[0], skips


def test_gated_subscriptions_warning_names_the_alpha_feature(monkeypatch):
    child = CHILDREN["destination_subscriptions"]
    parents = _parents(child, 3)
    with HttpMocker() as m:
        _mock_parents(m, child, parents)
        for parent in parents:
            _mock_child(m, child, parent, error(403, "Forbidden"))
        output = run_read(child.stream, config(num_workers=1))

    skips = [w for w in warnings(output) if "Skipping stream `destination_subscriptions`" in w]
    assert skips and all("Destination Subscriptions" in w and "alpha" in w for w in skips)


# --- delivery metrics, tracking-plan rules ------------------------------------------------------------------


def test_delivery_metrics_asks_for_the_destination_source_over_the_last_24_hours_ending_a_minute_before_now(monkeypatch):
    freeze_now(monkeypatch, NOW)
    child = CHILDREN["destination_delivery_metrics_summary"]
    destination = {"id": "dst_1", "sourceId": "src_9", "name": "Webhook"}
    summary = {"sourceId": "src_9", "destinationMetadataId": "meta_1", "metrics": [{"metricName": "successes", "total": 42, "breakdown": []}]}
    with HttpMocker() as m:
        _mock_parents(m, child, [destination])
        request = segment_request(
            "/destinations/dst_1/delivery-metrics",
            {"sourceId": "src_9", "granularity": "HOUR", "startTime": "2024-03-09T11:59:00Z", "endTime": "2024-03-10T11:59:00Z"},
            version="beta",
        )
        m.get(request, json_response({"data": {"deliveryMetricsSummary": summary}}))
        output = run_read(child.stream)
        m.assert_number_of_calls(request, 1)

    assert records(output, child.stream) == [
        {**summary, "destinationId": "dst_1", "windowStart": "2024-03-09T11:59:00Z", "windowEnd": "2024-03-10T11:59:00Z", "granularity": "HOUR"}
    ]


def test_delivery_metrics_window_and_granularity_follow_the_config(monkeypatch):
    freeze_now(monkeypatch, NOW)
    destination = {"id": "dst_1", "sourceId": "src_9"}
    with HttpMocker() as m:
        m.get(list_request("/destinations"), page("destinations", [destination]))
        m.get(
            segment_request(
                "/destinations/dst_1/delivery-metrics",
                {"sourceId": "src_9", "granularity": "MINUTE", "startTime": "2024-03-10T08:59:00Z", "endTime": "2024-03-10T11:59:00Z"},
                version="beta",
            ),
            json_response({"data": {"deliveryMetricsSummary": {"destinationMetadataId": "meta_1", "metrics": []}}}),
        )
        output = run_read("destination_delivery_metrics_summary", config(delivery_metrics_granularity="MINUTE", delivery_metrics_window_hours=3))

    (record,) = records(output, "destination_delivery_metrics_summary")
    # a summary without its own sourceId gets the one it was asked for: the primary key stays complete
    assert (record["sourceId"], record["destinationId"], record["granularity"]) == ("src_9", "dst_1", "MINUTE")
    assert (record["windowStart"], record["windowEnd"]) == ("2024-03-10T08:59:00Z", "2024-03-10T11:59:00Z")


def test_delivery_metrics_skips_a_destination_without_a_source_with_a_log_line(monkeypatch):
    freeze_now(monkeypatch, NOW)
    child = CHILDREN["destination_delivery_metrics_summary"]
    destinations = [{"id": "dst_1", "sourceId": "src_of_dst_1"}, {"id": "dst_orphan"}, {"id": "dst_null", "sourceId": None}, {"id": "dst_3", "sourceId": "src_of_dst_3"}]
    calls = record_client_calls(monkeypatch)
    with HttpMocker() as m:
        _mock_parents(m, child, destinations)
        _mock_child(m, child, destinations[0])
        _mock_child(m, child, destinations[3])
        output = run_read(child.stream)

    assert _parent_ids(output, child) == ["dst_1", "dst_3"]
    assert _child_paths(calls, child) == ["/destinations/dst_1/delivery-metrics", "/destinations/dst_3/delivery-metrics"]
    info = log_messages(output, "INFO")
    assert any("dst_orphan" in line and "no source" in line for line in info)
    assert any("dst_null" in line and "no source" in line for line in info)
    assert not output.errors


def test_tracking_plan_rules_without_a_key_get_an_empty_key(monkeypatch):
    child = CHILDREN["tracking_plan_rules"]
    plan = {"id": "tp_1", "name": "Plan", "type": "LIVE"}
    rules = [
        {"type": "COMMON", "version": 1, "jsonSchema": {}},
        {"type": "IDENTIFY", "key": None, "version": 2, "jsonSchema": {}},
        {"type": "TRACK", "key": "Order Completed", "version": 1, "jsonSchema": {}},
    ]
    with HttpMocker() as m:
        m.get(list_request("/tracking-plans"), page("trackingPlans", [plan]))
        m.get(list_request("/tracking-plans/tp_1/rules"), page("rules", rules))
        output = run_read(child.stream)

    assert [(r["trackingPlanId"], r["type"], r["key"], r["version"]) for r in records(output, child.stream)] == [
        ("tp_1", "COMMON", "", 1),
        ("tp_1", "IDENTIFY", "", 2),
        ("tp_1", "TRACK", "Order Completed", 1),
    ]


# --- resumption ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("child", ALL_CHILDREN)
def test_read_resumed_after_a_parent_requests_only_the_parents_after_it_and_ends_with_a_null_checkpoint(monkeypatch, child):
    freeze_now(monkeypatch, NOW)
    parents = _parents(child, 4)
    with HttpMocker() as m:
        _mock_parents(m, child, parents)
        requests = [_mock_child(m, child, parent) for parent in parents]
        output = run_read(child.stream, state={child.stream: {"resume_after_parent": parents[1]["id"]}})
        for request, expected_calls in zip(requests, [0, 0, 1, 1]):
            m.assert_number_of_calls(request, expected_calls)

    assert _parent_ids(output, child) == [parents[2]["id"], parents[3]["id"]]
    assert final_state(output, child.stream) == {"resume_after_parent": None}


@pytest.mark.parametrize("child", ALL_CHILDREN)
def test_read_given_the_final_null_checkpoint_reads_every_parent_again(monkeypatch, child):
    freeze_now(monkeypatch, NOW)
    parents = _parents(child, 3)
    with HttpMocker() as m:
        _mock_parents(m, child, parents)
        for parent in parents:
            _mock_child(m, child, parent)
        first = run_read(child.stream)
        assert final_state(first, child.stream) == {"resume_after_parent": None}
        second = run_read(child.stream, state={child.stream: final_state(first, child.stream)})

    assert _parent_ids(second, child) == [p["id"] for p in parents]
    assert final_state(second, child.stream) == {"resume_after_parent": None}


def test_checkpoint_naming_a_parent_that_no_longer_exists_reads_every_parent(monkeypatch):
    child = CHILDREN["group_users"]
    parents = _parents(child, 2)
    with HttpMocker() as m:
        _mock_parents(m, child, parents)
        for parent in parents:
            _mock_child(m, child, parent)
        output = run_read(child.stream, state={child.stream: {"resume_after_parent": "grp_deleted"}})

    assert _parent_ids(output, child) == ["grp_1", "grp_2"]


@pytest.mark.parametrize("child", ALL_CHILDREN)
def test_interrupted_child_read_checkpoints_the_last_finished_parent_and_resumes_after_it(monkeypatch, child):
    freeze_now(monkeypatch, NOW)
    parents = _parents(child, 4)
    cfg = config(max_retries=1)
    with HttpMocker() as m:
        _mock_parents(m, child, parents)
        _mock_child(m, child, parents[0])
        _mock_child(m, child, parents[1])
        _mock_child(m, child, parents[2], [error(500, "Internal Server Error")] * 3)
        # Prefetched once parent 0 has answered, and awaited when parent 2 fails: requested exactly once, never emitted.
        prefetched = _mock_child(m, child, parents[3])
        interrupted = run_read(child.stream, cfg, expected_outcome=ExpectedOutcome.EXPECT_EXCEPTION)
        m.assert_number_of_calls(prefetched, 1)

    assert _parent_ids(interrupted, child) == [parents[0]["id"], parents[1]["id"]]
    assert final_state(interrupted, child.stream) == {"resume_after_parent": parents[1]["id"]}
    assert all(state["resume_after_parent"] is not None for state in all_states(interrupted, child.stream))
    assert any(parents[2]["id"] in message and "500" in message for message in error_messages(interrupted))

    with HttpMocker() as m:
        _mock_parents(m, child, parents)
        done = [_mock_child(m, child, parent) for parent in parents[:2]]
        rest = [_mock_child(m, child, parent) for parent in parents[2:]]
        resumed = run_read(child.stream, cfg, state={child.stream: final_state(interrupted, child.stream)})
        for request in done:
            m.assert_number_of_calls(request, 0)
        for request in rest:
            m.assert_number_of_calls(request, 1)

    assert _parent_ids(resumed, child) == [parents[2]["id"], parents[3]["id"]]
    assert final_state(resumed, child.stream) == {"resume_after_parent": None}


# --- users, as the parent of group_users ---------------------------------------------------------------------


def test_group_users_and_users_in_one_sync_read_their_own_endpoints(monkeypatch):
    groups = [{"id": "grp_1", "name": "Admins", "memberCount": 2}]
    users = [{"id": "usr_1", "name": "Ada", "email": "ada@example.com"}, {"id": "usr_2", "name": "Grace", "email": "grace@example.com"}]
    with HttpMocker() as m:
        m.get(list_request("/groups"), page("userGroups", groups))
        m.get(list_request("/users"), page("users", users))
        m.get(list_request("/groups/grp_1/users"), page("users", users))
        output = run_read(["users", "groups", "group_users"])

    assert [r["id"] for r in records(output, "users")] == ["usr_1", "usr_2"]
    assert [(r["groupId"], r["id"]) for r in records(output, "group_users")] == [("grp_1", "usr_1"), ("grp_1", "usr_2")]
    assert all("groupId" not in r for r in records(output, "users"))
