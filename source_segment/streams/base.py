"""The stream every Segment endpoint shares: `GET endpoint` -> `data[data_key]`, cursor-paginated.

Every stream reads through `SegmentClient` (one session, one call budget, one retry policy) and overrides
`read_records`. Overriding it also opts out of the CDK's automatic "resumable full refresh" cursor, which
would read a single page per checkpoint, read only page 1 under `StreamFacade`, and make PyAirbyte skip
the stream on its second read (see the shared CDK notes).
"""

from __future__ import annotations

from abc import ABC
from typing import Any, Iterable, List, Mapping, MutableMapping, Optional

import requests
from airbyte_cdk.models import AirbyteMessage, SyncMode
from airbyte_cdk.sources.streams.http import HttpStream

from source_segment.errors import SegmentApiError, skip_warning
from source_segment.streams.context import SyncContext
from source_segment.streams.gating import feature_not_enabled
from source_segment.streams.paging import Paginated
from source_segment.streams.prefetch import Prefetcher
from source_segment.streams.progress import SliceProgress
from source_segment.streams.records import RecordShaping


class SegmentStream(Paginated, RecordShaping, HttpStream, ABC):
    """A Segment list endpoint, declared by class attributes; subclasses override `slices`/`transform`."""

    endpoint: str = ""
    data_key: str = ""
    primary_key: Any = "id"
    version = "v1"  # which Accept media type: v1, beta or alpha
    feature: Optional[str] = None  # the plan feature a 403/404 means is missing (errors.FEATURES)
    paginated = True
    single_object = False  # data[data_key] is one object, not a list
    not_found_means_empty = False
    redact_fields: tuple = ()  # writeKeys and free-form settings objects holding credentials
    redact_text_fields: tuple = ()  # error messages and notices that may quote a credential (redaction.redact_text)
    parent_fields: tuple = ("id",)  # what child streams need from this stream's records
    remembers_parents = False  # child streams slice over this stream: share its records instead of re-listing
    prefetch = False  # read up to `num_workers` slices ahead (see prefetch.py)

    def __init__(self, context: SyncContext):
        self.context = context
        self.config = context.config
        self.client = context.client
        self.page_size = self.config.page_size
        self.skipped = False
        self._key_fields = tuple(self.primary_key) if isinstance(self.primary_key, list) else (self.primary_key,)
        self._progress = SliceProgress(self.name)
        self._prefetcher: Optional[Prefetcher] = None
        super().__init__()

    @property
    def is_resumable(self) -> bool:
        # Without this the CDK sees HttpStream's state setter and drives the stream as "resumable full
        # refresh", re-reading it until the state holds its completion sentinel. A Segment page cursor is no
        # durable checkpoint anyway: full-refresh streams restart; substreams checkpoint per parent.
        return self.supports_incremental

    # --- HttpStream contract (the CDK asks; reading goes through read_pages) ----------------------------
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

    # --- slicing -------------------------------------------------------------------------------------
    def stream_slices(self, *, sync_mode=SyncMode.full_refresh, cursor_field=None, stream_state=None) -> Iterable[Optional[Mapping[str, Any]]]:
        planned = list(self.slices(sync_mode))  # slice lists are small (parents, months, windows); their count drives ESTIMATEs
        self._progress = SliceProgress(self.name, len(planned))
        slices: Iterable[Mapping[str, Any]] = planned
        if self.prefetch and self.config.num_workers > 1:
            state = stream_state or {}
            self._prefetcher = Prefetcher(
                self.context.executor, self.config.num_workers, lambda s: list(self.read_pages(s, state)),
                self.may_prefetch, lambda: self.skipped,
            )
            slices = self._prefetcher.ahead(planned)
        for stream_slice in slices:
            if self.skipped:
                break
            yield stream_slice
        self.on_slices_done()

    def slices(self, sync_mode: SyncMode) -> Iterable[Mapping[str, Any]]:
        """The stream's slices, listed in full before reading starts."""
        yield {}

    def may_prefetch(self, submitted: int) -> bool:
        return True

    def on_slices_done(self) -> None:
        """Called once every slice has been read (the CDK asks for the next slice only after reading one)."""

    def fetch(self, stream_slice: Mapping[str, Any], stream_state: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        """The slice's records: from its prefetched future if there is one (re-raising its error), else read now."""
        future = self._prefetcher.take(stream_slice) if self._prefetcher else None
        if future is None:
            return self.read_pages(stream_slice, stream_state)
        try:
            return future.result()
        except SegmentApiError:
            raise  # the stream decides: a 403/404 may skip just this slice (see `fail`)
        except BaseException:
            self._prefetcher.drain()
            raise

    def fail(self, error: SegmentApiError) -> Exception:
        """The error that ends this stream's read, once no request of it is still in flight."""
        if self._prefetcher:
            self._prefetcher.drain()
        return error.as_failure(self.name)

    # --- reading -------------------------------------------------------------------------------------
    def read_records(self, sync_mode=SyncMode.full_refresh, cursor_field=None, stream_slice=None, stream_state=None) -> Iterable[Mapping[str, Any]]:
        stream_slice = stream_slice or {}
        if self.skipped:  # gated on an earlier slice (the CDK peeks slices ahead, so more can still arrive)
            if self._prefetcher:
                self._prefetcher.take(stream_slice)
            return
        parents: Optional[List[Mapping[str, Any]]] = [] if self.remembers_parents and not stream_slice else None
        count = 0
        try:
            for record in self.fetch(stream_slice, stream_state or {}):
                if parents is not None and not isinstance(record, AirbyteMessage):
                    parents.append(self.parent_view(record))
                count += 1
                yield record
            if parents is not None:
                self.context.remember_parents(self.name, parents)
            message = self._progress.slice_finished(count) if stream_slice else None
            if message:
                yield message
        except SegmentApiError as error:
            if not self.is_unavailable(error):
                raise self.fail(error) from None
            self.skip(error.status)
            if self.remembers_parents:
                self.context.remember_parents(self.name, None)

    def skip(self, status: int, feature: Optional[str] = None) -> None:
        """Gates the stream for this sync, with the one warning that says why and how to fix it."""
        self.skipped = True
        self.logger.warning(skip_warning(self.name, status, feature or self.feature))

    def is_unavailable(self, error: SegmentApiError) -> bool:
        # 403 includes a 401 on a token GET / accepts (client.py); 404/422 "... not enabled" gate feature streams
        return error.status == 403 or (self.feature is not None and (error.status == 404 or feature_not_enabled(error)))
