"""Tests of the simulator's issue-13 endpoints: warehouse and reverse-ETL syncs, delivery overview, source
regulations, audiences, computed traits and function versions (fast; rate limits use a fake clock)."""
from __future__ import annotations

import datetime as dt

import pytest
import requests

from integration_tests.simulator import Simulator
from integration_tests.simulator.history import history_of

TOKEN = "sim-token-0123456789abcdef"
TODAY = dt.date(2026, 11, 23)
NOW = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.timezone.utc)
V1, BETA, ALPHA = ("application/vnd.segment.v1+json", "application/vnd.segment.v1beta+json",
                   "application/vnd.segment.v1alpha+json")


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def get(sim, path, params=None, accept=V1):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if accept:
        headers["Accept"] = accept
    return requests.get(sim.url + path, params=params, headers=headers, timeout=10)


@pytest.fixture(scope="module")
def sim():
    with Simulator(token=TOKEN, seed=3, size="small", today=TODAY, now=NOW, enforce_endpoint_limits=False) as s:
        yield s


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _retl_sub(ws):
    """The subscription with the longest sync history."""
    subs = [s for d in ws.destinations for s in ws.destination_subscriptions[d["id"]] if s.get("modelId")]
    return max(subs, key=lambda s: len(history_of(ws).retl_syncs(s["id"])))


# ------------------------------------------------------------------------------------------ warehouse syncs
def test_warehouse_syncs_are_syncv1_newest_first_with_running_ones_lacking_end(sim):
    ws = sim.workspace
    reports = []
    for w in ws.warehouses:
        r = get(sim, f"/warehouses/{w['id']}/syncs", {"pagination.count": "1000"})
        assert r.status_code == 200
        data = r.json()["data"]
        assert "totalEntries" in data["pagination"]
        starts = [x["start"] for x in data["reports"]]
        assert starts == sorted(starts, reverse=True)
        connected = {s["id"] for s in ws.warehouse_connected_sources[w["id"]]}
        assert {x["sourceId"] for x in data["reports"]} <= connected
        reports += data["reports"]
    required = {"sourceId", "start", "status", "duration", "humanDuration", "count", "notices"}
    assert all(required <= set(x) for x in reports)
    running = [x for x in reports if x["status"] == "RUNNING"]
    assert running and all(x.get("end") is None for x in running)
    assert any("end" not in x for x in running) and any("end" in x for x in running)  # null and absent both occur
    assert all(x["end"] for x in reports if x["status"] != "RUNNING")
    anchor = dt.datetime.combine(TODAY, dt.time(0), tzinfo=dt.timezone.utc)
    assert all(dt.datetime.fromisoformat(x["start"].replace("Z", "+00:00")) < anchor for x in reports)


def test_a_later_today_keeps_old_syncs_finishes_running_ones_and_adds_newer_ones():
    old = history_of(Simulator(seed=3, size="tiny", today=TODAY).workspace)
    new = history_of(Simulator(seed=3, size="tiny", today=TODAY + dt.timedelta(days=1)).workspace)
    for w in old.ws.warehouses:
        a = {(s["sourceId"], s["start"]): s for s in old.warehouse_syncs(w["id"])}
        b = {(s["sourceId"], s["start"]): s for s in new.warehouse_syncs(w["id"])}
        for key in set(a) & set(b):
            assert a[key] == b[key] or (a[key]["status"] == "RUNNING" and b[key]["status"] != "RUNNING" and b[key]["end"])
        if a:
            assert max(k[1] for k in b) > max(k[1] for k in a)


def test_warehouse_syncs_are_limited_to_two_requests_a_minute():
    clock = FakeClock()
    with Simulator(token=TOKEN, seed=3, size="tiny", today=TODAY, clock=clock) as s:
        wid = s.workspace.warehouses[0]["id"]
        other = s.workspace.warehouses[1]["id"]
        assert [get(s, f"/warehouses/{w}/syncs").status_code for w in (wid, other, wid)] == [200, 200, 429]
        assert get(s, "/sources").status_code == 200  # the other endpoints are unaffected
        clock.t += 61
        assert get(s, f"/warehouses/{wid}/syncs").status_code == 200


def test_unknown_warehouse_is_404(sim):
    assert get(sim, "/warehouses/nope/syncs").status_code == 404


# ------------------------------------------------------------------------------------------ reverse ETL syncs
def test_reverse_etl_syncs_page_with_top_level_count_and_cursor(sim):
    sub = _retl_sub(sim.workspace)
    path = f"/reverse-etl-models/{sub['modelId']}/subscriptionId/{sub['id']}/syncs"
    everything = history_of(sim.workspace).retl_syncs(sub["id"])
    assert len(everything) > 10
    first = get(sim, path, accept=ALPHA).json()["data"]
    assert len(first["syncStatuses"]) == 10  # documented default
    seen, cursor = [], None
    while True:
        data = get(sim, path, dict({"count": "7"}, **({"cursor": cursor} if cursor else {})), accept=ALPHA).json()["data"]
        seen += data["syncStatuses"]
        cursor = data["pagination"].get("next")
        if not cursor:
            break
    assert seen == everything
    starts = [x["startedAt"] for x in seen]
    assert starts == sorted(starts, reverse=True)
    # pagination.* is not this endpoint's paging: ignored, as unknown parameters are
    assert get(sim, path, {"pagination.count": "50"}, accept=ALPHA).json()["data"]["syncStatuses"] == everything[:10]
    one_page = get(sim, path, {"count": "100"}, accept=ALPHA).json()["data"]
    if len(everything) <= 100:
        assert "pagination" not in one_page  # "Present when output is paginated"


