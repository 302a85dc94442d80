#
# Issue 13 streams: warehouse_syncs, delivery_overview, reverse_etl_syncs, source_regulations, audiences,
# computed_traits and function_versions. Exact request URLs (HttpMocker), record shapes, cursors and state,
# running syncs re-emitted, Delivery Overview windows at the API's limits, and "not enabled" gating.
#

from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional

import pytest
from airbyte_cdk.models import SyncMode

from unit_tests.builders import (
    error,
    final_state,
    freeze_now,
    json_response,
    list_request,
    mocked_api,
    page,
    records,
    run_read,
    segment_request,
    warnings,
)

NOW = datetime(2024, 3, 10, 12, 30, 0, tzinfo=timezone.utc)
SOURCE = {"id": "src1", "slug": "web", "name": "Web"}
DESTINATION = {"id": "dst1", "sourceId": "src1", "name": "Amplitude"}
ORPHAN = {"id": "dst2", "sourceId": None, "name": "No source"}
WAREHOUSES = [{"id": "wh1"}, {"id": "wh2"}]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------ warehouse_syncs
def _sync(source_id: str, start: str, end: Any = "2024-03-10T01:00:00Z", status: str = "SUCCESS") -> Dict[str, Any]:
    item: Dict[str, Any] = {"sourceId": source_id, "start": start}
    if end != "absent":
        item["end"] = end
    item.update(status=status, duration=12.5, humanDuration="12s", count=100, notices=[])
    return item


WH1_SYNCS = [
    _sync("src1", "2024-03-10T11:00:00.000Z", end=None, status="RUNNING"),  # running: end null
    _sync("src1", "2024-03-10T10:00:00.000Z"),
    _sync("src2", "2024-03-10T09:30:00Z", end="absent", status="RUNNING"),  # running: end absent
    _sync("src1", "2024-03-10T09:00:00Z"),
]
WH2_SYNCS = [_sync("src3", "2024-03-10T12:00:00Z"), _sync("src3", "2024-03-10T08:00:00Z")]


def test_warehouse_syncs_full_refresh_requests_each_warehouse_and_holds_the_cursor_at_the_oldest_running_sync(monkeypatch):
    freeze_now(monkeypatch, NOW)
    with mocked_api() as m:
        m.get(list_request("/warehouses"), page("warehouses", WAREHOUSES))
        m.get(list_request("/warehouses/wh1/syncs"), page("reports", WH1_SYNCS))
        m.get(list_request("/warehouses/wh2/syncs"), page("reports", WH2_SYNCS))
        output = run_read("warehouse_syncs")
    emitted = records(output, "warehouse_syncs")
    # the CDK serialises records with omit_none: a top-level `end: null` arrives as no `end`, like an absent one
    expected = [dict(s, warehouseId="wh1") for s in WH1_SYNCS] + [dict(s, warehouseId="wh2") for s in WH2_SYNCS]
    assert emitted == [{k: v for k, v in e.items() if v is not None} for e in expected]
    # newest start is 12:00, but the sync started at 09:30 still runs: the cursor stays there
    assert final_state(output, "warehouse_syncs") == {"start": "2024-03-10T09:30:00Z"}
    assert not output.errors


def test_warehouse_syncs_incremental_re_emits_running_syncs_and_stops_paging_below_the_cursor(monkeypatch):
    freeze_now(monkeypatch, NOW)
    with mocked_api(strict=False) as m:
        m.get(list_request("/warehouses"), page("warehouses", WAREHOUSES[:1]))
        first = m.get(list_request("/warehouses/wh1/syncs"), page("reports", WH1_SYNCS[:3], next_cursor="p2"))
        second = list_request("/warehouses/wh1/syncs", cursor="p2")
        m.get(second, page("reports", WH1_SYNCS[3:]))
        output = run_read("warehouse_syncs", state={"warehouse_syncs": {"start": "2024-03-10T10:00:00Z"}},
                          sync_mode=SyncMode.incremental)
        m.assert_number_of_calls(second, 0)  # page 1 already reached below the cursor: older pages hold older syncs
    assert [r["start"] for r in records(output, "warehouse_syncs")] == [s["start"] for s in WH1_SYNCS[:2]]
    # a sync still running that started before the cursor pulls the cursor back to it
    assert final_state(output, "warehouse_syncs") == {"start": "2024-03-10T09:30:00Z"}


