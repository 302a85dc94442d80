"""Base streams: how any Segment list endpoint is read, and how child endpoints slice over their parents.

Every stream reads through `SegmentClient` (one session, one call budget, one retry policy) and overrides
`read_records`. Overriding it also opts out of the CDK's automatic "resumable full refresh" cursor, which
would read a single page per checkpoint, read only page 1 under `StreamFacade`, and make PyAirbyte skip
the stream on its second read (see the shared CDK notes).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import threading
import time
from abc import ABC
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Iterable, List, Mapping, MutableMapping, Optional

import requests
from airbyte_cdk.models import (
    AirbyteEstimateTraceMessage,
    AirbyteMessage,
    AirbyteTraceMessage,
    EstimateType,
    FailureType,
    SyncMode,
    TraceType,
    Type,
)
from airbyte_cdk.sources.streams.checkpoint import Cursor
from airbyte_cdk.sources.streams.checkpoint.checkpoint_reader import FULL_REFRESH_COMPLETE_STATE
from airbyte_cdk.sources.streams.http import HttpStream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_segment.client import SegmentClient
from source_segment.config import FALLBACK_PAGE_SIZE, SegmentConfig
from source_segment.errors import SegmentApiError, skip_warning

SECRET_KEY = re.compile(
    r"(secret|password|passwd|token|api_?key|access_?key|private_?key|credential|write_?key|signing_?key|connection_?string|service_?account)",
    re.IGNORECASE,
)
# A child stream whose first parents all answer 403 is gated for the whole workspace, not per parent.
GATED_AFTER_PARENTS = 3


def redact(value: Any) -> str:
    """A stable, non-reversible stand-in for a credential: changes stay visible, the value does not."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return "redacted:sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def redact_settings(settings: Any) -> Any:
    if isinstance(settings, dict):
        return {
            key: (redact(value) if SECRET_KEY.search(key) and value not in (None, "", [], {}) and not isinstance(value, bool) else redact_settings(value))
            for key, value in settings.items()
        }
    if isinstance(settings, list):
        return [redact_settings(item) for item in settings]
    return settings


class SyncContext:
    """What the streams of one sync share: the client, the config, and each parent list, fetched once."""

    def __init__(self, config: SegmentConfig, client: SegmentClient, logger: logging.Logger):
        self.config = config
        self.client = client
        self.logger = logger
        self._parents: dict[str, List[Mapping[str, Any]]] = {}
        self._lock = threading.RLock()  # parents() reads a parent stream, which remembers its parents
        self._executor: Optional[ThreadPoolExecutor] = None

    @property
    def executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self.config.num_workers, thread_name_prefix="segment")
            return self._executor

    def remember_parents(self, kind: str, parents: Optional[List[Mapping[str, Any]]]) -> None:
        """Records a parent stream's list, or None when the parent stream itself was gated (403)."""
        with self._lock:
            self._parents.setdefault(kind, parents)

    def parents(self, stream: "SegmentStream") -> Optional[List[Mapping[str, Any]]]:
        """The parent list for child streams, read at most once per sync (or taken from the parent stream's own
        read); None if the parent stream is gated, so its children are gated too."""
        with self._lock:
            if stream.name not in self._parents:
                listed = [
                    stream.parent_view(record) for record in stream.read_records(SyncMode.full_refresh) if not isinstance(record, AirbyteMessage)
                ]
                self._parents.setdefault(stream.name, None if stream.skipped else listed)
            return self._parents[stream.name]


