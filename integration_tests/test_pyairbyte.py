"""End-to-end through PyAirbyte: `ab.get_source("source-segment", local_executable=...)` reads every stream from
the in-process simulator into a DuckDB cache, twice.

Opt-in: run `./scripts/pyairbyte_test.sh` (see integration_tests/PYAIRBYTE.md). PyAirbyte lives in its own venv
(`.venv-pyab`) so its dependency pins never touch the connector's; the connector is the console script of the
project venv (`.venv/bin/source-segment`, or `$SOURCE_SEGMENT_EXECUTABLE`), run by PyAirbyte as a subprocess.
In the project venv (`./scripts/test.sh`) `airbyte` is not installed and this module is skipped.

This module imports neither `source_segment` nor `airbyte_cdk` itself (the script runs pytest with
`--noconftest`, as the repo's conftest files load both); it only needs the stdlib-only simulator and
integration_tests/expected.py.

What it pins:
* the first read loads one DuckDB table per discovered stream, each with exactly as many rows as the simulator
  holds for that stream (PyAirbyte's default write strategy merges on the primary key, so a re-read row is
  updated in place, never duplicated);
* the second read, started from the cursors PyAirbyte saved in `_airbyte_state`, asks the API only for new
  data on the incremental streams: usage for the current month (and the previous one in a month's first three
  days), audit events from the saved cursor minus the 5-minute lookback, event volume for yesterday only;
  while every full-refresh stream is read again (PyAirbyte replays a stream's last state into the next sync,
  which must not make a full-refresh stream skip itself);
* after the second read every table still holds exactly the simulator's rows.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

if importlib.util.find_spec("airbyte") is None:
    pytest.skip(
        "PyAirbyte (`airbyte`) is not installed in this venv; it runs in its own venv: ./scripts/pyairbyte_test.sh",
        allow_module_level=True,
    )

# PyAirbyte reads these when it is imported and when it creates a source: set them first.
# Offline mode is mandatory here: without it get_source() downloads the connector registry (and sends telemetry).
LOG_ROOT = Path(tempfile.mkdtemp(prefix="pyairbyte-logs-"))
os.environ["AIRBYTE_OFFLINE_MODE"] = "1"
os.environ["DO_NOT_TRACK"] = "1"
os.environ["AIRBYTE_LOGGING_ROOT"] = str(LOG_ROOT)

ab = pytest.importorskip("airbyte", reason="PyAirbyte (`airbyte`) cannot be imported; run ./scripts/pyairbyte_test.sh")
from airbyte.caches import DuckDBCache  # noqa: E402

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from integration_tests.expected import (  # noqa: E402
    ALL_STREAMS,
    INCREMENTAL_STREAMS,
    expected_keys,
    first_day_months_back,
    parse_ts,
    usage_periods,
)
from integration_tests.simulator import Simulator  # noqa: E402
from integration_tests.simulator.server import RequestLogEntry  # noqa: E402

TOKEN = "sim-token-pyairbyte-7c1d9e4a2b8f6035"
SEED = 7
EXECUTABLE = Path(os.environ.get("SOURCE_SEGMENT_EXECUTABLE") or REPO_ROOT / ".venv" / "bin" / "source-segment")
LOOKBACK = dt.timedelta(minutes=5)  # the connector's default audit_events_lookback_minutes
USAGE_PATHS = {
    "usage_api_calls_workspace_daily": "/usage/api-calls/daily",
    "usage_api_calls_per_source_daily": "/usage/api-calls/sources/daily",
    "usage_mtu_workspace_daily": "/usage/mtu/daily",
    "usage_mtu_per_source_daily": "/usage/mtu/sources/daily",
}
INCREMENTAL_PATHS = set(USAGE_PATHS.values()) | {"/audit-events", "/events/volume"}


@dataclass
class PyAirbyteRead:
    started: dt.datetime  # wall clock (UTC) just before `source.read()`
    seconds: float
    processed_records: int
    requests: List[RequestLogEntry]  # what the simulator answered during this read
    rows: Dict[str, int]  # stream -> rows in its DuckDB table after this read
    state: Dict[str, Dict[str, Any]]  # stream -> stream_state saved in `_airbyte_state` after this read
    latest: Dict[str, Any] = field(default_factory=dict)  # incremental stream -> max(_airbyte_extracted_at) after this read
    touched: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)  # incremental stream -> rows this read wrote

    def ok(self, path: str) -> List[RequestLogEntry]:
        return [r for r in self.requests if r.path == path and r.status == 200]


@dataclass
class Session:
    sim: Simulator
    start_date: dt.date
    source: Any
    cache: Any
    streams: List[str]
    first: PyAirbyteRead
    second: PyAirbyteRead
    get_source_seconds: float


def _table(cache: Any, stream: str) -> str:
    return f"{cache.schema_name}.{cache.streams[stream].to_sql_table().name}"


def _row_counts(cache: Any, streams: List[str]) -> Dict[str, int]:
    return {s: int(cache.run_sql_query(f"SELECT COUNT(*) AS n FROM {_table(cache, s)}")[0]["n"]) for s in streams}


def _saved_state(cache: Any) -> Dict[str, Dict[str, Any]]:
    rows = cache.run_sql_query(f"SELECT stream_name, state_json FROM {cache.schema_name}._airbyte_state")
    out = {}
    for row in rows:
        message = json.loads(row["state_json"])
        out[row["stream_name"]] = (message.get("stream") or {}).get("stream_state") or {}
    return out


def _latest_extracted_at(cache: Any, stream: str) -> Any:
    return cache.run_sql_query(f"SELECT MAX(_airbyte_extracted_at) AS latest FROM {_table(cache, stream)}")[0]["latest"]


def _rows_written_after(cache: Any, stream: str, latest: Any) -> List[Dict[str, Any]]:
    """Rows a read inserted or updated (a merge rewrites the row): `_airbyte_extracted_at` later than the latest one
    before that read. The value goes back into DuckDB as it came out, so the comparison does not depend on time zones."""
    if latest is None:
        return cache.run_sql_query(f"SELECT * FROM {_table(cache, stream)}")
    return cache.run_sql_query(
        f"SELECT * FROM {_table(cache, stream)} WHERE _airbyte_extracted_at > CAST('{latest.isoformat(sep=' ')}' AS TIMESTAMP)"
    )


def _read(sim: Simulator, source: Any, cache: Any, streams: List[str], previous: Optional[PyAirbyteRead] = None) -> PyAirbyteRead:
    sim.reset_rate_limits()  # the simulator's /events/volume 60-per-minute window would otherwise span both reads
    sim.clear_log()
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.monotonic()
    result = source.read(cache=cache)  # an explicit cache: ab.get_default_cache() returns a new object per call
    seconds = time.monotonic() - t0
    read = PyAirbyteRead(
        started=started,
        seconds=seconds,
        processed_records=result.processed_records,
        requests=sim.requests,
        rows=_row_counts(cache, streams),
        state=_saved_state(cache),
    )
    read.latest = {s: _latest_extracted_at(cache, s) for s in INCREMENTAL_STREAMS}
    read.touched = {s: _rows_written_after(cache, s, previous.latest[s] if previous else None) for s in INCREMENTAL_STREAMS}
    return read


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Iterator[Session]:
    if not EXECUTABLE.exists():
        pytest.fail(f"{EXECUTABLE} does not exist: install the connector in the project venv (`.venv/bin/pip install -e .`)")
    tmp = tmp_path_factory.mktemp("pyairbyte")
    with Simulator(token=TOKEN, seed=SEED, size="tiny") as sim:
        start_date = first_day_months_back(sim.today, 3)
        config = {"api_token": TOKEN, "base_url": sim.url, "start_date": start_date.isoformat()}
        t0 = time.monotonic()
        source = ab.get_source("source-segment", config=config, local_executable=str(EXECUTABLE))
        source.select_all_streams()
        streams = sorted(source.get_selected_streams())
        get_source_seconds = time.monotonic() - t0
        cache = DuckDBCache(db_path=tmp / "segment.duckdb", cache_dir=tmp / "cache")
        first = _read(sim, source, cache, streams)
        second = _read(sim, source, cache, streams, previous=first)
        print(
            f"\nPyAirbyte timings: get_source+discover {get_source_seconds:.1f}s, first read {first.seconds:.1f}s "
            f"({first.processed_records} records, {len(first.requests)} requests), second read {second.seconds:.1f}s "
            f"({second.processed_records} records, {len(second.requests)} requests)"
        )
        yield Session(sim, start_date, source, cache, streams, first, second, get_source_seconds)
    shutil.rmtree(LOG_ROOT, ignore_errors=True)


@pytest.fixture(scope="module")
def expected(session: Session) -> Dict[str, int]:
    return {stream: len(keys) for stream, keys in expected_keys(session.sim.workspace, session.start_date).items()}


# ------------------------------------------------------------------------------------------------ the connector
def test_pyairbyte_runs_the_project_venv_executable_not_an_in_process_import(session: Session):
    assert "source_segment" not in sys.modules  # the connector ran only as PyAirbyte's subprocess
    executor = session.source.executor
    assert type(executor).__name__ == "PathExecutor"
    assert Path(executor.path) == EXECUTABLE


def test_pyairbyte_discovers_every_stream_the_simulator_expectations_cover(session: Session):
    assert session.streams == sorted(ALL_STREAMS)


# --------------------------------------------------------------------------------------------- the first read
def test_first_read_creates_one_duckdb_table_per_stream(session: Session):
    assert sorted(session.cache.streams) == sorted(ALL_STREAMS)


@pytest.mark.parametrize("stream", ALL_STREAMS)
def test_first_read_loads_as_many_rows_as_the_simulator_holds(stream, session: Session, expected):
    assert expected[stream] > 0, f"the tiny workspace must hold {stream} data for this test to mean anything"
    assert session.first.rows[stream] == expected[stream]


def test_first_read_processes_at_least_one_record_per_row(session: Session, expected):
    # incremental windows overlap (event volume re-reads its last day, usage its open month), so PyAirbyte may
    # process more records than it keeps after merging on the primary key, never fewer
    assert session.first.processed_records >= sum(expected.values())


def test_first_read_saves_a_cursor_for_every_incremental_stream(session: Session):
    state = session.first.state
    yesterday = (session.sim.today - dt.timedelta(days=1)).isoformat()
    assert state["event_volume_daily"] == {"day": yesterday}
    # audit events: the last window ends at the connector's "now", after the read started
    assert parse_ts(state["audit_events"]["timestamp"]) >= session.first.started.replace(microsecond=0)
    for stream in USAGE_PATHS:  # usage: the end of the current month's window (now, or the month's last day)
        cursor = parse_ts(state[stream]["timestamp"])
        assert cursor.date().replace(day=1) == session.sim.today.replace(day=1), (stream, state[stream])


# -------------------------------------------------------------------------------------------- the second read
@pytest.mark.parametrize("stream", list(USAGE_PATHS))
def test_second_read_requests_usage_only_for_the_months_still_open(stream, session: Session):
    path = USAGE_PATHS[stream]
    first_periods = {r.query["period"][0] for r in session.first.ok(path)}
    assert first_periods == set(usage_periods(session.sim.workspace, session.start_date))
    # the month of (saved cursor - 3 days): the current month, and the previous one in a month's first 3 days
    cursor = parse_ts(session.first.state[stream]["timestamp"])
    second_periods = {r.query["period"][0] for r in session.second.ok(path)}
    assert second_periods == set(usage_periods(session.sim.workspace, (cursor - dt.timedelta(days=3)).date()))
    assert len(second_periods) < len(first_periods)


def test_second_read_requests_audit_events_only_from_the_saved_cursor_minus_the_lookback(session: Session):
    cursor = parse_ts(session.first.state["audit_events"]["timestamp"])
    first_starts = [parse_ts(r.query["startTime"][0]) for r in session.first.ok("/audit-events")]
    second_starts = [parse_ts(r.query["startTime"][0]) for r in session.second.ok("/audit-events")]
    assert min(first_starts).date() == session.start_date
    assert second_starts, "the second read must still ask for audit events since the cursor"
    assert min(second_starts) == cursor - LOOKBACK


def test_second_read_requests_event_volume_only_for_yesterday(session: Session):
    yesterday = (session.sim.today - dt.timedelta(days=1)).isoformat()
    assert len(session.first.ok("/events/volume")) > 1
    assert [r.query["startTime"][0][:10] for r in session.second.ok("/events/volume")] == [yesterday]


def test_second_read_writes_event_volume_rows_only_for_yesterday(session: Session, expected):
    yesterday = (session.sim.today - dt.timedelta(days=1)).isoformat()
    written = session.second.touched["event_volume_daily"]
    assert {str(row["day"]) for row in written} == {yesterday}
    assert len(written) < expected["event_volume_daily"]


def test_second_read_writes_no_audit_event_older_than_the_lookback(session: Session):
    cursor = parse_ts(session.first.state["audit_events"]["timestamp"])
    for row in session.second.touched["audit_events"]:
        timestamp = row["timestamp"]
        moment = timestamp if isinstance(timestamp, dt.datetime) else parse_ts(str(timestamp))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        assert moment >= cursor - LOOKBACK, row


def test_second_read_requests_every_full_refresh_endpoint_again(session: Session):
    def full_refresh_paths(read: PyAirbyteRead) -> set:
        return {r.path for r in read.requests if r.status == 200 and r.path not in INCREMENTAL_PATHS}

    first = full_refresh_paths(session.first)
    assert len(first) > len(ALL_STREAMS) - len(INCREMENTAL_STREAMS)  # list endpoints plus one per parent
    assert full_refresh_paths(session.second) == first


def test_second_read_makes_far_fewer_incremental_requests_than_the_first(session: Session):
    def incremental_requests(read: PyAirbyteRead) -> int:
        return sum(1 for r in read.requests if r.path in INCREMENTAL_PATHS)

    assert incremental_requests(session.second) < incremental_requests(session.first) / 2


@pytest.mark.parametrize("stream", ALL_STREAMS)
def test_after_the_second_read_every_table_still_holds_exactly_the_simulator_rows(stream, session: Session, expected):
    assert session.second.rows[stream] == expected[stream]


def test_second_read_moves_no_cursor_backwards(session: Session):
    first, second = session.first.state, session.second.state
    assert second["event_volume_daily"]["day"] >= first["event_volume_daily"]["day"]
    for stream in ("audit_events", *USAGE_PATHS):
        assert parse_ts(second[stream]["timestamp"]) >= parse_ts(first[stream]["timestamp"]), stream


def test_the_token_never_appears_in_pyairbyte_logs(session: Session):
    logs = [p for p in LOG_ROOT.rglob("*") if p.is_file()]
    assert logs, f"PyAirbyte wrote no log under {LOG_ROOT}"
    assert not [p.name for p in logs if TOKEN in p.read_text(errors="replace")]
