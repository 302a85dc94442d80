"""Request/response builders for HttpMocker tests: what the connector must send, what Segment answers."""

from __future__ import annotations

import json
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Union

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, discover, read
from airbyte_cdk.test.mock_http import HttpRequest, HttpResponse
from airbyte_cdk.test.models.outcome import ExpectedOutcome
from airbyte_cdk.test.state_builder import StateBuilder

from source_segment import SourceSegment
from source_segment.client import ACCEPT

# Long and distinctive, so a leak is found by a plain substring search and CDK masking is observable.
TOKEN = "sgmt-unit-token-7f3e9c1a5b2d4e6f8091a2b3c4d5e6f7"
US = "https://api.segmentapis.com"
EU = "https://eu1.api.segmentapis.com"
START_DATE = "2024-01-01T00:00:00Z"


def config(**overrides: Any) -> dict:
    base = {"api_token": TOKEN, "start_date": START_DATE}
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def segment_request(path: str, params: Optional[Mapping[str, Any]] = None, version: str = "v1", base: str = US) -> HttpRequest:
    return HttpRequest(
        url=base + path,
        query_params=dict(params) if params else None,
        headers={"Authorization": f"Bearer {TOKEN}", "Accept": ACCEPT[version]},
    )


def list_request(path: str, cursor: Optional[str] = None, count: int = 1000, version: str = "v1", base: str = US, **params: Any) -> HttpRequest:
    query = dict(params)
    query["pagination.count"] = count
    if cursor:
        query["pagination.cursor"] = cursor
    return segment_request(path, query, version, base)


def json_response(body: Any, status: int = 200, headers: Optional[Mapping[str, str]] = None) -> HttpResponse:
    return HttpResponse(json.dumps(body), status_code=status, headers=dict(headers or {}))


def page(data_key: str, items: Sequence[Any], next_cursor: Optional[str] = None, current: str = "MA==", total: Optional[int] = None, **extra: Any) -> HttpResponse:
    pagination: dict = {"current": current, "previous": None, "totalEntries": total if total is not None else len(items)}
    if next_cursor:
        pagination["next"] = next_cursor
    return json_response({"data": {data_key: list(items), "pagination": pagination, **extra}})


def error(status: int, message: str = "error", field: Optional[str] = None, headers: Optional[Mapping[str, str]] = None, data: Any = None) -> HttpResponse:
    item: dict = {"type": "error", "message": message, "status": status}
    if field:
        item["field"] = field
    if data is not None:
        item["data"] = data
    return json_response({"errors": [item]}, status=status, headers=headers)


def catalog(streams: Union[str, Iterable[str]], sync_mode: SyncMode = SyncMode.full_refresh):
    builder = CatalogBuilder()
    for name in [streams] if isinstance(streams, str) else streams:
        builder = builder.with_stream(name, sync_mode)
    return builder.build()


def run_read(
    streams: Union[str, Iterable[str]],
    cfg: Optional[dict] = None,
    state: Optional[Mapping[str, Mapping[str, Any]]] = None,
    sync_mode: SyncMode = SyncMode.full_refresh,
    expected_outcome: ExpectedOutcome = ExpectedOutcome.EXPECT_SUCCESS,
) -> EntrypointOutput:
    state_messages = None
    if state:
        builder = StateBuilder()
        for name, value in state.items():
            builder = builder.with_stream_state(name, value)
        state_messages = builder.build()
    return read(SourceSegment(), cfg or config(), catalog(streams, sync_mode), state_messages, expected_outcome=expected_outcome)


def run_discover(cfg: Optional[dict] = None) -> EntrypointOutput:
    return discover(SourceSegment(), cfg or config())


def records(output: EntrypointOutput, stream: Optional[str] = None) -> List[dict]:
    return [m.record.data for m in output.records if stream is None or m.record.stream == stream]


def warnings(output: EntrypointOutput) -> List[str]:
    return [m.log.message for m in output.logs if m.log.level.name == "WARN"]


