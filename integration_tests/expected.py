"""What each connector stream must emit for a simulator workspace: primary-key sets and raw items.

The simulator's `Workspace` (`sim.workspace`) is the single source of truth; nothing here reads the
connector's code. Keys are tuples in the order of the stream's primary key, built the way the stream
builds them (a rule without `key` becomes "", usage counts become ints, event volume becomes one row per
(day, source, event name, event type)).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Set, Tuple

from integration_tests.operations_expected import OPERATIONS_GATED_BY, operations_keys
from integration_tests.simulator.data import Workspace, add_months

Key = Tuple[Any, ...]


def function_id(item: Mapping[str, Any]) -> str:
    """A function's id, or the stable one the connector derives when the API lists it without one (issue 12)."""
    if isinstance(item.get("id"), str):
        return item["id"]
    canonical = json.dumps(dict(item), sort_keys=True, ensure_ascii=False, default=str)
    return "derived:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def event_volume_rows(ws: Workspace, start_date: dt.date) -> Dict[Key, int]:
    """(day, sourceId, eventName, eventType) -> count for every day with events; an absent key part is ""."""
    rows: Dict[Key, int] = {}
    for day in event_volume_days(ws, start_date):
        d = dt.date.fromisoformat(day)
        for sid, name, typ in ws.event_volume.triples:
            count = ws.event_volume.count(d, sid, name, typ)
            if count:
                rows[(day, sid or "", name or "", typ or "")] = count
    return rows

# Stream -> simulator feature that gates it (403 when switched off); children of a gated parent are empty too.
GATED_BY = {
    "audit_events": "audit_trail",
    "tracking_plans": "protocols",
    "transformations": "protocols",
    "tracking_plan_rules": "protocols",
    "tracking_plan_sources": "protocols",
    "functions": "functions",
    "spaces": "spaces",
    "reverse_etl_models": "reverse_etl",
    "destination_subscriptions": "destination_subscriptions",
    "destination_delivery_metrics_summary": "delivery_metrics",
    **{stream: feature for stream, feature in OPERATIONS_GATED_BY.items() if feature},  # issue 13
}

WORKSPACE_STREAMS = (
    "workspace", "sources", "destinations", "warehouses", "catalog_sources", "catalog_destinations",
    "catalog_warehouses", "tracking_plans", "users", "groups", "roles", "invites", "labels", "transformations",
    "functions", "spaces", "reverse_etl_models", "regulations",
)
INCREMENTAL_STREAMS = (
    "audit_events",
    "usage_api_calls_workspace_daily",
    "usage_api_calls_per_source_daily",
    "usage_mtu_workspace_daily",
    "usage_mtu_per_source_daily",
    "event_volume_daily",
    "warehouse_syncs",  # issue 13 (integration_tests/operations_expected.py)
    "delivery_overview",
    "reverse_etl_syncs",
)
SUBSTREAMS = (
    "source_connected_destinations",
    "source_connected_warehouses",
    "source_schema_settings",
    "warehouse_connected_sources",
    "destination_subscriptions",
    "destination_filters",
    "destination_delivery_metrics_summary",
    "tracking_plan_rules",
    "tracking_plan_sources",
    "group_users",
    "source_regulations",  # issue 13
    "audiences",
    "computed_traits",
    "function_versions",
)
ALL_STREAMS = WORKSPACE_STREAMS + INCREMENTAL_STREAMS + SUBSTREAMS
# Streams whose records must equal the API item exactly (no redaction, no added fields).
VERBATIM_STREAMS = (
    "workspace", "catalog_sources", "catalog_destinations", "catalog_warehouses", "tracking_plans", "users", "groups",
    "roles", "labels", "transformations", "functions", "spaces", "reverse_etl_models", "regulations", "audit_events",
)
USAGE_STREAMS = {
    # stream -> (workspace attribute, per source?, count fields sent as bigint strings)
    "usage_api_calls_workspace_daily": ("usage_api_calls_workspace", False, ("apiCalls",)),
    "usage_api_calls_per_source_daily": ("usage_api_calls_per_source", True, ("apiCalls",)),
    "usage_mtu_workspace_daily": ("usage_mtu_workspace", False, ("anonymous", "anonymousIdentified", "identified", "neverIdentified")),
    "usage_mtu_per_source_daily": ("usage_mtu_per_source", True, ("anonymous", "anonymousIdentified", "identified", "neverIdentified")),
}
# Settings keys the simulator fills with credentials (see data._Gen.settings and the warehouse settings).
SECRET_SETTING_KEY = re.compile(r"^(apiKey|secretKey|password|token|accessToken|clientSecret)$")


