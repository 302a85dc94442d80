"""Tests of the Segment Public API simulator itself (fast; no sleeping: rate limits use a fake clock)."""
from __future__ import annotations

import base64
import datetime as dt
import email.utils
import http.client
import json
import time

import pytest
import requests

from integration_tests.simulator import FaultSpec, Simulator

TOKEN = "sim-token-0123456789abcdef"
TODAY = dt.date(2026, 11, 23)
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class FakeClock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, s: float) -> None:
        self.t += s


def get(sim, path, params=None, headers=AUTH, **kw):
    return requests.get(sim.url + path, params=params, headers=headers, timeout=kw.pop("timeout", 10), **kw)


def walk(sim, path, key, count, params=None):
    """Follow next cursors; return (records, pages)."""
    out, pages, cursor = [], [], None
    while True:
        p = dict(params or {}, **{"pagination.count": str(count)})
        if cursor:
            p["pagination.cursor"] = cursor
        r = get(sim, path, p)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        data = r.json()["data"]
        pages.append(data["pagination"])
        out.extend(data[key])
        cursor = data["pagination"].get("next")
        if not cursor:
            return out, pages
        assert len(pages) < 10000


@pytest.fixture(scope="module")
def small():
    with Simulator(token=TOKEN, seed=3, size="small", today=TODAY) as sim:
        yield sim


@pytest.fixture(scope="module")
def tiny():
    with Simulator(token=TOKEN, seed=1, size="tiny", today=TODAY, deleted_parents=1) as sim:
        yield sim


# ---------------------------------------------------------------- startup / basics
def test_startup_time_per_size():
    for size in ("tiny", "small", "medium", "large"):
        t0 = time.perf_counter()
        sim = Simulator(token=TOKEN, size=size, today=TODAY).start()
        started = time.perf_counter() - t0
        r = get(sim, "/sources", {"pagination.count": "1"})
        first = time.perf_counter() - t0
        assert r.status_code == 200
        sim.stop()
        print(f"\nstartup size={size}: start()={started * 1000:.1f} ms, first response={first * 1000:.1f} ms")


def test_auth_401(small):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}, {"Authorization": f"bearer {TOKEN}"}):
        r = get(small, "/sources", headers=headers)
        assert r.status_code == 401
        assert r.json() == {"errors": [{"type": "unauthorized", "message": "Unauthorized", "status": 401}]}
    assert get(small, "/").json()["data"]["workspace"] == small.workspace.workspace


def test_unknown_path_404_and_labels_unpaginated(small):
    r = get(small, "/nope")
    assert r.status_code == 404 and r.json()["errors"][0]["type"] == "not-found"
    r = get(small, "/labels", {"pagination.count": "1"})
    data = r.json()["data"]
    assert "pagination" not in data and data["labels"] == small.workspace.labels


