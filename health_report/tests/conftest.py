"""A small DuckDB cache built from the simulator's tiny workspace, laid out like PyAirbyte's, without PyAirbyte.

Records are the simulator's own items in the shape the connector emits them (usage counts as ints, one event
volume row per day/source/name/type, warehouse syncs with their warehouseId, ...). A few records are changed on
purpose so each finding has something to find: one source goes silent, one destination is disabled, one source
leaves every tracking plan, and a source name carries HTML.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List

import pytest

from integration_tests.expected import USAGE_STREAMS, first_day_months_back, usage_rows
from integration_tests.simulator.data import generate
from integration_tests.simulator.history import history_of

TODAY = dt.date(2026, 11, 18)  # fixed: the numbers must not depend on the day the tests run
SEED = 7
HOSTILE_NAME = '<img src=x onerror="alert(1)"> Ünïcode & Co'


@dataclass
class Fixture:
    records: Dict[str, List[Dict[str, Any]]]
    db_path: Path
    today: dt.date
    silent_source: str
    quiet_source: str
    disabled_destination: str
    untracked_source: str
    hostile_source: str


def _delivery_overview(sources: List[Dict[str, Any]], destinations: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Hand-made rows with distinct counts, so a wrong sum or a wrong group shows."""
    rows = []
    reasons = ["SCHEMA_BLOCKED_EVENT", "PAYLOAD_TOO_LARGE", "Unauthorized", ""]
    for day in range(5):
        time = f"2026-11-{10 + day:02d}T0{day}:00:00Z"
        for i, src in enumerate(sources[:2]):
            rows.append(dict(stage="failed_on_ingest", sourceId=src["id"], destinationId="", time=time, eventType="track",
                             discardReason=reasons[(day + i) % 3], count=10 * (day + 1) + i, retryCount=None, granularity="HOUR"))
            rows.append(dict(stage="successfully_received", sourceId=src["id"], destinationId="", time=time, eventType="track",
                             discardReason="", count=1000 + day, retryCount=None, granularity="HOUR"))
        for j, dest in enumerate(destinations[:3]):
            src = dest.get("sourceId") or sources[0]["id"]
            for stage, base in (("successful_delivery", 500), ("failed_delivery", 7), ("filtered_at_destination", 3)):
                rows.append(dict(stage=stage, sourceId=src, destinationId=dest["id"], time=time, eventType="page",
                                 discardReason=reasons[j] if stage != "successful_delivery" else "", count=base * (j + 1) + day,
                                 retryCount=1 if stage == "failed_delivery" else None, granularity="HOUR"))
    return rows


def build_records(today: dt.date = TODAY, seed: int = SEED) -> Fixture:
    ws = generate(seed, "tiny", today)
    start = first_day_months_back(today, 3)
    sources = copy.deepcopy(ws.sources)
    destinations = copy.deepcopy(ws.destinations)
    hostile = sources[0]
    hostile["name"] = HOSTILE_NAME
    disabled = next(d for d in destinations if d.get("enabled"))
    disabled["enabled"] = False
    plan_sources = []
    for plan in ws.tracking_plans:
        for src in ws.tracking_plan_sources.get(plan["id"], []):
            plan_sources.append(dict(src, trackingPlanId=plan["id"]))
    tracked = sorted({s["id"] for s in plan_sources})
    untracked = tracked[0] if tracked else sources[-1]["id"]
    plan_sources = [s for s in plan_sources if s["id"] != untracked]
    silent = sources[1]["id"]
    silent_from = today - dt.timedelta(days=10)
    quiet = sources[2]["id"]  # nothing for 5 days, then events 6-7 days ago: not silent by the 7-day rule
    quiet_from = today - dt.timedelta(days=5)
    volume = []
    day = start
    while day < today:
        for (sid, name, typ) in ws.event_volume.triples:
            count = ws.event_volume.count(day, sid, name, typ)
            if sid == silent and day >= silent_from:
                continue  # the silent source: no rows at all for its last 10 days
            if sid == quiet and day >= quiet_from:
                count = 0
            elif sid == quiet and day >= quiet_from - dt.timedelta(days=2):
                count += 1  # sparse groups may be 0 on a given day; make sure these two days count
            volume.append({"day": day.isoformat(), "sourceId": sid, "eventName": name, "eventType": typ, "count": count})
        day += dt.timedelta(days=1)
    history = history_of(ws)
    warehouse_syncs = [dict(sync, warehouseId=w["id"]) for w in ws.warehouses for sync in history.warehouse_syncs(w["id"])]
    retl = []
    for sub_id, sub in history.retl_subscriptions.items():
        for item in history.retl_syncs(sub_id):
            retl.append(dict(item, modelId=item.get("modelId") or sub["modelId"], subscriptionId=sub_id))
    # a status the tiny workspace may not draw on its own, which the report must count as a failure
    next(r for r in retl if r["syncStatus"] == "SUCCESS")["syncStatus"] = "PARTIAL_SUCCESS"
    records: Dict[str, List[Dict[str, Any]]] = {
        "workspace": [ws.workspace],
        "sources": sources,
        "destinations": destinations,
        "warehouses": ws.warehouses,
        "functions": [f for f in ws.functions if f.get("id")],
        "spaces": ws.spaces,
        "labels": ws.labels,
        "users": ws.users,
        "roles": ws.roles,
        "tracking_plans": ws.tracking_plans,
        "tracking_plan_sources": plan_sources,
        "reverse_etl_models": ws.reverse_etl_models,
        "audit_events": ws.audit_events,
        "event_volume_daily": volume,
        "delivery_overview": _delivery_overview(sources, destinations),
        "warehouse_syncs": warehouse_syncs,
        "reverse_etl_syncs": retl,
    }
    for stream, (_, _, count_fields) in USAGE_STREAMS.items():
        rows = []
        for row in usage_rows(ws, stream, start):
            rows.append({k: (int(v) if k in count_fields else v) for k, v in row.items()})
        records[stream] = rows
    return Fixture(records, Path(), today, silent, quiet, disabled["id"], untracked, hostile["id"])


@pytest.fixture(scope="session")
def fixture(tmp_path_factory) -> Fixture:
    from health_report.tests import loader  # needs duckdb: only the test modules that skip without it use this fixture

    fx = build_records()
    fx.db_path = loader.write(tmp_path_factory.mktemp("cache") / "segment.duckdb", fx.records)
    return fx