@pytest.mark.parametrize("count", ["0", "101", "ten"])
def test_reverse_etl_count_outside_1_to_100_is_422(sim, count):
    sub = _retl_sub(sim.workspace)
    r = get(sim, f"/reverse-etl-models/{sub['modelId']}/subscriptionId/{sub['id']}/syncs", {"count": count}, accept=ALPHA)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "count"


def test_reverse_etl_syncs_in_progress_have_no_finished_at(sim):
    h = history_of(sim.workspace)
    items = [x for sub in h.retl_subscriptions for x in h.retl_syncs(sub)]
    running = [x for x in items if x["syncStatus"] == "IN_PROGRESS"]
    assert running and all("finishedAt" not in x and "loadPhase" not in x for x in running)
    assert all(x["finishedAt"] for x in items if x["syncStatus"] != "IN_PROGRESS")
    assert all(isinstance(x["duration"], str) for x in items)


def test_alpha_only_endpoints_refuse_an_explicit_v1_accept(sim):
    sub = _retl_sub(sim.workspace)
    space = sim.workspace.spaces[0]["id"]
    fn = next(f["id"] for f in sim.workspace.functions if f.get("id"))
    for path in (f"/reverse-etl-models/{sub['modelId']}/subscriptionId/{sub['id']}/syncs",
                 f"/spaces/{space}/computed-traits", f"/functions/{fn}/versions"):
        assert get(sim, path, accept=V1).status_code == 406
        assert get(sim, path, accept=ALPHA).status_code == 200
        assert get(sim, path, accept="application/json").status_code == 200


# ------------------------------------------------------------------------------------------ delivery overview
def _do_params(sim, stage_kind="source", gran="HOUR", days=14, end=None, **extra):
    ws = sim.workspace
    dest = next(d for d in ws.destinations if d.get("sourceId"))
    end = end or NOW.replace(minute=0)
    p = {"sourceId": dest["sourceId"], "granularity": gran, "startTime": _iso(end - dt.timedelta(days=days)),
         "endTime": _iso(end), "groupBy.0": "eventType"}
    if stage_kind == "destination":
        p["destinationConfigId"] = dest["id"]
        p["groupBy.1"] = "discardReason"
    p.update(extra)
    return p


def test_delivery_overview_series_cover_the_window_and_sum_to_totals(sim):
    r = get(sim, "/delivery-overview/failed-delivery", _do_params(sim, "destination"), accept=BETA)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["dataset"]
    for item in data["dataset"]:
        assert len(item["series"]) == 14 * 24
        assert item["total"] == sum(p["count"] for p in item["series"])
        assert "discardReason" in item and "eventType" in item
    assert data["total"] == sum(i["total"] for i in data["dataset"])


def test_delivery_overview_hours_sum_to_days_and_nothing_after_the_anchor(sim):
    end = dt.datetime.combine(TODAY, dt.time(0), tzinfo=dt.timezone.utc)
    hours = get(sim, "/delivery-overview/successfully-received", _do_params(sim, days=7, end=end), accept=BETA).json()["data"]
    days = get(sim, "/delivery-overview/successfully-received", _do_params(sim, gran="DAY", days=7, end=end), accept=BETA).json()["data"]
    assert {i["eventType"]: i["total"] for i in hours["dataset"]} == {i["eventType"]: i["total"] for i in days["dataset"]}
    later = get(sim, "/delivery-overview/successfully-received",
                dict(_do_params(sim, days=1), startTime=_iso(end), endTime=_iso(NOW.replace(minute=0))), accept=BETA).json()["data"]
    assert later["total"] == 0


def test_successful_delivery_reports_retries(sim):
    data = get(sim, "/delivery-overview/successful-delivery", _do_params(sim, "destination"), accept=BETA).json()["data"]
    assert all("totalRetryCount" in i for i in data["dataset"])
    assert any(p.get("retryCount") for i in data["dataset"] for p in i["series"])


@pytest.mark.parametrize("gran,days,field", [("HOUR", 15, "endTime"), ("DAY", 31, "endTime"), ("MINUTE", 1, "endTime")])
def test_delivery_overview_window_longer_than_the_granularity_allows_is_422(sim, gran, days, field):
    p = _do_params(sim, gran=gran, days=days)
    r = get(sim, "/delivery-overview/successfully-received", p, accept=BETA)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == field


