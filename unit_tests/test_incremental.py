#
# audit_events and event_volume_daily (issue 4): the exact windows requested, the state after each complete
# window (never a record's timestamp), resuming from state with the lookback, an interrupted read resumed from
# its last STATE without a gap, and the 403 skip. The usage streams are in test_usage_streams.py.
#
# "Now" is pinned with builders.freeze_now; start dates stay in the real past because config validation
# compares them with the real clock. Slices may be fetched ahead on worker threads, so the order of the
# requests themselves is not asserted; the order of emitted records and states is.
#

from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple

import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker
from airbyte_cdk.test.models.outcome import ExpectedOutcome

from unit_tests.builders import (
    TOKEN,
    all_states,
    config,
    error,
    error_messages,
    final_state,
    freeze_now,
    list_request,
    page,
    record_client_calls,
    records,
    run_read,
    warnings,
)

NOW = datetime(2024, 3, 10, 12, 0, 0, tzinfo=timezone.utc)
AUDIT = "audit_events"
SETTLED_AT = "2024-03-09T12:00:00Z"  # NOW minus the default lookback (a day): the audit cursor never passes it
VOLUME = "event_volume_daily"


def _timeline(output, stream: str, field: str, cursor: str) -> List[Tuple[str, Any]]:
    events = []
    for message in output.records_and_state_messages:
        if message.record is not None and message.record.stream == stream:
            events.append(("record", message.record.data[field]))
        elif message.state is not None and message.state.stream.stream_descriptor.name == stream:
            events.append(("state", vars(message.state.stream.stream_state).get(cursor)))
    return events


# --- audit_events --------------------------------------------------------------------------------------


def _event(event_id: str, timestamp: str) -> Dict[str, Any]:
    return {
        "id": event_id,
        "timestamp": timestamp,
        "type": "Source Modified",
        "actor": "user_1",
        "actorEmail": "ada@example.com",
        "resourceId": "src_1",
        "resourceType": "source",
        "resourceName": "Web",
    }


def _audit_request(start: str, end: str, cursor: Optional[str] = None):
    return list_request("/audit-events", cursor=cursor, startTime=start, endTime=end)


def _windows(calls: List[tuple], path: str = "/audit-events") -> List[Tuple[str, str]]:
    """(startTime, endTime) of each first-page request, sorted (slices may be prefetched concurrently)."""
    assert all(p == path and version == "v1" for p, _, version in calls), calls
    return sorted((params["startTime"], params["endTime"]) for _, params, _ in calls if "pagination.cursor" not in params)


WINDOWS_FROM_FEB_20 = [
    ("2024-02-20T00:00:00Z", "2024-02-27T00:00:00Z"),
    ("2024-02-27T00:00:00Z", "2024-03-05T00:00:00Z"),
    ("2024-03-05T00:00:00Z", "2024-03-10T12:00:00Z"),
]


def test_audit_events_reads_newest_first_pages_and_commits_each_window_end_never_a_record_timestamp(monkeypatch):
    freeze_now(monkeypatch, NOW)
    calls = record_client_calls(monkeypatch)
    (w1, w2, w3) = WINDOWS_FROM_FEB_20
    with HttpMocker() as m:
        m.get(_audit_request(*w1), page("events", [_event("e5", "2024-02-26T10:00:00Z"), _event("e4", "2024-02-24T09:00:00Z")], next_cursor="Y3Vyc29yMg=="))
        m.get(_audit_request(*w1, cursor="Y3Vyc29yMg=="), page("events", [_event("e3", "2024-02-21T08:00:00Z")]))
        m.get(_audit_request(*w2), page("events", [_event("e2", "2024-03-01T00:00:00Z")]))
        m.get(_audit_request(*w3), page("events", [_event("e1", "2024-03-09T23:59:59Z")]))
        output = run_read(AUDIT, config(start_date="2024-02-20T00:00:00Z"), sync_mode=SyncMode.incremental)

    assert _windows(calls) == WINDOWS_FROM_FEB_20
    assert len(calls) == 4  # the second page of the first window, once
    assert _timeline(output, AUDIT, "id", "timestamp") == [
        ("record", "e5"),
        ("record", "e4"),
        ("record", "e3"),
        ("state", "2024-02-27T00:00:00Z"),
        ("record", "e2"),
        ("state", "2024-03-05T00:00:00Z"),
        ("record", "e1"),
        ("state", "2024-03-09T12:00:00Z"),  # never past now - lookback (a day): the trail may still fill in
    ]
    assert all(state["settled"] is True for state in all_states(output, AUDIT))
    record_timestamps = {r["timestamp"] for r in records(output, AUDIT)}
    assert not record_timestamps & {s["timestamp"] for s in all_states(output, AUDIT)}


