"""The simulator's legal-but-awkward answers (issue 12): what the SDK models allow and a strict server does.

Each test pins one behaviour the connector must survive, so that simplifying the simulator fails here first.
"""
from __future__ import annotations

import datetime as dt

import pytest
import requests

from integration_tests.simulator import Simulator

TOKEN = "sim-token-0123456789abcdef"
TODAY = dt.date(2026, 11, 23)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WEEK = {"granularity": "DAY", "startTime": "2026-11-10T00:00:00Z", "endTime": "2026-11-17T00:00:00Z"}
ALL_KEYS = {"groupBy.0": "eventName", "groupBy.1": "eventType", "groupBy.2": "source"}


def get(sim, path, params=None):
    return requests.get(sim.url + path, params=params, headers=AUTH, timeout=30)


def walk(sim, path, key, params, count=1000):
    out, pages, cursor = [], [], None
    while True:
        p = dict(params, **{"pagination.count": str(count)})
        if cursor:
            p["pagination.cursor"] = cursor
        r = get(sim, path, p)
        assert r.status_code == 200, (r.status_code, r.text[:300])
        data = r.json()["data"]
        out.extend(data[key])
        pages.append(data)
        cursor = (data.get("pagination") or {}).get("next")
        if not cursor:
            return out, pages


def group_key(g):
    return ((g.get("source") or {}).get("id"), g.get("eventName"), g.get("eventType"))


@pytest.fixture(scope="module")
def awk():
    with Simulator(token=TOKEN, seed=4, size="small", today=TODAY, awkward=True, enforce_endpoint_limits=False) as sim:
        yield sim


# ---------------------------------------------------------------- (1) groups without eventName / eventType / source
def test_volume_groups_may_lack_event_name_type_or_source(awk):
    groups, _ = walk(awk, "/events/volume", "result", dict(WEEK, **ALL_KEYS))
    assert groups and all(g["total"] > 0 for g in groups), "awkward omits groups without events in the window"
    nameless = [g for g in groups if "eventName" not in g]
    assert {g.get("eventType") for g in nameless} >= {"identify", None}
    assert any("source" not in g for g in groups), "a group without a source"
    assert any("eventType" not in g for g in groups), "a group without an event type"
    assert all("eventName" in g for g in groups if g.get("eventType") == "track")
    # the data model agrees with what is served
    triples = awk.workspace.event_volume.triples
    assert {group_key(g) for g in groups} <= set(triples)


def test_non_awkward_data_is_unchanged_by_the_knob():
    a = Simulator(token=TOKEN, seed=4, size="small", today=TODAY).workspace
    b = Simulator(token=TOKEN, seed=4, size="small", today=TODAY, awkward=True).workspace
    assert a.sources == b.sources and a.audit_events == b.audit_events
    assert all(name is not None and sid is not None for sid, name, _ in a.event_volume.triples)


# ---------------------------------------------------------------- (2) the 5000-entry cap, sorted by volume
def test_volume_cap_keeps_the_biggest_groups_and_says_so_only_by_count():
    with Simulator(token=TOKEN, seed=4, size="small", today=TODAY, awkward=True, enforce_endpoint_limits=False,
                   events_volume_cap=40) as sim:
        capped, pages = walk(sim, "/events/volume", "result", dict(WEEK, **ALL_KEYS), count=15)
        assert len(capped) == 40 and len(pages) == 3
        assert pages[-1]["pagination"]["totalEntries"] == 40  # no hint by default: only the count tells
        assert pages[0]["query"]["limit"] == 40
        sim.events_volume_cap = None
        full, _ = walk(sim, "/events/volume", "result", dict(WEEK, **ALL_KEYS))
    assert len(full) > 40
    totals = [g["total"] for g in full]
    assert totals == sorted(totals, reverse=True)
    assert [group_key(g) for g in capped] == [group_key(g) for g in full[:40]], "the smallest groups vanish"


def test_volume_cap_hint_and_source_filters():
    with Simulator(token=TOKEN, seed=4, size="small", today=TODAY, awkward=True, enforce_endpoint_limits=False,
                   events_volume_cap=40, events_volume_cap_hint=True) as sim:
        r = get(sim, "/events/volume", dict(WEEK, **ALL_KEYS, **{"pagination.count": "10"}))
        data = r.json()["data"]
        assert data["pagination"]["totalEntries"] > 40  # the hint: more exist beyond the cap
        ids = [s["id"] for s in sim.workspace.sources[:3]]
        params = dict(WEEK, **ALL_KEYS, **{f"sourceId.{i}": v for i, v in enumerate(ids)})
        some, pages = walk(sim, "/events/volume", "result", params)
        assert some and {g["source"]["id"] for g in some} <= set(ids)
        assert pages[0]["query"]["sourceId"] == ids
        assert len(some) == pages[0]["pagination"]["totalEntries"] < 40


def test_large_preset_week_exceeds_the_cap():
    with Simulator(token=TOKEN, seed=1, size="large", today=TODAY, awkward=True, enforce_endpoint_limits=False) as sim:
        r = get(sim, "/events/volume", dict(WEEK, **ALL_KEYS, **{"pagination.count": "1000"}))
        assert r.status_code == 200
        ev = sim.workspace.event_volume
        first = dt.date(2026, 11, 10).toordinal()
        nonzero = sum(1 for t in ev.triples if any(ev.count_ordinal(first + i, t) for i in range(7)))
    assert nonzero > 5000, nonzero


