"""Issue 12 end to end: the installed connector against the simulator's legal-but-awkward answers loses no row.

* a large workspace whose 7-day event-volume windows exceed the 5000-group limit, read over two weeks: every group
  of every day arrives (including identify/page/screen/group/alias groups without an event name);
* audit events that become visible hours after they happened, read by several syncs while the simulated "now"
  moves on: the union of all syncs is the whole trail (and a 5-minute lookback would have lost some);
* usage months older than the retention and delivery-metrics windows at the granularity's limit: no failure.
"""

from __future__ import annotations

import datetime as dt
from typing import List

import pytest

from integration_tests.e2e_fixtures import Read, describe, read
from integration_tests.expected import audit_events, event_volume_rows, first_day_months_back, parse_ts, usage_periods
from integration_tests.harness import SIM_TOKEN, configured_catalog, discovered_streams
from integration_tests.simulator import Simulator


def _config(sim: Simulator, start: dt.date, **overrides) -> dict:
    return {"api_token": SIM_TOKEN, "base_url": sim.url, "start_date": start.isoformat(), **overrides}


def _catalog(sim: Simulator, start: dt.date, streams: List[str]) -> dict:
    return configured_catalog(discovered_streams(_config(sim, start)), only=streams)


# ------------------------------------------------------------------------------ event volume over the cap
def test_large_workspace_event_volume_over_two_weeks_arrives_whole_despite_the_5000_group_limit():
    # Two weeks: two capped 7-day windows in under 60 requests, so the connector's own 60/min lane for
    # /events/volume never makes the test wait (30 days took 77 requests and 75 s, for
    # the same splitting repeated in more windows).
    with Simulator(token=SIM_TOKEN, seed=1, size="large", awkward=True, enforce_endpoint_limits=False) as sim:
        start = sim.today - dt.timedelta(days=14)
        result: Read = read(sim, _catalog(sim, start, ["event_volume_daily"]), config=_config(sim, start))
        expected = event_volume_rows(sim.workspace, start)
        requests = [r for r in result.requests if r.path == "/events/volume"]

    assert result.run.returncode == 0, describe(result.run)
    got = {(r["day"], r["sourceId"], r["eventName"], r["eventType"]): r["count"] for r in result.run.records("event_volume_daily")}
    # The simulator caps every 7-day window of this workspace: the test is void unless the answers really were capped.
    ev = sim.workspace.event_volume
    first = start.toordinal()
    assert sum(1 for t in ev.triples if any(ev.count_ordinal(first + i, t) for i in range(7))) > 5000
    missing = set(expected) - set(got)
    assert not missing, f"{len(missing)} of {len(expected)} rows lost, e.g. {sorted(missing)[:3]}"
    assert any("sourceId.0" in r.query for r in requests), "no window was split"
    assert got == expected
    assert len(result.run.records("event_volume_daily")) == len(expected)  # and none twice
    assert any(key[2] == "" for key in got), "groups without an event name"
    assert all("groupBy" not in r.query for r in requests)  # indexed array params only
    print(f"\nlarge, 14 days: {len(expected)} rows, {len(requests)} /events/volume requests, {result.run.seconds:.1f} s")


