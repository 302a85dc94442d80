#
# The four daily usage streams (issue 4): one `period=YYYY-MM-01` request per usage month from the month of
# start_date through the current month, a STATE after each month, re-reads from the month of (cursor - 3 days),
# bigint count strings emitted as integers, and a safe restart from start_date on a state it cannot read.
#
# "Now" is pinned with builders.freeze_now; start dates stay in the real past because config validation
# compares them with the real clock.
#

import logging
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, NamedTuple, Tuple

import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker

from source_segment import SourceSegment
from unit_tests.builders import (
    TOKEN,
    config,
    error,
    final_state,
    all_states,
    freeze_now,
    list_request,
    page,
    record_client_calls,
    records,
    run_read,
    warnings,
)


class Usage(NamedTuple):
    stream: str
    path: str
    data_key: str
    row: Callable[[str, str], Dict[str, Any]]  # (timestamp, count string) -> the API's row
    count_fields: Tuple[str, ...]


def _api_calls(timestamp: str, count: str) -> Dict[str, Any]:
    return {"timestamp": timestamp, "apiCalls": count}


def _api_calls_per_source(timestamp: str, count: str) -> Dict[str, Any]:
    return {"sourceId": "src_1", "timestamp": timestamp, "apiCalls": count}


def _mtu(timestamp: str, count: str) -> Dict[str, Any]:
    return {
        "timestamp": timestamp,
        "periodStart": 1,
        "periodEnd": 29,
        "anonymous": count,
        "anonymousIdentified": "7",
        "identified": "2147483648",
        "neverIdentified": "0",
    }


def _mtu_per_source(timestamp: str, count: str) -> Dict[str, Any]:
    return {"sourceId": "src_1", **_mtu(timestamp, count)}


MTU_COUNTS = ("anonymous", "anonymousIdentified", "identified", "neverIdentified")
API_CALLS_WORKSPACE = Usage("usage_api_calls_workspace_daily", "/usage/api-calls/daily", "dailyWorkspaceAPICallsUsage", _api_calls, ("apiCalls",))
API_CALLS_PER_SOURCE = Usage("usage_api_calls_per_source_daily", "/usage/api-calls/sources/daily", "dailyPerSourceAPICallsUsage", _api_calls_per_source, ("apiCalls",))
MTU_WORKSPACE = Usage("usage_mtu_workspace_daily", "/usage/mtu/daily", "dailyWorkspaceMTUUsage", _mtu, MTU_COUNTS)
MTU_PER_SOURCE = Usage("usage_mtu_per_source_daily", "/usage/mtu/sources/daily", "dailyPerSourceMTUUsage", _mtu_per_source, MTU_COUNTS)
USAGE_STREAMS = [pytest.param(usage, id=usage.stream) for usage in (API_CALLS_WORKSPACE, API_CALLS_PER_SOURCE, MTU_WORKSPACE, MTU_PER_SOURCE)]

NOW = datetime(2024, 3, 10, 12, 0, 0, tzinfo=timezone.utc)
MID_JANUARY = "2024-01-15T08:30:00Z"


def _mock_months(m: HttpMocker, usage: Usage, periods: List[str]) -> Dict[str, Any]:
    """One page per period, each row stamped with its period so records show which request they came from."""
    requests = {}
    for period in periods:
        requests[period] = list_request(usage.path, period=period)
        m.get(requests[period], page(usage.data_key, [usage.row(f"{period}T00:00:00Z", "12")]))
    return requests


def _periods(calls: List[tuple], usage: Usage) -> List[str]:
    assert all(path == usage.path and version == "v1" and params.get("pagination.count") == 1000 for path, params, version in calls), calls
    return [params["period"] for _, params, _ in calls]


def _timeline(output) -> List[Tuple[str, str]]:
    """Records and states in emission order: ("record", timestamp) / ("state", cursor)."""
    events = []
    for message in output.records_and_state_messages:
        if message.record is not None:
            events.append(("record", message.record.data["timestamp"]))
        else:
            events.append(("state", vars(message.state.stream.stream_state).get("timestamp")))
    return events


# --- slices and state ------------------------------------------------------------------------------


