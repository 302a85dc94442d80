"""SourceSegment: check and the stream list. HTTP lives in client.py, streams in streams/ (registry.py lists them)."""

from __future__ import annotations

import logging
from typing import Any, Iterator, List, Mapping, Optional, Tuple

from airbyte_cdk.models import AirbyteMessage, AirbyteStateMessage, ConfiguredAirbyteCatalog, FailureType
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_segment.client import SegmentClient
from source_segment.config import ConfigError, parse_config
from source_segment.errors import SegmentApiError
from source_segment.streams.context import SyncContext
from source_segment.streams.registry import ALL_STREAMS


class SourceSegment(AbstractSource):
    # Config is validated by parse_config, whose errors name the field and the fix; the spec's
    # JSON-schema check would fail first with a terser message.
    check_config_against_spec = False

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
        try:
            return super().read_state(state_path)
        except Exception as error:  # the CDK raises a bare Exception with a stack trace for unreadable JSON
            message = (
                f"The state file {state_path} could not be read ({error.__class__.__name__}). Reset the connection's state "
                "in Airbyte (or run without --state) to sync from start_date again."
            )
            raise AirbyteTracedException(message=message, internal_message=str(error), failure_type=FailureType.config_error) from None

    def read(self, logger: logging.Logger, config: Mapping[str, Any], catalog: ConfiguredAirbyteCatalog, state: Any = None) -> Iterator[AirbyteMessage]:
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
        catalog.streams = sorted(catalog.streams, key=lambda configured: configured.stream.name not in parents)
        yield from super().read(logger, config, catalog, state)

    def streams(self, config: Mapping[str, Any]) -> List[Stream]:
        segment_config = parse_config(config)
        logger = logging.getLogger("airbyte")
        context = SyncContext(segment_config, SegmentClient(segment_config, logger), logger)
        return [stream_class(context) for stream_class in ALL_STREAMS]
