"""Per-parent endpoints (`/sources/{parent_id}/...`): one slice per parent record, resumable per parent.

A 404 (parent deleted since it was listed) or 403 (gated for that parent) skips that parent only; if the
first parents all answer 403 the stream is gated for the whole workspace and is skipped with a warning.
"""

from __future__ import annotations

from abc import ABC
from typing import Any, Iterable, List, Mapping, MutableMapping, Optional

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.checkpoint import Cursor
from airbyte_cdk.sources.streams.checkpoint.checkpoint_reader import FULL_REFRESH_COMPLETE_STATE

from source_segment.errors import SegmentApiError
from source_segment.streams.base import SegmentStream
from source_segment.streams.context import SyncContext
from source_segment.streams.gating import feature_not_enabled

# A child stream whose first parents all answer 403 is gated for the whole workspace, not per parent.
GATED_AFTER_PARENTS = 3


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
    """One slice per parent record, the parent id copied into every record (`parent_id_field`)."""

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
            self.skip(403, self.feature or parent.feature)
            return
        for record in parents[self.cursor.resume_index(parents):]:
            if self.wants(record):
                yield self.slice_for(record)

    def wants(self, parent: Mapping[str, Any]) -> bool:
        """Whether this parent has children to read at all (e.g. a destination without a source has none)."""
        return True

    def slice_for(self, parent: Mapping[str, Any]) -> Mapping[str, Any]:
        return {"path": {"parent_id": parent["id"]}, "parent": dict(parent)}

    def may_prefetch(self, submitted: int) -> bool:
        # Until a parent has answered, the stream may be gated for the whole workspace: send no more than the
        # parents that decide it.
        return self._forbidden_parents == -1 or submitted < GATED_AFTER_PARENTS

    def on_slices_done(self) -> None:
        self.cursor.finished = True
        if not self.skipped and self._forbidden_parents > 0:  # too few parents to tell: all said 403
            self.skip(403)

    def read_records(self, sync_mode=SyncMode.full_refresh, cursor_field=None, stream_slice=None, stream_state=None) -> Iterable[Mapping[str, Any]]:
        if not stream_slice:
            return
        count = 0
        for record in self._read_parent(stream_slice, stream_state or {}):
            count += 1
            yield record
        self.cursor.close_slice(stream_slice)  # not reached if the read raised: that parent is not done
        message = self._progress.slice_finished(count)
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
            if self.feature and feature_not_enabled(error):  # the workspace lacks the feature: no parent will do
                self.skip(error.status)
                return
            if error.status == 404:
                self.logger.info(f"Stream `{self.name}`: parent {parent_id} no longer exists (404); skipped.")
                return
            if error.status != 403:
                raise self.fail(error) from None
            if self._forbidden_parents >= 0:
                self._forbidden_parents += 1
                if self._forbidden_parents >= GATED_AFTER_PARENTS:
                    self.skip(403)
                    return
            self.logger.info(f"Stream `{self.name}`: no access to parent {parent_id} (403); skipped.")

    def transform(self, item: Any, stream_slice: Mapping[str, Any]) -> Optional[MutableMapping[str, Any]]:
        record = super().transform(item, stream_slice)
        if record is not None and self.parent_id_field:
            record[self.parent_id_field] = stream_slice["parent"]["id"]
        return record