# ------------------------------------------------------------------------------ audit events visible late
def _audit_syncs(lookback_minutes: int) -> tuple:
    """Four syncs while the simulated now moves on by 6 h, 12 h and 48 h; the connector's own clock stays real.

    The workspace is anchored at tomorrow's midnight, so its trail runs on past the real now whatever the time of
    day (anchored at today's midnight, nothing could still be filling in late in the evening); events after the real
    now lie beyond every sync's window. A large workspace (~14 events an hour) makes dozens of events late.
    Returns (ids seen over all syncs, ids of the trail before the first sync, ids of that trail listed late,
    ids seen per sync, ids of the trail before the last sync ended)."""
    tomorrow = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1)
    with Simulator(token=SIM_TOKEN, seed=5, size="large", today=tomorrow, audit_max_delay_seconds=20 * 3600) as sim:
        t1 = dt.datetime.now(dt.timezone.utc)
        start = (t1 - dt.timedelta(days=4)).date()
        config = _config(sim, start, audit_events_lookback_minutes=lookback_minutes)
        catalog = _catalog(sim, start, ["audit_events"])
        seen, state, per_sync = set(), None, []
        for offset in (0, 6, 12, 48):
            sim.now = t1 + dt.timedelta(hours=offset)
            result = read(sim, catalog, state=state, config=config)
            assert result.run.returncode == 0, describe(result.run)
            ids = {r["id"] for r in result.run.records("audit_events")}
            per_sync.append(ids)
            seen |= ids
            state = result.run.last_states()
        ended = dt.datetime.now(dt.timezone.utc)
        stamped = [(e, parse_ts(e["timestamp"])) for e in audit_events(sim.workspace, start)]
        trail = {e["id"] for e, ts in stamped if ts < t1}
        late = {e["id"] for e, ts in stamped if ts < t1 and sim.audit_visible_at(e) > t1.timestamp()}
        until_end = {e["id"] for e, ts in stamped if ts <= ended}
    return seen, trail, late, per_sync, until_end


def test_audit_events_listed_late_are_read_by_a_later_sync_so_the_union_is_the_whole_trail():
    seen, trail, late, per_sync, until_end = _audit_syncs(lookback_minutes=1440)
    assert len(late) >= 10, "the simulator must make some events visible only after the first sync"
    assert not late & per_sync[0]
    assert trail <= seen <= until_end


def test_a_five_minute_lookback_would_have_lost_late_audit_events():
    seen, trail, late, _, _ = _audit_syncs(lookback_minutes=5)
    lost = trail - seen
    assert lost and lost <= late  # what is lost is exactly what came late


# ------------------------------------------------------------------------------ windows the API refuses
def test_usage_months_beyond_the_retention_are_warnings_and_the_rest_is_read():
    usage = ["usage_api_calls_workspace_daily", "usage_mtu_per_source_daily"]
    with Simulator(token=SIM_TOKEN, seed=7, size="tiny", awkward=True, usage_retention_months=3) as sim:
        start = first_day_months_back(sim.today, 6)
        result = read(sim, _catalog(sim, start, usage), config=_config(sim, start))
        readable = set(usage_periods(sim.workspace, first_day_months_back(sim.now.date(), 3)))

    assert result.run.returncode == 0 and not result.run.errors(), describe(result.run)
    refused = sorted({r.query["period"][0] for r in result.requests if r.status == 422})
    assert len(refused) == 3
    for stream in usage:
        warned = [w for w in result.run.logs("WARN") if f"`{stream}`" in w and "no longer serves usage" in w]
        assert sorted(w.split("usage for ")[1][:7] for w in warned) == [p[:7] for p in refused]
        days = {r["timestamp"][:7] + "-01" for r in result.run.records(stream)}
        assert days == readable


@pytest.mark.parametrize("granularity, hours", [("MINUTE", 4), ("HOUR", 168), ("DAY", 336)])
def test_delivery_metrics_at_the_longest_window_never_earn_a_422(granularity, hours):
    with Simulator(token=SIM_TOKEN, seed=7, size="tiny", awkward=True) as sim:
        start = sim.today - dt.timedelta(days=3)
        config = _config(sim, start, delivery_metrics_granularity=granularity, delivery_metrics_window_hours=hours)
        result = read(sim, _catalog(sim, start, ["destination_delivery_metrics_summary"]), config=config)

    assert result.run.returncode == 0, describe(result.run)
    metrics = [r for r in result.requests if r.path.endswith("/delivery-metrics")]
    assert metrics and all(r.status == 200 for r in metrics)
    assert len(result.run.records("destination_delivery_metrics_summary")) == len(metrics)
