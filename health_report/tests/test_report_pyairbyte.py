"""Opt-in end to end: PyAirbyte syncs the installed connector from the simulator, the report renders the cache,
and its numbers equal the simulator's. Also pins the fast tests' loader to PyAirbyte's real table layout.

Runs in .venv-report (`./scripts/report.sh --test`, about 2 minutes: the connector keeps to Segment's 2 requests
per minute on warehouse syncs). Imports neither source_segment nor airbyte_cdk (the connector is a subprocess).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import sys
from collections import Counter
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if importlib.util.find_spec("airbyte") is None:
    pytest.skip("PyAirbyte (`airbyte`) is not installed in this venv; run ./scripts/report.sh --test", allow_module_level=True)
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import duckdb  # noqa: E402

from health_report.__main__ import render_file  # noqa: E402
from health_report.db import normalize  # noqa: E402
from health_report.sync import REPORT_STREAMS, demo_config, sync  # noqa: E402
from health_report.tests import loader  # noqa: E402
from integration_tests.expected import USAGE_STREAMS, audit_events, event_volume_days, first_day_months_back, usage_rows  # noqa: E402
from integration_tests.simulator import Simulator  # noqa: E402

EXECUTABLE = Path(os.environ.get("SOURCE_SEGMENT_EXECUTABLE") or REPO_ROOT / ".venv" / "bin" / "source-segment")
TOKEN = "sim-token-report-5e1f0a9c3b7d2e84"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report-e2e")
    with Simulator(token=TOKEN, seed=7, size="tiny") as sim:
        start = first_day_months_back(sim.today, 3)
        result = sync(demo_config(sim, start.isoformat()), tmp / "cache", EXECUTABLE)
        summary = render_file(result.db_path, tmp / "report.html", sim.today, "simulator")
        yield {"sim": sim, "ws": sim.workspace, "start": start, "result": result, "summary": summary, "tmp": tmp}


def _describe(path: Path, table: str):
    """(column, type) pairs. PyAirbyte 0.71.3 made delivery_overview.time a naive TIMESTAMP although the schema says
    date-time like every other timestamp column (seen here); the queries cast every timestamp to TIMESTAMPTZ under
    TimeZone=UTC, which reads both alike, so the time zone flag is not compared."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [(r[0], r[1].replace(" WITH TIME ZONE", "")) for r in con.execute(f'DESCRIBE main."{table}"').fetchall()
                if not r[0].startswith("_airbyte")]
    finally:
        con.close()


def test_every_report_stream_was_offered_and_synced(run):
    assert run["result"].not_offered == []
    assert sorted(run["result"].streams) == sorted(REPORT_STREAMS)


def test_the_fast_tests_loader_builds_pyairbyte_s_exact_table_layout(run):
    empty = loader.write(run["tmp"] / "loader.duckdb", {s: [] for s in REPORT_STREAMS})
    for stream in REPORT_STREAMS:
        assert _describe(empty, normalize(stream)) == _describe(run["result"].db_path, normalize(stream)), stream


def test_inventory_equals_the_simulator(run):
    ws, counts = run["ws"], run["summary"]["inventory"]["counts"]
    assert counts["sources"] == len(ws.sources)
    assert counts["destinations"] == len(ws.destinations)
    assert counts["warehouses"] == len(ws.warehouses)
    assert counts["spaces"] == len(ws.spaces)
    assert counts["reverse_etl_models"] == len(ws.reverse_etl_models)


def test_monthly_mtu_and_api_calls_equal_the_simulator_s_last_snapshots(run):
    for stream, metric, value in (
        ("usage_mtu_per_source_daily", "mtu_by_month", lambda r: int(r["identified"]) + int(r["neverIdentified"])),
        ("usage_api_calls_per_source_daily", "api_calls_by_month", lambda r: int(r["apiCalls"])),
    ):
        assert stream in USAGE_STREAMS
        last = {}
        for row in usage_rows(run["ws"], stream, run["start"]):
            key = (row["sourceId"], row["timestamp"][:7])
            if key not in last or row["timestamp"] > last[key]["timestamp"]:
                last[key] = row
        expected = Counter()
        for (_, month), row in last.items():
            expected[month] += value(row)
        assert run["summary"]["cost"][metric] == dict(expected), stream


def test_event_volume_total_equals_the_simulator(run):
    ws = run["ws"]
    total = sum(
        ws.event_volume.count(dt.date.fromisoformat(day), *triple)
        for day in event_volume_days(ws, run["start"]) for triple in ws.event_volume.triples
    )
    assert run["summary"]["volume"]["total_events"] == total > 0


def test_audit_events_per_actor_equal_the_simulator(run):
    actors = Counter((e.get("actorEmail") or e.get("actor") or "(unknown)") for e in audit_events(run["ws"], run["start"]))
    assert run["summary"]["governance"]["audit_actors"] == dict(actors)


def test_delivery_health_has_numbers_from_all_three_operational_streams(run):
    delivery = run["summary"]["delivery"]
    assert sum(delivery["stages"].values()) > 0
    assert delivery["warehouse"]["syncs"] > 0
    assert delivery["reverse_etl"]["syncs"] > 0
    assert run["summary"]["notes"]["delivery"] == []


def test_the_token_appears_nowhere_in_the_cache_logs_or_report(run):
    files = [p for p in run["tmp"].rglob("*") if p.is_file()]
    assert any(p.suffix == ".html" for p in files) and any("logs" in p.parts for p in files)
    assert [str(p) for p in files if TOKEN.encode() in p.read_bytes()] == []
