"""SourceSegment: check and the stream list. HTTP lives in client.py, streams in streams/ (registry.py lists them)."""

from __future__ import annotations

import logging
from typing import Any, Iterator, List, Mapping, MutableMapping, Optional, Tuple

from airbyte_cdk.models import (
    AirbyteMessage,
    AirbyteStateMessage,
    AirbyteStreamStatus,
    ConfiguredAirbyteCatalog,
    FailureType,
    TraceType,
    Type,
)
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_segment.client import SegmentClient
from source_segment.config import ConfigError, normalize_config, parse_config
from source_segment.errors import SegmentApiError
from source_segment.input_files import read_catalog_file, read_config_file, read_state_file
from source_segment.streams.context import SyncContext
from source_segment.streams.registry import ALL_STREAMS


class SourceSegment(AbstractSource):
    _streams: Mapping[str, Stream] = {}  # the instances of the current read, by name
    # Config is validated by parse_config, whose errors name the field and the fix; the spec's
    # JSON-schema check would fail first with a terser message. (The CDK checks the spec in `check`
    # regardless: run.py's entrypoint runs parse_config before it, so all three commands give our message.)
    check_config_against_spec = False

    def configure(self, config: Mapping[str, Any], temp_dir: str) -> Mapping[str, Any]:
        # Runs before the CDK's spec check: accepted spellings ("eu1", "1000") must pass the spec too.
        return super().configure(normalize_config(config), temp_dir)

    @staticmethod
    def read_config(config_path: str) -> MutableMapping[str, Any]:
        return read_config_file(config_path)

    @classmethod
    def read_catalog(cls, catalog_path: str) -> ConfiguredAirbyteCatalog:
        return read_catalog_file(catalog_path)

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> Tuple[bool, Optional[Any]]:
        try:
            segment_config = parse_config(config)
        except ConfigError as error:
            return False, error.message
        client = SegmentClient(segment_config, logger)
        try:
            workspace = client.get("/").get("data", {}).get("workspace") or {}
        except SegmentApiError as error:
            if error.status in (403, 404):
                return False, (
                    f"Segment answered {error.status} to GET / on {segment_config.host}: this token cannot read the "
                    "workspace. The Public API needs a Team or Business plan and a token with at least the Workspace "
                    f"Member role. Segment said: {error.message}"
                )
            return False, str(error)
        except AirbyteTracedException as error:
            return False, error.message
        logger.info(f"Connected to Segment workspace {workspace.get('name')!r} (slug {workspace.get('slug')!r}) on {segment_config.host}.")
        return True, None

    @classmethod
    def read_state(cls, state_path: str) -> List[AirbyteStateMessage]:
        return read_state_file(state_path) if state_path else []

    def read(self, logger: logging.Logger, config: Mapping[str, Any], catalog: ConfiguredAirbyteCatalog, state: Any = None) -> Iterator[AirbyteMessage]:
        catalog.streams = _once_each(catalog.streams, logger)
        known = {cls.name for cls in ALL_STREAMS}
        for configured in catalog.streams:
            if configured.stream.name not in known:
                logger.warning(
                    f"Stream `{configured.stream.name}` is in the catalog but this connector has no such stream; it is "
                    "skipped (marked INCOMPLETE). Refresh the source schema in Airbyte to drop it."
                )
        # Parent streams first: their records are shared with the relationship streams, which would otherwise
        # list the parents again when the catalog puts a parent after its children.
        parents = {cls.name for cls in ALL_STREAMS if cls.remembers_parents}
        # Streams that start early (slow per-endpoint lanes) go last, so their lane waits overlap every other stream.
        early = {cls.name for cls in ALL_STREAMS if hasattr(cls, "start_early")}
        catalog.streams = sorted(catalog.streams, key=lambda configured: (configured.stream.name not in parents, configured.stream.name in early))
        self._selected = {configured.stream.name for configured in catalog.streams}  # streams() starts their early reads
        for message in super().read(logger, config, catalog, state):
            yield _incomplete_if_skipped(message, self._streams)

    def streams(self, config: Mapping[str, Any]) -> List[Stream]:
        segment_config = parse_config(config)
        logger = logging.getLogger("airbyte")
        context = SyncContext(segment_config, SegmentClient(segment_config, logger), logger)
        streams = [stream_class(context) for stream_class in ALL_STREAMS]
        for stream in streams:  # slow-lane endpoints (2 requests/min) start in the background, see WarehouseSyncs
            if stream.name in getattr(self, "_selected", ()) and hasattr(stream, "start_early"):
                stream.start_early()
        self._streams = {stream.name: stream for stream in streams}
        return streams


def _once_each(streams: List[Any], logger: logging.Logger) -> List[Any]:
    """The catalog's streams with repeats dropped: the CDK would read a stream once per entry (and emit its
    records twice). Repeats that disagree on how to sync are refused rather than guessed between."""
    kept: dict = {}
    warned = set()
    for configured in streams:
        key = (configured.stream.namespace, configured.stream.name)
        first = kept.setdefault(key, configured)
        if first is configured:
            continue
        modes = {(entry.sync_mode, tuple(entry.cursor_field or ())) for entry in (first, configured)}
        if len(modes) > 1:
            message = (
                f"The catalog lists stream `{configured.stream.name}` more than once with different sync modes or cursors. "
                "Keep one entry per stream (select the stream once in the connection)."
            )
            raise AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.config_error)
        if key not in warned:
            warned.add(key)
            logger.warning(f"The catalog lists stream `{configured.stream.name}` more than once; it is read once.")
    return list(kept.values())


def _incomplete_if_skipped(message: AirbyteMessage, streams: Mapping[str, Stream]) -> AirbyteMessage:
    """A stream skipped for lack of access ends INCOMPLETE, not COMPLETE: the user sees it did not sync (next to
    its warning), and a destination does not replace the stream's earlier data with nothing (full refresh
    overwrite commits on COMPLETE). The sync still exits 0, as for a catalog stream the connector lacks."""
    status = message.trace.stream_status if message.type == Type.TRACE and message.trace.type == TraceType.STREAM_STATUS else None
    if status is not None and status.status == AirbyteStreamStatus.COMPLETE:
        stream = streams.get(status.stream_descriptor.name)
        if getattr(stream, "skipped", False):
            status.status = AirbyteStreamStatus.INCOMPLETE
    return message