@pytest.mark.parametrize("gran", ["HOUR", "DAY"])
def test_delivery_overview_start_older_than_30_days_is_422(sim, gran):
    end = NOW.replace(minute=0) - dt.timedelta(days=20)
    p = _do_params(sim, gran=gran, days=11, end=end)
    r = get(sim, "/delivery-overview/successfully-received", p, accept=BETA)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "startTime"
    p = _do_params(sim, gran=gran, days=9, end=end)
    assert get(sim, "/delivery-overview/successfully-received", p, accept=BETA).status_code == 200


def test_delivery_overview_groupby_rules(sim):
    bad = _do_params(sim, **{"groupBy.1": "discardReason"})  # not a dimension of successfully-received
    r = get(sim, "/delivery-overview/successfully-received", bad, accept=BETA)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "groupBy"
    assert get(sim, "/delivery-overview/failed-on-ingest", bad, accept=BETA).status_code == 200
    spaced = _do_params(sim, **{"groupBy.0": "event Type"})
    assert get(sim, "/delivery-overview/successfully-received", spaced, accept=BETA).status_code == 200


def test_delivery_overview_is_beta_only_and_checks_its_parents(sim):
    p = _do_params(sim, "destination")
    assert get(sim, "/delivery-overview/failed-delivery", p, accept=V1).status_code == 406
    other = next(d for d in sim.workspace.destinations if d["sourceId"] != p["sourceId"])
    r = get(sim, "/delivery-overview/failed-delivery", dict(p, destinationConfigId=other["id"]), accept=BETA)
    assert r.status_code == 422
    r = get(sim, "/delivery-overview/failed-delivery", dict(p, destinationConfigId="nope"), accept=BETA)
    assert r.status_code == 404
    r = get(sim, "/delivery-overview/failed-delivery", {k: v for k, v in p.items() if k != "destinationConfigId"}, accept=BETA)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "destinationConfigId"


# ------------------------------------------------------------------------------------------ regulations, engage, functions
def test_source_regulations_have_no_pagination_and_404_when_none(sim):
    h = history_of(sim.workspace)
    with_regs = [s["id"] for s in sim.workspace.sources if h.source_regulations(s["id"])]
    without = [s["id"] for s in sim.workspace.sources if not h.source_regulations(s["id"])]
    assert with_regs and without
    data = get(sim, f"/regulations/sources/{with_regs[0]}").json()["data"]
    assert set(data) == {"regulations"}
    assert data["regulations"] == h.source_regulations(with_regs[0])[:200]
    assert get(sim, f"/regulations/sources/{without[0]}").status_code == 404


def test_audiences_cap_pages_at_200_and_include_schedules(sim):
    space = sim.workspace.spaces[0]["id"]
    assert get(sim, f"/spaces/{space}/audiences", {"pagination.count": "201"}).status_code == 422
    plain = get(sim, f"/spaces/{space}/audiences", {"pagination.count": "200"}).json()["data"]["audiences"]
    assert plain and all("schedules" not in a for a in plain)
    with_sched = get(sim, f"/spaces/{space}/audiences", {"include": "schedules"}).json()["data"]["audiences"]
    assert all("schedules" in a for a in with_sched)
    required = {"computeCadence", "id", "spaceId", "name", "key", "enabled", "definition", "createdBy", "updatedBy",
                "createdAt", "updatedAt", "audienceType"}
    assert all(required <= set(a) for a in plain)


def test_engage_and_functions_gates(sim):
    with Simulator(token=TOKEN, seed=3, size="tiny", today=TODAY, disabled_features=["spaces", "functions"]) as off:
        space = off.workspace.spaces[0]["id"]
        fn = next(f["id"] for f in off.workspace.functions if f.get("id"))
        assert get(off, f"/spaces/{space}/audiences").status_code == 403
        assert get(off, f"/spaces/{space}/computed-traits", accept=ALPHA).status_code == 403
        assert get(off, f"/functions/{fn}/versions", accept=ALPHA).status_code == 403
    with Simulator(token=TOKEN, seed=3, size="tiny", today=TODAY, awkward=True,
                   disabled_features=["spaces", "delivery_metrics"]) as off:
        space = off.workspace.spaces[0]["id"]
        r = get(off, f"/spaces/{space}/computed-traits", accept=ALPHA)
        assert r.status_code == 404 and "not enabled" in r.json()["errors"][0]["message"]
        r = get(off, "/delivery-overview/successfully-received", _do_params(off, end=dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)), accept=BETA)
        assert r.status_code == 422 and "not enabled" in r.json()["errors"][0]["message"]


def test_function_versions_and_computed_traits_shapes(sim):
    fn = next(f["id"] for f in sim.workspace.functions if f.get("id"))
    versions = get(sim, f"/functions/{fn}/versions", accept=ALPHA).json()["data"]["versions"]
    assert versions and all({"id", "code"} <= set(v) for v in versions)
    assert sum(1 for v in versions if v.get("isDeployed")) <= 1
    space = sim.workspace.spaces[0]["id"]
    traits = get(sim, f"/spaces/{space}/computed-traits", accept=ALPHA).json()["data"]["computedTraits"]
    assert traits and all({"id", "spaceId", "name", "key", "enabled", "definition", "createdBy"} <= set(t) for t in traits)
    assert get(sim, "/functions/nope/versions", accept=ALPHA).status_code == 404