def test_rate_limit_headers_on_every_response(small):
    r = get(small, "/roles")
    for h in ("X-RateLimit-Consumed", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert h in r.headers
    assert email.utils.parsedate_to_datetime(r.headers["X-RateLimit-Reset"]).tzinfo is not None
    assert small.requests[-1].headers.get("Authorization") == f"Bearer {TOKEN}"


# ---------------------------------------------------------------- pagination
def test_pagination_walk_sources_exactly_once(small):
    recs, pages = walk(small, "/sources", "sources", 7)
    ids = [s["id"] for s in recs]
    assert ids == [s["id"] for s in small.workspace.sources]
    assert len(set(ids)) == len(ids) == 50
    assert pages[0]["previous"] is None
    assert all("next" in p for p in pages[:-1]) and "next" not in pages[-1]
    assert all(p["totalEntries"] == 50 for p in pages)
    assert pages[1]["previous"] == pages[0]["current"]
    # the first page's cursor decodes as base64 (opaque but base64)
    base64.urlsafe_b64decode(pages[0]["current"])


@pytest.mark.parametrize("count", [1, 3, 200, 1000])
def test_pagination_walk_all_endpoints(tiny, count):
    ws = tiny.workspace
    lists = {"/sources": ("sources", ws.sources), "/destinations": ("destinations", ws.destinations),
             "/warehouses": ("warehouses", ws.warehouses), "/catalog/sources": ("sourcesCatalog", ws.catalog_sources),
             "/catalog/destinations": ("destinationsCatalog", ws.catalog_destinations),
             "/catalog/warehouses": ("warehousesCatalog", ws.catalog_warehouses),
             "/tracking-plans": ("trackingPlans", ws.tracking_plans), "/users": ("users", ws.users),
             "/groups": ("userGroups", ws.groups), "/roles": ("roles", ws.roles), "/invites": ("invites", ws.invites),
             "/transformations": ("transformations", ws.transformations), "/spaces": ("spaces", ws.spaces),
             "/reverse-etl-models": ("models", ws.reverse_etl_models), "/regulations": ("regulations", ws.regulations)}
    for path, (key, expected) in lists.items():
        recs, _ = walk(tiny, path, key, count)
        assert recs == expected, path
    for rt in ("DESTINATION", "INSERT_DESTINATION", "INSERT_SOURCE", "INSERT_TRANSFORMATION", "SOURCE"):
        recs, _ = walk(tiny, "/functions", "functions", count, {"resourceType": rt})
        assert recs == [f for f in ws.functions if f["resourceType"] == rt]
    deleted = tiny.deleted_ids
    for s in ws.sources:
        if s["id"] in deleted["sources"]:
            continue
        assert walk(tiny, f"/sources/{s['id']}/connected-destinations", "destinations", count)[0] == ws.source_connected_destinations[s["id"]]
        assert walk(tiny, f"/sources/{s['id']}/connected-warehouses", "warehouses", count)[0] == ws.source_connected_warehouses[s["id"]]
    for d in ws.destinations:
        if d["id"] in deleted["destinations"]:
            continue
        assert walk(tiny, f"/destinations/{d['id']}/subscriptions", "subscriptions", count)[0] == ws.destination_subscriptions[d["id"]]
        assert walk(tiny, f"/destination/{d['id']}/filters", "filters", count)[0] == ws.destination_filters[d["id"]]
    for t in ws.tracking_plans:
        if t["id"] in deleted["tracking_plans"]:
            continue
        assert walk(tiny, f"/tracking-plans/{t['id']}/rules", "rules", count)[0] == ws.tracking_plan_rules[t["id"]]
        assert walk(tiny, f"/tracking-plans/{t['id']}/sources", "sources", count)[0] == ws.tracking_plan_sources[t["id"]]
    for g in ws.groups:
        if g["id"] not in deleted["groups"]:
            assert walk(tiny, f"/groups/{g['id']}/users", "users", count)[0] == ws.group_users[g["id"]]


def test_default_count_is_200(small):
    data = get(small, "/audit-events").json()["data"]  # small has ~500 audit events
    assert len(data["events"]) == 200 and "next" in data["pagination"]


@pytest.mark.parametrize("value", ["0", "1001", "-1", "abc", "1.5", ""])
def test_count_out_of_range_422(small, value):
    r = get(small, "/sources", {"pagination.count": value})
    assert r.status_code == 422
    err = r.json()["errors"][0]
    assert err["type"] == "validation" and err["field"] == "pagination.count"


def test_max_page_count_200():
    with Simulator(token=TOKEN, size="tiny", today=TODAY, max_page_count=200) as sim:
        assert get(sim, "/sources", {"pagination.count": "200"}).status_code == 200
        assert get(sim, "/sources", {"pagination.count": "201"}).status_code == 422


def test_garbage_or_foreign_cursor_422(small):
    first = get(small, "/sources", {"pagination.count": "2"}).json()["data"]["pagination"]
    bad = ["garbage!!", "MA==", base64.b64encode(b"seg1|sources|99999").decode(), "%%%"]
    foreign = get(small, "/destinations", {"pagination.count": "2"}).json()["data"]["pagination"]["next"]
    for cursor in bad + [foreign]:
        r = get(small, "/sources", {"pagination.count": "2", "pagination.cursor": cursor})
        assert r.status_code == 422, cursor
        assert r.json()["errors"][0]["field"] == "pagination.cursor"
    assert get(small, "/sources", {"pagination.count": "2", "pagination.cursor": first["next"]}).status_code == 200


def test_bracket_notation_is_ignored(small):
    data = get(small, "/sources", {"pagination[count]": "3"}).json()["data"]
    assert len(data["sources"]) == 50  # default 200 applies, brackets are not understood


# ---------------------------------------------------------------- data consistency
def test_relationships_consistent(small):
    ws = small.workspace
    src_ids = {s["id"] for s in ws.sources}
    for d in ws.destinations:
        assert d["sourceId"] in src_ids
    for s in ws.sources:
        assert ws.source_connected_destinations[s["id"]] == [d for d in ws.destinations if d["sourceId"] == s["id"]]
    pairs_a = {(s, w["id"]) for s, ws_ in ws.source_connected_warehouses.items() for w in ws_}
    pairs_b = {(s["id"], w) for w, ss in ws.warehouse_connected_sources.items() for s in ss}
    assert pairs_a == pairs_b
    user_ids = {u["id"] for u in ws.users}
    for g in ws.groups:
        assert {u["id"] for u in ws.group_users[g["id"]]} <= user_ids
        assert g["memberCount"] == len(ws.group_users[g["id"]])
    assert any("permissions" not in u for u in ws.users)
    assert all("permissions" in ws.user_details[u["id"]] for u in ws.users)
    uid = ws.users[0]["id"]
    assert get(small, f"/users/{uid}").json()["data"]["user"] == ws.user_details[uid]
    assert get(small, "/users/doesnotexist").status_code == 404
    for plan, rules in ws.tracking_plan_rules.items():
        keys = [(r["type"], r.get("key"), r["version"]) for r in rules]
        assert len(keys) == len(set(keys))
    # unkind data present somewhere
    assert any(s.get("name", "x") is None for s in ws.sources + ws.destinations)
    assert any("name" not in s for s in ws.sources + ws.destinations)
    assert any(any(k in s.get("settings", {}) for k in ("apiKey", "secretKey", "password", "token")) for s in ws.sources)


def test_determinism():
    a = Simulator(token=TOKEN, seed=5, size="small", today=TODAY)
    b = Simulator(token=TOKEN, seed=5, size="small", today=TODAY)
    c = Simulator(token=TOKEN, seed=6, size="small", today=TODAY)
    assert a.workspace.sources == b.workspace.sources
    assert a.workspace.usage_mtu_per_source["2026-11-01"] == b.workspace.usage_mtu_per_source["2026-11-01"]
    assert a.workspace.sources != c.workspace.sources


def test_functions_resource_type_required(small):
    assert get(small, "/functions").status_code == 422
    r = get(small, "/functions", {"resourceType": "NOPE"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "resourceType"


def test_tracking_plan_type_filter(small):
    recs = get(small, "/tracking-plans", {"type": "LIVE"}).json()["data"]["trackingPlans"]
    assert recs and all(p["type"] == "LIVE" for p in recs)
    assert get(small, "/tracking-plans", {"type": "BOGUS"}).status_code == 422


def test_source_settings_and_delivery_metrics(small):
    ws = small.workspace
    s = ws.sources[0]["id"]
    data = get(small, f"/sources/{s}/settings").json()["data"]
    assert data == {"settings": ws.source_settings[s], "sourceId": s}
    d = ws.destinations[0]
    path = f"/destinations/{d['id']}/delivery-metrics"
    assert get(small, path).status_code == 422
    other = next(x["id"] for x in ws.sources if x["id"] != d["sourceId"])
    assert get(small, path, {"sourceId": other}).status_code == 422
    r = get(small, path, {"sourceId": d["sourceId"]})
    assert r.status_code == 200
    summ = r.json()["data"]["deliveryMetricsSummary"]
    assert summ["sourceId"] == d["sourceId"] and summ["destinationMetadataId"] == d["metadata"]["id"]
    now = dt.datetime.now(dt.timezone.utc)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    # MINUTE: max 4 h range
    assert get(small, path, {"sourceId": d["sourceId"], "startTime": (now - dt.timedelta(hours=5)).strftime(fmt)}).status_code == 422
    # DAY: not older than 14 d
    assert get(small, path, {"sourceId": d["sourceId"], "granularity": "DAY",
                             "startTime": (now - dt.timedelta(days=20)).strftime(fmt),
                             "endTime": (now - dt.timedelta(days=10)).strftime(fmt)}).status_code == 422
    assert get(small, path, {"sourceId": d["sourceId"], "granularity": "DAY",
                             "startTime": (now - dt.timedelta(days=13)).strftime(fmt)}).status_code == 200
    assert get(small, path, {"sourceId": d["sourceId"], "granularity": "WEEK"}).status_code == 422


# ---------------------------------------------------------------- usage
@pytest.mark.parametrize("period", [None, "2026-11-05", "2026-13-01", "2026-02-30", "abc", "2026-11"])
def test_usage_period_validation(small, period):
    params = {} if period is None else {"period": period}
    r = get(small, "/usage/api-calls/daily", params)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "period"


def test_usage_rows_cumulative_strings(small):
    endpoints = {"/usage/api-calls/daily": "dailyWorkspaceAPICallsUsage",
                 "/usage/api-calls/sources/daily": "dailyPerSourceAPICallsUsage",
                 "/usage/mtu/daily": "dailyWorkspaceMTUUsage",
                 "/usage/mtu/sources/daily": "dailyPerSourceMTUUsage"}
    n_src = len(small.workspace.sources)
    big = False
    for path, key in endpoints.items():
        for period, n_days in (("2026-10-01", 31), ("2026-11-01", 23)):
            rows, _ = walk(small, path, key, 1000, {"period": period})
            per_source = "sources" in path
            assert len(rows) == n_days * (n_src if per_source else 1), (path, period)
            counters = ["apiCalls"] if "api-calls" in path else ["anonymous", "anonymousIdentified", "identified", "neverIdentified"]
            last = {}
            for row in sorted(rows, key=lambda r: r["timestamp"]):
                assert row["timestamp"].startswith(period[:8]) and row["timestamp"].endswith("T00:00:00Z")
                for c in counters:
                    assert isinstance(row[c], str) and row[c].isdigit()
                    k = (row.get("sourceId"), c)
                    assert int(row[c]) >= last.get(k, 0)
                    last[k] = int(row[c])
                    big = big or int(row[c]) > 2 ** 31
                if "mtu" in path:
                    assert row["periodStart"] == int(dt.datetime(2026, int(period[5:7]), 1, tzinfo=dt.timezone.utc).timestamp())
                    assert isinstance(row["periodEnd"], int) and row["periodEnd"] > row["periodStart"]
            assert rows == list(getattr(small.workspace, {"dailyWorkspaceAPICallsUsage": "usage_api_calls_workspace",
                                                           "dailyPerSourceAPICallsUsage": "usage_api_calls_per_source",
                                                           "dailyWorkspaceMTUUsage": "usage_mtu_workspace",
                                                           "dailyPerSourceMTUUsage": "usage_mtu_per_source"}[key])[period])
    assert big, "expected some bigint counts > 2**31"
    # future month and months before the workspace existed: empty, not an error
    for period in ("2026-12-01", "2020-01-01"):
        r = get(small, "/usage/api-calls/daily", {"period": period})
        assert r.status_code == 200 and r.json()["data"]["dailyWorkspaceAPICallsUsage"] == []


# ---------------------------------------------------------------- audit events
def _ts(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def test_audit_events_newest_first_and_filters(small):
    recs, pages = walk(small, "/audit-events", "events", 100)
    assert len(recs) == len(small.workspace.audit_events) == pages[0]["totalEntries"]
    assert sorted(e["id"] for e in recs) == sorted(e["id"] for e in small.workspace.audit_events)
    times = [_ts(e["timestamp"]) for e in recs]
    assert times == sorted(times, reverse=True)
    assert any("." in e["timestamp"] for e in recs) and any("." not in e["timestamp"] for e in recs)
    assert any("actorEmail" not in e for e in recs)
    assert max(times) < dt.datetime(2026, 11, 23, tzinfo=dt.timezone.utc)
    # filter: startTime inclusive, endTime exclusive
    pivot_a, pivot_b = recs[len(recs) // 3]["timestamp"], recs[len(recs) // 4]["timestamp"]
    sub, _ = walk(small, "/audit-events", "events", 50, {"startTime": pivot_a, "endTime": pivot_b})
    expected = [e for e in recs if _ts(pivot_a) <= _ts(e["timestamp"]) < _ts(pivot_b)]
    assert sub == expected and sub
    assert sub[-1]["timestamp"] == pivot_a
    assert all(e["timestamp"] != pivot_b for e in sub)
    for bad in ({"startTime": "yesterday"}, {"endTime": "2026-99-01T00:00:00Z"}):
        r = get(small, "/audit-events", bad)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == list(bad)[0]


# ---------------------------------------------------------------- events volume
def _volume(sim, start, end, gran="DAY", group_by="source,eventName,eventType", count=1000):
    recs, _ = walk(sim, "/events/volume", "result", count,
                   {"granularity": gran, "startTime": start, "endTime": end, "groupBy": group_by})
    return recs


def test_events_volume_consistent_across_splits():
    with Simulator(token=TOKEN, seed=2, size="tiny", today=TODAY, enforce_endpoint_limits=False) as sim:
        full = _volume(sim, "2026-11-01T00:00:00Z", "2026-11-11T00:00:00Z", count=3)
        a = _volume(sim, "2026-11-01T00:00:00Z", "2026-11-05T00:00:00Z")
        b = _volume(sim, "2026-11-05T00:00:00Z", "2026-11-11T00:00:00Z")
        assert len(full) == len(a) == len(b) == len(sim.workspace.event_volume.triples)
        assert [f["total"] for f in full] == sorted((f["total"] for f in full), reverse=True)  # ordered by volume
        gk = lambda x: (x["source"]["id"], x["eventName"], x["eventType"])  # noqa: E731
        a, b = sorted(a, key=gk), sorted(b, key=gk)
        full = sorted(full, key=gk)
        for f, x, y in zip(full, a, b):
            assert f["series"] == x["series"] + y["series"]
            assert f["total"] == x["total"] + y["total"] == sum(p["count"] for p in f["series"])
            assert len(f["series"]) == 10
            assert f["series"][0]["time"] == "2026-11-01T00:00:00Z"
            key = (f["series"][3]["time"][:10], f["source"]["id"], f["eventName"], f["eventType"])
            assert sim.workspace.event_volume[key] == f["series"][3]["count"]
        assert sum(f["total"] for f in full) > 0
        # HOUR series sums to the DAY value
        hours = sorted(_volume(sim, "2026-11-03T00:00:00Z", "2026-11-04T00:00:00Z", gran="HOUR"), key=gk)
        for h, f in zip(hours, full):
            assert len(h["series"]) == 24 and h["total"] == f["series"][2]["count"]
        # grouping by eventType aggregates
        by_type = _volume(sim, "2026-11-01T00:00:00Z", "2026-11-11T00:00:00Z", group_by="eventType")
        assert all("source" not in x and "eventName" not in x for x in by_type)
        assert sum(x["total"] for x in by_type) == sum(f["total"] for f in full)
        # repeated groupBy params accepted
        r = get(sim, "/events/volume", [("granularity", "DAY"), ("startTime", "2026-11-01T00:00:00Z"),
                                        ("endTime", "2026-11-02T00:00:00Z"), ("groupBy", "source"), ("groupBy", "eventName")])
        assert r.status_code == 200 and r.json()["data"]["path"] == "/events/volume"
        assert r.json()["data"]["query"]["groupBy"] == ["source", "eventName"]
        for bad in ({}, {"granularity": "WEEK", "startTime": "2026-11-01", "endTime": "2026-11-02"},
                    {"granularity": "DAY", "startTime": "2026-11-01"},
                    {"granularity": "DAY", "startTime": "2026-11-02", "endTime": "2026-11-01"},
                    {"granularity": "DAY", "startTime": "2026-11-01", "endTime": "2026-11-02", "groupBy": "color"}):
            assert get(sim, "/events/volume", bad).status_code == 422, bad


EV_PARAMS = {"granularity": "DAY", "startTime": "2026-11-01T00:00:00Z", "endTime": "2026-11-02T00:00:00Z"}


@pytest.mark.parametrize("signal", ["all", "retry_after", "ms_before_next", "reset"])
def test_events_volume_60_per_minute(signal):
    clock = FakeClock()
    with Simulator(token=TOKEN, size="tiny", today=TODAY, clock=clock, rate_limit_signal=signal) as sim:
        with requests.Session() as s:
            s.headers.update(AUTH)
            for i in range(60):
                assert s.get(sim.url + "/events/volume", params=EV_PARAMS).status_code == 200
                clock.advance(0.5)  # 60 requests over 30 s
            r = s.get(sim.url + "/events/volume", params=EV_PARAMS)
            assert r.status_code == 429
            body = r.json()["errors"][0]
            assert body["type"] == "RequestError" and body["message"] == "Too many requests"
            assert body["data"]["remainingPoints"] == 0
            assert email.utils.parsedate_to_datetime(r.headers["X-RateLimit-Reset"]).tzinfo is not None
            assert r.headers["X-RateLimit-Remaining"] == "0"
            if signal in ("all", "ms_before_next"):
                assert 29000 <= body["data"]["msBeforeNext"] <= 30000
            else:
                assert "msBeforeNext" not in body["data"]
            if signal in ("all", "retry_after"):
                assert r.headers["Retry-After"] == "30"
            else:
                assert "Retry-After" not in r.headers
            # other endpoints are not affected by the per-endpoint limit
            assert s.get(sim.url + "/sources").status_code == 200
            clock.advance(30.1)  # oldest request leaves the window
            assert s.get(sim.url + "/events/volume", params=EV_PARAMS).status_code == 200
            assert s.get(sim.url + "/events/volume", params=EV_PARAMS).status_code == 429
        assert any(e.status == 429 and e.fault is None for e in sim.requests)


def test_rules_limit_shared_and_global_limit():
    clock = FakeClock()
    with Simulator(token=TOKEN, size="tiny", today=TODAY, clock=clock) as sim:
        plans = [t["id"] for t in sim.workspace.tracking_plans]
        with requests.Session() as s:
            s.headers.update(AUTH)
            codes = [s.get(f"{sim.url}/tracking-plans/{plans[i % len(plans)]}/rules").status_code for i in range(201)]
            assert codes[:200] == [200] * 200 and codes[200] == 429
    with Simulator(token=TOKEN, size="tiny", today=TODAY, clock=clock, enforce_endpoint_limits=False) as sim:
        with requests.Session() as s:
            s.headers.update(AUTH)
            assert all(s.get(f"{sim.url}/tracking-plans/{plans[0]}/rules").status_code == 200 for _ in range(201))
    with Simulator(token=TOKEN, size="tiny", today=TODAY, clock=clock, rate_limit_per_minute=10) as sim:
        with requests.Session() as s:
            s.headers.update(AUTH)
            codes = [s.get(sim.url + p).status_code for p in ["/sources", "/destinations"] * 6]
            assert codes == [200] * 10 + [429] * 2
            clock.advance(60.01)
            assert s.get(sim.url + "/sources").status_code == 200


# ---------------------------------------------------------------- deleted parents, features
def test_deleted_parents_listed_but_children_404(tiny):
    ws = tiny.workspace
    d = tiny.deleted_ids
    assert all(len(v) == 1 for v in d.values())
    (sid,), (did,), (wid,), (tid,), (gid,) = d["sources"], d["destinations"], d["warehouses"], d["tracking_plans"], d["groups"]
    assert sid in {s["id"] for s in walk(tiny, "/sources", "sources", 200)[0]}
    assert did in {x["id"] for x in walk(tiny, "/destinations", "destinations", 200)[0]}
    dest = ws.destination_by_id[did]
    for path, params in [(f"/sources/{sid}/connected-destinations", None), (f"/sources/{sid}/connected-warehouses", None),
                         (f"/sources/{sid}/settings", None), (f"/warehouses/{wid}/connected-sources", None),
                         (f"/destinations/{did}/subscriptions", None), (f"/destination/{did}/filters", None),
                         (f"/destinations/{did}/delivery-metrics", {"sourceId": dest["sourceId"]}),
                         (f"/tracking-plans/{tid}/rules", None), (f"/tracking-plans/{tid}/sources", None),
                         (f"/groups/{gid}/users", None), ("/sources/unknown-id/connected-destinations", None)]:
        r = get(tiny, path, params)
        assert r.status_code == 404, path
        assert r.json() == {"errors": [{"type": "not-found", "message": "Resource not found", "status": 404}]}


def test_disabled_features_403():
    feats = ["audit_trail", "protocols", "functions", "spaces", "reverse_etl", "destination_subscriptions", "delivery_metrics"]
    with Simulator(token=TOKEN, size="tiny", today=TODAY, disabled_features=feats) as sim:
        ws = sim.workspace
        d = ws.destinations[0]
        t = ws.tracking_plans[0]["id"]
        for path, params, feat in [("/audit-events", None, "audit_trail"), ("/tracking-plans", None, "protocols"),
                                   (f"/tracking-plans/{t}/rules", None, "protocols"), ("/transformations", None, "protocols"),
                                   ("/functions", {"resourceType": "SOURCE"}, "functions"), ("/spaces", None, "spaces"),
                                   ("/reverse-etl-models", None, "reverse_etl"),
                                   (f"/destinations/{d['id']}/subscriptions", None, "destination_subscriptions"),
                                   (f"/destinations/{d['id']}/delivery-metrics", {"sourceId": d["sourceId"]}, "delivery_metrics")]:
            r = get(sim, path, params)
            assert r.status_code == 403, path
            assert r.json() == {"errors": [{"type": "forbidden", "message": f"{feat} is not enabled for this workspace", "status": 403}]}
        assert get(sim, "/sources").status_code == 200
    with Simulator(token=TOKEN, size="tiny", today=TODAY, disabled_features=["public_api"]) as sim:
        for path in ("/", "/sources", "/labels"):
            assert get(sim, path).status_code == 403


# ---------------------------------------------------------------- faults
@pytest.mark.parametrize("kind", ["429_retry_after", "429_ms_before_next", "429_reset", "500", "502", "503_html",
                                  "504", "reset", "timeout", "truncated", "invalid_json"])
def test_each_fault_kind_then_retry_succeeds(kind):
    spec = FaultSpec(kind, rate=1.0, max_consecutive=1, timeout_seconds=0.3)
    with Simulator(token=TOKEN, size="tiny", today=TODAY, faults=spec) as sim:
        url = sim.url + "/sources?pagination.count=2"
        failed = False
        try:
            sent = time.time()
            r = requests.get(url, headers=AUTH, timeout=0.15 if kind == "timeout" else 5)
            answered = time.time()
            if kind == "invalid_json":
                assert r.status_code == 200
                with pytest.raises(ValueError):
                    r.json()
            elif kind == "truncated":
                pytest.fail("truncated body should raise")
            else:
                assert r.status_code == int(kind[:3])
            if kind.startswith("429"):
                body = r.json()["errors"][0]
                assert body["message"] == "Too many requests"
                if kind == "429_retry_after":
                    assert r.headers["Retry-After"] == "1" and "msBeforeNext" not in body["data"]
                elif kind == "429_ms_before_next":
                    assert body["data"]["msBeforeNext"] == 50 and "Retry-After" not in r.headers
                else:
                    assert "Retry-After" not in r.headers and "msBeforeNext" not in body["data"]
                    reset = email.utils.parsedate_to_datetime(r.headers["X-RateLimit-Reset"]).timestamp()
                    # whole seconds, rounded up: within the 2 s fault window of the request, however slow the machine
                    assert sent - 1 < reset <= answered + 2.01
            if kind == "503_html":
                assert r.headers["Content-Type"].startswith("text/html")
            failed = True
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError):
            assert kind in ("reset", "timeout", "truncated")
            failed = True
        assert failed
        # retry of the same request succeeds (max_consecutive=1)
        r = requests.get(url, headers=AUTH, timeout=5)
        assert r.status_code == 200 and len(r.json()["data"]["sources"]) == 2
        faults = [e.fault for e in sim.requests]
        assert kind in faults


def test_fault_rate_deterministic_and_path_filter():
    def run():
        spec = [FaultSpec("500", rate=0.3, max_consecutive=2, paths=["/destinations"])]
        with Simulator(token=TOKEN, seed=9, size="tiny", today=TODAY, faults=spec) as sim:
            with requests.Session() as s:
                s.headers.update(AUTH)
                for i in range(30):
                    s.get(sim.url + "/sources", params={"pagination.count": str(i + 1)})
                    s.get(sim.url + "/destinations", params={"pagination.count": str(i + 1)})
                    s.get(sim.url + "/destinations", params={"pagination.count": str(i + 1)})
                    s.get(sim.url + "/destinations", params={"pagination.count": str(i + 1)})
            return [(e.path, e.query, e.status, e.fault) for e in sim.requests]
    a, b = run(), run()
    assert a == b
    assert not any(f for p, _, _, f in a if p == "/sources")
    n = sum(1 for p, _, _, f in a if f)
    assert 5 <= n <= 50
    # at most 2 faults in a row for the same request key
    for i in range(30):
        attempts = [st for p, q, st, _ in a if p == "/destinations" and q["pagination.count"] == [str(i + 1)]]
        assert len(attempts) == 3
        assert attempts != [500, 500, 500]
        if attempts[:2] == [500, 500]:
            assert attempts[2] == 200


def test_latency_and_logging(small):
    small.clear_log()
    get(small, "/roles", headers=dict(AUTH, Accept="application/vnd.segment.v1+json"))
    (e,) = small.requests
    assert e.method == "GET" and e.path == "/roles" and e.status == 200 and e.fault is None
    assert e.headers["Accept"] == "application/vnd.segment.v1+json"


def test_throughput_keepalive(small):
    """Not an assertion on speed: prints requests/s over one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", small.port)
    n = 300
    t0 = time.perf_counter()
    for _ in range(n):
        conn.request("GET", "/sources?pagination.count=1", headers=AUTH)
        resp = conn.getresponse()
        json.loads(resp.read())
        assert resp.status == 200
    dtime = time.perf_counter() - t0
    conn.close()
    print(f"\nsimulator throughput: {n / dtime:.0f} requests/s (keep-alive, http.client, {n} GETs)")


def test_cli_starts_prints_and_stops_on_sigterm():
    import signal
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    p = subprocess.Popen([sys.executable, "-m", "integration_tests.simulator", "--port", "0", "--size", "tiny",
                          "--seed", "4", "--token", "tok", "--fault", "500:0.0", "--disable", "spaces,functions"],
                         cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().strip()
        assert line.startswith("Segment API simulator listening on http://127.0.0.1:") and line.endswith("(size=tiny, seed=4)")
        url = line.split(" on ")[1].split(" ")[0]
        assert requests.get(url + "/", headers={"Authorization": "Bearer tok"}, timeout=5).status_code == 200
        assert requests.get(url + "/spaces", headers={"Authorization": "Bearer tok"}, timeout=5).status_code == 403
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=5) == 0
    finally:
        if p.poll() is None:
            p.kill()


def test_spared_paths_are_never_faulted():
    spec = [FaultSpec("500", rate=1.0, spared=[r"/warehouses/[^/]+/syncs"])]
    with Simulator(token=TOKEN, seed=9, size="tiny", today=TODAY, faults=spec) as sim:
        with requests.Session() as s:
            s.headers.update(AUTH)
            warehouse = sim.workspace.warehouses[0]["id"]
            statuses = [s.get(sim.url + path).status_code for path in ("/sources", f"/warehouses/{warehouse}/syncs", "/destinations")]
    assert statuses == [500, 200, 500]


def test_a_fault_at_least_once_is_injected_on_the_first_eligible_request_even_at_rate_zero():
    spec = [FaultSpec("500", rate=0.0, at_least_once=True, spared=[r"/sources"])]
    with Simulator(token=TOKEN, seed=9, size="tiny", today=TODAY, faults=spec) as sim:
        with requests.Session() as s:
            s.headers.update(AUTH)
            statuses = [s.get(sim.url + path).status_code for path in ("/sources", "/destinations", "/destinations", "/labels")]
    assert statuses == [200, 500, 200, 200]