@pytest.mark.parametrize("usage", USAGE_STREAMS)
def test_usage_reads_each_month_from_a_mid_month_start_date_through_the_current_month_with_a_state_after_each(monkeypatch, usage):
    freeze_now(monkeypatch, NOW)
    calls = record_client_calls(monkeypatch)
    with HttpMocker() as m:
        _mock_months(m, usage, ["2024-01-01", "2024-02-01", "2024-03-01"])
        output = run_read(usage.stream, config(start_date=MID_JANUARY), sync_mode=SyncMode.incremental)

    assert _periods(calls, usage) == ["2024-01-01", "2024-02-01", "2024-03-01"]
    # the state follows each month's rows: the month's last day, then "now" for the current month
    assert _timeline(output) == [
        ("record", "2024-01-01T00:00:00Z"),
        ("state", "2024-01-31T00:00:00Z"),
        ("record", "2024-02-01T00:00:00Z"),
        ("state", "2024-02-29T00:00:00Z"),
        ("record", "2024-03-01T00:00:00Z"),
        ("state", "2024-03-10T12:00:00Z"),
    ]


@pytest.mark.parametrize("usage", USAGE_STREAMS)
def test_usage_emits_bigint_count_strings_as_integers_beyond_32_and_64_bits(monkeypatch, usage):
    freeze_now(monkeypatch, NOW)
    beyond_int64 = "9223372036854775808"  # 2**63
    with HttpMocker() as m:
        m.get(list_request(usage.path, period="2024-03-01"), page(usage.data_key, [usage.row("2024-03-01T00:00:00Z", beyond_int64)]))
        output = run_read(usage.stream, config(start_date="2024-03-02T00:00:00Z"), sync_mode=SyncMode.incremental)

    (record,) = records(output, usage.stream)
    first = usage.count_fields[0]
    assert record[first] == 2**63 and type(record[first]) is int
    for field in usage.count_fields:
        assert type(record[field]) is int, (field, record[field])
    if "identified" in usage.count_fields:
        assert record["identified"] == 2**31  # > int32 max
        assert record["periodStart"] == 1 and record["periodEnd"] == 29  # numbers stay numbers
    assert record["timestamp"] == "2024-03-01T00:00:00Z"


def test_usage_keeps_a_count_that_is_not_an_integer_as_sent_and_warns(monkeypatch):
    freeze_now(monkeypatch, NOW)
    with HttpMocker() as m:
        m.get(list_request("/usage/api-calls/daily", period="2024-03-01"), page("dailyWorkspaceAPICallsUsage", [_api_calls("2024-03-01T00:00:00Z", "12.5")]))
        output = run_read("usage_api_calls_workspace_daily", config(start_date="2024-03-02T00:00:00Z"), sync_mode=SyncMode.incremental)

    assert records(output) == [{"timestamp": "2024-03-01T00:00:00Z", "apiCalls": "12.5"}]
    assert any("apiCalls='12.5' is not an integer" in line for line in warnings(output))


# --- resuming from state ---------------------------------------------------------------------------


@pytest.mark.parametrize("usage", USAGE_STREAMS)
def test_usage_resumed_mid_month_rereads_only_the_current_month(monkeypatch, usage):
    freeze_now(monkeypatch, NOW)
    calls = record_client_calls(monkeypatch)
    with HttpMocker() as m:
        _mock_months(m, usage, ["2024-01-01", "2024-02-01", "2024-03-01"])
        output = run_read(usage.stream, config(start_date=MID_JANUARY), state={usage.stream: {"timestamp": "2024-03-05T00:00:00Z"}}, sync_mode=SyncMode.incremental)

    assert _periods(calls, usage) == ["2024-03-01"]
    assert all_states(output, usage.stream) == [{"timestamp": "2024-03-10T12:00:00Z"}]


@pytest.mark.parametrize("usage", USAGE_STREAMS)
def test_usage_resumed_from_a_cursor_on_the_first_of_the_month_rereads_the_previous_month_too(monkeypatch, usage):
    freeze_now(monkeypatch, NOW)
    calls = record_client_calls(monkeypatch)
    with HttpMocker() as m:
        _mock_months(m, usage, ["2024-01-01", "2024-02-01", "2024-03-01"])
        output = run_read(usage.stream, config(start_date=MID_JANUARY), state={usage.stream: {"timestamp": "2024-03-01T00:00:00Z"}}, sync_mode=SyncMode.incremental)

    assert _periods(calls, usage) == ["2024-02-01", "2024-03-01"]
    # re-reading February never moves the cursor backwards
    assert all_states(output, usage.stream) == [{"timestamp": "2024-03-01T00:00:00Z"}, {"timestamp": "2024-03-10T12:00:00Z"}]