class SegmentStream(HttpStream, ABC):
    """A Segment list endpoint: `GET endpoint` -> `data[data_key]`, cursor-paginated unless told otherwise."""

    endpoint: str = ""
    data_key: str = ""
    primary_key: Any = "id"
    version = "v1"  # which Accept media type: v1, beta or alpha
    feature: Optional[str] = None  # the plan feature a 403/404 means is missing (errors.FEATURES)
    paginated = True
    single_object = False  # data[data_key] is one object, not a list
    not_found_means_empty = False
    redact_fields: tuple = ()  # writeKeys and free-form settings objects holding credentials
    parent_fields: tuple = ("id",)  # what child streams need from this stream's records
    remembers_parents = False  # child streams slice over this stream: share its records instead of re-listing
    # Slices are independent (parents, time windows, function types): read up to `num_workers` of them ahead,
    # concurrently. The CDK still consumes and checkpoints slices strictly in order, so state stays exact.
    prefetch = False

    def __init__(self, context: SyncContext):
        self.context = context
        self.config = context.config
        self.client = context.client
        self.page_size = self.config.page_size
        self.skipped = False
        self._prefetched: dict[int, Future] = {}
        self._key_fields = tuple(self.primary_key) if isinstance(self.primary_key, list) else (self.primary_key,)
        self._slice_ids = itertools.count()
        self._progress: dict = {}
        super().__init__()

    @property
    def is_resumable(self) -> bool:
        # Without this the CDK sees HttpStream's state setter and drives the stream as "resumable full
        # refresh", re-reading it until the state holds its completion sentinel. A Segment page cursor is no
        # durable checkpoint anyway: full-refresh streams restart; substreams checkpoint per parent.
        return self.supports_incremental

    # --- HttpStream contract -------------------------------------------------------------------------
    @property
    def url_base(self) -> str:
        return self.config.base_url + "/"

    def path(self, *, stream_state=None, stream_slice=None, next_page_token=None) -> str:
        return self.endpoint.format(**(stream_slice or {}).get("path", {}))

    def request_params(self, stream_state=None, stream_slice=None, next_page_token=None) -> MutableMapping[str, Any]:
        params: dict[str, Any] = dict((stream_slice or {}).get("params", {}))
        if self.paginated:
            params["pagination.count"] = self.page_size
            if next_page_token:
                params["pagination.cursor"] = next_page_token["cursor"]
        return params

    def next_page_token(self, response: requests.Response) -> Optional[Mapping[str, Any]]:
        cursor = self._next_cursor(response.json().get("data") or {})
        return {"cursor": cursor} if cursor else None

    def parse_response(self, response: requests.Response, *, stream_state=None, stream_slice=None, next_page_token=None) -> Iterable[Mapping[str, Any]]:
        yield from self.parse_data(response.json().get("data") or {}, stream_slice or {})

    # --- slicing ------------------------------------------------------------------------------------
    def stream_slices(self, *, sync_mode=SyncMode.full_refresh, cursor_field=None, stream_state=None) -> Iterable[Optional[Mapping[str, Any]]]:
        planned = list(self.slices(sync_mode))  # slice lists are small (parents, months, windows); their count drives ESTIMATEs
        self._progress = {"slices": len(planned), "done": 0, "records": 0}
        slices: Iterable[Mapping[str, Any]] = planned
        if self.prefetch and self.config.num_workers > 1:
            slices = self._prefetching(planned, stream_state or {})
        for stream_slice in slices:
            if self.skipped:
                break
            yield stream_slice
        self.on_slices_done()

    def slices(self, sync_mode: SyncMode) -> Iterable[Mapping[str, Any]]:
        """The stream's slices, listed in full before reading starts; `stream_slices` stops handing them out once
        the stream is gated."""
        yield {}

    def estimate(self, rows: int) -> AirbyteMessage:
        """An ESTIMATE trace, so Airbyte and PyAirbyte can show how far a long sync has come."""
        return AirbyteMessage(
            type=Type.TRACE,
            trace=AirbyteTraceMessage(
                type=TraceType.ESTIMATE,
                emitted_at=time.time() * 1000,
                estimate=AirbyteEstimateTraceMessage(name=self.name, type=EstimateType.STREAM, row_estimate=max(0, int(rows))),
            ),
        )

    def slice_finished(self, records: int) -> Optional[AirbyteMessage]:
        """After each tenth of a sliced stream: rows read so far, extrapolated over all its slices."""
        progress = self._progress
        if not progress or progress["slices"] < 2:
            return None
        progress["done"] += 1
        progress["records"] += records
        step = max(1, progress["slices"] // 10)
        if progress["done"] == 1 or progress["done"] % step == 0:
            return self.estimate(progress["records"] * progress["slices"] / progress["done"])
        return None

    def on_slices_done(self) -> None:
        """Called once every slice has been read (the CDK asks for the next slice only after reading one)."""

    def _prefetching(self, slices: Iterable[Mapping[str, Any]], stream_state: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        window: deque = deque()
        submitted = 0
        for stream_slice in slices:
            while window and not self.may_prefetch(submitted):
                yield window.popleft()  # hand out what is in flight before asking for more
            if self.skipped:  # gated: submit no more requests for this stream
                break
            submitted += 1
            stream_slice = dict(stream_slice, prefetch_id=next(self._slice_ids))
            self._prefetched[stream_slice["prefetch_id"]] = self.context.executor.submit(
                lambda s=stream_slice: list(self.read_pages(s, stream_state))
            )
            window.append(stream_slice)
            if len(window) >= self.config.num_workers:
                yield window.popleft()
        yield from window

    def may_prefetch(self, submitted: int) -> bool:
        return True

    def fetch(self, stream_slice: Mapping[str, Any], stream_state: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        """The slice's records: from its prefetched future if there is one (re-raising its error), else read now."""
        future = self._prefetched.pop(stream_slice.get("prefetch_id", -1), None)
        if future is None:
            return self.read_pages(stream_slice, stream_state)
        return future.result()

    # --- reading ------------------------------------------------------------------------------------
    def read_records(self, sync_mode=SyncMode.full_refresh, cursor_field=None, stream_slice=None, stream_state=None) -> Iterable[Mapping[str, Any]]:
        stream_slice = stream_slice or {}
        if self.skipped:  # gated on an earlier slice (the CDK peeks slices ahead, so more can still arrive)
            self._prefetched.pop(stream_slice.get("prefetch_id", -1), None)
            return
        parents: Optional[list] = [] if self.remembers_parents and not stream_slice else None
        count = 0
        try:
            for record in self.fetch(stream_slice, stream_state or {}):
                if parents is not None and not isinstance(record, AirbyteMessage):
                    parents.append(self.parent_view(record))
                count += 1
                yield record
            if parents is not None:
                self.context.remember_parents(self.name, parents)
            message = self.slice_finished(count) if stream_slice else None
            if message:
                yield message
        except SegmentApiError as error:
            if not self.is_unavailable(error):
                raise error.as_failure(self.name) from None
            self.skipped = True
            self.logger.warning(skip_warning(self.name, error.status, self.feature))
            if self.remembers_parents:
                self.context.remember_parents(self.name, None)

    def read_pages(self, stream_slice: Mapping[str, Any], stream_state: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        path = self.path(stream_slice=stream_slice)
        token: Optional[Mapping[str, Any]] = None
        seen: set = set()
        while True:
            try:
                payload = self.client.get(path, self.request_params(stream_state, stream_slice, token), self.version)
            except SegmentApiError as error:
                if self._page_size_rejected(error):
                    continue
                if error.status == 404 and self.not_found_means_empty:
                    return
                raise
            data = payload.get("data") if isinstance(payload, Mapping) else None
            if not isinstance(data, Mapping):
                self.logger.warning(f"Stream `{self.name}`: GET {path} returned no `data` object; treating the page as empty.")
                return
            if token is None and self.paginated and not stream_slice:
                total = (data.get("pagination") or {}).get("totalEntries") if isinstance(data.get("pagination"), Mapping) else None
                if isinstance(total, int):
                    yield self.estimate(total)
            yield from self.parse_data(data, stream_slice)
            cursor = self._next_cursor(data) if self.paginated else None
            if not cursor:
                return
            if cursor in seen:
                message = f"Stream `{self.name}`: Segment returned the pagination cursor {cursor!r} twice on GET {path}; stopping instead of looping."
                raise AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.system_error)
            seen.add(cursor)
            token = {"cursor": cursor}

    def _page_size_rejected(self, error: SegmentApiError) -> bool:
        """A 422 on `pagination.count` means this endpoint caps pages lower: fall back once instead of failing."""
        rejected = error.status == 422 and "pagination.count" in f"{error.field} {error.message}"
        if rejected and self.page_size > FALLBACK_PAGE_SIZE:
            self.logger.warning(
                f"Stream `{self.name}`: Segment rejected pagination.count={self.page_size}; using {FALLBACK_PAGE_SIZE} for this endpoint."
            )
            self.page_size = FALLBACK_PAGE_SIZE
            return True
        return False

    @staticmethod
    def _next_cursor(data: Mapping[str, Any]) -> Optional[str]:
        pagination = data.get("pagination")
        return pagination.get("next") if isinstance(pagination, Mapping) else None

    def is_unavailable(self, error: SegmentApiError) -> bool:
        return error.status == 403 or (error.status == 404 and self.feature is not None)

    def parse_data(self, data: Mapping[str, Any], stream_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        items = data.get(self.data_key)
        if items is None:
            return
        if self.single_object:
            items = [items]
        elif not isinstance(items, list):
            self.logger.warning(f"Stream `{self.name}`: expected a list under data.{self.data_key}, got {type(items).__name__}; skipped.")
            return
        for item in items:
            record = self.transform(item, stream_slice)
            if record is None:
                continue
            if self._has_primary_key(record):
                yield record

    def transform(self, item: Any, stream_slice: Mapping[str, Any]) -> Optional[MutableMapping[str, Any]]:
        """Turns one API item into the record we emit; None drops it. Records stay nested as the API sends them."""
        if not isinstance(item, dict):
            self.logger.warning(f"Stream `{self.name}`: skipped an item that is not an object ({type(item).__name__}).")
            return None
        if self.config.redact_secrets:
            for field in self.redact_fields:
                if field == "writeKeys" and isinstance(item.get(field), list):
                    item[field] = [redact(key) for key in item[field]]
                elif field in item:
                    item[field] = redact_settings(item[field])
        return item

    def _has_primary_key(self, record: Mapping[str, Any]) -> bool:
        for key in self._key_fields:
            if record.get(key) is None:
                self.logger.warning(f"Stream `{self.name}`: skipped a record without its primary key field `{key}`.")
                return False
        return True

    def parent_view(self, record: Mapping[str, Any]) -> Mapping[str, Any]:
        return {field: record.get(field) for field in self.parent_fields}


class ParentProgress(Cursor):
    """Substream checkpoint: the last parent whose children are all read, so a retried sync resumes after it.

    A finished read leaves `{"resume_after_parent": null}` rather than nothing: clients that replay the
    last state into the next sync (PyAirbyte does) must start over, not skip what was already read.
    """

    KEY = "resume_after_parent"

    def __init__(self) -> None:
        self.resume_after: Optional[str] = None
        self.last_done: Optional[str] = None
        self.finished = False

    def set_initial_state(self, stream_state: Mapping[str, Any]) -> None:
        value = stream_state.get(self.KEY) if isinstance(stream_state, Mapping) else None
        self.resume_after = value if isinstance(value, str) else None

    def resume_index(self, parents: List[Mapping[str, Any]]) -> int:
        """Where to start in the parent list: after the checkpointed parent, or at 0 if it is gone."""
        if self.resume_after is not None:
            for index, parent in enumerate(parents):
                if parent.get("id") == self.resume_after:
                    return index + 1
        return 0

    def close_slice(self, stream_slice: Any, *args: Any) -> None:
        self.last_done = stream_slice["parent"]["id"]

    def get_stream_state(self) -> Mapping[str, Any]:
        return {self.KEY: None if self.finished else (self.last_done or self.resume_after)}

    def should_be_synced(self, record: Any) -> bool:
        return True

    def select_state(self, stream_slice: Any = None) -> Optional[Mapping[str, Any]]:
        # The CDK's reader for mapping slices serves a partition again until its state is the "complete"
        # sentinel: a parent is complete once its read has returned.
        partition = getattr(stream_slice, "partition", None) or {}
        parent_id = (partition.get("parent") or {}).get("id")
        if parent_id is not None and parent_id == self.last_done:
            return FULL_REFRESH_COMPLETE_STATE
        return {}


class SegmentChildStream(SegmentStream, ABC):
    """A per-parent endpoint (`/sources/{parent_id}/...`): one slice per parent record, parent id in every record.

    A 404 (parent deleted since it was listed) or 403 (gated for that parent) skips that parent only; if the
    first parents all answer 403 the stream is gated for the whole workspace and is skipped with a warning.
    """

    parent: type[SegmentStream]
    parent_id_field: str = ""  # the top-level field naming the parent in every record
    has_multiple_slices = True
    prefetch = True

    def __init__(self, context: SyncContext):
        super().__init__(context)
        self.cursor = ParentProgress()
        # parents that answered 403 before any answered 200; -1 once one did (403s are then per parent)
        self._forbidden_parents = 0

    def slices(self, sync_mode: SyncMode) -> Iterable[Mapping[str, Any]]:
        parent = self.parent(self.context)
        parents = self.context.parents(parent)
        if parents is None:
            self.skipped = True
            self.logger.warning(skip_warning(self.name, 403, self.feature or parent.feature))
            return
        for parent in parents[self.cursor.resume_index(parents):]:
            yield self.slice_for(parent)

    def may_prefetch(self, submitted: int) -> bool:
        # Until a parent has answered, the stream may be gated for the whole workspace: send no more than the
        # parents that decide it.
        return self._forbidden_parents == -1 or submitted < GATED_AFTER_PARENTS

    def on_slices_done(self) -> None:
        self.cursor.finished = True
        if not self.skipped and self._forbidden_parents > 0:  # too few parents to tell: all said 403
            self.skipped = True
            self.logger.warning(skip_warning(self.name, 403, self.feature))

    def slice_for(self, parent: Mapping[str, Any]) -> Mapping[str, Any]:
        return {"path": {"parent_id": parent["id"]}, "parent": dict(parent)}

    def read_records(self, sync_mode=SyncMode.full_refresh, cursor_field=None, stream_slice=None, stream_state=None) -> Iterable[Mapping[str, Any]]:
        if not stream_slice:
            return
        count = 0
        for record in self._read_parent(stream_slice, stream_state or {}):
            count += 1
            yield record
        self.cursor.close_slice(stream_slice)  # not reached if the read raised: that parent is not done
        message = self.slice_finished(count)
        if message:
            yield message

    def _read_parent(self, stream_slice: Mapping[str, Any], stream_state: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        if self.skipped:
            return
        try:
            yield from self.fetch(stream_slice, stream_state)
            self._forbidden_parents = -1  # one parent answered: 403s from now on are per parent
        except SegmentApiError as error:
            parent_id = stream_slice["parent"]["id"]
            if error.status == 404:
                self.logger.info(f"Stream `{self.name}`: parent {parent_id} no longer exists (404); skipped.")
                return
            if error.status != 403:
                raise error.as_failure(self.name) from None
            if self._forbidden_parents >= 0:
                self._forbidden_parents += 1
                if self._forbidden_parents >= GATED_AFTER_PARENTS:
                    self.skipped = True
                    self.logger.warning(skip_warning(self.name, 403, self.feature))
                    return
            self.logger.info(f"Stream `{self.name}`: no access to parent {parent_id} (403); skipped.")

    def transform(self, item: Any, stream_slice: Mapping[str, Any]) -> Optional[MutableMapping[str, Any]]:
        record = super().transform(item, stream_slice)
        if record is not None and self.parent_id_field:
            record[self.parent_id_field] = stream_slice["parent"]["id"]
        return record
