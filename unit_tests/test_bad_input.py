"""Bad catalogs and state files: a clear message or a safe fallback, never a stack trace."""

import pytest
from airbyte_cdk.models import AirbyteStreamStatus, FailureType, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import read
from airbyte_cdk.test.mock_http import HttpMocker
from airbyte_cdk.test.models.outcome import ExpectedOutcome
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_segment import SourceSegment
from unit_tests.builders import EU, US, config, list_request, page, records, run_read, sent, warnings

ROLES = [{"id": "r1", "name": "Workspace Owner", "description": "all"}]


def test_a_catalog_stream_the_connector_does_not_have_is_named_in_a_warning_and_the_rest_syncs():
    catalog = CatalogBuilder().with_stream("roles", SyncMode.full_refresh).with_stream("no_such_stream", SyncMode.full_refresh).build()
    with HttpMocker() as mocker:
        mocker.get(list_request("/roles"), page("roles", ROLES))
        output = read(SourceSegment(), config(), catalog)
    assert records(output) == ROLES
    assert any("`no_such_stream`" in line and "Refresh the source schema" in line for line in warnings(output))
    assert output.get_stream_statuses("roles")[-1] == AirbyteStreamStatus.COMPLETE


def test_state_for_a_stream_outside_the_catalog_is_ignored():
    with HttpMocker() as mocker:
        mocker.get(list_request("/roles"), page("roles", ROLES))
        output = run_read("roles", state={"audit_events": {"timestamp": "2024-02-01T00:00:00Z"}})
    assert records(output) == ROLES
    assert not output.errors


@pytest.mark.parametrize("content", ["{not json", "", "[{]"], ids=["broken-object", "empty-file", "broken-list"])
def test_an_unreadable_state_file_is_a_config_error_that_says_how_to_recover(tmp_path, content):
    path = tmp_path / "state.json"
    path.write_text(content)
    with pytest.raises(AirbyteTracedException) as raised:
        SourceSegment.read_state(str(path))
    assert raised.value.failure_type == FailureType.config_error
    assert str(path) in raised.value.message and "Reset the connection's state" in raised.value.message