# ---------------------------------------------------------------- (3) indexed array params only
@pytest.mark.parametrize("name,value", [("groupBy", "eventName,eventType,source"), ("groupBy", "source"),
                                        ("sourceId", "a,b"), ("eventType", "track")])
def test_strict_server_refuses_non_indexed_arrays(awk, name, value):
    r = get(awk, "/events/volume", dict(WEEK, **{name: value}))
    assert r.status_code == 422
    err = r.json()["errors"][0]
    assert err["field"] == name and f"{name}.0" in err["message"]


def test_comma_joined_inside_an_index_is_one_value(awk):
    r = get(awk, "/events/volume", dict(WEEK, **{"groupBy.0": "eventName,eventType"}))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "groupBy"
    sid = awk.workspace.sources[0]["id"]
    misread, _ = walk(awk, "/events/volume", "result", dict(WEEK, **ALL_KEYS, **{"sourceId.0": f"{sid},x"}))
    assert misread == []  # one unknown source id: nothing matches


def test_bad_index_is_refused(awk):
    r = get(awk, "/events/volume", dict(WEEK, **{"groupBy.x": "source"}))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "groupBy"


def test_indexed_order_follows_the_index(awk):
    data = get(awk, "/events/volume", dict(WEEK, **{"groupBy.1": "source", "groupBy.0": "eventType"})).json()["data"]
    assert data["query"]["groupBy"] == ["eventType", "source"]


def test_long_urls_are_refused(awk):
    ids = {f"sourceId.{i}": "x" * 22 for i in range(400)}
    r = get(awk, "/events/volume", dict(WEEK, **ALL_KEYS, **ids))
    assert r.status_code == 414


# ---------------------------------------------------------------- (4) audit events visible late; settable now
def test_audit_events_appear_late_and_time_travel():
    with Simulator(token=TOKEN, seed=4, size="medium", today=TODAY, audit_max_delay_seconds=20 * 3600) as sim:
        ws = sim.workspace
        t = dt.datetime.combine(TODAY, dt.time(0), tzinfo=dt.timezone.utc) - dt.timedelta(hours=6)
        sim.now = t
        assert sim.now == t
        seen_early = {e["id"] for e in walk(sim, "/audit-events", "events", {})[0]}
        sim.now = t + dt.timedelta(days=2)
        seen_late = {e["id"] for e in walk(sim, "/audit-events", "events", {})[0]}
        assert seen_early < seen_late == {e["id"] for e in ws.audit_events}
        appeared = [e for e in ws.audit_events if e["id"] in seen_late - seen_early]
        # some appear with a timestamp well before the earlier "now": a 5-minute lookback misses them
        assert any(sim.audit_visible_at(e) > t.timestamp() and
                   dt.datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")) < t - dt.timedelta(hours=1)
                   for e in appeared)
        assert all(sim.audit_visible_at(e) - dt.datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).timestamp()
                   <= 20 * 3600 for e in ws.audit_events)
        sim.now = None
        assert abs(sim.now.timestamp() - dt.datetime.now(dt.timezone.utc).timestamp()) < 60


# ---------------------------------------------------------------- (5) windows the API refuses
def test_delivery_metrics_refuses_windows_older_than_the_granularity_allows(awk):
    dest = next(d for d in awk.workspace.destinations)
    awk.now = dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc)
    try:
        for gran, days in (("MINUTE", 2), ("HOUR", 7), ("DAY", 14)):
            oldest = awk.now - dt.timedelta(days=days)
            span = dt.timedelta(hours=1)
            ok = {"sourceId": dest["sourceId"], "granularity": gran,
                  "startTime": (oldest + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "endTime": (oldest + dt.timedelta(minutes=5) + span).strftime("%Y-%m-%dT%H:%M:%SZ")}
            assert get(awk, f"/destinations/{dest['id']}/delivery-metrics", ok).status_code == 200, gran
            old = dict(ok, startTime=(oldest - dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
            r = get(awk, f"/destinations/{dest['id']}/delivery-metrics", old)
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == "startTime", gran
    finally:
        awk.now = None


def test_usage_refuses_periods_older_than_the_retention():
    with Simulator(token=TOKEN, seed=4, size="small", today=TODAY, usage_retention_months=12,
                   now=dt.datetime(2026, 11, 23, 12, tzinfo=dt.timezone.utc)) as sim:
        assert get(sim, "/usage/api-calls/daily", {"period": "2025-11-01"}).status_code == 200
        r = get(sim, "/usage/mtu/sources/daily", {"period": "2025-10-01"})
        assert r.status_code == 422
        err = r.json()["errors"][0]
        assert err["field"] == "period" and "2025-10-01" in err["message"]


# ---------------------------------------------------------------- (6) optional fields absent, numbers as floats
def test_optional_fields_absent_as_the_sdk_allows(awk):
    fns = []
    for typ in ("DESTINATION", "SOURCE", "INSERT_SOURCE"):
        fns += walk(awk, "/functions", "functions", {"resourceType": typ})[0]
    assert any("id" not in f for f in fns) and any("id" in f for f in fns)
    rows = get(awk, "/usage/mtu/daily", {"period": "2026-11-01"}).json()["data"]["dailyWorkspaceMTUUsage"]
    assert rows and all(isinstance(r["periodStart"], float) for r in rows)
    regs = walk(awk, "/regulations", "regulations", {})[0]
    assert any(r.get("finishedAt") == "" for r in regs)