def test_warehouse_syncs_incremental_follows_pages_while_they_reach_the_cursor(monkeypatch):
    freeze_now(monkeypatch, NOW)
    with mocked_api() as m:
        m.get(list_request("/warehouses"), page("warehouses", WAREHOUSES[:1]))
        m.get(list_request("/warehouses/wh1/syncs"), page("reports", WH1_SYNCS[:3], next_cursor="p2"))
        m.get(list_request("/warehouses/wh1/syncs", cursor="p2"), page("reports", WH1_SYNCS[3:]))
        output = run_read("warehouse_syncs", state={"warehouse_syncs": {"start": "2024-03-10T09:30:00Z"}},
                          sync_mode=SyncMode.incremental)
    assert [r["start"] for r in records(output, "warehouse_syncs")] == [s["start"] for s in WH1_SYNCS[:3]]
    assert final_state(output, "warehouse_syncs") == {"start": "2024-03-10T09:30:00Z"}


def test_warehouse_syncs_cursor_moves_to_the_newest_start_once_nothing_runs(monkeypatch):
    freeze_now(monkeypatch, NOW)
    with mocked_api() as m:
        m.get(list_request("/warehouses"), page("warehouses", WAREHOUSES[1:]))
        m.get(list_request("/warehouses/wh2/syncs"), page("reports", WH2_SYNCS))
        output = run_read("warehouse_syncs", state={"warehouse_syncs": {"start": "2024-03-10T09:00:00Z"}},
                          sync_mode=SyncMode.incremental)
    assert [r["start"] for r in records(output, "warehouse_syncs")] == ["2024-03-10T12:00:00Z"]
    assert final_state(output, "warehouse_syncs") == {"start": "2024-03-10T12:00:00Z"}


def test_warehouse_syncs_skip_a_deleted_warehouse_and_read_the_others(monkeypatch):
    freeze_now(monkeypatch, NOW)
    with mocked_api() as m:
        m.get(list_request("/warehouses"), page("warehouses", WAREHOUSES))
        m.get(list_request("/warehouses/wh1/syncs"), error(404, "Resource not found"))
        m.get(list_request("/warehouses/wh2/syncs"), page("reports", WH2_SYNCS))
        output = run_read("warehouse_syncs")
    assert {r["warehouseId"] for r in records(output, "warehouse_syncs")} == {"wh2"}
    assert not output.errors and not warnings(output)


def test_warehouse_syncs_first_pages_are_requested_before_the_stream_s_turn(monkeypatch):
    """The catalog's slow-lane stream starts in the background when the sync starts (source.streams)."""
    from source_segment.source import SourceSegment
    from source_segment.streams.sync_history import WarehouseSyncs
    from unit_tests.builders import config

    started: List[str] = []
    monkeypatch.setattr(WarehouseSyncs, "start_early", lambda self: started.append(self.name))
    source = SourceSegment()
    source.streams(config())
    assert started == []  # discover/check: nothing selected, nothing started
    source._selected = {"warehouse_syncs"}
    source.streams(config())
    assert started == ["warehouse_syncs"]


# ------------------------------------------------------------------------------------------ reverse_etl_syncs
SUBS = [{"id": "sub1", "modelId": "mod1", "destinationId": "dst1"}, {"id": "sub2", "destinationId": "dst1"}]


def _retl(sync_id: str, started: str, finished: Optional[str] = "2024-03-10T10:05:00Z", status: str = "SUCCESS") -> Dict[str, Any]:
    item = {"syncId": sync_id, "modelId": "mod1", "sourceId": "src1", "syncStatus": status, "duration": "5m0s", "startedAt": started}
    if finished:
        item["finishedAt"] = finished
    return item


def test_reverse_etl_syncs_page_with_top_level_count_and_cursor_for_subscriptions_with_a_model(monkeypatch):
    freeze_now(monkeypatch, NOW)
    path = "/reverse-etl-models/mod1/subscriptionId/sub1/syncs"
    running = _retl("s3", "2024-03-10T12:00:00Z", finished=None, status="IN_PROGRESS")
    with mocked_api() as m:
        m.get(list_request("/destinations"), page("destinations", [DESTINATION]))
        m.get(list_request("/destinations/dst1/subscriptions", version="alpha"), page("subscriptions", SUBS))
        m.get(segment_request(path, {"count": 100}, "alpha"),
              json_response({"data": {"syncStatuses": [running, _retl("s2", "2024-03-10T11:00:00Z")],
                                      "pagination": {"current": "c1", "next": "c2"}}}))
        m.get(segment_request(path, {"count": 100, "cursor": "c2"}, "alpha"),
              json_response({"data": {"syncStatuses": [_retl("s1", "2024-03-10T10:00:00Z")]}}))  # no pagination: last page
        output = run_read("reverse_etl_syncs")
    emitted = records(output, "reverse_etl_syncs")
    assert [r["syncId"] for r in emitted] == ["s3", "s2", "s1"]
    assert all(r["subscriptionId"] == "sub1" for r in emitted)
    assert "finishedAt" not in emitted[0]
    assert final_state(output, "reverse_etl_syncs") == {"startedAt": "2024-03-10T12:00:00Z"}


