"""Operational history of a simulated workspace (issue 13): warehouse syncs, reverse-ETL syncs, delivery overview
buckets, source-scoped regulations, audiences, computed traits and function versions.

Everything is a pure function of (seed, the workspace's ids, `today`): a workspace generated again with a later
`today` keeps every older sync and bucket unchanged and adds newer ones. The data's "now" is midnight (UTC) at the
start of `today`, the same anchor as the rest of the workspace; syncs started shortly before it are still running
(no `end` / `finishedAt`) and have finished in a workspace generated a day later.
"""
from __future__ import annotations

import datetime as dt
import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .data import _M64, EVENT_NAMES, UTC, Workspace, _mix64, h64, iso, u01

SYNC_RETENTION_DAYS = 7  # the syncs endpoints list the recent syncs only
DELIVERY_RETENTION_DAYS = 29
# Days before the anchor with delivery traffic. The tiny workspace (every end-to-end test and the fault matrix
# read it, dozens of times) has 4: at HOUR its 30 days were 96% of a full read's records and CPU. 4 days still span
# two of the 14-day windows, so a resumed read has a closed window behind its checkpoint.
DELIVERY_TRAFFIC_DAYS = {"tiny": 4}
REGULATION_RETENTION_DAYS = 90  # "List regulations for Source only returns deletion requests from the past 90 days"
WAREHOUSE_INTERVALS_H = (1, 2, 3, 4, 6, 8, 12, 24)
RETL_INTERVALS_H = (1, 2, 4, 6, 12, 24)

SOURCE_STAGES = ("successfully_received", "failed_on_ingest", "filtered_at_source")
DESTINATION_STAGES = ("successful_delivery", "failed_delivery", "filtered_at_destination")
STAGE_PATHS = {s: "/delivery-overview/" + s.replace("_", "-") for s in SOURCE_STAGES + DESTINATION_STAGES}
DISCARD_REASONS = {
    "successfully_received": (),
    "failed_on_ingest": ("MALFORMED_JSON", "PAYLOAD_TOO_LARGE", "INVALID_WRITE_KEY", "TIMESTAMP_OUT_OF_RANGE"),
    "filtered_at_source": ("SCHEMA_BLOCKED_EVENT", "TRACKING_PLAN_VIOLATION", "SOURCE_FILTER"),
    "successful_delivery": (),
    "failed_delivery": ("Bad Request", "Rate Limited", "Unauthorized", "Service Unavailable", "Payload Too Large"),
    "filtered_at_destination": ("DESTINATION_FILTER", "MAPPING_NOT_MATCHED", "INTEGRATIONS_OBJECT_DISABLED", "SAMPLED"),
}
# Share of a stage's traffic relative to what the source received (failures and filters are rarer).
STAGE_SCALE = {"successfully_received": 1.0, "failed_on_ingest": 0.02, "filtered_at_source": 0.05,
               "successful_delivery": 0.9, "failed_delivery": 0.03, "filtered_at_destination": 0.08}
_HOUR_W = [2, 1, 1, 1, 1, 2, 4, 6, 8, 9, 10, 10, 10, 10, 9, 9, 9, 9, 8, 7, 6, 5, 4, 3]
APP_VERSIONS = ("1.0.0", "2.3.1", "2.4.0-beta", "3.0")
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

SCALE = {"tiny": 1, "small": 2, "medium": 4, "large": 8}


def _hid(*parts: Any, n: int = 22) -> str:
    """A Segment-looking id derived from the parts (stable across runs and `today`)."""
    out, x = [], h64(*parts)
    for i in range(n):
        if i and i % 10 == 0:
            x = h64(x, i, *parts)
        out.append(_ID_ALPHABET[x % 62])
        x //= 62
    return "".join(out)


def _human(seconds: float) -> str:
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    parts = [f"{h}h"] * bool(h) + [f"{m}m"] * bool(m) + [f"{s}s"]
    return " ".join(parts)


def _go_duration(seconds: float) -> str:
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + f"{s}s"


