"""Endpoints of the operational history and Engage streams (issue 13), served from `history.History`.

Modelled on the v73 SDKs: accepted versions per operation (an explicit `application/vnd.segment.*` version the
operation lacks answers 406; plain `application/json` or none reaches the most stable version), per-endpoint limits,
delivery overview's window rules, reverse ETL's top-level `count`/`cursor` paging, source regulations without
pagination output (404 when there were none in 90 days), audiences' 200-item page cap.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from .data import UTC, Workspace
from .history import (DESTINATION_STAGES, SOURCE_STAGES, STAGE_PATHS, History, history_of, series_buckets)

if TYPE_CHECKING:  # pragma: no cover
    from .server import Simulator

V1, BETA, ALPHA = "v1", "v1beta", "v1alpha"
ALL_VERSIONS = (V1, BETA, ALPHA)
# per-endpoint limits (requests per moving minute), shared across parents as the API documents them
ENDPOINT_LIMITS = {"warehouse_syncs": 2, "audiences": 60, "computed_traits": 25}
GRANULARITY_RULES = {  # max window, oldest start before now, bucket seconds
    "MINUTE": (4 * 3600, 48 * 3600, 60),
    "HOUR": (14 * 86400, 30 * 86400, 3600),
    "DAY": (30 * 86400, 30 * 86400, 86400),
}
# groupBy values, normalised (the spec writes `event Name`; requests send `eventName`)
SOURCE_GROUP_BY = {"successfully_received": ("eventName", "eventType", "appVersion")}
SOURCE_DEFAULT_GROUP_BY = ("eventName", "eventType", "discardReason", "appVersion")
DESTINATION_GROUP_BY = SOURCE_DEFAULT_GROUP_BY + ("subscriptionId", "activationId", "audienceId", "spaceId")
DIMENSIONS = ("eventName", "eventType", "appVersion", "discardReason")
_VND = re.compile(r"application/vnd\.segment\.(v1(?:beta|alpha)?)\+json")
RETL_MAX_COUNT = 100
RETL_DEFAULT_COUNT = 10
AUDIENCES_MAX_COUNT = 200


def _errors():
    from .server import ApiError, _not_found, _validation, parse_time

    return ApiError, _not_found, _validation, parse_time


def routes(sim: "Simulator", R: Callable[..., Any]) -> List[Any]:
    """The issue-13 routes, for `Simulator._build_routes` (which registers them after its own)."""
    from .server import _Window

    for bucket, limit in ENDPOINT_LIMITS.items():
        sim._windows.setdefault(bucket, _Window(limit))
    ops = Operations(sim)
    ID = r"(?P<id>[^/]+)"
    out = [
        R("warehouse_syncs", rf"/warehouses/{ID}/syncs", ops.gate(ops.warehouse_syncs, ALL_VERSIONS), None, "warehouse_syncs"),
        R("source_regulations", rf"/regulations/sources/{ID}", ops.gate(ops.source_regulations, ALL_VERSIONS)),
        R("reverse_etl_syncs", r"/reverse-etl-models/(?P<model_id>[^/]+)/subscriptionId/(?P<id>[^/]+)/syncs",
          ops.gate(ops.reverse_etl_syncs, (ALPHA,), "reverse_etl", "destination_subscriptions")),
        R("audiences", rf"/spaces/{ID}/audiences", ops.gate(ops.audiences, ALL_VERSIONS, "spaces"), None, "audiences"),
        R("computed_traits", rf"/spaces/{ID}/computed-traits", ops.gate(ops.computed_traits, (ALPHA,), "spaces"),
          None, "computed_traits"),
        R("function_versions", rf"/functions/{ID}/versions", ops.gate(ops.function_versions, (ALPHA,), "functions")),
    ]
    for stage in SOURCE_STAGES + DESTINATION_STAGES:
        out.append(R("delivery_overview_" + stage, STAGE_PATHS[stage],
                     ops.gate(ops.delivery_overview(stage), (BETA,), "delivery_metrics")))
    return out


class Operations:
    def __init__(self, sim: "Simulator"):
        self.sim = sim

    # ------------------------------------------------------------------ shared
    def gate(self, handler: Callable[..., Dict[str, Any]], versions: Tuple[str, ...],
             *features: str) -> Callable[..., Dict[str, Any]]:
        """Version negotiation and feature gates. A feature switched off answers 403 like the rest of the simulator;
        with `awkward`, alpha endpoints answer 404 and beta ones 422 "... is not enabled" instead, as alpha/beta
        endpoints may."""
        ApiError = _errors()[0]

        def wrapped(ws: Workspace, q: Dict[str, List[str]], headers: Any = None, **params: str) -> Dict[str, Any]:
            accept = (headers or {}).get("Accept") or ""
            asked = _VND.findall(accept)
            if asked and not any(v in versions for v in asked):
                raise ApiError(406, "not-acceptable", f"this operation is available in {', '.join(versions)} only; "
                                                      f"send Accept: application/vnd.segment.{versions[0]}+json")
            off = next((f for f in features if f in self.sim.disabled_features), None)
            if off:
                msg = f"{off} is not enabled for this workspace"
                if self.sim.awkward and versions == (ALPHA,):
                    raise ApiError(404, "not-found", msg)
                if self.sim.awkward and versions == (BETA,):
                    raise ApiError(422, "validation", msg)
                raise ApiError(403, "forbidden", msg)
            return handler(ws, q, **params)

        wrapped.wants_headers = True  # type: ignore[attr-defined]
        return wrapped

    def _history(self, ws: Workspace) -> History:
        return history_of(ws)

    def _parent(self, ws: Workspace, kind: str, pid: str) -> None:
        self.sim._parent_ok(ws, kind, pid)

    @staticmethod
    def _one(q: Dict[str, List[str]], name: str) -> str:
        return (q.get(name) or [""])[-1].strip()

    # ------------------------------------------------------------------ warehouses
    def warehouse_syncs(self, ws: Workspace, q: Dict[str, List[str]], id: str) -> Dict[str, Any]:  # noqa: A002
        self._parent(ws, "warehouses", id)
        page, pag = self.sim._paginate(q, self._history(ws).warehouse_syncs(id), f"warehouse_syncs:{id}")
        return {"reports": page, "pagination": pag}

    # ------------------------------------------------------------------ regulations
    def source_regulations(self, ws: Workspace, q: Dict[str, List[str]], id: str) -> Dict[str, Any]:  # noqa: A002
        _, not_found, validation, _ = _errors()
        self._parent(ws, "sources", id)
        items = self._history(ws).source_regulations(id)
        status = self._one(q, "status")
        if status:
            items = [r for r in items if r["status"] == status]
        types = self.sim._multi(q, "regulationTypes")
        if types:
            items = [r for r in items if r["regulationType"] in types]
        if not items:
            raise not_found()  # "Deletion requests older than 90 days ... will result in 404 resource not found"
        # The input takes `pagination` but the output has none: a page is all a caller can get.
        page, _ = self.sim._paginate(q, items, f"source_regulations:{id}")
        return {"regulations": page}

    # ------------------------------------------------------------------ reverse ETL
    def reverse_etl_syncs(self, ws: Workspace, q: Dict[str, List[str]], model_id: str, id: str) -> Dict[str, Any]:  # noqa: A002
        ApiError, not_found, validation, _ = _errors()
        h = self._history(ws)
        sub = h.retl_subscriptions.get(id)
        if sub is None or sub["modelId"] != model_id or sub.get("destinationId") in ws.deleted_ids.get("destinations", ()):
            raise not_found()
        raw = self._one(q, "count")
        count = RETL_DEFAULT_COUNT
        if raw:
            if not re.fullmatch(r"\d{1,9}", raw) or not 1 <= int(raw) <= RETL_MAX_COUNT:
                raise validation(f"count must be a number between 1 and {RETL_MAX_COUNT}, got {raw!r}", "count")
            count = int(raw)
        items = h.retl_syncs(id)
        sub_q = {"pagination.count": [str(count)]}
        cursor = self._one(q, "cursor")
        if cursor:
            sub_q["pagination.cursor"] = [cursor]
        try:
            page, pag = self.sim._paginate(sub_q, items, f"retl_syncs:{id}")
        except ApiError as e:
            raise validation(e.message.replace("pagination.cursor", "cursor"), "cursor") from None
        out: Dict[str, Any] = {"syncStatuses": page}
        if cursor or "next" in pag:  # "Present when output is paginated"
            out["pagination"] = pag
        return out

    # ------------------------------------------------------------------ engage
    def audiences(self, ws: Workspace, q: Dict[str, List[str]], id: str) -> Dict[str, Any]:  # noqa: A002
        _, not_found, validation, _ = _errors()
        if id not in self._history(ws).space_by_id:
            raise not_found()
        raw = self._one(q, "pagination.count")
        if raw.isdigit() and int(raw) > AUDIENCES_MAX_COUNT:
            raise validation(f"pagination.count must be between 1 and {AUDIENCES_MAX_COUNT}, got {raw}", "pagination.count")
        h = self._history(ws)
        page, pag = self.sim._paginate(q, h.audiences(id), f"audiences:{id}")
        include = self._one(q, "include")
        if include and include != "schedules":
            raise validation("include supports `schedules` only", "include")
        if include:
            page = [dict(a, schedules=h.audience_schedules(a)) for a in page]
        return {"audiences": page, "pagination": pag}

    def computed_traits(self, ws: Workspace, q: Dict[str, List[str]], id: str) -> Dict[str, Any]:  # noqa: A002
        return self._child_list(ws, q, id, "space_by_id", "computed_traits", "computedTraits")

    def function_versions(self, ws: Workspace, q: Dict[str, List[str]], id: str) -> Dict[str, Any]:  # noqa: A002
        return self._child_list(ws, q, id, "function_by_id", "function_versions", "versions")

    def _child_list(self, ws: Workspace, q: Dict[str, List[str]], parent_id: str, parents: str, items: str, key: str) -> Dict[str, Any]:
        """A paginated child list under a parent the history knows (404 for an unknown parent)."""
        _, not_found, _, _ = _errors()
        h = self._history(ws)
        if parent_id not in getattr(h, parents):
            raise not_found()
        page, pag = self.sim._paginate(q, getattr(h, items)(parent_id), f"{items}:{parent_id}")
        return {key: page, "pagination": pag}

    # ------------------------------------------------------------------ delivery overview
    def delivery_overview(self, stage: str) -> Callable[..., Dict[str, Any]]:
        def handler(ws: Workspace, q: Dict[str, List[str]]) -> Dict[str, Any]:
            return self._delivery_overview(ws, q, stage)
        return handler

    def _delivery_overview(self, ws: Workspace, q: Dict[str, List[str]], stage: str) -> Dict[str, Any]:
        _, not_found, validation, parse_time = _errors()
        sid = self._one(q, "sourceId")
        if not sid:
            raise validation("sourceId is required", "sourceId")
        self._parent(ws, "sources", sid)
        did: Optional[str] = None
        if stage in DESTINATION_STAGES:
            did = self._one(q, "destinationConfigId")
            if not did:
                raise validation("destinationConfigId is required", "destinationConfigId")
            self._parent(ws, "destinations", did)
            if ws.destination_by_id[did].get("sourceId") != sid:
                raise validation("destinationConfigId is not connected to sourceId", "destinationConfigId")
        gran = self._one(q, "granularity")
        if gran not in GRANULARITY_RULES:
            raise validation("granularity is required and must be one of MINUTE, HOUR, DAY", "granularity")
        for f in ("startTime", "endTime"):
            if not self._one(q, f):
                raise validation(f"{f} is required", f)
        start = parse_time(self._one(q, "startTime"), "startTime").timestamp()
        end = parse_time(self._one(q, "endTime"), "endTime").timestamp()
        if end <= start:
            raise validation("endTime must be after startTime", "endTime")
        max_window, oldest, step = GRANULARITY_RULES[gran]
        if end - start > max_window:
            raise validation(f"the time range may be at most {max_window // 3600} hours for granularity {gran}", "endTime")
        now = self.sim._now_ts() if hasattr(self.sim, "_now_ts") else dt.datetime.now(UTC).timestamp()
        if start < now - oldest:
            raise validation(f"startTime may be at most {oldest // 3600} hours in the past for granularity {gran}", "startTime")
        group_by = self._group_by(q, stage)
        h = self._history(ws)
        entity = did or sid
        buckets = series_buckets(int(start), end, step)
        groups: Dict[Tuple[Any, ...], List[Tuple[Any, ...]]] = {}
        for dims in h.delivery_universe(stage, sid, did):
            named = dict(zip(DIMENSIONS, dims))
            groups.setdefault(tuple(named.get(g) for g in group_by), []).append(dims)
        computed = {key: self._series(h, stage, entity, members, buckets, step) for key, members in groups.items()}
        keys = [k for k in groups if computed[k][1] or computed[k][2] or not self.sim.omit_empty_volume_groups]
        keys.sort(key=lambda k: (-computed[k][1], tuple("" if v is None else v for v in k)))
        tag = f"do:{stage}:{entity}:{gran}:{int(start)}:{int(end)}:{','.join(group_by)}"
        page_keys, pag = self.sim._paginate(q, keys, tag)
        dataset = []
        total_all = 0
        for key in keys:
            total_all += computed[key][1]
        for key in page_keys:
            series, total, retries = computed[key]
            item: Dict[str, Any] = {g: v for g, v in zip(group_by, key) if v is not None and g in DIMENSIONS}
            item["total"] = total
            item["series"] = series
            if stage == "successful_delivery":
                item["totalRetryCount"] = retries
            dataset.append(item)
        return {"total": total_all, "dataset": dataset, "pagination": pag}

    def _group_by(self, q: Dict[str, List[str]], stage: str) -> List[str]:
        validation = _errors()[2]
        allowed = SOURCE_GROUP_BY.get(stage, DESTINATION_GROUP_BY if stage in DESTINATION_STAGES else SOURCE_DEFAULT_GROUP_BY)
        out = []
        for raw in self.sim._multi(q, "groupBy"):
            name = raw.replace(" ", "")
            name = next((a for a in allowed if a.lower() == name.lower()), None)
            if name is None:
                raise validation(f"groupBy value {raw!r} is not valid here; valid: {', '.join(allowed)}", "groupBy")
            if name not in out:
                out.append(name)
        return out

    @staticmethod
    def _series(h: History, stage: str, entity: str, members: List[Tuple[Any, ...]], buckets: Any,
                step: int) -> Tuple[List[Dict[str, Any]], int, int]:
        bases = [h.delivery_base(stage, entity, dims) for dims in members]
        count_of = h.delivery_count_b
        series, total, retries = [], 0, 0
        for b in buckets:
            c = r = 0
            # outside the days with traffic every count is 0: skip the per-hour work (most of a 14-day window)
            for base in (bases if b + step > h.delivery_from_ts and b < h.anchor_ts else ()):
                if step >= 3600:
                    for hour in range(b, b + step, 3600):
                        hc, hr = count_of(stage, base, hour)
                        c, r = c + hc, r + hr
                else:  # MINUTE: the hour's count spread evenly over its minutes
                    hour = b // 3600 * 3600
                    m = (b - hour) // 60
                    hc, hr = count_of(stage, base, hour)
                    c += hc * (m + 1) // 60 - hc * m // 60
                    r += hr * (m + 1) // 60 - hr * m // 60
            point: Dict[str, Any] = {"time": _bucket_time(b), "count": c}
            if stage == "successful_delivery" and (r or c):
                point["retryCount"] = r  # only the delivery stage reports retries; absent on empty points
            series.append(point)
            total += c
            retries += r
        return series, total, retries


@functools.lru_cache(maxsize=1 << 16)
def _bucket_time(ts: int) -> str:
    """A bucket's start as the API writes it; cached, since every group of a window repeats the window's buckets."""
    return dt.datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