def first_day_months_back(today: dt.date, months: int) -> dt.date:
    return add_months(today.replace(day=1), -months)


def parse_ts(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.timezone.utc)


def _alive(ws: Workspace, kind: str, items: Iterable[Mapping[str, Any]]) -> List[Mapping[str, Any]]:
    deleted = ws.deleted_ids.get(kind, set())
    return [item for item in items if item["id"] not in deleted]


def usage_periods(ws: Workspace, start_date: dt.date) -> List[str]:
    """Every usage month from start_date's month to today's, as `period` values."""
    periods, month = [], start_date.replace(day=1)
    while month <= ws.today:
        periods.append(month.isoformat())
        month = add_months(month, 1)
    return periods


def usage_rows(ws: Workspace, stream: str, start_date: dt.date) -> List[Dict[str, Any]]:
    attr = USAGE_STREAMS[stream][0]
    rows: List[Dict[str, Any]] = []
    for period in usage_periods(ws, start_date):
        rows.extend(getattr(ws, attr)[period])
    return rows


def audit_events(ws: Workspace, start_date: dt.date) -> List[Dict[str, Any]]:
    start = dt.datetime.combine(start_date, dt.time.min, tzinfo=dt.timezone.utc)
    return [event for event in ws.audit_events if parse_ts(event["timestamp"]) >= start]


def event_volume_days(ws: Workspace, start_date: dt.date) -> List[str]:
    """Days the connector reads: [start_date, yesterday] (today is still being counted)."""
    days, day = [], start_date
    while day < ws.today:
        days.append(day.isoformat())
        day += dt.timedelta(days=1)
    return days


def expected_keys(ws: Workspace, start_date: dt.date, disabled_features: Iterable[str] = ()) -> Dict[str, Set[Key]]:
    """stream -> the set of primary keys a full read from `start_date` must emit."""
    disabled = set(disabled_features)
    sources = _alive(ws, "sources", ws.sources)
    destinations = _alive(ws, "destinations", ws.destinations)
    warehouses = _alive(ws, "warehouses", ws.warehouses)
    plans = _alive(ws, "tracking_plans", ws.tracking_plans)
    groups = _alive(ws, "groups", ws.groups)

    keys: Dict[str, Set[Key]] = {
        "workspace": {(ws.workspace["id"],)},
        "sources": {(s["id"],) for s in ws.sources},
        "destinations": {(d["id"],) for d in ws.destinations},
        "warehouses": {(w["id"],) for w in ws.warehouses},
        "catalog_sources": {(c["id"],) for c in ws.catalog_sources},
        "catalog_destinations": {(c["id"],) for c in ws.catalog_destinations},
        "catalog_warehouses": {(c["id"],) for c in ws.catalog_warehouses},
        "tracking_plans": {(p["id"],) for p in ws.tracking_plans},
        "users": {(u["id"],) for u in ws.users},
        "groups": {(g["id"],) for g in ws.groups},
        "roles": {(r["id"],) for r in ws.roles},
        "invites": {(email,) for email in ws.invites},
        "labels": {(label["key"], label["value"]) for label in ws.labels},
        "transformations": {(t["id"],) for t in ws.transformations},
        "functions": {(function_id(f),) for f in ws.functions},
        "spaces": {(s["id"],) for s in ws.spaces},
        "reverse_etl_models": {(m["id"],) for m in ws.reverse_etl_models},
        "regulations": {(r["id"],) for r in ws.regulations},
        "audit_events": {(e["id"],) for e in audit_events(ws, start_date)},
        "event_volume_daily": set(event_volume_rows(ws, start_date)),
        "source_connected_destinations": {
            (s["id"], d["id"]) for s in sources for d in ws.source_connected_destinations.get(s["id"], [])
        },
        "source_connected_warehouses": {
            (s["id"], w["id"]) for s in sources for w in ws.source_connected_warehouses.get(s["id"], [])
        },
        "source_schema_settings": {(s["id"],) for s in sources},
        "warehouse_connected_sources": {
            (w["id"], s["id"]) for w in warehouses for s in ws.warehouse_connected_sources.get(w["id"], [])
        },
        "destination_subscriptions": {(sub["id"],) for d in destinations for sub in ws.destination_subscriptions.get(d["id"], [])},
        "destination_filters": {(f["id"],) for d in destinations for f in ws.destination_filters.get(d["id"], [])},
        "destination_delivery_metrics_summary": {(d["sourceId"], d["id"]) for d in destinations if d.get("sourceId")},
        "tracking_plan_rules": {
            (p["id"], rule["type"], rule.get("key") or "", rule["version"])
            for p in plans
            for rule in ws.tracking_plan_rules.get(p["id"], [])
        },
        "tracking_plan_sources": {(p["id"], s["id"]) for p in plans for s in ws.tracking_plan_sources.get(p["id"], [])},
        "group_users": {(g["id"], u["id"]) for g in groups for u in ws.group_users.get(g["id"], [])},
    }
    for stream in USAGE_STREAMS:
        per_source = USAGE_STREAMS[stream][1]
        keys[stream] = {
            (row["sourceId"], row["timestamp"]) if per_source else (row["timestamp"],) for row in usage_rows(ws, stream, start_date)
        }
    keys.update(operations_keys(ws, disabled))
    for stream, feature in GATED_BY.items():
        if feature in disabled:
            keys[stream] = set()
    return keys