def final_state(output: EntrypointOutput, stream: str) -> dict:
    states = [m.state.stream for m in output.state_messages if m.state.stream.stream_descriptor.name == stream]
    return dict(vars(states[-1].stream_state)) if states else {}


def all_states(output: EntrypointOutput, stream: str) -> List[dict]:
    return [dict(vars(m.state.stream.stream_state)) for m in output.state_messages if m.state.stream.stream_descriptor.name == stream]


# --- helpers for the incremental and relationship tests (appended; the functions above are unchanged) ---


def freeze_now(monkeypatch: Any, moment: Any) -> None:
    """Pins the "now" the incremental and relationship streams read (`datetime.now(timezone.utc)` in their
    modules) without touching config validation, which still compares start_date with the real clock."""
    from datetime import datetime as real_datetime

    import source_segment.streams.incremental as incremental_module
    import source_segment.streams.relationships as relationships_module

    class FrozenDatetime(real_datetime):
        @classmethod
        def now(cls, tz: Any = None) -> real_datetime:  # type: ignore[override]
            return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)

    monkeypatch.setattr(incremental_module, "datetime", FrozenDatetime)
    monkeypatch.setattr(relationships_module, "datetime", FrozenDatetime)


def record_client_calls(monkeypatch: Any) -> List[tuple]:
    """Every `SegmentClient.get(path, params, version)` the connector makes, in order (retries not repeated).
    HttpMocker checks each request exactly; this shows which requests were made and in what order."""
    from source_segment.client import SegmentClient

    calls: List[tuple] = []
    original = SegmentClient.get

    def spy(self: Any, path: str, params: Optional[Mapping[str, Any]] = None, version: str = "v1") -> Any:
        calls.append((path, dict(params or {}), version))
        return original(self, path, params, version)

    monkeypatch.setattr(SegmentClient, "get", spy)
    return calls


def log_messages(output: EntrypointOutput, level: str) -> List[str]:
    """Log lines at one level: "INFO", "WARN", "ERROR"."""
    return [m.log.message for m in output.logs if m.log.level.name == level]


def error_messages(output: EntrypointOutput) -> List[str]:
    return [m.trace.error.message for m in output.errors]


# --- helpers for the connector-core tests (config, check, HTTP foundation, workspace streams) -------------


import contextlib  # noqa: E402
from typing import Iterator  # noqa: E402

from airbyte_cdk.models import AirbyteMessageSerializer, FailureType  # noqa: E402
from airbyte_cdk.test.mock_http import HttpMocker  # noqa: E402


@contextlib.contextmanager
def mocked_api(strict: bool = True) -> Iterator[HttpMocker]:
    """An HttpMocker that, on a clean exit, also fails if a mocked response was not requested as often as given.

    (The plain `with HttpMocker()` form skips that check; only its decorator form runs it.) `strict=False`
    skips it too, for tests that mock a request in order to prove it is *not* sent.
    """
    with HttpMocker() as mocker:
        yield mocker
        if strict:
            mocker._validate_all_matchers_called()


def sent(mocker: HttpMocker) -> list:
    """Every request the connector sent while the mocker was active, matched or not (requests_mock history)."""
    return list(mocker._mocker.request_history)


def serialized(output: EntrypointOutput) -> str:
    """The whole output as the platform would see it: every message, serialized to JSON, one per line."""
    return "\n".join(json.dumps(AirbyteMessageSerializer.dump(message)) for message in output.get_message_iterator())


def error_traces(output: EntrypointOutput) -> list:
    """The `trace.error` objects of the run (message, internal_message, failure_type, stack_trace)."""
    return [message.trace.error for message in output.errors]


def config_errors(output: EntrypointOutput) -> list:
    return [error for error in error_traces(output) if error.failure_type == FailureType.config_error]


def stream_schemas(cfg: Optional[dict] = None) -> dict:
    """Each stream's JSON schema as discover would publish it, with shared `$ref`s resolved."""
    return {stream.name: stream.get_json_schema() for stream in SourceSegment().streams(cfg or config())}