def test_a_readable_state_file_still_loads(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('[{"type": "STREAM", "stream": {"stream_descriptor": {"name": "audit_events"}, "stream_state": {"timestamp": "2024-02-01T00:00:00Z"}}}]')
    states = SourceSegment.read_state(str(path))
    assert states[0].stream.stream_descriptor.name == "audit_events"


# ------------------------------------------------------------------------------------------ through the command
# Every case below runs through `source_segment.run.run`, the `source-segment` command, in process: the CDK's
# entrypoint with its spec check, our config validation, and the file readers, as Airbyte would call them.

import json  # noqa: E402

from source_segment.run import run  # noqa: E402
from unit_tests.builders import TOKEN, json_response, mocked_api, segment_request  # noqa: E402
from unit_tests.test_config import ACCEPTED_SPELLINGS, BAD_CONFIGS, _bad  # noqa: E402

WORKSPACE = {"id": "9aQ1Lj62S4bomZKLF4DPqW", "slug": "acme", "name": "Acme Inc."}
CATALOG = {
    "streams": [
        {
            "stream": {"name": "roles", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
            "sync_mode": "full_refresh",
            "destination_sync_mode": "overwrite",
        }
    ]
}


class Command:
    """What one `source-segment` invocation printed, and its exit code."""

    def __init__(self, code: int, stdout: str):
        self.code = code
        self.stdout = stdout
        self.messages = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]

    def of_type(self, kind: str) -> list:
        return [m for m in self.messages if m["type"] == kind]

    @property
    def status(self) -> dict:
        (status,) = [m["connectionStatus"] for m in self.of_type("CONNECTION_STATUS")]
        return status

    @property
    def errors(self) -> list:
        return [m["trace"]["error"] for m in self.of_type("TRACE") if m["trace"]["type"] == "ERROR"]

    def user_message(self) -> str:
        """What the user is told: check's FAILED status, or the one error trace of discover/read."""
        statuses = self.of_type("CONNECTION_STATUS")
        if statuses:
            assert statuses[0]["connectionStatus"]["status"] == "FAILED"
            return statuses[0]["connectionStatus"]["message"]
        (error,) = self.errors
        assert error["failure_type"] == "config_error"
        return error["message"]


def command(capsys, tmp_path, name: str, cfg=None, catalog=CATALOG, raw_config: bytes = None, raw_catalog: bytes = None, args=()) -> Command:
    config_path, catalog_path = tmp_path / "config.json", tmp_path / "catalog.json"
    config_path.write_bytes(raw_config if raw_config is not None else json.dumps(cfg).encode())
    argv = [name, "--config", str(config_path), *args]
    if name == "read":
        catalog_path.write_bytes(raw_catalog if raw_catalog is not None else json.dumps(catalog).encode())
        argv += ["--catalog", str(catalog_path)]
    capsys.readouterr()
    try:
        run(argv)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr().out
    assert "Traceback" not in out and 'File "' not in out
    return Command(code, out)


@pytest.mark.parametrize("field,overrides", BAD_CONFIGS)
def test_a_bad_config_gets_the_same_message_from_check_discover_and_read(capsys, tmp_path, field, overrides):
    cfg = _bad(overrides)
    with mocked_api() as mocker:
        check = command(capsys, tmp_path, "check", cfg)
        discover = command(capsys, tmp_path, "discover", cfg)
        read_ = command(capsys, tmp_path, "read", cfg)
        assert sent(mocker) == []
    assert (check.code, discover.code, read_.code) == (0, 1, 1)  # check reports a failed status; the others fail
    message = check.user_message()
    assert message.startswith(f"Invalid configuration: `{field}`"), message
    assert discover.user_message() == message
    assert read_.user_message() == message
    assert not read_.of_type("RECORD")
    for output in (check, discover, read_):
        assert TOKEN not in output.stdout


@pytest.mark.parametrize("overrides,expected", ACCEPTED_SPELLINGS)
def test_an_accepted_spelling_passes_check_and_discover_alike(capsys, tmp_path, overrides, expected):
    cfg = _bad(overrides)
    with mocked_api(strict=False) as mocker:
        for base in (US, EU):
            mocker.get(segment_request("/", base=base), json_response({"data": {"workspace": WORKSPACE}}))
        check = command(capsys, tmp_path, "check", cfg)
        discover = command(capsys, tmp_path, "discover", cfg)
    assert check.status["status"] == "SUCCEEDED", check.status
    assert discover.code == 0 and discover.of_type("CATALOG")


def test_legacy_region_and_string_numbers_read_from_the_region_host(capsys, tmp_path):
    cfg = config(region="eu1", page_size="250", requests_per_minute="600")
    with mocked_api() as mocker:
        mocker.get(list_request("/roles", base=EU, count=250), page("roles", ROLES))
        output = command(capsys, tmp_path, "read", cfg)
    assert output.code == 0
    assert [m["record"]["data"] for m in output.of_type("RECORD")] == ROLES


# ------------------------------------------------------------------------------------------ unreadable files

OK_CONFIG = json.dumps(config()).encode()
UNREADABLE_CONFIGS = [
    pytest.param(b"", "is empty", id="empty"),
    pytest.param(b"  \n", "is empty", id="blank"),
    pytest.param(b'{"api_token": "x",', "is not valid JSON", id="truncated"),
    pytest.param(b"api_token=x", "is not valid JSON", id="not-json"),
    pytest.param(b"[" + OK_CONFIG + b"]", "holds a JSON array, not a JSON object", id="json-array"),
    pytest.param(b"null", "holds a JSON null, not a JSON object", id="json-null"),
    pytest.param(b'"' + TOKEN.encode() + b'"', "holds a JSON string, not a JSON object", id="json-string"),
    pytest.param(OK_CONFIG.replace(b"2024", b"\xff2024"), "is not UTF-8 text", id="latin-1-bytes"),
]


@pytest.mark.parametrize("command_name", ["check", "discover", "read"])
@pytest.mark.parametrize("content,problem", UNREADABLE_CONFIGS)
def test_an_unreadable_config_file_is_named_with_the_reason(capsys, tmp_path, command_name, content, problem):
    output = command(capsys, tmp_path, command_name, raw_config=content)
    assert output.code == 1
    message = output.user_message()
    assert message.startswith(f"The config file {tmp_path / 'config.json'} {problem}"), message
    assert "Pass a JSON object" in message
    assert TOKEN not in output.stdout


@pytest.mark.parametrize("what,path", [("missing", "nowhere.json"), ("a directory", ".")])
def test_a_config_path_that_is_no_file_is_named(capsys, tmp_path, what, path):
    capsys.readouterr()
    with pytest.raises(SystemExit):
        run(["check", "--config", str(tmp_path / path)])
    (error,) = Command(1, capsys.readouterr().out).errors
    assert error["message"].startswith(f"The config file {tmp_path / path} ")
    assert "does not exist" in error["message"] or "is a directory" in error["message"]


@pytest.mark.parametrize("bom,encoding", [(b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le")], ids=["utf-8-bom", "utf-16-bom"])
def test_a_config_or_catalog_saved_with_a_byte_order_mark_is_read(capsys, tmp_path, bom, encoding):
    raw_config = bom + json.dumps(config()).encode(encoding)
    raw_catalog = bom + json.dumps(CATALOG).encode(encoding)
    with mocked_api() as mocker:
        mocker.get(segment_request("/"), json_response({"data": {"workspace": WORKSPACE}}))
        mocker.get(list_request("/roles"), page("roles", ROLES))
        check = command(capsys, tmp_path, "check", raw_config=raw_config)
        read_ = command(capsys, tmp_path, "read", raw_config=raw_config, raw_catalog=raw_catalog)
    assert check.status["status"] == "SUCCEEDED"
    assert [m["record"]["data"] for m in read_.of_type("RECORD")] == ROLES


DISCOVERED = {"streams": [{"name": "roles", "json_schema": {}, "supported_sync_modes": ["full_refresh"]}]}
NO_DESTINATION_MODE = {"streams": [{**CATALOG["streams"][0], "destination_sync_mode": None}]}
UNREADABLE_CATALOGS = [
    pytest.param(b"", "is empty", id="empty"),
    pytest.param(b"{streams: []}", "is not valid JSON", id="not-json"),
    pytest.param(json.dumps(CATALOG["streams"]).encode(), "holds a JSON array, not a JSON object", id="json-array"),
    pytest.param(json.dumps(DISCOVERED).encode(), "is a discovered catalog, not a configured one", id="discover-output"),
    pytest.param(b"{}", "is not a configured catalog (\"streams\" is a required property", id="no-streams"),
    pytest.param(json.dumps(NO_DESTINATION_MODE).encode(), "is not a configured catalog", id="no-destination-sync-mode"),
    pytest.param(
        json.dumps({"streams": [{**CATALOG["streams"][0], "sync_mode": "full"}]}).encode(),
        "is not a configured catalog (\"full\" is not one of",
        id="unknown-sync-mode",
    ),
]


@pytest.mark.parametrize("content,problem", UNREADABLE_CATALOGS)
def test_an_unreadable_catalog_file_is_named_with_the_reason(capsys, tmp_path, content, problem):
    with mocked_api() as mocker:
        output = command(capsys, tmp_path, "read", config(), raw_catalog=content)
        assert sent(mocker) == []
    assert output.code == 1
    message = output.user_message()
    assert message.startswith(f"The catalog file {tmp_path / 'catalog.json'} {problem}"), message
    assert "configured catalog" in message and "sync_mode" in message


@pytest.mark.parametrize(
    "content,problem",
    [
        pytest.param(b"[1, 2]", "holds an entry 0 that is not a state message", id="numbers"),
        pytest.param(b'{"audit_events": {"timestamp": "2024-01-01T00:00:00Z"}}', "holds a single JSON object (a legacy state format)", id="legacy-object"),
        pytest.param(b'[{"type": "STREAM"}]', "holds an entry 0 with no `stream`", id="entry-without-stream"),
        pytest.param(b"\xef\xbb\xbf{", "is not valid JSON", id="bom-then-broken"),
    ],
)
def test_an_unreadable_state_file_is_named_with_the_reason(capsys, tmp_path, content, problem):
    state_path = tmp_path / "state.json"
    state_path.write_bytes(content)
    output = command(capsys, tmp_path, "read", config(), args=("--state", str(state_path)))
    assert output.code == 1
    message = output.user_message()
    assert message.startswith(f"The state file {state_path} {problem}"), message
    assert "Reset the connection's state" in message


@pytest.mark.parametrize("content", [b"[]", b"{}", b"\xef\xbb\xbf[]"], ids=["empty-list", "empty-object", "bom-empty-list"])
def test_an_empty_state_means_no_state(capsys, tmp_path, content):
    state_path = tmp_path / "state.json"
    state_path.write_bytes(content)
    with mocked_api() as mocker:
        mocker.get(list_request("/roles"), page("roles", ROLES))
        output = command(capsys, tmp_path, "read", config(), args=("--state", str(state_path)))
    assert output.code == 0 and len(output.of_type("RECORD")) == len(ROLES)


# ------------------------------------------------------------------------------------------ catalog repeats


def test_a_stream_listed_twice_in_the_catalog_is_read_once_with_one_warning():
    catalog = CatalogBuilder().with_stream("roles", SyncMode.full_refresh).with_stream("roles", SyncMode.full_refresh).with_stream("roles", SyncMode.full_refresh).build()
    with mocked_api() as mocker:
        mocker.get(list_request("/roles"), page("roles", ROLES))  # strict: answered (and asked) once
        output = read(SourceSegment(), config(), catalog)
    assert records(output) == ROLES
    repeats = [line for line in warnings(output) if "more than once" in line]
    assert repeats == ["The catalog lists stream `roles` more than once; it is read once."]
    assert output.get_stream_statuses("roles")[-1] == AirbyteStreamStatus.COMPLETE


def test_a_stream_listed_twice_with_different_sync_modes_is_refused_before_any_request():
    catalog = CatalogBuilder().with_stream("audit_events", SyncMode.incremental).with_stream("audit_events", SyncMode.full_refresh).build()
    with mocked_api() as mocker:
        output = read(SourceSegment(), config(), catalog, expected_outcome=ExpectedOutcome.EXPECT_EXCEPTION)
        assert sent(mocker) == []
    (error,) = [m.trace.error for m in output.errors]
    assert error.failure_type == FailureType.config_error
    assert "`audit_events` more than once with different sync modes" in error.message


# ------------------------------------------------------------------------------------------ state from the future


def test_a_state_cursor_in_the_future_is_clamped_to_now_with_one_warning_naming_stream_and_cursor(monkeypatch):
    from datetime import datetime, timezone

    from unit_tests.builders import freeze_now

    freeze_now(monkeypatch, datetime(2024, 3, 10, 12, 0, tzinfo=timezone.utc))
    state = {"audit_events": {"timestamp": "2999-01-01T00:00:00Z", "settled": True}}
    with mocked_api() as mocker:
        output = run_read("audit_events", config(audit_events_lookback_minutes=0), state=state, sync_mode=SyncMode.incremental)
        assert sent(mocker) == []  # nothing can be newer than now
    future = [line for line in warnings(output) if "in the future" in line]
    assert future == [
        "Stream `audit_events`: the saved cursor `timestamp` = 2999-01-01T00:00:00Z is in the future; reading as if it were "
        "now (2024-03-10T12:00:00Z). If the state was edited or written by a machine with a wrong clock, reset this "
        "stream's state to re-read from start_date."
    ]
    assert not output.errors


def test_a_state_cursor_in_the_past_gives_no_future_warning(monkeypatch):
    from datetime import datetime, timezone

    from unit_tests.builders import freeze_now

    freeze_now(monkeypatch, datetime(2024, 3, 10, 12, 0, tzinfo=timezone.utc))
    state = {"audit_events": {"timestamp": "2024-03-10T12:00:00Z", "settled": True}}
    with mocked_api() as mocker:
        output = run_read("audit_events", config(audit_events_lookback_minutes=0), state=state, sync_mode=SyncMode.incremental)
        assert sent(mocker) == []
    assert not [line for line in warnings(output) if "in the future" in line]
