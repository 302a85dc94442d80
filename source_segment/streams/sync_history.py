"""Operational history: warehouse syncs and reverse-ETL syncs (issue 13).

Syncs are listed newest first per parent. The cursor is the newest sync start seen, held back to the start of
the oldest sync still running, so a running sync is emitted again by every sync until it has finished. It
moves only once every parent is read, so an interrupted sync resumes from the previous cursor.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from datetime import datetime
from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, Optional

from airbyte_cdk.models import SyncMode

from source_segment.timeutil import parse_datetime
from source_segment.errors import SegmentApiError
from source_segment.streams.base import SegmentStream
from source_segment.streams.gating import NotEnabledGate, feature_not_enabled
from source_segment.streams.incremental import SegmentIncrementalStream
from source_segment.streams.relationships import DestinationSubscriptions
from source_segment.streams.workspace import Destinations, Warehouses


class SyncHistoryStream(NotEnabledGate, SegmentIncrementalStream):
    """Per-parent sync lists, newest first; incremental on the sync's start."""

    parent_id_field = ""
    end_field = ""  # absent, null or "" while the sync runs
    prefetch = True

    def __init__(self, context):
        super().__init__(context)
        self._floor: Optional[datetime] = None  # incremental: syncs older than this are not emitted
        self._newest: Optional[datetime] = None
        self._oldest_running: Optional[datetime] = None
        self._lock = threading.Lock()  # prefetched slices parse on pool threads

    def parent_slices(self) -> Optional[List[Mapping[str, Any]]]:
        """One slice per parent: {"path": {...}, "parent": {"id": ...}}; None when the parent stream is gated."""
        raise NotImplementedError

    def slices(self, sync_mode: SyncMode) -> Iterable[Mapping[str, Any]]:
        self._floor = self.resume_point(sync_mode)
        self._newest = self._oldest_running = None
        planned = self.parent_slices()
        if planned is None:
            self.skip(403)
            return
        if planned:
            planned[-1] = dict(planned[-1], last=True)  # its read commits the cursor (see read_records)
        yield from planned

    def fetch(self, stream_slice: Mapping[str, Any], stream_state: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        try:
            return super().fetch(stream_slice, stream_state)
        except SegmentApiError as error:
            if error.status == 404 and not feature_not_enabled(error):
                self.logger.info(f"Stream `{self.name}`: parent {stream_slice['parent']['id']} no longer exists (404); skipped.")
                return []
            raise

    def read_pages(self, stream_slice: Mapping[str, Any], stream_state: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        """Pages until one reaches below the incremental floor: later pages hold older syncs only."""
        path = self.path(stream_slice=stream_slice)
        token: Optional[Mapping[str, Any]] = None
        seen: set = set()
        while True:
            payload = self.first_page(stream_slice) if token is None else None
            if payload is None:
                payload = self.client.get(path, self.request_params(stream_state, stream_slice, token), self.version)
            data = payload.get("data") if isinstance(payload, Mapping) else None
            if not isinstance(data, Mapping):
                self.logger.warning(f"Stream `{self.name}`: GET {path} returned no `data` object; treating the page as empty.")
                return
            records = list(self.parse_data(data, stream_slice))
            yield from records
            cursor = self._next_cursor(data)
            starts = [s for s in (self._start_of(r) for r in records) if s is not None]
            if not cursor or cursor in seen or (self._floor and starts and min(starts) < self._floor):
                return
            seen.add(cursor)
            token = {"cursor": cursor}

    def first_page(self, stream_slice: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
        """A first page fetched ahead of the stream's turn, if any (see WarehouseSyncs)."""
        return None

    def _start_of(self, record: Mapping[str, Any]) -> Optional[datetime]:
        raw = record.get(self.cursor_field)
        return parse_datetime(raw) if isinstance(raw, str) else None

    def transform(self, item: Any, stream_slice: Mapping[str, Any]) -> Optional[MutableMapping[str, Any]]:
        record = super().transform(item, stream_slice)
        if record is not None:
            record[self.parent_id_field] = stream_slice["parent"]["id"]
        return record

    def read_records(self, sync_mode=SyncMode.full_refresh, cursor_field=None, stream_slice=None, stream_state=None) -> Iterable[Mapping[str, Any]]:
        for record in SegmentStream.read_records(self, sync_mode, cursor_field, stream_slice, stream_state):
            if not isinstance(record, Mapping):
                yield record  # progress messages
                continue
            start = self._start_of(record)
            if start is not None:
                with self._lock:
                    self._newest = start if self._newest is None else max(self._newest, start)
                    if not record.get(self.end_field):
                        self._oldest_running = start if self._oldest_running is None else min(self._oldest_running, start)
            # A sync without a readable start is emitted anyway: dropping a row the API sent is worse than a duplicate.
            if start is None or self._floor is None or start >= self._floor:
                yield record
        if stream_slice and stream_slice.get("last"):
            self._commit()

    def is_unavailable(self, error: SegmentApiError) -> bool:
        return error.status == 403 or feature_not_enabled(error)

    def _commit(self) -> None:
        """After the last parent: the CDK reads the state after each slice, so it is set here, not once slicing ends."""
        if self.skipped or self._newest is None:
            return
        cursor = self._newest if self._oldest_running is None else min(self._newest, self._oldest_running)
        self._cursor = min(cursor, self.now)  # may move back: a sync listed late and still running is re-read


class WarehouseSyncs(SyncHistoryStream):
    """`GET /warehouses/{warehouseId}/syncs` (2 requests/min). The first page of every warehouse is requested in
    the background from the start of the sync (`start_early`), so the per-endpoint lane's waits overlap the
    other streams instead of stalling them."""

    name = "warehouse_syncs"
    endpoint = "/warehouses/{parent_id}/syncs"
    data_key = "reports"
    primary_key = ["warehouseId", "sourceId", "start"]
    cursor_field = "start"
    end_field = "end"
    parent_id_field = "warehouseId"
    redact_text_fields = ("notices",)  # a failure notice may quote the connection string it failed on
    prefetch = False  # the lane allows 2 requests a minute: parallel slices would only hold pool threads

    def __init__(self, context):
        super().__init__(context)
        self._early: Dict[str, Future] = {}
        self._early_started = False

    def _parents(self) -> Optional[List[Mapping[str, Any]]]:
        return self.context.parents(Warehouses(self.context))

    def parent_slices(self) -> Optional[List[Mapping[str, Any]]]:
        parents = self._parents()
        if parents is None:
            return None
        return [{"path": {"parent_id": p["id"]}, "parent": {"id": p["id"]}} for p in parents if p.get("id")]

    def start_early(self) -> None:
        """Requests each warehouse's first page on a background thread (called once the catalog is known)."""
        if self._early_started:
            return
        self._early_started = True
        futures: Dict[str, Future] = {}
        ready = threading.Event()

        def run() -> None:
            try:
                parents = self._parents() or []
                for p in parents:
                    if p.get("id"):
                        futures[p["id"]] = Future()
                ready.set()
                for pid, future in list(futures.items()):
                    try:
                        params = self.request_params({}, {"path": {"parent_id": pid}}, None)
                        future.set_result(self.client.get(self.endpoint.format(parent_id=pid), params, self.version))
                    except BaseException as error:  # handed to the slice's reader, which decides
                        future.set_exception(error)
            finally:
                ready.set()

        self._early = futures
        self._early_ready = ready
        threading.Thread(target=run, name="segment-warehouse-syncs", daemon=True).start()

    def first_page(self, stream_slice: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
        if not self._early_started:
            return None
        self._early_ready.wait()
        future = self._early.pop(stream_slice["parent"]["id"], None)
        return future.result() if future is not None else None


class ReverseEtlSyncs(SyncHistoryStream):
    """`GET /reverse-etl-models/{modelId}/subscriptionId/{subscriptionId}/syncs` for every destination subscription
    with a `modelId`. Pages with top-level `count` (at most 100) and `cursor`, not `pagination.*`."""

    name = "reverse_etl_syncs"
    endpoint = "/reverse-etl-models/{model_id}/subscriptionId/{parent_id}/syncs"
    data_key = "syncStatuses"
    primary_key = "syncId"
    cursor_field = "startedAt"
    end_field = "finishedAt"
    parent_id_field = "subscriptionId"
    redact_text_fields = ("error",)  # may quote a destination URL with its key
    version = "alpha"
    feature = "reverse_etl"
    MAX_COUNT = 100

    def request_params(self, stream_state=None, stream_slice=None, next_page_token=None) -> MutableMapping[str, Any]:
        params: Dict[str, Any] = {"count": min(self.page_size, self.MAX_COUNT)}
        if next_page_token:
            params["cursor"] = next_page_token["cursor"]
        return params

    def parent_slices(self) -> Optional[List[Mapping[str, Any]]]:
        destinations = self.context.parents(Destinations(self.context))
        if destinations is None:
            return None
        subscriptions = DestinationSubscriptions(self.context)
        out = []
        for destination in destinations:
            try:
                listed = list(subscriptions.read_pages(subscriptions.slice_for(destination), {}))
            except SegmentApiError as error:
                if error.status == 404 and not feature_not_enabled(error):
                    continue  # destination deleted since it was listed
                if error.status == 403 or feature_not_enabled(error):
                    self.feature = "destination_subscriptions"
                    return None
                raise self.fail(error) from None
            for sub in listed:
                if isinstance(sub, Mapping) and sub.get("id") and sub.get("modelId"):
                    out.append({"path": {"model_id": sub["modelId"], "parent_id": sub["id"]}, "parent": {"id": sub["id"]}})
        return out


SYNC_HISTORY_STREAMS = (WarehouseSyncs, ReverseEtlSyncs)
