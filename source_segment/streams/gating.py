"""Alpha and beta endpoints of a feature the workspace lacks may answer 404 or 422 "... not enabled" instead of
403. Such an answer gates the whole stream (one warning naming the stream and the feature), not one parent."""

from __future__ import annotations

from typing import Any, Iterable, List, Mapping

from source_segment.errors import SegmentApiError


def feature_not_enabled(error: SegmentApiError) -> bool:
    return error.status in (403, 404, 422) and "not enabled" in (error.message or "").lower()


class NotEnabledGate:
    """Mixin for `SegmentStream` subclasses (put it first): turns a "not enabled" answer into a stream skip."""

    def fetch(self, stream_slice: Mapping[str, Any], stream_state: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        try:
            return list(super().fetch(stream_slice, stream_state))  # type: ignore[misc]
        except SegmentApiError as error:
            if not feature_not_enabled(error):
                raise
            if not self.skipped:  # type: ignore[attr-defined]
                self.skip(error.status)  # type: ignore[attr-defined]
            empty: List[Mapping[str, Any]] = []
            return empty