@pytest.mark.parametrize(
    "window_days, windows",
    [
        pytest.param(10, [("2024-02-20T00:00:00Z", "2024-03-01T00:00:00Z"), ("2024-03-01T00:00:00Z", "2024-03-10T12:00:00Z")], id="10-days"),
        pytest.param(30, [("2024-02-20T00:00:00Z", "2024-03-10T12:00:00Z")], id="one-window-to-now"),
        pytest.param(
            5,
            [
                ("2024-02-20T00:00:00Z", "2024-02-25T00:00:00Z"),
                ("2024-02-25T00:00:00Z", "2024-03-01T00:00:00Z"),
                ("2024-03-01T00:00:00Z", "2024-03-06T00:00:00Z"),
                ("2024-03-06T00:00:00Z", "2024-03-10T12:00:00Z"),
            ],
            id="5-days-across-february-29",
        ),
    ],
)
def test_audit_events_windows_follow_audit_events_window_days(monkeypatch, window_days, windows):
    freeze_now(monkeypatch, NOW)
    calls = record_client_calls(monkeypatch)
    with HttpMocker() as m:
        for window in windows:
            m.get(_audit_request(*window), page("events", []))
        output = run_read(AUDIT, config(start_date="2024-02-20T00:00:00Z", audit_events_window_days=window_days), sync_mode=SyncMode.incremental)

    assert _windows(calls) == windows
    assert all_states(output, AUDIT) == [{"timestamp": min(end, SETTLED_AT), "settled": True} for _, end in windows]


@pytest.mark.parametrize(
    "lookback, state, expected_start, expected_state",
    [
        pytest.param(None, {"timestamp": "2024-03-05T00:00:00Z", "settled": True}, "2024-03-05T00:00:00Z", SETTLED_AT,
                     id="settled-cursor-is-read-from-as-is"),
        pytest.param(None, {"timestamp": "2024-03-05T00:00:00Z"}, "2024-03-04T00:00:00Z", SETTLED_AT,
                     id="older-state-moves-back-a-day-once"),
        pytest.param(90, {"timestamp": "2024-03-05T00:00:00Z"}, "2024-03-04T22:30:00Z", "2024-03-10T10:30:00Z",
                     id="custom-90-minutes"),
        pytest.param(0, {"timestamp": "2024-03-05T00:00:00Z"}, "2024-03-05T00:00:00Z", "2024-03-10T12:00:00Z",
                     id="no-lookback"),
    ],
)
def test_audit_events_cursor_stays_a_lookback_behind_now(monkeypatch, lookback, state, expected_start, expected_state):
    freeze_now(monkeypatch, NOW)
    calls = record_client_calls(monkeypatch)
    with HttpMocker() as m:
        m.get(_audit_request(expected_start, "2024-03-10T12:00:00Z"), page("events", [_event("late", "2024-03-05T00:58:00Z")]))
        output = run_read(
            AUDIT, config(start_date="2024-02-20T00:00:00Z", audit_events_lookback_minutes=lookback),
            state={AUDIT: state}, sync_mode=SyncMode.incremental,
        )

    assert _windows(calls) == [(expected_start, "2024-03-10T12:00:00Z")]
    assert [r["id"] for r in records(output, AUDIT)] == ["late"]
    assert final_state(output, AUDIT) == {"timestamp": expected_state, "settled": True}


def test_audit_events_an_event_listed_late_is_read_by_the_next_sync(monkeypatch):
    # e_late happened at 10:00 but Segment lists it only after the first sync (at 12:00) has run
    freeze_now(monkeypatch, NOW)
    with HttpMocker() as m:
        m.get(_audit_request("2024-03-05T00:00:00Z", "2024-03-10T12:00:00Z"), page("events", [_event("e1", "2024-03-10T11:00:00Z")]))
        first = run_read(AUDIT, config(start_date="2024-03-05T00:00:00Z"), sync_mode=SyncMode.incremental)
    later = datetime(2024, 3, 10, 13, 0, 0, tzinfo=timezone.utc)
    freeze_now(monkeypatch, later)
    calls = record_client_calls(monkeypatch)
    with HttpMocker() as m:
        m.get(_audit_request(SETTLED_AT, "2024-03-10T13:00:00Z"),
              page("events", [_event("e1", "2024-03-10T11:00:00Z"), _event("e_late", "2024-03-10T10:00:00Z")]))
        second = run_read(AUDIT, config(start_date="2024-03-05T00:00:00Z"), state={AUDIT: final_state(first, AUDIT)},
                          sync_mode=SyncMode.incremental)

    assert _windows(calls) == [(SETTLED_AT, "2024-03-10T13:00:00Z")]
    assert {r["id"] for r in records(first, AUDIT) + records(second, AUDIT)} == {"e1", "e_late"}
    assert final_state(second, AUDIT) == {"timestamp": "2024-03-09T13:00:00Z", "settled": True}