def test_usage_sync_on_the_first_day_of_a_month_reads_that_month_and_the_next_sync_rereads_the_closed_month(monkeypatch):
    first_of_march = datetime(2024, 3, 1, 6, 0, 0, tzinfo=timezone.utc)
    freeze_now(monkeypatch, first_of_march)
    calls = record_client_calls(monkeypatch)
    with HttpMocker() as m:
        _mock_months(m, API_CALLS_WORKSPACE, ["2024-01-01", "2024-02-01", "2024-03-01"])
        first = run_read("usage_api_calls_workspace_daily", config(start_date=MID_JANUARY), sync_mode=SyncMode.incremental)
        assert [params["period"] for _, params, _ in calls] == ["2024-01-01", "2024-02-01", "2024-03-01"]
        assert final_state(first, "usage_api_calls_workspace_daily") == {"timestamp": "2024-03-01T06:00:00Z"}

        calls.clear()
        second = run_read(
            "usage_api_calls_workspace_daily", config(start_date=MID_JANUARY),
            state={"usage_api_calls_workspace_daily": final_state(first, "usage_api_calls_workspace_daily")}, sync_mode=SyncMode.incremental,
        )
    # February may still be revised on March 1st: it is read again
    assert [params["period"] for _, params, _ in calls] == ["2024-02-01", "2024-03-01"]
    assert final_state(second, "usage_api_calls_workspace_daily") == {"timestamp": "2024-03-01T06:00:00Z"}


@pytest.mark.parametrize(
    "start_date, now, periods, states",
    [
        pytest.param(
            "2023-01-20T00:00:00Z", datetime(2023, 5, 3, 9, 15, tzinfo=timezone.utc),
            ["2023-01-01", "2023-02-01", "2023-03-01", "2023-04-01", "2023-05-01"],
            ["2023-01-31T00:00:00Z", "2023-02-28T00:00:00Z", "2023-03-31T00:00:00Z", "2023-04-30T00:00:00Z", "2023-05-03T09:15:00Z"],
            id="31-28-31-30-days-in-2023",
        ),
        pytest.param(
            "2024-02-29T23:00:00Z", datetime(2024, 4, 1, 0, 30, tzinfo=timezone.utc),
            ["2024-02-01", "2024-03-01", "2024-04-01"],
            ["2024-02-29T00:00:00Z", "2024-03-31T00:00:00Z", "2024-04-01T00:30:00Z"],
            id="leap-february-29-days",
        ),
        pytest.param(
            "2023-11-30T12:00:00Z", datetime(2024, 1, 2, 0, 0, tzinfo=timezone.utc),
            ["2023-11-01", "2023-12-01", "2024-01-01"],
            ["2023-11-30T00:00:00Z", "2023-12-31T00:00:00Z", "2024-01-02T00:00:00Z"],
            id="across-the-new-year",
        ),
    ],
)
def test_usage_month_ends_follow_the_calendar(monkeypatch, start_date, now, periods, states):
    freeze_now(monkeypatch, now)
    calls = record_client_calls(monkeypatch)
    usage = MTU_WORKSPACE
    with HttpMocker() as m:
        _mock_months(m, usage, periods)
        output = run_read(usage.stream, config(start_date=start_date), sync_mode=SyncMode.incremental)

    assert _periods(calls, usage) == periods
    assert all_states(output, usage.stream) == [{"timestamp": value} for value in states]


def test_usage_state_beyond_now_is_treated_as_now(monkeypatch):
    freeze_now(monkeypatch, NOW)
    calls = record_client_calls(monkeypatch)
    with HttpMocker() as m:
        _mock_months(m, API_CALLS_WORKSPACE, ["2024-03-01"])
        output = run_read(
            "usage_api_calls_workspace_daily", config(start_date=MID_JANUARY),
            state={"usage_api_calls_workspace_daily": {"timestamp": "2031-01-01T00:00:00Z"}}, sync_mode=SyncMode.incremental,
        )
    assert [params["period"] for _, params, _ in calls] == ["2024-03-01"]
    assert final_state(output, "usage_api_calls_workspace_daily") == {"timestamp": "2024-03-10T12:00:00Z"}


# --- full refresh, garbage state, 403 ----------------------------------------------------------------


