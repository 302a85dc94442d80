"""What the streams of one sync share: the config, the client, a worker pool, and each parent list."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, List, Mapping, Optional

from airbyte_cdk.models import AirbyteMessage, SyncMode

from source_segment.client import SegmentClient
from source_segment.config import SegmentConfig

if TYPE_CHECKING:  # annotation only: streams import this module, not the other way round
    from source_segment.streams.base import SegmentStream


class SyncContext:
    """One per sync: streams built by `SourceSegment.streams` all hold the same context."""

    def __init__(self, config: SegmentConfig, client: SegmentClient, logger: logging.Logger):
        self.config = config
        self.client = client
        self.logger = logger
        self._parents: dict[str, Optional[List[Mapping[str, Any]]]] = {}
        self._lock = threading.RLock()  # parents() reads a parent stream, which remembers its parents
        self._executor: Optional[ThreadPoolExecutor] = None

    @property
    def executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self.config.num_workers, thread_name_prefix="segment")
            return self._executor

    def remember_parents(self, kind: str, parents: Optional[List[Mapping[str, Any]]]) -> None:
        """Records a parent stream's list, or None when the parent stream itself was gated."""
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