def test_audit_events_lookback_never_reaches_before_the_start_date(monkeypatch):
    freeze_now(monkeypatch, NOW)
    calls = record_client_calls(monkeypatch)
    with HttpMocker() as m:
        m.get(_audit_request("2024-03-08T00:00:00Z", "2024-03-10T12:00:00Z"), page("events", []))
        run_read(AUDIT, config(start_date="2024-03-08T00:00:00Z"), state={AUDIT: {"timestamp": "2024-03-08T00:02:00Z"}}, sync_mode=SyncMode.incremental)

    assert _windows(calls) == [("2024-03-08T00:00:00Z", "2024-03-10T12:00:00Z")]


def test_audit_events_interrupted_read_resumed_from_its_last_state_leaves_no_gap(monkeypatch):
    freeze_now(monkeypatch, NOW)
    cfg = config(start_date="2024-02-20T00:00:00Z", max_retries=1)
    (w1, w2, w3) = WINDOWS_FROM_FEB_20
    with HttpMocker() as m:
        m.get(_audit_request(*w1), page("events", [_event("e3", "2024-02-26T00:00:00Z")]))
        m.get(_audit_request(*w2), [error(500, "Internal Server Error")] * 3)
        m.get(_audit_request(*w3), page("events", [_event("e1", "2024-03-09T00:00:00Z")]))  # may be prefetched; never emitted
        interrupted = run_read(AUDIT, cfg, sync_mode=SyncMode.incremental, expected_outcome=ExpectedOutcome.EXPECT_EXCEPTION)

    assert [r["id"] for r in records(interrupted, AUDIT)] == ["e3"]
    assert all_states(interrupted, AUDIT) == [{"timestamp": "2024-02-27T00:00:00Z", "settled": True}]
    assert any("/audit-events" in message and "500" in message for message in error_messages(interrupted))

    calls = record_client_calls(monkeypatch)
    resumed_windows = [("2024-02-27T00:00:00Z", "2024-03-05T00:00:00Z"), ("2024-03-05T00:00:00Z", "2024-03-10T12:00:00Z")]
    with HttpMocker() as m:
        m.get(_audit_request(*resumed_windows[0]), page("events", [_event("e2", "2024-03-01T00:00:00Z"), _event("e3", "2024-02-26T23:58:00Z")]))
        m.get(_audit_request(*resumed_windows[1]), page("events", [_event("e1", "2024-03-09T00:00:00Z")]))
        resumed = run_read(AUDIT, cfg, state={AUDIT: final_state(interrupted, AUDIT)}, sync_mode=SyncMode.incremental)

    assert _windows(calls) == resumed_windows
    assert resumed_windows[0][0] <= "2024-02-27T00:00:00Z"  # starts inside the last committed window: no gap
    assert [r["id"] for r in records(resumed, AUDIT)] == ["e2", "e3", "e1"]
    assert final_state(resumed, AUDIT) == {"timestamp": SETTLED_AT, "settled": True}


def test_audit_events_full_refresh_ignores_the_incoming_state_and_still_emits_one(monkeypatch):
    freeze_now(monkeypatch, NOW)
    calls = record_client_calls(monkeypatch)
    with HttpMocker() as m:
        for window in WINDOWS_FROM_FEB_20:
            m.get(_audit_request(*window), page("events", []))
        output = run_read(AUDIT, config(start_date="2024-02-20T00:00:00Z"), state={AUDIT: {"timestamp": "2024-03-09T00:00:00Z"}}, sync_mode=SyncMode.full_refresh)

    assert _windows(calls) == WINDOWS_FROM_FEB_20
    assert final_state(output, AUDIT) == {"timestamp": SETTLED_AT, "settled": True}