# A warehouse or reverse-ETL failure message may quote the connection it failed on.
LEAKED_PASSWORD = "Sup3r-s3cret-pw-77"
LEAKED_KEY = "hk_live_9f8e7d6c5b4a3f2e1d0c"


def test_sync_history_messages_keep_their_words_but_not_the_credentials_they_quote(monkeypatch):
    freeze_now(monkeypatch, NOW)
    notice = {"level": "ERROR", "createdAt": "2024-03-10T09:00:00Z",
              "message": f"could not connect to postgres://loader:{LEAKED_PASSWORD}@db.internal:5432/dw: timeout"}
    sync = dict(_sync("src1", "2024-03-10T09:00:00Z", status="FAILED"), notices=[notice])
    failed = dict(_retl("s1", "2024-03-10T10:00:00Z", status="FAILED"),
                  error=f"401 from https://hooks.example.com/ingest?api_key={LEAKED_KEY}", errorCode="unauthorized")
    with mocked_api() as m:
        m.get(list_request("/warehouses"), page("warehouses", WAREHOUSES[:1]))
        m.get(list_request("/warehouses/wh1/syncs"), page("reports", [sync]))
        m.get(list_request("/destinations"), page("destinations", [DESTINATION]))
        m.get(list_request("/destinations/dst1/subscriptions", version="alpha"), page("subscriptions", SUBS))
        m.get(segment_request("/reverse-etl-models/mod1/subscriptionId/sub1/syncs", {"count": 100}, "alpha"),
              json_response({"data": {"syncStatuses": [failed]}}))
        output = run_read(["warehouse_syncs", "reverse_etl_syncs"])
    (warehouse,) = records(output, "warehouse_syncs")
    (reverse_etl,) = records(output, "reverse_etl_syncs")
    message, error_text = warehouse["notices"][0]["message"], reverse_etl["error"]
    assert LEAKED_PASSWORD not in message and message.startswith("could not connect to postgres://") and "db.internal" in message
    assert LEAKED_KEY not in error_text and error_text.startswith("401 from https://hooks.example.com/ingest")
    assert warehouse["notices"][0]["level"] == "ERROR" and reverse_etl["errorCode"] == "unauthorized"


# ------------------------------------------------------------------------------------------ delivery_overview
SOURCE_STAGE_PATHS = ["successfully-received", "failed-on-ingest", "filtered-at-source"]
DEST_STAGE_PATHS = ["successful-delivery", "failed-delivery", "filtered-at-destination"]


def _do_request(stage_path: str, start: datetime, end: datetime, granularity: str = "HOUR", destination: bool = False):
    params: Dict[str, Any] = {"sourceId": "src1", "granularity": granularity, "startTime": _iso(start), "endTime": _iso(end),
                              "groupBy.0": "eventType"}
    if stage_path != "successfully-received":
        params["groupBy.1"] = "discardReason"
    if destination:
        params["destinationConfigId"] = "dst1"
    params["pagination.count"] = 1000
    return segment_request("/delivery-overview/" + stage_path, params, "beta")


def _dataset(items: List[Dict[str, Any]]):
    return json_response({"data": {"total": 0, "dataset": items, "pagination": {"current": "MA==", "previous": None, "totalEntries": len(items)}}})


HOUR_WINDOWS = [  # NOW - 30 d + 1 h, to the hour; 14-day windows up to the last complete hour
    (datetime(2024, 2, 9, 13, tzinfo=timezone.utc), datetime(2024, 2, 23, 13, tzinfo=timezone.utc)),
    (datetime(2024, 2, 23, 13, tzinfo=timezone.utc), datetime(2024, 3, 8, 13, tzinfo=timezone.utc)),
    (datetime(2024, 3, 8, 13, tzinfo=timezone.utc), datetime(2024, 3, 10, 12, tzinfo=timezone.utc)),
]


