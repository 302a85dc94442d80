"""End-to-end (issue 13): a first incremental sync of warehouse_syncs, reverse_etl_syncs and delivery_overview, then a
second one against the same workspace a day later (a simulator started with `today` + 1: older syncs and buckets
unchanged, the syncs that were running have finished, newer ones exist). The second sync must emit exactly the
syncs from its cursor on (the once-running ones included) and the buckets from cursor - lookback on."""

from __future__ import annotations

import datetime as dt
from typing import Dict, Set

import pytest

from integration_tests.e2e_fixtures import SEED, SIZE, describe, read
from integration_tests.expected import key_sets
from integration_tests.harness import SIM_TOKEN, configured_catalog
from integration_tests.operations_expected import OPERATIONS_INCREMENTAL, delivery_overview, parse, reverse_etl_syncs, warehouse_syncs
from integration_tests.simulator import Simulator

UTC = dt.timezone.utc


def _states(result) -> Dict[str, dict]:
    return {s["stream"]["stream_descriptor"]["name"]: s["stream"]["stream_state"] for s in result.run.last_states()}


def _end_of_delivery_reads(result) -> dt.datetime:
    ends = {r.query["endTime"][0] for r in result.requests if r.path.startswith("/delivery-overview/") and r.status == 200}
    return max(parse(e) for e in ends)


@pytest.fixture(scope="module")
def two_days(catalog_streams, stream_pks):
    today = dt.datetime.now(UTC).date()
    catalog = configured_catalog(catalog_streams, incremental=True, only=OPERATIONS_INCREMENTAL)
    with Simulator(token=SIM_TOKEN, seed=SEED, size=SIZE, today=today) as day1:
        first = read(day1, catalog)
        ws1 = day1.workspace
    with Simulator(token=SIM_TOKEN, seed=SEED, size=SIZE, today=today + dt.timedelta(days=1)) as day2:
        second = read(day2, catalog, first.run.last_states())
        ws2 = day2.workspace
    keys = {name: key_sets(r.run.records_by_stream(), stream_pks) for name, r in (("first", first), ("second", second))}
    return ws1, ws2, first, second, keys


def test_both_syncs_succeed(two_days):
    _, _, first, second, _ = two_days
    for result in (first, second):
        assert result.run.returncode == 0, describe(result.run)


def test_first_sync_emits_everything_and_holds_the_sync_cursors_at_the_oldest_running_sync(two_days):
    ws1, _, first, _, keys = two_days
    assert keys["first"]["warehouse_syncs"] == warehouse_syncs(ws1)
    assert keys["first"]["reverse_etl_syncs"] == reverse_etl_syncs(ws1)
    assert keys["first"]["delivery_overview"] == delivery_overview(ws1)
    states = _states(first)
    running = [r for r in first.run.records("warehouse_syncs") if r["status"] == "RUNNING"]
    assert running, "the workspace must hold a running warehouse sync for this test to mean anything"
    assert parse(states["warehouse_syncs"]["start"]) <= min(parse(r["start"]) for r in running)
    in_progress = [r for r in first.run.records("reverse_etl_syncs") if r["syncStatus"] == "IN_PROGRESS"]
    assert in_progress
    assert parse(states["reverse_etl_syncs"]["startedAt"]) <= min(parse(r["startedAt"]) for r in in_progress)


def test_second_sync_emits_exactly_the_syncs_from_the_cursor_on_including_the_ones_that_were_running(two_days):
    _, ws2, first, second, keys = two_days
    states = _states(first)
    wh_floor = parse(states["warehouse_syncs"]["start"])
    assert keys["second"]["warehouse_syncs"] == warehouse_syncs(ws2, wh_floor)
    were_running = {(r["warehouseId"], r["sourceId"], r["start"]) for r in first.run.records("warehouse_syncs") if r["status"] == "RUNNING"}
    assert were_running <= keys["second"]["warehouse_syncs"]
    finished_now = {(r["warehouseId"], r["sourceId"], r["start"]): r for r in second.run.records("warehouse_syncs")}
    assert all(finished_now[k]["status"] != "RUNNING" and finished_now[k].get("end") for k in were_running)
    older = warehouse_syncs(ws2) - warehouse_syncs(ws2, wh_floor)
    assert older and not older & keys["second"]["warehouse_syncs"]
    retl_floor = parse(states["reverse_etl_syncs"]["startedAt"])
    assert keys["second"]["reverse_etl_syncs"] == reverse_etl_syncs(ws2, retl_floor)
    assert len(keys["second"]["reverse_etl_syncs"]) < len(reverse_etl_syncs(ws2))


def test_second_sync_rereads_delivery_buckets_from_cursor_minus_lookback_and_picks_up_new_ones(two_days):
    ws1, ws2, first, second, keys = two_days
    floor = parse(_states(first)["delivery_overview"]["time"]) - dt.timedelta(hours=24)
    end = _end_of_delivery_reads(second)
    assert abs(end - dt.datetime.now(UTC)) < dt.timedelta(hours=2)  # the last complete hour of the connector's clock
    stamp = end.strftime("%Y-%m-%dT%H:%M:%SZ")
    wanted = {k for k in delivery_overview(ws2, floor) if k[3] < stamp}
    assert keys["second"]["delivery_overview"] == wanted
    anchor1 = dt.datetime.combine(ws1.today, dt.time(0), tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    new_buckets = {k for k in wanted if k[3] >= anchor1}
    assert new_buckets, "day 2 holds buckets day 1 did not have"
    assert not new_buckets & keys["first"]["delivery_overview"]