@pytest.mark.parametrize("garbage", [{"timestamp": "banana"}, {"foo": 1}, {"timestamp": 1709251200}], ids=["banana", "unknown-key", "number"])
def test_audit_events_unreadable_state_warns_and_restarts_from_the_start_date(monkeypatch, garbage):
    freeze_now(monkeypatch, NOW)
    calls = record_client_calls(monkeypatch)
    with HttpMocker() as m:
        for window in WINDOWS_FROM_FEB_20:
            m.get(_audit_request(*window), page("events", []))
        output = run_read(AUDIT, config(start_date="2024-02-20T00:00:00Z"), state={AUDIT: garbage}, sync_mode=SyncMode.incremental)

    assert _windows(calls) == WINDOWS_FROM_FEB_20
    assert any("unreadable state" in line and "2024-02-20T00:00:00Z" in line for line in warnings(output))
    assert final_state(output, AUDIT) == {"timestamp": SETTLED_AT, "settled": True}
    assert not output.errors


@pytest.mark.parametrize("workers", [pytest.param(1, id="sequential"), pytest.param(4, id="prefetching")])
def test_audit_events_403_skips_the_stream_once_with_a_warning_naming_the_business_tier_audit_trail(monkeypatch, workers):
    freeze_now(monkeypatch, NOW)
    calls = record_client_calls(monkeypatch)
    with HttpMocker() as m:
        for window in WINDOWS_FROM_FEB_20:
            m.get(_audit_request(*window), error(403, "Forbidden"))
        output = run_read(
            AUDIT, config(start_date="2024-02-20T00:00:00Z", num_workers=workers),
            state={AUDIT: {"timestamp": "2024-02-20T00:00:00Z", "settled": True}}, sync_mode=SyncMode.incremental,
        )

    assert records(output, AUDIT) == []
    assert not output.errors
    # no window was read, so the cursor does not move
    assert final_state(output, AUDIT) == {"timestamp": "2024-02-20T00:00:00Z", "settled": True}
    skips = [line for line in warnings(output) if "Skipping stream `audit_events`" in line]
    assert skips and all("403" in w and "Audit Trail" in w and "Business tier" in w and TOKEN not in w for w in skips)
    assert len(skips) == 1, skips
    # sequential reads stop at the first 403; prefetching may have asked for at most `num_workers` windows
    assert 1 <= len(calls) <= workers
    assert _windows(calls)[0] == WINDOWS_FROM_FEB_20[0]


# --- event_volume_daily --------------------------------------------------------------------------------


def _volume_request(start_day: str, end_day: str):
    return list_request(
        "/events/volume",
        granularity="DAY",
        startTime=f"{start_day}T00:00:00Z",
        endTime=f"{end_day}T00:00:00Z",
        **{"groupBy.0": "eventName", "groupBy.1": "eventType", "groupBy.2": "source"},  # indexed, as the SDKs send arrays
    )


def _group(source_id: str, event_name: str, event_type: str, counts: Dict[str, int]) -> Dict[str, Any]:
    return {
        "source": {"id": source_id, "name": f"Source {source_id}", "slug": f"slug-{source_id}"},
        "eventName": event_name,
        "eventType": event_type,
        "total": sum(counts.values()),
        "series": [{"time": f"{day}T00:00:00Z", "count": count} for day, count in counts.items()],
    }


def _volume_windows(calls: List[tuple]) -> List[Tuple[str, str]]:
    for path, params, version in calls:
        assert path == "/events/volume" and version == "v1"
        assert params["granularity"] == "DAY" and "groupBy" not in params
        assert [params[f"groupBy.{i}"] for i in range(3)] == ["eventName", "eventType", "source"]
    return sorted((params["startTime"], params["endTime"]) for _, params, _ in calls)


def test_event_volume_reads_whole_utc_days_up_to_today_exclusive_and_explodes_one_record_per_day_source_event(monkeypatch):
    freeze_now(monkeypatch, NOW)
    calls = record_client_calls(monkeypatch)
    with HttpMocker() as m:
        m.get(
            _volume_request("2024-02-25", "2024-03-03"),
            page("result", [
                _group("src_1", "Order Completed", "track", {"2024-02-25": 5, "2024-02-26": 7}),
                _group("src_2", "Home", "page", {"2024-02-25": 3000000000}),
            ], path="/events/volume", query={}),
        )
        m.get(_volume_request("2024-03-03", "2024-03-10"), page("result", [_group("src_1", "Order Completed", "track", {"2024-03-09": 1})]))
        output = run_read(VOLUME, config(start_date="2024-02-25T10:30:00Z"), sync_mode=SyncMode.incremental)

    assert _volume_windows(calls) == [
        ("2024-02-25T00:00:00Z", "2024-03-03T00:00:00Z"),
        ("2024-03-03T00:00:00Z", "2024-03-10T00:00:00Z"),  # today (2024-03-10) is never read
    ]
    assert records(output, VOLUME) == [
        {"day": "2024-02-25", "sourceId": "src_1", "sourceName": "Source src_1", "sourceSlug": "slug-src_1", "eventName": "Order Completed", "eventType": "track", "count": 5},
        {"day": "2024-02-26", "sourceId": "src_1", "sourceName": "Source src_1", "sourceSlug": "slug-src_1", "eventName": "Order Completed", "eventType": "track", "count": 7},
        {"day": "2024-02-25", "sourceId": "src_2", "sourceName": "Source src_2", "sourceSlug": "slug-src_2", "eventName": "Home", "eventType": "page", "count": 3000000000},
        {"day": "2024-03-09", "sourceId": "src_1", "sourceName": "Source src_1", "sourceSlug": "slug-src_1", "eventName": "Order Completed", "eventType": "track", "count": 1},
    ]
    assert all(type(r["count"]) is int for r in records(output, VOLUME))
    # the cursor names the last complete day of each window
    assert all_states(output, VOLUME) == [{"day": "2024-03-02"}, {"day": "2024-03-09"}]