def _mock_do_parents(m, destinations=(DESTINATION, ORPHAN)):
    m.get(list_request("/sources"), page("sources", [SOURCE]))
    m.get(list_request("/destinations"), page("destinations", list(destinations)))


def test_delivery_overview_reads_30_days_in_the_fewest_windows_with_one_record_per_non_empty_point(monkeypatch):
    freeze_now(monkeypatch, NOW)
    failed = {"eventType": "track", "discardReason": "Bad Request", "total": 7, "series": [
        {"time": "2024-03-09T10:00:00.000Z", "count": 5}, {"time": "2024-03-09T11:00:00.000Z", "count": 0},
        {"time": "2024-03-09T12:00:00.000Z", "count": 2}]}
    delivered = {"total": 3, "totalRetryCount": 1, "series": [  # no eventType, no discardReason
        {"time": "2024-03-09T10:00:00Z", "count": 3, "retryCount": 1}, {"time": "2024-03-09T11:00:00Z", "count": 0, "retryCount": 2},
        {"time": "2024-03-09T12:00:00Z", "count": 0, "retryCount": 0}]}
    with mocked_api() as m:
        _mock_do_parents(m)
        for start, end in HOUR_WINDOWS:
            for stage in SOURCE_STAGE_PATHS:
                m.get(_do_request(stage, start, end), _dataset([]))
            for stage in DEST_STAGE_PATHS:
                body = {"failed-delivery": [failed], "successful-delivery": [delivered]}.get(stage, []) if end == HOUR_WINDOWS[-1][1] else []
                m.get(_do_request(stage, start, end, destination=True), _dataset(body))
        output = run_read("delivery_overview")
    base = {"sourceId": "src1", "destinationId": "dst1", "granularity": "HOUR"}
    assert records(output, "delivery_overview") == [
        dict(base, stage="successful_delivery", time="2024-03-09T10:00:00Z", eventType="", discardReason="", count=3, retryCount=1),
        dict(base, stage="successful_delivery", time="2024-03-09T11:00:00Z", eventType="", discardReason="", count=0, retryCount=2),
        dict(base, stage="failed_delivery", time="2024-03-09T10:00:00Z", eventType="track", discardReason="Bad Request", count=5),
        dict(base, stage="failed_delivery", time="2024-03-09T12:00:00Z", eventType="track", discardReason="Bad Request", count=2),
    ]
    assert final_state(output, "delivery_overview") == {"time": "2024-03-10T12:00:00Z"}
    assert not output.errors


def test_delivery_overview_day_granularity_is_one_30_day_window_starting_inside_the_allowed_range(monkeypatch):
    freeze_now(monkeypatch, NOW)
    start, end = datetime(2024, 2, 10, tzinfo=timezone.utc), datetime(2024, 3, 10, tzinfo=timezone.utc)
    with mocked_api() as m:
        _mock_do_parents(m, destinations=[DESTINATION])
        for stage in SOURCE_STAGE_PATHS:
            m.get(_do_request(stage, start, end, "DAY"), _dataset([]))
        for stage in DEST_STAGE_PATHS:
            m.get(_do_request(stage, start, end, "DAY", destination=True), _dataset([]))
        output = run_read("delivery_overview", cfg=_cfg(delivery_overview_granularity="DAY"))
    assert final_state(output, "delivery_overview") == {"time": "2024-03-10T00:00:00Z"}
    assert not output.errors


def _cfg(**overrides: Any) -> dict:
    from unit_tests.builders import config

    return config(**overrides)


@pytest.mark.parametrize("lookback,start", [(None, datetime(2024, 3, 9, 8, tzinfo=timezone.utc)),
                                            (0, datetime(2024, 3, 10, 8, tzinfo=timezone.utc))])
def test_delivery_overview_incremental_rereads_the_lookback_before_the_cursor(monkeypatch, lookback, start):
    freeze_now(monkeypatch, NOW)
    end = datetime(2024, 3, 10, 12, tzinfo=timezone.utc)
    with mocked_api() as m:
        _mock_do_parents(m, destinations=[])
        for stage in SOURCE_STAGE_PATHS:
            m.get(_do_request(stage, start, end), _dataset([]))
        output = run_read("delivery_overview", cfg=_cfg(delivery_overview_lookback_hours=lookback),
                          state={"delivery_overview": {"time": "2024-03-10T08:00:00Z"}}, sync_mode=SyncMode.incremental)
    assert final_state(output, "delivery_overview") == {"time": "2024-03-10T12:00:00Z"}