@pytest.mark.parametrize("usage", USAGE_STREAMS)
def test_usage_full_refresh_ignores_the_incoming_state_but_still_emits_one(monkeypatch, usage):
    freeze_now(monkeypatch, NOW)
    calls = record_client_calls(monkeypatch)
    with HttpMocker() as m:
        _mock_months(m, usage, ["2024-01-01", "2024-02-01", "2024-03-01"])
        output = run_read(usage.stream, config(start_date=MID_JANUARY), state={usage.stream: {"timestamp": "2024-03-05T00:00:00Z"}}, sync_mode=SyncMode.full_refresh)

    assert _periods(calls, usage) == ["2024-01-01", "2024-02-01", "2024-03-01"]
    assert len(records(output, usage.stream)) == 3
    # the cursor advances in full refresh too, so a following incremental sync does not start over
    assert final_state(output, usage.stream) == {"timestamp": "2024-03-10T12:00:00Z"}


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param({"timestamp": "banana"}, id="unparseable-timestamp"),
        pytest.param({"foo": 1}, id="unknown-key"),
        pytest.param({"timestamp": 1709251200}, id="a-number-as-cursor"),
        pytest.param({"timestamp": None}, id="null-cursor"),
    ],
)
def test_usage_unreadable_state_warns_and_restarts_from_the_start_date(monkeypatch, garbage):
    freeze_now(monkeypatch, NOW)
    calls = record_client_calls(monkeypatch)
    with HttpMocker() as m:
        _mock_months(m, API_CALLS_WORKSPACE, ["2024-01-01", "2024-02-01", "2024-03-01"])
        output = run_read("usage_api_calls_workspace_daily", config(start_date=MID_JANUARY), state={"usage_api_calls_workspace_daily": garbage}, sync_mode=SyncMode.incremental)

    assert [params["period"] for _, params, _ in calls] == ["2024-01-01", "2024-02-01", "2024-03-01"]
    assert any("unreadable state" in line and "2024-01-15T08:30:00Z" in line for line in warnings(output)), warnings(output)
    assert final_state(output, "usage_api_calls_workspace_daily") == {"timestamp": "2024-03-10T12:00:00Z"}
    assert not output.errors


@pytest.mark.parametrize("raw_state", [pytest.param(1709251200, id="a-bare-number"), pytest.param("2024-03-05", id="a-bare-string"), pytest.param([1, 2], id="a-list")])
def test_usage_state_that_is_not_an_object_warns_and_restarts_from_the_start_date(monkeypatch, caplog, raw_state):
    """The CDK's own state parser rejects a non-object stream state before any stream sees it (schema validation
    of the state file); a caller setting it directly on the stream still gets a restart, not a crash."""
    freeze_now(monkeypatch, NOW)
    stream = next(s for s in SourceSegment().streams(config(start_date=MID_JANUARY)) if s.name == "usage_api_calls_workspace_daily")
    with caplog.at_level(logging.WARNING):
        stream.state = raw_state

    assert stream.state == {}
    assert [s["params"]["period"] for s in stream.stream_slices(sync_mode=SyncMode.incremental)] == ["2024-01-01", "2024-02-01", "2024-03-01"]
    assert any("unreadable state" in r.getMessage() and "2024-01-15T08:30:00Z" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("usage", USAGE_STREAMS)
def test_usage_403_skips_the_stream_with_a_warning_and_keeps_the_incoming_state(monkeypatch, usage):
    freeze_now(monkeypatch, NOW)
    calls = record_client_calls(monkeypatch)
    with HttpMocker() as m:
        m.get(list_request(usage.path, period="2024-02-01"), error(403, "Forbidden"))
        m.get(list_request(usage.path, period="2024-03-01"), page(usage.data_key, [usage.row("2024-03-01T00:00:00Z", "1")]))
        output = run_read(usage.stream, config(start_date=MID_JANUARY), state={usage.stream: {"timestamp": "2024-02-10T00:00:00Z"}}, sync_mode=SyncMode.incremental)

    assert _periods(calls, usage) == ["2024-02-01"]  # no further months after the 403
    assert records(output, usage.stream) == []
    assert any(f"Skipping stream `{usage.stream}`" in line and "403" in line for line in warnings(output))
    # no state advance: whatever STATE the CDK emits still holds the incoming cursor
    assert final_state(output, usage.stream) == {"timestamp": "2024-02-10T00:00:00Z"}
    assert all(state == {"timestamp": "2024-02-10T00:00:00Z"} for state in all_states(output, usage.stream))
    assert not output.errors
    assert TOKEN not in "".join(warnings(output))