def test_event_volume_next_sync_rereads_only_the_last_complete_day(monkeypatch):
    freeze_now(monkeypatch, NOW)
    calls = record_client_calls(monkeypatch)
    with HttpMocker() as m:
        m.get(_volume_request("2024-03-09", "2024-03-10"), page("result", [_group("src_1", "Order Completed", "track", {"2024-03-09": 4})]))
        output = run_read(VOLUME, config(start_date="2024-02-25T00:00:00Z"), state={VOLUME: {"day": "2024-03-09"}}, sync_mode=SyncMode.incremental)

    assert _volume_windows(calls) == [("2024-03-09T00:00:00Z", "2024-03-10T00:00:00Z")]
    assert [r["count"] for r in records(output, VOLUME)] == [4]  # yesterday's revised count
    assert final_state(output, VOLUME) == {"day": "2024-03-09"}


def test_event_volume_sync_two_days_later_reads_from_the_last_complete_day_to_yesterday(monkeypatch):
    freeze_now(monkeypatch, datetime(2024, 3, 12, 0, 5, tzinfo=timezone.utc))
    calls = record_client_calls(monkeypatch)
    with HttpMocker() as m:
        m.get(_volume_request("2024-03-09", "2024-03-12"), page("result", []))
        output = run_read(VOLUME, config(start_date="2024-02-25T00:00:00Z"), state={VOLUME: {"day": "2024-03-09"}}, sync_mode=SyncMode.incremental)

    assert _volume_windows(calls) == [("2024-03-09T00:00:00Z", "2024-03-12T00:00:00Z")]
    assert final_state(output, VOLUME) == {"day": "2024-03-11"}


@pytest.mark.parametrize(
    "window_days, windows",
    [
        pytest.param(1, [("2024-03-07", "2024-03-08"), ("2024-03-08", "2024-03-09"), ("2024-03-09", "2024-03-10")], id="1-day"),
        pytest.param(2, [("2024-03-07", "2024-03-09"), ("2024-03-09", "2024-03-10")], id="2-days"),
    ],
)
def test_event_volume_windows_follow_event_volume_window_days(monkeypatch, window_days, windows):
    freeze_now(monkeypatch, NOW)
    calls = record_client_calls(monkeypatch)
    with HttpMocker() as m:
        for window in windows:
            m.get(_volume_request(*window), page("result", []))
        output = run_read(VOLUME, config(start_date="2024-03-07T00:00:00Z", event_volume_window_days=window_days), sync_mode=SyncMode.incremental)

    assert _volume_windows(calls) == [(f"{a}T00:00:00Z", f"{b}T00:00:00Z") for a, b in windows]
    assert final_state(output, VOLUME) == {"day": "2024-03-09"}


def test_event_volume_unreadable_state_warns_and_restarts_from_the_start_date(monkeypatch):
    freeze_now(monkeypatch, NOW)
    calls = record_client_calls(monkeypatch)
    with HttpMocker() as m:
        m.get(_volume_request("2024-03-07", "2024-03-10"), page("result", []))
        output = run_read(VOLUME, config(start_date="2024-03-07T00:00:00Z"), state={VOLUME: {"day": "yesterday"}}, sync_mode=SyncMode.incremental)

    assert _volume_windows(calls) == [("2024-03-07T00:00:00Z", "2024-03-10T00:00:00Z")]
    assert any("unreadable state" in line for line in warnings(output))
    assert final_state(output, VOLUME) == {"day": "2024-03-09"}