def test_delivery_overview_not_enabled_skips_the_stream_with_one_warning(monkeypatch):
    freeze_now(monkeypatch, NOW)
    start, end = HOUR_WINDOWS[0]
    with mocked_api(strict=False) as m:
        _mock_do_parents(m, destinations=[])
        m.get(_do_request("successfully-received", start, end), error(422, "Delivery Overview is not enabled for this workspace"))
        output = run_read("delivery_overview")
    assert not output.errors
    assert [w for w in warnings(output) if "`delivery_overview`" in w and "Delivery Overview" in w]
    assert len([w for w in warnings(output) if "delivery_overview" in w]) == 1


# ------------------------------------------------------------------------------------------ regulations, engage, functions
def test_source_regulations_404_means_none_and_records_carry_the_source(monkeypatch):
    reg = {"id": "r1", "subjectType": "USER_ID", "subjects": ["u1"], "status": "RUNNING", "createdAt": "2024-03-01T00:00:00Z",
           "regulationType": "SUPPRESS_ONLY"}
    with mocked_api() as m:
        m.get(list_request("/sources"), page("sources", [SOURCE, {"id": "src2"}]))
        m.get(list_request("/regulations/sources/src1"), json_response({"data": {"regulations": [reg]}}))
        m.get(list_request("/regulations/sources/src2"), error(404, "Resource not found"))
        output = run_read("source_regulations")
    assert records(output, "source_regulations") == [dict(reg, sourceId="src1")]
    assert not output.errors and not warnings(output)


def test_audiences_ask_for_pages_of_200_and_computed_traits_use_alpha(monkeypatch):
    audience = {"id": "aud1", "spaceId": "spa1", "name": "A", "key": "a", "enabled": True, "definition": None,
                "createdBy": "u", "updatedBy": "u", "createdAt": "x", "updatedAt": "y", "audienceType": "USERS",
                "computeCadence": {"type": "BATCH"}}
    trait = {"id": "ct1", "spaceId": "spa1", "name": "T", "key": "t", "enabled": True, "definition": None,
             "createdBy": "u", "updatedBy": "u", "createdAt": "x", "updatedAt": "y"}
    with mocked_api() as m:
        m.get(list_request("/spaces", version="alpha"), page("spaces", [{"id": "spa1", "name": "S", "slug": "s"}]))
        m.get(list_request("/spaces/spa1/audiences", count=200), page("audiences", [audience]))
        m.get(list_request("/spaces/spa1/computed-traits", version="alpha"), page("computedTraits", [trait]))
        output = run_read(["audiences", "computed_traits"])
    assert records(output, "audiences") == [{k: v for k, v in audience.items() if v is not None}]  # CDK omit_none
    assert records(output, "computed_traits") == [{k: v for k, v in trait.items() if v is not None}]


def test_computed_traits_404_not_enabled_skips_with_one_warning_naming_the_stream(monkeypatch):
    with mocked_api(strict=False) as m:
        m.get(list_request("/spaces", version="alpha"), page("spaces", [{"id": "spa1"}, {"id": "spa2"}]))
        m.get(list_request("/spaces/spa1/computed-traits", version="alpha"), error(404, "Computed Traits is not enabled for this workspace"))
        m.get(list_request("/spaces/spa2/computed-traits", version="alpha"), error(404, "Computed Traits is not enabled for this workspace"))
        output = run_read("computed_traits")
    assert not output.errors and records(output, "computed_traits") == []
    assert len([w for w in warnings(output) if "`computed_traits`" in w and "Engage" in w]) == 1


def test_function_versions_read_every_function_type_and_skip_functions_without_id(monkeypatch):
    types = ("DESTINATION", "INSERT_DESTINATION", "INSERT_SOURCE", "INSERT_TRANSFORMATION", "SOURCE")
    version = {"id": "v1", "code": "async function onTrack() {}", "isDeployed": True}
    with mocked_api() as m:
        for t in types:
            items = [{"id": "fn1", "resourceType": t}, {"resourceType": t}] if t == "SOURCE" else []
            m.get(list_request("/functions", resourceType=t), page("functions", items))
        m.get(list_request("/functions/fn1/versions", version="alpha"), page("versions", [version]))
        output = run_read("function_versions")
    assert records(output, "function_versions") == [dict(version, functionId="fn1")]
    assert not output.errors
