"""SQL over the DuckDB cache, one function per report section. Returns plain data (no plotting here).

Every section function returns a `Section` whose `notes` say what is missing instead of failing: a stream that
was not synced (no table) or synced no rows (feature off, or nothing in the window) skips its part of the page.
Day and month boundaries are UTC (the cache connection sets TimeZone = UTC).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from .db import Cache

# Segment bills a user once: identified users plus anonymous users that were never identified
# (anonymousIdentified are already inside identified).
MTU_FIELDS = ("identified", "neverIdentified")
DISCARD_STAGES = ("failed_on_ingest", "filtered_at_source", "filtered_at_destination", "failed_delivery")
DESTINATION_STAGES = ("successful_delivery", "filtered_at_destination", "failed_delivery")
WAREHOUSE_FAILED = ("FAILED", "PARTIAL_SUCCESS")
RETL_FAILED = ("FAIL", "FAILED", "PARTIAL_SUCCESS")
SILENT_DAYS = 7
NO_SOURCE = "(no source)"


@dataclass
class Section:
    key: str
    title: str
    notes: List[str] = field(default_factory=list)
    data: Dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.data


def _missing(cache: Cache, stream: str) -> Optional[str]:
    """A note when `stream` cannot feed the report, else None."""
    if not cache.has(stream):
        return f"`{stream}` was not synced (no table in the cache), so this part is skipped."
    if cache.count(stream) == 0:
        return f"`{stream}` synced no rows (the feature is off for this workspace, or nothing happened in the window), so this part is skipped."
    return None


def _ts(column: str) -> str:
    # PyAirbyte stores `date-time` fields as TIMESTAMPTZ; the cast also accepts ISO strings from other loaders.
    return f'CAST("{column}" AS TIMESTAMPTZ)'


def _day(column: str) -> str:
    return f"CAST(date_trunc('day', {_ts(column)}) AS DATE)"


def _month(column: str) -> str:
    return f"CAST(date_trunc('month', {_ts(column)}) AS DATE)"


def _week(column: str) -> str:
    return f"CAST(date_trunc('week', {_ts(column)}) AS DATE)"


def names(cache: Cache, stream: str, label: str = "name") -> Dict[str, str]:
    """id -> display name for sources/destinations/warehouses/models (the id when the name is empty)."""
    if not cache.has(stream, "id"):
        return {}
    if stream == "warehouses":  # warehouses have no name of their own in the API; the catalog type names them
        expr = "COALESCE(json_extract_string(metadata, '$.name'), id) || ' ' || left(id, 6)" if cache.has(stream, "metadata") else "id"
    elif cache.has(stream, label):
        expr = f"COALESCE(NULLIF(\"{label}\", ''), id)"
    else:
        expr = "id"
    return {row["id"]: row["name"] for row in cache.rows(f"SELECT id, {expr} AS name FROM {cache.table(stream)}")}


def _top(totals: Dict[str, float], n: int) -> List[str]:
    return [key for key, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


# ---------------------------------------------------------------------------------------------------------- cost
def cost(cache: Cache, today: dt.date, top_n: int = 8) -> Section:
    section = Section("cost", "Cost: MTU and API calls")
    source_names = names(cache, "sources")
    this_month = today.replace(day=1)
    for stream, metric, fields in (
        ("usage_mtu_per_source_daily", "mtu", MTU_FIELDS),
        ("usage_api_calls_per_source_daily", "api_calls", ("apiCalls",)),
    ):
        note = _missing(cache, stream)
        if note:
            section.notes.append(note)
            continue
        total = " + ".join(f'COALESCE(CAST("{f.lower()}" AS HUGEINT), 0)' for f in fields)
        # Snapshots are cumulative within the month: the month's figure is its latest snapshot, not a sum.
        rows = cache.rows(
            f"""SELECT sourceid AS source_id, {_month('timestamp')} AS month,
                       CAST(arg_max({total}, {_ts('timestamp')}) AS BIGINT) AS value
                FROM {cache.table(stream)} GROUP BY ALL ORDER BY month, source_id"""
        )
        for row in rows:
            row["source"] = source_names.get(row["source_id"], row["source_id"] or NO_SOURCE)
        section.data[metric] = rows
    workspace = {}
    for stream, metric, fields in (
        ("usage_mtu_workspace_daily", "mtu", MTU_FIELDS),
        ("usage_api_calls_workspace_daily", "api_calls", ("apiCalls",)),
    ):
        if cache.count(stream):
            total = " + ".join(f'COALESCE(CAST("{f.lower()}" AS HUGEINT), 0)' for f in fields)
            workspace[metric] = {
                r["month"]: int(r["value"])
                for r in cache.rows(
                    f"SELECT {_month('timestamp')} AS month, arg_max({total}, {_ts('timestamp')}) AS value "
                    f"FROM {cache.table(stream)} GROUP BY ALL"
                )
            }
    if not section.data:
        return section
    section.data["workspace"] = workspace
    months = sorted({r["month"] for rows in (section.data.get("mtu", []), section.data.get("api_calls", [])) for r in rows})
    complete = [m for m in months if m < this_month]
    section.data["months"] = months
    section.data["this_month"] = this_month
    section.data["top"] = _top_sources(section.data, complete, top_n)
    return section


def _top_sources(data: Dict[str, Any], complete: List[dt.date], top_n: int) -> List[Dict[str, Any]]:
    """Top sources by MTU of the last complete month (API calls if MTU was not synced), with the month before."""
    metric = "mtu" if data.get("mtu") else "api_calls"
    if not complete:
        return []
    last = complete[-1]
    before = complete[-2] if len(complete) > 1 else None
    by: Dict[str, Dict[str, Any]] = {}
    for m in ("mtu", "api_calls"):
        for row in data.get(m, []):
            entry = by.setdefault(row["source_id"], {"source_id": row["source_id"], "source": row["source"]})
            if row["month"] == last:
                entry[f"{m}_last"] = row["value"]
            elif row["month"] == before:
                entry[f"{m}_before"] = row["value"]
    ranked = _top({sid: e.get(f"{metric}_last", 0) for sid, e in by.items()}, top_n)
    out = []
    for sid in ranked:
        e = by[sid]
        now, prev = e.get(f"{metric}_last", 0), e.get(f"{metric}_before")
        e["change_pct"] = round(100.0 * (now - prev) / prev, 1) if prev else None
        e["month"], e["month_before"], e["metric"] = last, before, metric
        out.append(e)
    return out


# -------------------------------------------------------------------------------------------------------- volume
def volume(cache: Cache, today: dt.date) -> Section:
    section = Section("volume", "Volume: events per source and type")
    note = _missing(cache, "event_volume_daily")
    if note:
        section.notes.append(note)
        return section
    source_names = names(cache, "sources")
    t = cache.table("event_volume_daily")
    by_source = cache.rows(
        f"""SELECT CAST("day" AS DATE) AS day, COALESCE(sourceid, '') AS source_id, CAST(SUM("count") AS BIGINT) AS events
            FROM {t} GROUP BY ALL ORDER BY day, source_id"""
    )
    fallback = {}
    if cache.has("event_volume_daily", "sourceName"):
        fallback = {r["id"]: r["name"] for r in cache.rows(
            f"SELECT sourceid AS id, max(sourcename) AS name FROM {t} WHERE sourcename <> '' GROUP BY ALL")}
    for row in by_source:
        sid = row["source_id"]
        row["source"] = source_names.get(sid) or fallback.get(sid) or sid or NO_SOURCE
    by_type = cache.rows(
        f"""SELECT CAST("day" AS DATE) AS day, COALESCE(NULLIF(eventtype, ''), '(no type)') AS event_type,
                   CAST(SUM("count") AS BIGINT) AS events
            FROM {t} GROUP BY ALL ORDER BY day, event_type"""
    )
    # The connector reads whole days up to yesterday; a source is silent when it sent nothing in the last 7 of them.
    last_day = today - dt.timedelta(days=1)
    window_start = last_day - dt.timedelta(days=SILENT_DAYS - 1)
    seen = {
        r["source_id"]: r
        for r in cache.rows(
            f"""SELECT sourceid AS source_id,
                       max(CASE WHEN "count" > 0 THEN CAST("day" AS DATE) END) AS last_seen,
                       CAST(SUM(CASE WHEN CAST("day" AS DATE) BETWEEN ? AND ? THEN "count" ELSE 0 END) AS BIGINT) AS recent
                FROM {t} WHERE sourceid IS NOT NULL AND sourceid <> '' GROUP BY ALL""",
            [window_start, last_day],
        )
    }
    candidates = list(source_names) if source_names else list(seen)
    silent = []
    for sid in candidates:
        info = seen.get(sid)
        if info is None or not info["recent"]:
            silent.append({"source_id": sid, "source": source_names.get(sid, sid), "last_seen": info["last_seen"] if info else None})
    silent.sort(key=lambda r: (r["last_seen"] or dt.date.min, r["source"]))
    if not source_names:
        section.notes.append("`sources` was not synced: silent sources are looked for only among sources with event volume rows.")
    section.data.update(by_source=by_source, by_type=by_type, silent=silent, window=(window_start, last_day))
    return section


# ------------------------------------------------------------------------------------------------------ delivery
def delivery(cache: Cache, long_sync_minutes: int = 60) -> Section:
    section = Section("delivery", "Delivery health")
    note = _missing(cache, "delivery_overview")
    if note:
        section.notes.append(note)
    else:
        section.data["overview"] = _delivery_overview(cache, section)
    note = _missing(cache, "warehouse_syncs")
    if note:
        section.notes.append(note)
    else:
        section.data["warehouse"] = _warehouse_syncs(cache, long_sync_minutes)
    note = _missing(cache, "reverse_etl_syncs")
    if note:
        section.notes.append(note)
    else:
        section.data["reverse_etl"] = _reverse_etl_syncs(cache)
    return section


def _delivery_overview(cache: Cache, section: Section) -> Dict[str, Any]:
    t = cache.table("delivery_overview")
    where, params = "", []
    if cache.has("delivery_overview", "granularity"):
        present = [r["g"] for r in cache.rows(f"SELECT DISTINCT granularity AS g FROM {t} WHERE granularity IS NOT NULL")]
        # The same events counted at two granularities would be summed twice: keep one, the coarsest present.
        for g in ("DAY", "HOUR", "MINUTE"):
            if g in present:
                if len(present) > 1:
                    section.notes.append(f"delivery_overview holds several granularities ({', '.join(sorted(present))}); the charts use {g} only.")
                where, params = "WHERE granularity = ?", [g]
                break
    dest_names = names(cache, "destinations")
    by_stage = cache.rows(
        f"""SELECT {_day('time')} AS day, stage, CAST(SUM("count") AS BIGINT) AS events FROM {t} {where}
            GROUP BY ALL ORDER BY day, stage""",
        params,
    )
    failed_by_destination = cache.rows(
        f"""SELECT {_day('time')} AS day, destinationid AS destination_id, CAST(SUM("count") AS BIGINT) AS events
            FROM {t} {where} {'AND' if where else 'WHERE'} stage = 'failed_delivery' AND destinationid <> ''
            GROUP BY ALL ORDER BY day, destination_id""",
        params,
    )
    per_destination = cache.rows(
        f"""SELECT destinationid AS destination_id,
                   CAST(SUM("count") FILTER (WHERE stage = 'successful_delivery') AS BIGINT) AS successful_delivery,
                   CAST(SUM("count") FILTER (WHERE stage = 'filtered_at_destination') AS BIGINT) AS filtered_at_destination,
                   CAST(SUM("count") FILTER (WHERE stage = 'failed_delivery') AS BIGINT) AS failed_delivery
            FROM {t} {where} {'AND' if where else 'WHERE'} destinationid <> '' GROUP BY ALL""",
        params,
    )
    for rows in (failed_by_destination, per_destination):
        for row in rows:
            row["destination"] = dest_names.get(row["destination_id"], row["destination_id"])
    for row in per_destination:
        for stage in DESTINATION_STAGES:
            row[stage] = row[stage] or 0
        attempted = row["successful_delivery"] + row["failed_delivery"]
        row["failure_rate_pct"] = round(100.0 * row["failed_delivery"] / attempted, 2) if attempted else None
    per_destination.sort(key=lambda r: (-r["failed_delivery"], r["destination"]))
    stages = ", ".join(f"'{s}'" for s in DISCARD_STAGES)
    reasons = cache.rows(
        f"""SELECT discardreason AS reason, CAST(SUM("count") AS BIGINT) AS events FROM {t} {where}
            {'AND' if where else 'WHERE'} stage IN ({stages}) AND COALESCE(discardreason, '') <> ''
            GROUP BY ALL ORDER BY events DESC, reason LIMIT 10""",
        params,
    )
    return {"by_stage": by_stage, "failed_by_destination": failed_by_destination, "per_destination": per_destination, "reasons": reasons}


def _warehouse_syncs(cache: Cache, long_sync_minutes: int) -> Dict[str, Any]:
    t = cache.table("warehouse_syncs")
    wh_names, src_names = names(cache, "warehouses"), names(cache, "sources")
    by_status = cache.rows(f"SELECT {_day('start')} AS day, status, COUNT(*) AS syncs FROM {t} GROUP BY ALL ORDER BY day, status")
    notice = "json_extract_string(notices, '$[0].message')" if cache.has("warehouse_syncs", "notices") else "NULL"
    rows = cache.rows(
        f"""SELECT warehouseid AS warehouse_id, sourceid AS source_id, {_ts('start')} AS started, status,
                   CAST(duration AS DOUBLE) / 60 AS minutes, CAST("count" AS BIGINT) AS rows_synced, {notice} AS notice
            FROM {t} ORDER BY started"""
    )
    for row in rows:
        row["warehouse"] = wh_names.get(row["warehouse_id"], row["warehouse_id"])
        row["source"] = src_names.get(row["source_id"], row["source_id"])
    failed = [r for r in rows if r["status"] in WAREHOUSE_FAILED]
    long = [r for r in rows if r["minutes"] is not None and r["minutes"] > long_sync_minutes]
    return {"by_status": by_status, "syncs": rows, "failed": failed[::-1], "long": long[::-1], "long_minutes": long_sync_minutes}


def _reverse_etl_syncs(cache: Cache) -> Dict[str, Any]:
    t = cache.table("reverse_etl_syncs")
    models = names(cache, "reverse_etl_models")
    by_status = cache.rows(
        f"SELECT {_day('startedAt')} AS day, syncstatus AS status, COUNT(*) AS syncs FROM {t} GROUP BY ALL ORDER BY day, status"
    )
    failed_in = ", ".join(f"'{s}'" for s in RETL_FAILED)
    error = "error" if cache.has("reverse_etl_syncs", "error") else "NULL"
    code = "errorcode" if cache.has("reverse_etl_syncs", "errorCode") else "NULL"
    failed = cache.rows(
        f"""SELECT syncid AS sync_id, modelid AS model_id, {_ts('startedAt')} AS started, syncstatus AS status,
                   {code} AS error_code, {error} AS error
            FROM {t} WHERE syncstatus IN ({failed_in}) ORDER BY started DESC"""
    )
    for row in failed:
        row["model"] = models.get(row["model_id"], row["model_id"])
    return {"by_status": by_status, "failed": failed}


# ---------------------------------------------------------------------------------------------------- governance
def governance(cache: Cache) -> Section:
    section = Section("governance", "Governance")
    note = _missing(cache, "audit_events")
    if note:
        section.notes.append(note)
    else:
        t = cache.table("audit_events")
        actor = "COALESCE(NULLIF(actoremail, ''), NULLIF(actor, ''), '(unknown)')"
        section.data["audit_by_type"] = cache.rows(
            f"SELECT {_week('timestamp')} AS week, COALESCE(type, '(no type)') AS type, COUNT(*) AS events FROM {t} GROUP BY ALL ORDER BY week, type"
        )
        actors = cache.rows(f"SELECT {actor} AS actor, COUNT(*) AS events FROM {t} GROUP BY ALL ORDER BY events DESC, actor")
        section.data["audit_actors"] = actors
        section.data["audit_by_actor"] = cache.rows(
            f"SELECT {_week('timestamp')} AS week, {actor} AS actor, COUNT(*) AS events FROM {t} GROUP BY ALL ORDER BY week, actor"
        )
    note = _missing(cache, "destinations")
    if note:
        section.notes.append(note)
    else:
        src_names = names(cache, "sources")
        kind = "json_extract_string(metadata, '$.name')" if cache.has("destinations", "metadata") else "NULL"
        rows = cache.rows(
            f"""SELECT id, COALESCE(NULLIF(name, ''), id) AS name, {kind} AS type, sourceid AS source_id
                FROM {cache.table('destinations')} WHERE enabled = false ORDER BY name"""
        )
        for row in rows:
            row["source"] = src_names.get(row["source_id"], row["source_id"])
        section.data["disabled_destinations"] = rows
    if not cache.count("sources"):
        section.notes.append(_missing(cache, "sources"))
    elif not cache.has("tracking_plan_sources", "id"):
        section.notes.append("`tracking_plan_sources` was not synced, so sources without a tracking plan cannot be listed.")
    else:
        section.data["untracked_sources"] = cache.rows(
            f"""SELECT s.id, COALESCE(NULLIF(s.name, ''), s.id) AS name, s.enabled FROM {cache.table('sources')} s
                WHERE s.id NOT IN (SELECT id FROM {cache.table('tracking_plan_sources')}) ORDER BY name"""
        )
    _users_and_roles(cache, section)
    return section


def _users_and_roles(cache: Cache, section: Section) -> None:
    note = _missing(cache, "users")
    if note:
        section.notes.append(note)
        return
    t = cache.table("users")
    users = cache.count("users")
    with_permissions = 0
    if cache.has("users", "permissions"):
        with_permissions = int(cache.value(f"SELECT COUNT(*) FROM {t} WHERE permissions IS NOT NULL"))
    roles: List[Dict[str, Any]] = []
    if with_permissions:
        roles = cache.rows(
            f"""SELECT COALESCE(json_extract_string(p, '$.roleName'), '(unnamed role)') AS role, COUNT(DISTINCT id) AS users
                FROM (SELECT id, unnest(json_extract(permissions, '$[*]')) AS p FROM {t} WHERE permissions IS NOT NULL)
                GROUP BY ALL ORDER BY users DESC, role"""
        )
    else:
        section.notes.append(
            "The synced users carry no permissions (the connector's `user_permissions_lookup` option fetches them), so users are not broken down by role."
        )
    defined = cache.count("roles")
    section.data["users"] = {"users": users, "with_permissions": with_permissions, "roles": roles, "roles_defined": defined}


# ----------------------------------------------------------------------------------------------------- inventory
INVENTORY = (
    ("sources", "Sources"),
    ("destinations", "Destinations"),
    ("warehouses", "Warehouses"),
    ("functions", "Functions"),
    ("spaces", "Spaces"),
    ("tracking_plans", "Tracking plans"),
    ("reverse_etl_models", "Reverse ETL models"),
)


def inventory(cache: Cache) -> Section:
    section = Section("inventory", "Inventory")
    counts = []
    for stream, label in INVENTORY:
        if not cache.has(stream):
            section.notes.append(f"`{stream}` was not synced, so {label.lower()} are not counted.")
            continue
        enabled = None
        if cache.has(stream, "enabled"):
            enabled = int(cache.value(f"SELECT COUNT(*) FILTER (WHERE enabled) FROM {cache.table(stream)}"))
        counts.append({"stream": stream, "kind": label, "total": cache.count(stream), "enabled": enabled})
    if counts:
        section.data["counts"] = counts
    if cache.has("sources", "labels"):
        section.data["source_labels"] = cache.rows(
            f"""SELECT json_extract_string(l, '$.key') || ': ' || json_extract_string(l, '$.value') AS label, COUNT(DISTINCT id) AS sources
                FROM (SELECT id, unnest(json_extract(labels, '$[*]')) AS l FROM {cache.table('sources')} WHERE labels IS NOT NULL)
                GROUP BY ALL ORDER BY sources DESC, label"""
        )
    if cache.has("labels"):
        section.data["labels_defined"] = cache.count("labels")
    return section


def build(cache: Cache, today: dt.date, long_sync_minutes: int = 60, top_n: int = 8) -> List[Section]:
    return [cost(cache, today, top_n), volume(cache, today), delivery(cache, long_sync_minutes), governance(cache), inventory(cache)]


def workspace_name(cache: Cache) -> Optional[str]:
    if cache.count("workspace") and cache.has("workspace", "name"):
        return cache.value(f"SELECT name FROM {cache.table('workspace')} LIMIT 1")
    return None