def raw_items(ws: Workspace, start_date: dt.date) -> Dict[str, Dict[Key, Mapping[str, Any]]]:
    """stream -> primary key -> the item exactly as the simulator serves it, for the verbatim streams."""
    lists: Dict[str, Tuple[List[Mapping[str, Any]], Any]] = {
        "workspace": ([ws.workspace], None),
        "catalog_sources": (ws.catalog_sources, None),
        "catalog_destinations": (ws.catalog_destinations, None),
        "catalog_warehouses": (ws.catalog_warehouses, None),
        "tracking_plans": (ws.tracking_plans, None),
        "users": (ws.users, None),
        "groups": (ws.groups, None),
        "roles": (ws.roles, None),
        "labels": (ws.labels, lambda item: (item["key"], item["value"])),
        "transformations": (ws.transformations, None),
        "functions": ([dict(f, id=function_id(f)) for f in ws.functions], None),
        "spaces": (ws.spaces, None),
        "reverse_etl_models": (ws.reverse_etl_models, None),
        "regulations": (ws.regulations, None),
        "audit_events": (audit_events(ws, start_date), None),
    }
    out: Dict[str, Dict[Key, Mapping[str, Any]]] = {}
    for stream, (items, key) in lists.items():
        out[stream] = {(key(item) if key else (item["id"],)): item for item in items}
    return out


def as_emitted(item: Mapping[str, Any]) -> Dict[str, Any]:
    """The item as it reaches stdout: the CDK serialises AirbyteMessage with `omit_none`, which drops a record's
    top-level null fields (`"name": null` arrives as no `name`); nested nulls are kept."""
    return {key: value for key, value in item.items() if value is not None}


def secret_values(ws: Workspace) -> Set[str]:
    """Every credential the workspace holds: source write keys and secret-looking settings values."""
    found: Set[str] = set()

    def walk(value: Any, key: Optional[str] = None) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and key is not None and SECRET_SETTING_KEY.match(key) and len(value) >= 8:
            found.add(value)

    for source in ws.sources:
        found.update(source.get("writeKeys") or [])
        walk(source.get("settings"))
    for item in ws.destinations + ws.warehouses:
        walk(item.get("settings"))
    return found


def primary_key_of(record: Mapping[str, Any], primary_key: List[List[str]]) -> Key:
    return tuple(record.get(path[0]) for path in primary_key)


def primary_keys(catalog_streams: Iterable[Mapping[str, Any]]) -> Dict[str, List[List[str]]]:
    return {stream["name"]: stream.get("source_defined_primary_key") or [] for stream in catalog_streams}


def key_sets(records_by_stream: Mapping[str, List[Mapping[str, Any]]], pks: Mapping[str, List[List[str]]]) -> Dict[str, Set[Key]]:
    return {stream: {primary_key_of(r, pks[stream]) for r in records_by_stream.get(stream, [])} for stream in pks}


def duplicates(records_by_stream: Mapping[str, List[Mapping[str, Any]]], pks: Mapping[str, List[List[str]]]) -> Dict[str, int]:
    """stream -> records emitted more than once (by primary key)."""
    out: Dict[str, int] = {}
    for stream, records in records_by_stream.items():
        extra = len(records) - len({primary_key_of(r, pks[stream]) for r in records})
        if extra:
            out[stream] = extra
    return out
