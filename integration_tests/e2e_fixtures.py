"""Fixtures and helpers for the end-to-end tests and the fault matrix: a tiny simulator workspace, the
discovered catalog, and one clean full read of every stream that several tests compare against.

Every read runs the installed `source-segment` command as a subprocess (integration_tests/harness.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Set

import pytest

from integration_tests.expected import Key, expected_keys, first_day_months_back, key_sets, primary_keys
from integration_tests.harness import SIM_TOKEN, Run, configured_catalog, discovered_streams, run_connector
from integration_tests.simulator import Simulator
from integration_tests.simulator.server import RequestLogEntry

SEED = 7
SIZE = "tiny"
MONTHS_BACK = 3


def start_date_for(sim: Simulator) -> dt.date:
    """The first day of the month three months before the simulator's today."""
    return first_day_months_back(sim.today, MONTHS_BACK)


def config_for(sim: Simulator, **overrides: Any) -> Dict[str, Any]:
    return {"api_token": SIM_TOKEN, "base_url": sim.url, "start_date": start_date_for(sim).isoformat(), **overrides}


@dataclass
class Read:
    """One connector read and the API requests it made."""

    run: Run
    requests: List[RequestLogEntry]
    started: dt.datetime  # wall clock (UTC) just before the process started


def read(
    sim: Simulator, catalog: Mapping[str, Any], state: Optional[List[dict]] = None, config: Optional[Mapping[str, Any]] = None, **kwargs: Any
) -> Read:
    """Runs `source-segment read` against `sim`, starting from fresh rate-limit windows and an empty request log
    (reads of one test would otherwise share the simulator's 60/min events-volume window)."""
    sim.reset_rate_limits()
    sim.clear_log()
    started = dt.datetime.now(dt.timezone.utc)
    run = run_connector("read", config if config is not None else config_for(sim), catalog, state, **kwargs)
    return Read(run, sim.requests, started)


def describe(run: Run) -> str:
    """What went wrong, for assertion messages: errors and the tail of stderr (never the config)."""
    return f"exit {run.returncode}; errors {run.errors()}; stderr tail {run.stderr[-1500:]!r}"


def final_statuses(run: Run, streams: List[str]) -> Dict[str, Optional[str]]:
    return {stream: (run.statuses(stream) or [None])[-1] for stream in streams}


@pytest.fixture(scope="session")
def catalog_streams() -> List[dict]:
    """The streams `discover` reports (with their json_schema and primary keys)."""
    with Simulator(token=SIM_TOKEN, seed=SEED, size=SIZE, awkward=True) as sim:
        return discovered_streams(config_for(sim))


@pytest.fixture(scope="session")
def stream_pks(catalog_streams) -> Dict[str, List[List[str]]]:
    return primary_keys(catalog_streams)


@pytest.fixture(scope="session")
def clean_sim():
    """A fault-free tiny workspace (with the legal-but-awkward answers of issue 12) shared by the clean read and the interrupted-sync tests."""
    with Simulator(token=SIM_TOKEN, seed=SEED, size=SIZE, awkward=True) as sim:
        yield sim


@pytest.fixture(scope="session")
def clean_read(clean_sim, catalog_streams) -> Read:
    """One full read of every stream (incremental where supported, no state)."""
    return read(clean_sim, configured_catalog(catalog_streams))


@pytest.fixture(scope="session")
def clean_expected(clean_sim) -> Dict[str, Set[Key]]:
    return expected_keys(clean_sim.workspace, start_date_for(clean_sim))


@pytest.fixture(scope="session")
def clean_keys(clean_read, stream_pks) -> Dict[str, Set[Key]]:
    return key_sets(clean_read.run.records_by_stream(), stream_pks)
