#
# Issue 12: rows the API may legally send must never be dropped. Event volume groups without a name, type or
# source; the 5000-group cap on /events/volume (split per source batch, halved, then in time, or the window fails);
# indexed array params; an old usage month; delivery-metrics windows at the granularity's limit; functions
# without an id. Exact URLs are pinned with HttpMocker; unmatched requests fail the test.
#

from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Sequence

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker
from airbyte_cdk.test.models.outcome import ExpectedOutcome

from unit_tests.builders import (
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

NOW = datetime(2024, 3, 10, 12, 0, 30, tzinfo=timezone.utc)
VOLUME = "event_volume_daily"
DAYS = ("2024-03-07", "2024-03-08", "2024-03-09")
ALL = ("eventName", "eventType", "source")


def volume_request(start: str = DAYS[0], end: str = "2024-03-10", group_by: Sequence[str] = ALL,
                   source_ids: Sequence[str] = (), cursor: Optional[str] = None):
    params: Dict[str, Any] = {"granularity": "DAY", "startTime": f"{start}T00:00:00Z", "endTime": f"{end}T00:00:00Z"}
    params.update({f"groupBy.{i}": g for i, g in enumerate(group_by)})
    params.update({f"sourceId.{i}": s for i, s in enumerate(source_ids)})
    return list_request("/events/volume", cursor=cursor, **params)


def group(source: Optional[str], name: Optional[str], typ: Optional[str], counts: Dict[str, int]) -> Dict[str, Any]:
    g: Dict[str, Any] = {}
    if source:
        g["source"] = {"id": source, "slug": f"slug-{source}"}
    if name is not None:
        g["eventName"] = name
    if typ is not None:
        g["eventType"] = typ
    g["total"] = sum(counts.values())
    g["series"] = [{"time": f"{day}T00:00:00Z", "count": counts.get(day, 0)} for day in DAYS]
    return g


def volume_page(groups: List[Dict[str, Any]], limit: Optional[int] = None, total: Optional[int] = None, next_cursor=None):
    query = {"limit": limit} if limit else {}
    return page("result", groups, next_cursor=next_cursor, total=total, path="/events/volume", query=query)


def keys(output) -> set:
    return {(r["day"], r["sourceId"], r["eventName"], r["eventType"], r["count"]) for r in records(output, VOLUME)}


def read_volume(**cfg: Any):
    return run_read(VOLUME, config(start_date="2024-03-07T00:00:00Z", **cfg), sync_mode=SyncMode.incremental)


# --- (1) groups without event name, type or source ---------------------------------------------------------


def test_groups_without_name_type_or_source_are_emitted_with_empty_key_parts_and_zero_days_are_not(monkeypatch):
    freeze_now(monkeypatch, NOW)
    calls = record_client_calls(monkeypatch)
    groups = [
        group("src_1", "Order Completed", "track", {"2024-03-07": 5, "2024-03-09": 2}),
        group("src_1", None, "identify", {"2024-03-08": 7}),
        group(None, None, "page", {"2024-03-07": 3}),
        group("src_2", None, None, {"2024-03-09": 1.5}),
        group("src_2", "Idle", "track", {}),
    ]
    with HttpMocker() as m:
        m.get(volume_request(), volume_page(groups))
        output = read_volume()

    assert len(calls) == 1  # under the cap: one request per window, nothing more
    assert keys(output) == {
        ("2024-03-07", "src_1", "Order Completed", "track", 5),
        ("2024-03-09", "src_1", "Order Completed", "track", 2),
        ("2024-03-08", "src_1", "", "identify", 7),
        ("2024-03-07", "", "", "page", 3),
        ("2024-03-09", "src_2", "", "", 1.5),
    }
    assert not [w for w in warnings(output) if "skipped" in w]
    sourceless = next(r for r in records(output, VOLUME) if r["sourceId"] == "")
    assert sourceless.get("sourceName") is None and sourceless.get("sourceSlug") is None
    assert final_state(output, VOLUME) == {"day": "2024-03-09"}


def test_the_request_sends_array_params_in_the_indexed_form_never_comma_joined(monkeypatch):
    freeze_now(monkeypatch, NOW)
    with HttpMocker() as m:
        request = volume_request()
        m.get(request, volume_page([]))
        read_volume()
        m.assert_number_of_calls(request, 1)
    url = request._parsed_url
    assert "groupBy.0=eventName&groupBy.1=eventType&groupBy.2=source" in url.query
    assert "groupBy=" not in url.query and "%2C" not in url.query


# --- (2) the 5000-entry cap ------------------------------------------------------------------------------------

A1 = group("src_a", "A1", "track", {"2024-03-07": 100})
A2 = group("src_a", "A2", "track", {"2024-03-08": 90})
A3 = group("src_a", None, "identify", {"2024-03-09": 1})
B1 = group("src_b", "B1", "track", {"2024-03-07": 80})
B2 = group("src_b", "B2", "track", {"2024-03-08": 2})
C1 = group("src_c", "C1", "track", {"2024-03-09": 70})
N1 = group(None, "N1", "track", {"2024-03-07": 60})
EVERY_GROUP = [A1, A2, B1, C1, N1, B2, A3]  # largest first, as Segment orders them


def per_source(totals: Dict[Optional[str], int]) -> List[Dict[str, Any]]:
    out = []
    for sid, total in totals.items():
        g: Dict[str, Any] = {"total": total, "series": []}
        if sid:
            g["source"] = {"id": sid}
        out.append(g)
    return out


def expected_rows(groups) -> set:
    rows = set()
    for g in groups:
        for p in g["series"]:
            if p["count"]:
                rows.add((p["time"][:10], g.get("source", {}).get("id", ""), g.get("eventName", ""), g.get("eventType", ""), p["count"]))
    return rows


def test_a_capped_window_is_read_per_source_batch_halving_a_batch_that_is_still_capped(monkeypatch):
    freeze_now(monkeypatch, NOW)
    calls = record_client_calls(monkeypatch)
    with HttpMocker() as m:
        m.get(volume_request(), volume_page(EVERY_GROUP[:5], limit=5))  # exactly the limit: capped
        m.get(volume_request(group_by=["source"]), volume_page(per_source({"src_a": 191, "src_b": 82, "src_c": 70, None: 60}), limit=5))
        m.get(volume_request(source_ids=["src_a", "src_b"]), volume_page([A1, A2, B1, B2, A3], limit=5))  # still capped
        m.get(volume_request(source_ids=["src_a"]), volume_page([A1, A2, A3], limit=5))
        m.get(volume_request(source_ids=["src_b"]), volume_page([B1, B2], limit=5))
        output = read_volume()

    # src_c and the groups without a source were complete in the capped answer: not asked again
    assert len(calls) == 5
    assert keys(output) == expected_rows(EVERY_GROUP)
    assert len(records(output, VOLUME)) == 7  # no duplicates from the capped answer
    assert final_state(output, VOLUME) == {"day": "2024-03-09"}
    assert any("reading it per source" in line for line in log_messages(output, "INFO"))


def test_a_single_source_still_capped_is_split_in_time(monkeypatch):
    freeze_now(monkeypatch, NOW)
    a1 = group("src_a", "A1", "track", {"2024-03-07": 9, "2024-03-08": 9})
    a2 = group("src_a", "A2", "track", {"2024-03-07": 8})
    a3 = group("src_a", "A3", "track", {"2024-03-09": 7})
    a4 = group("src_a", "A4", "track", {"2024-03-09": 6})

    def within(g, start, end):
        return dict(g, series=[p for p in g["series"] if start <= p["time"][:10] < end])

    with HttpMocker() as m:
        m.get(volume_request(), volume_page([a1, a2, a3], limit=3))
        m.get(volume_request(group_by=["source"]), volume_page(per_source({"src_a": 39}), limit=3))
        m.get(volume_request(source_ids=["src_a"]), volume_page([a1, a2, a3], limit=3))
        m.get(volume_request("2024-03-07", "2024-03-08", source_ids=["src_a"]),
              volume_page([within(a1, "2024-03-07", "2024-03-08"), within(a2, "2024-03-07", "2024-03-08")], limit=3))
        m.get(volume_request("2024-03-08", "2024-03-10", source_ids=["src_a"]),
              volume_page([within(g, "2024-03-08", "2024-03-10") for g in (a1, a3, a4)], limit=3))
        m.get(volume_request("2024-03-08", "2024-03-09", source_ids=["src_a"]), volume_page([within(a1, "2024-03-08", "2024-03-09")], limit=3))
        m.get(volume_request("2024-03-09", "2024-03-10", source_ids=["src_a"]),
              volume_page([within(a3, "2024-03-09", "2024-03-10"), within(a4, "2024-03-09", "2024-03-10")], limit=3))
        output = read_volume()

    assert keys(output) == expected_rows([a1, a2, a3, a4])
    assert final_state(output, VOLUME) == {"day": "2024-03-09"}


def test_the_default_5000_limit_is_seen_on_the_first_page_and_the_rest_is_not_read(monkeypatch):
    freeze_now(monkeypatch, NOW)
    calls = record_client_calls(monkeypatch)
    big = [group("src_a", f"E{i}", "track", {"2024-03-07": 10_000 - i}) for i in range(1000)]
    small = group("src_a", "tiny", "track", {"2024-03-08": 1})
    with HttpMocker() as m:
        # no `query.limit` echoed; totalEntries says the (capped) answer holds 5000 groups
        m.get(volume_request(), volume_page(big, total=5000, next_cursor="bmV4dA=="))
        m.get(volume_request(group_by=["source"]), volume_page(per_source({"src_a": sum(g["total"] for g in big) + 1})))
        m.get(volume_request(source_ids=["src_a"]), volume_page(big + [small]))
        output = read_volume()

    assert [params.get("pagination.cursor") for _, params, _ in calls] == [None, None, None]  # page 2 never asked
    assert len(records(output, VOLUME)) == 1001


def test_groups_without_a_source_beyond_the_limit_fail_the_window_loudly_and_keep_the_cursor(monkeypatch):
    freeze_now(monkeypatch, NOW)
    with HttpMocker() as m:
        m.get(volume_request(), volume_page([A1, A2], limit=2))
        m.get(volume_request(group_by=["source"]), volume_page(per_source({"src_a": 191, None: 60}), limit=3))
        output = run_read(VOLUME, config(start_date="2024-03-07T00:00:00Z"), state={VOLUME: {"day": "2024-03-07"}},
                          sync_mode=SyncMode.incremental, expected_outcome=ExpectedOutcome.EXPECT_EXCEPTION)

    assert records(output, VOLUME) == []  # never a capped answer emitted as if complete
    assert all(state == {"day": "2024-03-07"} for state in all_states(output, VOLUME))
    message = next(e for e in error_messages(output) if "event volume" in e)
    assert "2024-03-07..2024-03-09" in message and "without a source" in message and "cursor stays before it" in message


def test_a_source_capped_on_a_single_day_fails_the_window(monkeypatch):
    freeze_now(monkeypatch, NOW)
    with HttpMocker() as m:
        m.get(volume_request("2024-03-09", "2024-03-10"), volume_page([A1, A2], limit=2))
        m.get(volume_request("2024-03-09", "2024-03-10", group_by=["source"]), volume_page(per_source({"src_a": 500}), limit=3))
        m.get(volume_request("2024-03-09", "2024-03-10", source_ids=["src_a"]), volume_page([A1, A2], limit=2))
        output = run_read(VOLUME, config(start_date="2024-03-07T00:00:00Z"), state={VOLUME: {"day": "2024-03-09"}},
                          sync_mode=SyncMode.incremental, expected_outcome=ExpectedOutcome.EXPECT_EXCEPTION)

    assert records(output, VOLUME) == []
    assert any("source src_a alone has 2 event groups or more on 2024-03-09" in e for e in error_messages(output))


def test_source_batches_keep_the_url_short(monkeypatch):
    from source_segment.streams.volume_split import batches

    ids = [f"{i:022d}" for i in range(1000)]
    out = list(batches(ids))
    assert [s for b in out for s in b] == ids
    assert all(sum(len(f"&sourceId.{i}={s}") for i, s in enumerate(b)) <= 6000 for b in out)
    assert len(out) > 1


# --- (5) windows the API refuses --------------------------------------------------------------------------------


def test_an_old_usage_month_refused_for_retention_is_one_warning_and_the_rest_is_read(monkeypatch):
    freeze_now(monkeypatch, NOW)
    path, key = "/usage/api-calls/daily", "dailyWorkspaceAPICallsUsage"
    with HttpMocker() as m:
        m.get(list_request(path, period="2024-01-01"), error(422, "period 2024-01-01 is older than the usage retention", field="period"))
        m.get(list_request(path, period="2024-02-01"), page(key, [{"apiCalls": "5", "timestamp": "2024-02-01T00:00:00Z"}]))
        m.get(list_request(path, period="2024-03-01"), page(key, [{"apiCalls": "6", "timestamp": "2024-03-01T00:00:00Z"}]))
        output = run_read("usage_api_calls_workspace_daily", config(), sync_mode=SyncMode.incremental)

    assert not output.errors
    assert [r["apiCalls"] for r in records(output, "usage_api_calls_workspace_daily")] == [5, 6]
    named = [w for w in warnings(output) if "2024-01" in w]
    assert len(named) == 1 and "skipped" in named[0]
    assert final_state(output, "usage_api_calls_workspace_daily") == {"timestamp": "2024-03-10T12:00:30Z"}


def test_the_current_usage_month_refused_is_an_error(monkeypatch):
    freeze_now(monkeypatch, NOW)
    path = "/usage/api-calls/daily"
    with HttpMocker() as m:
        m.get(list_request(path, period="2024-03-01"), error(422, "period is invalid", field="period"))
        output = run_read("usage_api_calls_workspace_daily", config(start_date="2024-03-01T00:00:00Z"),
                          sync_mode=SyncMode.incremental, expected_outcome=ExpectedOutcome.EXPECT_EXCEPTION)
    assert any("422" in e for e in error_messages(output))


def test_delivery_metrics_window_at_the_limit_starts_after_the_oldest_allowed_start(monkeypatch):
    freeze_now(monkeypatch, NOW)
    with HttpMocker() as m:
        m.get(list_request("/destinations"), page("destinations", [{"id": "dst_1", "sourceId": "src_9"}]))
        # HOUR allows starts back to 7 days before now; 168 hours ending a minute ago would be older than that
        request = segment_request(
            "/destinations/dst_1/delivery-metrics",
            {"sourceId": "src_9", "granularity": "HOUR", "startTime": "2024-03-03T12:16:00Z", "endTime": "2024-03-10T11:59:00Z"},
            version="beta",
        )
        m.get(request, json_response({"data": {"deliveryMetricsSummary": {"destinationMetadataId": "m", "metrics": []}}}))
        output = run_read("destination_delivery_metrics_summary", config(delivery_metrics_window_hours=168))
        m.assert_number_of_calls(request, 1)

    (record,) = records(output, "destination_delivery_metrics_summary")
    assert record["windowStart"] == "2024-03-03T12:16:00Z"
    assert any("oldest start Segment allows" in line for line in log_messages(output, "INFO"))


# --- (6) optional fields absent ---------------------------------------------------------------------------------


def test_a_function_without_an_id_is_kept_with_a_stable_derived_id(monkeypatch):
    listed = {"resourceType": "SOURCE", "displayName": "Enricher", "createdAt": "2024-01-01T00:00:00Z"}

    def read_once():
        with HttpMocker() as m:
            for typ in ("DESTINATION", "INSERT_DESTINATION", "INSERT_SOURCE", "INSERT_TRANSFORMATION"):
                m.get(list_request("/functions", resourceType=typ), page("functions", []))
            m.get(list_request("/functions", resourceType="SOURCE"), page("functions", [dict(listed), {"id": "fn_1", "resourceType": "SOURCE"}]))
            return records(run_read("functions", config()), "functions")

    first, second = read_once(), read_once()
    assert len(first) == 2
    derived = next(r for r in first if r["id"] != "fn_1")
    assert derived["id"].startswith("derived:") and derived["displayName"] == "Enricher"
    assert [r["id"] for r in first] == [r["id"] for r in second]
