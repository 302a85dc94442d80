"""Reading every `/events/volume` group of a window despite the API's 5000-entry limit.

`GetEventsVolumeFromWorkspaceV1Output.result` holds at most 5000 groups, largest first, so a capped answer
silently lacks the smallest groups. A capped window is re-read in parts that each stay under the cap: per
source batch (halved while still capped), then a single source's window halved in time. Groups without a
source cannot be reached by a `sourceId` filter; they are kept from the first answer only once a per-source
aggregate proves that answer holds all of them. What cannot be proven complete fails the window.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence
from urllib.parse import quote

CAP = 5000  # "The limit of entries returned is 5000."
GROUP_BY = ("eventName", "eventType", "source")
# Characters of `&sourceId.N=<id>` per request: the whole URL then stays well under the 8 KiB many front ends allow.
SOURCE_PARAMS_BUDGET = 6000


def indexed(name: str, values: Sequence[str]) -> Dict[str, str]:
    """An array query parameter the way Segment's SDKs send it (`groupBy.0=a&groupBy.1=b`), never comma-joined."""
    return {f"{name}.{i}": value for i, value in enumerate(values)}


@dataclass
class Answer:
    groups: List[Mapping[str, Any]]
    capped: bool  # the API may have left groups out
    cap: int = CAP  # the limit the answer was held to (the API echoes it as `query.limit` when it does)


class Unresolvable(Exception):
    """Even the smallest part of the window hits the cap: its groups cannot all be read."""


Query = Callable[[date, date, Sequence[str], Optional[Sequence[str]]], Answer]  # (start, end, groupBy, sourceIds)


def source_id(group: Mapping[str, Any]) -> Optional[str]:
    source = group.get("source")
    return source.get("id") if isinstance(source, Mapping) and isinstance(source.get("id"), str) else None


def _total(groups: Iterable[Mapping[str, Any]]) -> float:
    return sum(g.get("total") or 0 for g in groups if isinstance(g.get("total"), (int, float)))


def batches(ids: Sequence[str], budget: int = SOURCE_PARAMS_BUDGET) -> Iterable[List[str]]:
    batch: List[str] = []
    used = 0
    for sid in ids:
        cost = len(f"&sourceId.{len(batch)}={quote(sid, safe='')}")
        if batch and used + cost > budget:
            yield batch
            batch, used = [], 0
            cost = len(f"&sourceId.0={quote(sid, safe='')}")
        batch.append(sid)
        used += cost
    if batch:
        yield batch


class CapSplitter:
    """Resolves one capped window into complete groups, using as few extra requests as it can."""

    def __init__(self, query: Query):
        self.query = query

    def resolve(self, start: date, end: date, capped: List[Mapping[str, Any]]) -> List[Mapping[str, Any]]:
        by_source: Dict[Optional[str], List[Mapping[str, Any]]] = defaultdict(list)
        for group in capped:
            by_source[source_id(group)].append(group)
        # One extra question per capped window: which sources sent how much (the sources list would miss deleted
        # sources and include idle ones), and how much came without a source.
        aggregate = self.query(start, end, ("source",), None)
        if aggregate.capped:
            raise Unresolvable(
                f"more than {aggregate.cap} sources sent events in {start}..{end - timedelta(days=1)}, so neither the groups "
                "without a source nor the list of sources with events can be proven complete"
            )
        totals: Dict[Optional[str], float] = defaultdict(float)
        for group in aggregate.groups:
            totals[source_id(group)] += _total([group])
        if _total(by_source.get(None, [])) != totals.get(None, 0):
            raise Unresolvable(
                f"the groups without a source in {start}..{end - timedelta(days=1)} fall beyond the {aggregate.cap}-group limit "
                "and no sourceId filter can reach them"
            )
        out = list(by_source.get(None, []))
        todo = []
        for sid, total in totals.items():
            if sid is None:
                continue
            if _total(by_source.get(sid, [])) == total:
                out.extend(by_source[sid])  # every group of this source is already in the capped answer
            else:
                todo.append(sid)
        ids_seen = set(totals)
        todo.extend(sid for sid in by_source if sid is not None and sid not in ids_seen)  # counted after the aggregate
        for batch in batches(todo):
            out.extend(self._by_sources(start, end, batch))
        return out

    def _by_sources(self, start: date, end: date, ids: List[str]) -> List[Mapping[str, Any]]:
        answer = self.query(start, end, GROUP_BY, ids)
        if not answer.capped:
            return answer.groups
        if len(ids) > 1:
            half = len(ids) // 2
            return self._by_sources(start, end, ids[:half]) + self._by_sources(start, end, ids[half:])
        return self._by_time(start, end, ids[0], answer.cap)

    def _by_time(self, start: date, end: date, sid: str, cap: int) -> List[Mapping[str, Any]]:
        days = (end - start).days
        if days <= 1:
            raise Unresolvable(f"source {sid} alone has {cap} event groups or more on {start}, the API's limit")
        mid = start + timedelta(days=days // 2)
        out: List[Mapping[str, Any]] = []
        for part_start, part_end in ((start, mid), (mid, end)):
            answer = self.query(part_start, part_end, GROUP_BY, [sid])
            out.extend(self._by_time(part_start, part_end, sid, answer.cap) if answer.capped else answer.groups)
        return out
