"""The incremental base: one cursor value per stream, committed only when a whole slice is read.

Every incremental stream slices time into windows and commits the cursor only when a window is complete,
so an interrupted sync resumes at the first unfinished window and never skips a record. The cursor
advances in full-refresh mode too, so a full refresh followed by an incremental sync does not start over.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, MutableMapping, Optional

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams import CheckpointMixin

from source_segment.timeutil import parse_datetime
from source_segment.streams.base import SegmentStream
from source_segment.timeutil import iso


class SegmentIncrementalStream(SegmentStream, CheckpointMixin):
    """State is `{cursor_field: <ISO value>}`: one value per stream, never growing with records."""

    cursor_field = "timestamp"

    def __init__(self, context):
        super().__init__(context)
        self._cursor: Optional[datetime] = None
        self._formatted: tuple = (None, {})
        self.now = datetime.now(timezone.utc)  # one "now" per sync, so windows do not drift while reading

    @property
    def state(self) -> MutableMapping[str, Any]:
        # The CDK reads the state after every record: format it only when the cursor moves.
        if self._formatted[0] is not self._cursor:
            self._formatted = (self._cursor, {self.cursor_field: self.format_cursor(self._cursor)} if self._cursor else {})
        return dict(self._formatted[1])

    @state.setter
    def state(self, value: Mapping[str, Any]) -> None:
        raw = value.get(self.cursor_field) if isinstance(value, Mapping) else None
        parsed = parse_datetime(raw) if isinstance(raw, str) else None
        if value and parsed is None:
            self.logger.warning(
                f"Stream `{self.name}`: ignoring unreadable state {dict(value) if isinstance(value, Mapping) else value!r}; "
                f"reading from start_date {iso(self.config.start_date)} instead."
            )
        if parsed and parsed > self.now and getattr(self, "_future_warned", None) != raw:
            self._future_warned = raw  # the CDK may hand the same state over more than once
            self.logger.warning(
                f"Stream `{self.name}`: the saved cursor `{self.cursor_field}` = {raw} is in the future; reading as if it were "
                f"now ({iso(self.now)}). If the state was edited or written by a machine with a wrong clock, reset this "
                "stream's state to re-read from start_date."
            )
        self._cursor = min(parsed, self.now) if parsed else None

    def format_cursor(self, cursor: datetime) -> str:
        return iso(cursor)

    def resume_point(self, sync_mode: SyncMode) -> Optional[datetime]:
        """Where reading resumes: the saved cursor in incremental mode; a full refresh reads everything
        (the CDK hands state to full-refresh streams too) and moves the cursor from scratch."""
        if sync_mode != SyncMode.incremental:
            self._cursor = None
        return self._cursor

    def advance(self, cursor: datetime) -> None:
        if self._cursor is None or cursor > self._cursor:
            self._cursor = cursor

    def read_records(self, sync_mode=SyncMode.full_refresh, cursor_field=None, stream_slice=None, stream_state=None) -> Iterable[Mapping[str, Any]]:
        yield from super().read_records(sync_mode, cursor_field, stream_slice, stream_state)
        if stream_slice and not self.skipped:
            self.advance(stream_slice["complete_up_to"])  # the whole window is read: commit it
