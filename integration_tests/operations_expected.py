"""What the issue-13 streams must emit for a simulator workspace (keys built from `history.History`, never from
the connector's code). Used by expected.py and the end-to-end tests."""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, Iterable, Optional, Set, Tuple

from integration_tests.simulator.data import Workspace
from integration_tests.simulator.history import DESTINATION_STAGES, SOURCE_STAGES, history_of

Key = Tuple[Any, ...]
UTC = dt.timezone.utc
OPERATIONS_GATED_BY = {
    "warehouse_syncs": None,
    "delivery_overview": "delivery_metrics",
    "reverse_etl_syncs": "reverse_etl",
    "source_regulations": None,
    "audiences": "spaces",
    "computed_traits": "spaces",
    "function_versions": "functions",
}
OPERATIONS_INCREMENTAL = ("warehouse_syncs", "delivery_overview", "reverse_etl_syncs")


def parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _alive(ws: Workspace, kind: str, items: Iterable[Dict[str, Any]]) -> list:
    return [item for item in items if item.get("id") and item["id"] not in ws.deleted_ids.get(kind, set())]


def warehouse_syncs(ws: Workspace, floor: Optional[dt.datetime] = None) -> Set[Key]:
    h = history_of(ws)
    return {(w["id"], s["sourceId"], s["start"]) for w in _alive(ws, "warehouses", ws.warehouses)
            for s in h.warehouse_syncs(w["id"]) if floor is None or parse(s["start"]) >= floor}


def retl_subscriptions(ws: Workspace) -> list:
    return [sub for d in _alive(ws, "destinations", ws.destinations)
            for sub in ws.destination_subscriptions.get(d["id"], []) if sub.get("modelId")]


def reverse_etl_syncs(ws: Workspace, floor: Optional[dt.datetime] = None) -> Set[Key]:
    h = history_of(ws)
    return {(s["syncId"],) for sub in retl_subscriptions(ws) for s in h.retl_syncs(sub["id"])
            if floor is None or parse(s["startedAt"]) >= floor}


def delivery_entities(ws: Workspace) -> list:
    sources = _alive(ws, "sources", ws.sources)
    alive_sources = {s["id"] for s in sources}
    out = [(stage, s["id"], None) for s in sources for stage in SOURCE_STAGES]
    out += [(stage, d["sourceId"], d["id"]) for d in _alive(ws, "destinations", ws.destinations)
            if d.get("sourceId") in alive_sources for stage in DESTINATION_STAGES]
    return out


def delivery_overview(ws: Workspace, floor: Optional[dt.datetime] = None) -> Set[Key]:
    """(stage, sourceId, destinationId, time, eventType, discardReason) of every hour with events or retries,
    from `floor` (default: everything the simulator retains) to the anchor."""
    h = history_of(ws)
    lo = h.anchor_ts - 29 * 86400 if floor is None else max(h.anchor_ts - 29 * 86400, int(floor.timestamp()))
    keys: Set[Key] = set()
    for stage, sid, did in delivery_entities(ws):
        entity = did or sid
        groups: Dict[Tuple[str, str], list] = {}
        for dims in h.delivery_universe(stage, sid, did):
            groups.setdefault((dims[1] or "", dims[3] or ""), []).append(h.delivery_base(stage, entity, dims))
        for (event_type, reason), bases in groups.items():
            for hour in range(lo - lo % 3600, h.anchor_ts, 3600):
                counts = [h.delivery_count_b(stage, b, hour) for b in bases]
                if any(c or r for c, r in counts):
                    stamp = dt.datetime.fromtimestamp(hour, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                    keys.add((stage, sid, did or "", stamp, event_type, reason))
    return keys


def operations_keys(ws: Workspace, disabled: Iterable[str] = ()) -> Dict[str, Set[Key]]:
    disabled = set(disabled)
    h = history_of(ws)
    keys = {
        "warehouse_syncs": warehouse_syncs(ws),
        "delivery_overview": delivery_overview(ws),
        "reverse_etl_syncs": set() if "destination_subscriptions" in disabled else reverse_etl_syncs(ws),
        "source_regulations": {(s["id"], r["id"]) for s in _alive(ws, "sources", ws.sources) for r in h.source_regulations(s["id"])},
        "audiences": {(sp["id"], a["id"]) for sp in ws.spaces for a in h.audiences(sp["id"])},
        "computed_traits": {(sp["id"], c["id"]) for sp in ws.spaces for c in h.computed_traits(sp["id"])},
        "function_versions": {(f["id"], v["id"]) for f in ws.functions if f.get("id") for v in h.function_versions(f["id"])},
    }
    for stream, feature in OPERATIONS_GATED_BY.items():
        if feature in disabled:
            keys[stream] = set()
    return keys
