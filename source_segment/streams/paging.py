"""Cursor pagination over one endpoint: the page loop, the page-size fallback and the repeated-cursor guard."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_segment.config import FALLBACK_PAGE_SIZE
from source_segment.errors import SegmentApiError
from source_segment.streams.progress import estimate


class Paginated:
    """Mixin for `SegmentStream`: reads every page of one slice through the shared client."""

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
                pagination = data.get("pagination")
                total = pagination.get("totalEntries") if isinstance(pagination, Mapping) else None
                if isinstance(total, int):
                    yield estimate(self.name, total)
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