class History:
    """Lazily computed, cached operational data of one workspace (thread-safe)."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.seed = ws.seed
        self.anchor = dt.datetime.combine(ws.today, dt.time(0), tzinfo=UTC)
        self.anchor_ts = int(self.anchor.timestamp())
        self.created_ts = int(dt.datetime.combine(ws.created_date, dt.time(0), tzinfo=UTC).timestamp())
        self.scale = SCALE.get(ws.size, 1)
        traffic_days = DELIVERY_TRAFFIC_DAYS.get(ws.size, DELIVERY_RETENTION_DAYS)
        self.delivery_from_ts = max(self.created_ts, self.anchor_ts - traffic_days * 86400)
        self._lock = threading.Lock()
        self._cache: Dict[Any, Any] = {}
        self.function_by_id = {f["id"]: f for f in ws.functions if f.get("id")}
        self.space_by_id = {s["id"]: s for s in ws.spaces}
        self.retl_subscriptions = {sub["id"]: sub for subs in ws.destination_subscriptions.values()
                                   for sub in subs if sub.get("modelId")}
        self.model_by_id = {m["id"]: m for m in ws.reverse_etl_models}

    def _cached(self, key: Any, build) -> Any:
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        value = build()
        with self._lock:
            return self._cache.setdefault(key, value)

    def _u(self, *parts: Any) -> float:
        return u01(self.seed, "history", *parts)

    # ------------------------------------------------------------------ warehouse syncs
    def warehouse_syncs(self, warehouse_id: str) -> List[Dict[str, Any]]:
        """SyncV1 reports of every connected source, newest first."""
        return self._cached(("wh", warehouse_id), lambda: self._warehouse_syncs(warehouse_id))

    def _warehouse_syncs(self, wid: str) -> List[Dict[str, Any]]:
        interval = 3600 * WAREHOUSE_INTERVALS_H[h64(self.seed, "wh-interval", wid) % len(WAREHOUSE_INTERVALS_H)]
        # Syncs start 5..40 minutes before each interval boundary so the newest run of the day is often still
        # running at the anchor.
        phase = interval - 300 - int(self._u("wh-phase", wid) * 2100)
        lo = self.anchor_ts - SYNC_RETENTION_DAYS * 86400
        k = (lo - phase) // interval
        out: List[Tuple[int, str, Dict[str, Any]]] = []
        sources = self.ws.warehouse_connected_sources.get(wid, [])
        while True:
            slot = k * interval + phase
            k += 1
            if slot >= self.anchor_ts:
                break
            if slot < lo:
                continue
            for s in sources:
                sid = s["id"]
                start = slot + int(self._u("wh-jitter", wid, sid, slot) * 90)
                if start >= self.anchor_ts:
                    continue
                out.append((start, sid, self._sync_v1(wid, sid, start, interval)))
        out.sort(key=lambda t: (-t[0], t[1]))
        return [t[2] for t in out]

    def _sync_v1(self, wid: str, sid: str, start: int, interval: int) -> Dict[str, Any]:
        u = self._u("wh-dur", wid, sid, start)
        dur = 30 + u * 570 if u < 0.6 else (600 + (u - 0.6) * 9000 if u < 0.9 else 3600 + (u - 0.9) * 72000)
        dur = min(dur, interval * 0.9)
        to_midnight = 86400 - start % 86400
        if to_midnight < 2700 and self._u("wh-late", wid, sid, start) < 0.7:
            # the nightly run is the big one: it is still loading at midnight (the anchor of every workspace)
            dur = to_midnight + 60 + self._u("wh-late-dur", wid, sid, start) * 1800
        dur = round(dur, 3 if self._u("wh-frac", wid, sid, start) < 0.3 else 0)
        if dur == int(dur):
            dur = int(dur)
        running = start + dur > self.anchor_ts
        rows = int(10 ** (1 + self._u("wh-rows", wid, sid, start) * 5))
        sync: Dict[str, Any] = {"sourceId": sid, "start": iso(dt.datetime.fromtimestamp(start, UTC), frac=True)}
        notices: List[Dict[str, Any]] = []
        if running:
            partial = self.anchor_ts - start
            # SyncV1.end: "Returns null if unfinished"; some answers leave it out altogether
            if self._u("wh-end-absent", wid, sid, start) >= 0.5:
                sync["end"] = None
            status, dur, rows = "RUNNING", partial, int(rows * partial / max(dur, 1))
        else:
            sync["end"] = iso(dt.datetime.fromtimestamp(start + dur, UTC), frac=True)
            x = self._u("wh-status", wid, sid, start)
            status = "SUCCESS" if x < 0.85 else ("PARTIAL_SUCCESS" if x < 0.93 else "FAILED")
            created = iso(dt.datetime.fromtimestamp(start + dur, UTC), frac=True)
            if status == "FAILED":
                rows = 0
                notices.append({"level": "error", "message": self._connect_failure(wid), "createdAt": created})
            elif status == "PARTIAL_SUCCESS":
                notices.append({"level": "warning", "message": "Some tables failed to load: 「orders_ünïcode」 column too long",
                                "createdAt": created})
            elif x < 0.1:
                notices.append({"level": "info", "message": "New column added to tracks table", "createdAt": created})
        sync.update(status=status, duration=dur, humanDuration=_human(dur), count=rows, notices=notices)
        return sync

    # ------------------------------------------------------------------ reverse ETL syncs
    def _connect_failure(self, wid: str) -> str:
        """A failed sync's notice. In the awkward workspace it quotes the connection with its password, as a driver's
        error may: the connector must not pass the password on (`settings_redaction`)."""
        settings = self.ws.warehouse_by_id[wid].get("settings") or {}
        if self.ws.awkward and settings.get("password"):
            url = (f"postgres://{settings['username']}:{settings['password']}@{settings['hostname']}:{settings['port']}"
                   f"/{settings['database']}")
            return f"Could not connect to the warehouse ({url}): authentication failed"
        return "Could not connect to the warehouse: authentication failed"

    def retl_syncs(self, subscription_id: str) -> List[Dict[str, Any]]:
        """ReverseETLSyncStatus items of a subscription, newest first."""
        return self._cached(("retl", subscription_id), lambda: self._retl_syncs(subscription_id))

    def _retl_syncs(self, sub_id: str) -> List[Dict[str, Any]]:
        sub = self.retl_subscriptions[sub_id]
        model_id = sub["modelId"]
        model = self.model_by_id.get(model_id)
        source_id = model["sourceId"] if model else self.ws.sources[h64(self.seed, "retl-src", sub_id) % len(self.ws.sources)]["id"]
        interval = 3600 * RETL_INTERVALS_H[h64(self.seed, "retl-interval", sub_id) % len(RETL_INTERVALS_H)]
        phase = interval - 120 - int(self._u("retl-phase", sub_id) * 1500)
        lo = self.anchor_ts - SYNC_RETENTION_DAYS * 86400
        out = []
        k = (lo - phase) // interval
        while True:
            start = k * interval + phase
            k += 1
            if start >= self.anchor_ts:
                break
            if start >= lo:
                out.append(self._retl_sync(sub_id, model_id, source_id, start, interval))
        out.reverse()
        return out

    def _retl_sync(self, sub_id: str, model_id: str, source_id: str, start: int, interval: int) -> Dict[str, Any]:
        u = self._u("retl-dur", sub_id, start)
        dur = int(min(20 + u * 3000 if u < 0.9 else 3000 + u * 4000, interval * 0.9))
        ts = lambda t: iso(dt.datetime.fromtimestamp(t, UTC), frac=True)  # noqa: E731
        extract_dur = max(5, dur // 3)
        item: Dict[str, Any] = {"syncId": _hid("retl-sync", sub_id, start, n=12), "modelId": model_id, "sourceId": source_id}
        running = start + dur > self.anchor_ts
        extracted = int(10 ** (self._u("retl-rows", sub_id, start) * 5))
        added = extracted * 6 // 10
        if running:
            item.update(syncStatus="IN_PROGRESS", duration=_go_duration(self.anchor_ts - start), startedAt=ts(start))
            if start + extract_dur <= self.anchor_ts:  # the extract phase has finished, loading is under way
                item["extractPhase"] = self._extract(extracted, added, start, start + extract_dur)
            return item
        x = self._u("retl-status", sub_id, start)
        status = "SUCCESS" if x < 0.8 else ("PARTIAL_SUCCESS" if x < 0.9 else "FAIL")
        item.update(syncStatus=status, duration=_go_duration(dur), startedAt=ts(start), finishedAt=ts(start + dur))
        if status == "FAIL" and x >= 0.95:  # failed before extracting anything: no phases at all
            item.update(error="Query failed: relation \"users\" does not exist", errorCode="EXTRACT_QUERY_FAILED")
            return item
        item["extractPhase"] = self._extract(extracted, added, start, start + extract_dur)
        failed = 0 if status == "SUCCESS" else max(1, extracted // 7)
        item["loadPhase"] = {"deliverSuccessCount": str(extracted - failed), "deliverFailureCount": str(failed),
                             "errorCode": "" if status == "SUCCESS" else "DESTINATION_REJECTED",
                             "startedAt": ts(start + extract_dur), "finishedAt": ts(start + dur)}
        if status != "SUCCESS":
            item["error"] = "Some records were rejected by the destination (400 Bad Request)"
            if status == "FAIL":
                item["errorCode"] = "LOAD_FAILED"
        return item

    @staticmethod
    def _extract(extracted: int, added: int, t0: int, t1: int) -> Dict[str, Any]:
        ts = lambda t: iso(dt.datetime.fromtimestamp(t, UTC), frac=True)  # noqa: E731
        updated = (extracted - added) * 2 // 3
        return {"addedCount": str(added), "updatedCount": str(updated), "deletedCount": str(extracted - added - updated),
                "extractCount": str(extracted), "errorCode": "", "startedAt": ts(t0), "finishedAt": ts(t1)}

    # ------------------------------------------------------------------ delivery overview
    def delivery_universe(self, stage: str, source_id: str, destination_id: Optional[str]) -> List[Tuple[Any, ...]]:
        """Dimension tuples (eventName, eventType, appVersion, discardReason) with traffic at that stage."""
        return self._cached(("do-u", stage, source_id, destination_id),
                            lambda: self._universe(stage, source_id, destination_id))

    def _universe(self, stage: str, sid: str, did: Optional[str]) -> List[Tuple[Any, ...]]:
        src = self.ws.source_by_id[sid]
        mobile = (src.get("metadata") or {}).get("categories", [""])[0] == "Mobile"
        triples = [t for t in self.ws._event_triples if t[0] == sid] or [(sid, EVENT_NAMES[0], "track")]
        reasons = DISCARD_REASONS[stage]
        ent = did or sid
        out = []
        for _, name, typ in triples:
            versions = [v for v in APP_VERSIONS if self._u("do-app", sid, v) < 0.6] if mobile else [None]
            for ver in versions or [APP_VERSIONS[0]]:
                if not reasons:
                    if stage == "successfully_received" or self._u("do-has", stage, ent, name, typ) < 0.9:
                        out.append((name, typ, ver, None))
                    continue
                for reason in reasons:
                    if self._u("do-has", stage, ent, name, typ, ver, reason) < 0.35:
                        out.append((name, typ, ver, reason))
        return out

    def delivery_base(self, stage: str, entity: str, dims: Tuple[Any, ...]) -> int:
        return h64(self.seed, "do-base", stage, entity, *dims)

    def delivery_count(self, stage: str, entity: str, dims: Tuple[Any, ...], hour_ts: int) -> Tuple[int, int]:
        """(count, retryCount) of one dimension tuple in the hour starting at `hour_ts`; zero from the anchor on."""
        return self.delivery_count_b(stage, self.delivery_base(stage, entity, dims), hour_ts)

    def delivery_count_b(self, stage: str, base: int, hour_ts: int) -> Tuple[int, int]:
        # Traffic from `delivery_from_ts` (at most the 29-day retention before the anchor). Any "now" within the
        # anchor's day has its oldest allowed start (now - 30 days, to the hour) at or before that, so which buckets
        # hold events never depends on the clock. (`Operations._series` skips buckets outside the same span.)
        if hour_ts >= self.anchor_ts or hour_ts < self.delivery_from_ts:
            return 0, 0
        day = hour_ts // 86400
        if (base >> 7) % 4 == 0 and _mix64(base ^ day) % 3:  # sparse series: traffic on about a third of the days
            return 0, 0
        scale = 10 ** (base % 4) * STAGE_SCALE[stage]
        x = _mix64(base ^ (hour_ts * 0x9E3779B97F4A7C15 & _M64))
        noise = 0.5 + (x >> 11) / 2.0 ** 53
        count = int(scale * _HOUR_W[(hour_ts % 86400) // 3600] * noise)
        retry = 0
        if stage == "successful_delivery" and count and x % 5 == 0:
            retry = max(1, count // 10)
        return count, retry

    # ------------------------------------------------------------------ source regulations
    def source_regulations(self, source_id: str) -> List[Dict[str, Any]]:
        """RegulationListEntryV1 items created in the 90 days before the anchor (empty: the API answers 404)."""
        return self._cached(("reg", source_id), lambda: self._source_regulations(source_id))

    def _source_regulations(self, sid: str) -> List[Dict[str, Any]]:
        # about 60% of the sources had requests in the window (always the first one, so every workspace has some)
        first = bool(self.ws.sources) and self.ws.sources[0]["id"] == sid
        n = 1 + int(self._u("reg-n", sid) * 3 * self.scale) if first or self._u("reg-any", sid) < 0.6 else 0
        out = []
        lo = self.anchor_ts - REGULATION_RETENTION_DAYS * 86400
        # requests keep being created: one slot per 3 days, a regulation where the hash says so
        for slot in range(lo // 259200, self.anchor_ts // 259200 + 1):
            t = slot * 259200 + int(self._u("reg-t", sid, slot) * 259200)
            if not lo <= t < self.anchor_ts or self._u("reg-has", sid, slot) >= n / 30:
                continue
            rid = _hid("reg", sid, slot)
            statuses = ("FINISHED", "FINISHED", "FAILED", "PARTIAL_SUCCESS", "RUNNING", "INITIALIZED", "INVALID", "NOT_SUPPORTED")
            status = statuses[h64(self.seed, "reg-st", rid) % len(statuses)]
            types = ("DELETE_ONLY", "SUPPRESS_WITH_DELETE", "SUPPRESS_ONLY", "UNSUPPRESS", "DELETE_INTERNAL",
                     "SUPPRESS_WITH_DELETE_INTERNAL", "DELETE_ARCHIVE_ONLY")
            reg: Dict[str, Any] = {"id": rid, "subjectType": ("USER_ID", "ANONYMOUS_ID", "OBJECT_ID")[h64(rid, 1) % 3],
                                   "subjects": [_hid("subj", rid, i, n=12) for i in range(1 + h64(rid, 2) % 3)],
                                   "status": status, "createdAt": iso(dt.datetime.fromtimestamp(t, UTC), frac=bool(h64(rid, 3) % 2)),
                                   "regulationType": types[h64(rid, 4) % len(types)]}
            done = t + 3600 + int(self._u("reg-done", rid) * 5 * 86400)
            if status in ("FINISHED", "FAILED", "PARTIAL_SUCCESS") and done < self.anchor_ts:
                reg["finishedAt"] = iso(dt.datetime.fromtimestamp(done, UTC))
            elif status in ("FINISHED", "FAILED", "PARTIAL_SUCCESS"):
                reg["status"] = "RUNNING"
            out.append(reg)
        out.sort(key=lambda r: r["createdAt"], reverse=True)
        return out

    # ------------------------------------------------------------------ engage
    def audiences(self, space_id: str) -> List[Dict[str, Any]]:
        return self._cached(("aud", space_id), lambda: self._audiences(space_id))

    def _stamp(self, *parts: Any) -> Tuple[str, str]:
        created = self.anchor_ts - int(self._u("c", *parts) * 400 * 86400) - 3600
        updated = created + int(self._u("u", *parts) * (self.anchor_ts - created))
        return (iso(dt.datetime.fromtimestamp(created, UTC), frac=True),
                iso(dt.datetime.fromtimestamp(updated, UTC), frac=True))

    def _user_id(self, *parts: Any) -> str:
        users = self.ws.users
        return users[h64(self.seed, *parts) % len(users)]["id"] if users else _hid("user", *parts)

    def _audiences(self, space_id: str) -> List[Dict[str, Any]]:
        # large spaces hold more than one 200-item page
        n = {"tiny": 4, "small": 12, "medium": 60, "large": 230}.get(self.ws.size, 4)
        n = n if self._u("aud-n", space_id) < 0.85 else n // 2
        out = []
        for i in range(n):
            aid = "aud_" + _hid("aud", space_id, i, n=26)
            u = lambda tag: self._u("aud", tag, aid)  # noqa: E731
            created, updated = self._stamp("aud", aid)
            atype = ("USERS", "USERS", "ACCOUNTS", "LINKED")[int(u("type") * 4)]
            a: Dict[str, Any] = {"computeCadence": {"type": "REALTIME" if u("cad") < 0.7 else "BATCH"}}
            if u("size") < 0.8:
                size: Dict[str, Any] = {"type": "ACCOUNTS" if atype == "ACCOUNTS" else "USERS"}
                if u("count") < 0.9:
                    size["count"] = int(10 ** (u("cnt") * 6))
                if u("uniq") < 0.5:
                    size["uniqueCount"] = int(10 ** (u("cnt") * 5))
                a["size"] = size
            if u("opt") < 0.6:
                opts: Dict[str, Any] = {"filterByExternalIds": ["email", "user_id"][: 1 + int(u("ext") * 2)]}
                if u("hist") < 0.7:
                    opts["includeHistoricalData"] = u("hist2") < 0.5
                if u("bf") < 0.3:
                    opts["backfillEventDataDays"] = int(1 + u("bfd") * 90)
                a["options"] = opts
            a.update(id=aid, spaceId=space_id, name=f"Audience {i} " + ("Café lovers ☕", "High value 💎", "Churn risk", "日本のユーザー")[i % 4])
            if u("desc") < 0.6:
                a["description"] = ("", "Users who bought twice", "Utilisateurs actifs")[int(u("d") * 3)]
            a.update(key=f"audience_{i}_{aid[-4:].lower()}", enabled=u("en") < 0.8)
            # `definition` is required but nullable in AudienceSummary
            a["definition"] = None if u("def") < 0.1 else (
                {"query": "event('Order Completed').count() >= 2"} if u("te") < 0.5 else
                {"query": "entity('accounts').where(trait('plan') = 'pro')", "targetEntity": "profile"})
            if u("st") < 0.85:
                a["status"] = ("Live", "Computing", "Backfilling", "Disabled", "Error", "Awaiting Destinations")[int(u("s") * 6)]
            a.update(createdBy=self._user_id("aud-cb", aid), updatedBy=self._user_id("aud-ub", aid), createdAt=created,
                     updatedAt=updated, audienceType=atype)
            out.append(a)
        return out

    def audience_schedules(self, audience: Dict[str, Any]) -> List[Dict[str, Any]]:
        aid = audience["id"]
        if audience["computeCadence"]["type"] != "BATCH" or self._u("sch", aid) < 0.3:
            return []
        if self._u("sch-kind", aid) < 0.5:
            config: Any = {"interval": ("15m", "1h", "6h", "1d")[h64(aid, 5) % 4]}
            strategy = "PERIODIC"
        else:
            config, strategy = {"days": [1, 3, 5], "hours": [9], "timezone": "Europe/Paris"}, "SPECIFIC_DAYS"
        sch: Dict[str, Any] = {"id": "sch_" + _hid("sch", aid, n=20), "strategy": strategy, "config": config}
        if self._u("sch-next", aid) < 0.8:
            sch["nextExecution"] = iso(dt.datetime.fromtimestamp(self.anchor_ts + 3600, UTC))
        return [sch]

    def computed_traits(self, space_id: str) -> List[Dict[str, Any]]:
        return self._cached(("ct", space_id), lambda: self._computed_traits(space_id))

    def _computed_traits(self, space_id: str) -> List[Dict[str, Any]]:
        n = {"tiny": 3, "small": 10, "medium": 40, "large": 120}.get(self.ws.size, 3)
        out = []
        for i in range(n):
            cid = "ct_" + _hid("ct", space_id, i, n=26)
            u = lambda tag: self._u("ct", tag, cid)  # noqa: E731
            created, updated = self._stamp("ct", cid)
            c: Dict[str, Any] = {"id": cid, "spaceId": space_id,
                                 "name": ("Lifetime value", "Last product viewed", "Order count 30d", "Langue préférée 🌐")[i % 4] + f" {i}"}
            if u("desc") < 0.5:
                c["description"] = ("", "Sum of revenue", "計算された特性")[int(u("d") * 3)]
            c.update(key=f"trait_{i}_{cid[-4:].lower()}", enabled=u("en") < 0.85)
            c["definition"] = None if u("def") < 0.1 else {
                "query": "event('Order Completed').sum(property('revenue'))",
                "type": "ACCOUNTS" if u("acc") < 0.2 else "USERS"}
            if u("st") < 0.8:
                c["status"] = ("Live", "Computing", "Backfilling", "Failed", "Disabled")[int(u("s") * 5)]
            c.update(createdBy=self._user_id("ct-cb", cid), updatedBy=self._user_id("ct-ub", cid), createdAt=created, updatedAt=updated)
            if u("opt") < 0.6:
                opts = {k: v for k, v in (("includeHistoricalData", u("h") < 0.5), ("includeAnonymousUsers", u("a") < 0.3),
                                          ("backfillDurationDays", int(1 + u("b") * 60))) if u("o" + k) < 0.7}
                c["options"] = opts
            out.append(c)
        return out

    # ------------------------------------------------------------------ function versions
    def function_versions(self, function_id: str) -> List[Dict[str, Any]]:
        return self._cached(("fv", function_id), lambda: self._function_versions(function_id))

    def _function_versions(self, fid: str) -> List[Dict[str, Any]]:
        n = 1 + int(self._u("fv-n", fid) * 3 * self.scale)
        deployed = n - 1 - int(self._u("fv-dep", fid) * min(n, 2)) if self._u("fv-any", fid) < 0.9 else -1
        t = self.anchor_ts - int(self._u("fv-t0", fid) * 300 * 86400) - 86400
        out = []
        for i in range(n):
            t += int(3600 + self._u("fv-step", fid, i) * 20 * 86400)
            t = min(t, self.anchor_ts - 60 * (n - i))
            vid = _hid("fv", fid, i, n=24)
            u = lambda tag: self._u("fv", tag, vid)  # noqa: E731
            v: Dict[str, Any] = {"id": vid}
            if u("author") < 0.8:
                v["author"] = self._user_id("fv-author", vid)
            v["code"] = (f"// version {i} ✨\nasync function onTrack(event, settings) {{\n"
                         f"  const r = await fetch(settings.url, {{ method: 'POST', body: JSON.stringify(event) }});\n"
                         f"  return r.ok; // données\n}}\n")
            if u("dep") < 0.9:
                v["isDeployed"] = i == deployed
            stamp = iso(dt.datetime.fromtimestamp(t, UTC), frac=True)
            if u("c") < 0.9:
                v["createdAt"] = stamp
            if u("up") < 0.7:
                v["updatedAt"] = stamp
            if i == deployed and u("da") < 0.9:
                v["deployedAt"] = iso(dt.datetime.fromtimestamp(t + 600, UTC), frac=True)
            out.append(v)
        out.reverse()  # newest first
        return out


_HISTORIES: Dict[int, History] = {}
_HLOCK = threading.Lock()


def history_of(ws: Workspace) -> History:
    """The (cached) operational history of a generated workspace."""
    with _HLOCK:
        h = ws.__dict__.get("_history")
        if h is None:
            h = History(ws)
            ws.__dict__["_history"] = h
        return h


def ensure_reverse_etl_subscription(ws: Workspace) -> None:
    """Give one subscription a reverse-ETL model when the generated workspace has none, so every workspace holds
    reverse-ETL syncs. Hash-based: the rest of the workspace is unchanged."""
    subs = [s for d in ws.destinations for s in ws.destination_subscriptions.get(d["id"], [])]
    if not subs or not ws.reverse_etl_models or any(s.get("modelId") for s in subs):
        return
    sub = subs[h64(ws.seed, "retl-sub") % len(subs)]
    sub["modelId"] = ws.reverse_etl_models[h64(ws.seed, "retl-model") % len(ws.reverse_etl_models)]["id"]
    sub["reverseETLSchedule"] = {"strategy": "PERIODIC", "config": {"interval": "1h"}}


def series_buckets(start_ts: int, end_ts: float, step: int) -> Sequence[int]:
    t0 = start_ts // step * step
    n = max(0, -(-(int(end_ts) - t0) // step))
    return range(t0, t0 + n * step, step)
