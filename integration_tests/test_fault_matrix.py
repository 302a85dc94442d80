"""Fault matrix (issue 6): every fault the simulator can inject, on ~8% of all requests, must leave a full read of
every stream with exactly the records of a fault-free read, every stream COMPLETE, exit 0 and no token in the
output. Plus: a sync killed mid-read and resumed from its last STATE messages has no gap.

The rows come from scripts/fault_matrix.py (`run_row`), which also prints the table. The client really sleeps
between retries (1 s after a 5xx, as a 429 asks) inside the connector process, so rows run in parallel.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from integration_tests.e2e_fixtures import SEED, SIZE, Read, describe, final_statuses, read
from integration_tests.expected import ALL_STREAMS, INCREMENTAL_STREAMS, SUBSTREAMS, key_sets
from integration_tests.harness import SIM_TOKEN, configured_catalog
from integration_tests.simulator.server import FAULT_KINDS

_spec = importlib.util.spec_from_file_location("fault_matrix", Path(__file__).resolve().parents[1] / "scripts" / "fault_matrix.py")
fault_matrix = sys.modules.setdefault("fault_matrix", importlib.util.module_from_spec(_spec))
if not hasattr(fault_matrix, "run_row"):
    _spec.loader.exec_module(fault_matrix)

KINDS = fault_matrix.ORDER
WORKERS = len(KINDS)  # all rows at once: each mostly waits out its retries


@pytest.fixture(scope="module")
def rows(catalog_streams) -> Dict[str, "fault_matrix.Row"]:
    results = fault_matrix.run_matrix(KINDS, catalog_streams, workers=WORKERS, seed=SEED, size=SIZE)
    print("\n" + fault_matrix.format_table(results))
    return {row.fault: row for row in results}


def test_the_matrix_covers_every_fault_kind_the_simulator_can_inject():
    assert sorted(KINDS) == sorted(FAULT_KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_the_fault_was_really_injected(kind, rows):
    assert rows[kind].injected > 0, f"no request answered with {kind}: the row would prove nothing"
    assert rows[kind].injected < rows[kind].requests * 0.25  # a share of the requests, as configured (~8%)


@pytest.mark.parametrize("kind", KINDS)
def test_a_sync_under_the_fault_exits_0_with_every_stream_complete(kind, rows):
    row = rows[kind]
    assert (row.exit_code, row.errors, row.not_complete) == (0, [], [])


@pytest.mark.parametrize("kind", KINDS)
def test_a_sync_under_the_fault_emits_the_primary_keys_of_a_fault_free_read(kind, rows, clean_keys, clean_read: Read):
    assert clean_read.run.returncode == 0, describe(clean_read.run)
    row = rows[kind]
    differing = {stream: (len(clean_keys[stream] - row.keys[stream]), len(row.keys[stream] - clean_keys[stream]))
                 for stream in ALL_STREAMS if row.keys[stream] != clean_keys[stream]}
    assert differing == {}, "(missing, unexpected) per stream"
    assert row.mismatched == {}  # and both equal what the simulator holds
    assert row.emitted == row.expected == sum(len(keys) for keys in clean_keys.values())


@pytest.mark.parametrize("kind", KINDS)
def test_a_sync_under_the_fault_emits_each_record_once(kind, rows):
    assert rows[kind].duplicates == 0


@pytest.mark.parametrize("kind", KINDS)
def test_a_sync_under_the_fault_never_writes_the_token(kind, rows):
    assert rows[kind].token_occurrences == 0


# -------------------------------------------------------------------------------------------- interrupted sync
# target stream -> the endpoint its requests go to (to check that the resumed read did not start over)
INTERRUPT_TARGETS = {
    "audit_events": r"^/audit-events$",
    "usage_mtu_per_source_daily": r"^/usage/mtu/sources/daily$",
    "event_volume_daily": r"^/events/volume$",
    "tracking_plan_rules": r"^/tracking-plans/[^/]+/rules$",
    "delivery_overview": r"^/delivery-overview/",  # issue 13: the cursor moves window by window
}


def _kill_point(run, target: str) -> int:
    """The number of records after which to kill the read: the middle one of the `target` records that follow a
    checkpoint of `target` carrying progress, so the killed read leaves a real STATE to resume from and unfinished
    work after it (past the first checkpoint: a usage month is re-read for revisions, so resuming right after the
    first month would legitimately read every month again)."""
    seen_records, checkpointed, candidates = 0, False, []
    for message in run.messages:
        if message.get("type") == "STATE" and message["state"]["stream"]["stream_descriptor"]["name"] == target:
            checkpointed = any(value is not None for value in message["state"]["stream"]["stream_state"].values())
        elif message.get("type") == "RECORD":
            seen_records += 1
            if checkpointed and message["record"]["stream"] == target:
                candidates.append(seen_records)
    assert candidates, f"no {target} record follows a checkpoint of {target} in the clean read"
    return candidates[len(candidates) // 2]


def _state_of(states: List[dict], stream: str) -> dict:
    return next(s["stream"]["stream_state"] for s in states if s["stream"]["stream_descriptor"]["name"] == stream)


@pytest.mark.parametrize("target", sorted(INTERRUPT_TARGETS))
def test_a_sync_killed_mid_stream_and_resumed_from_its_last_state_has_no_gap(target, clean_sim, clean_read: Read, clean_keys, catalog_streams, stream_pks):
    catalog = configured_catalog(catalog_streams)
    kill_after = _kill_point(clean_read.run, target)

    killed = read(clean_sim, catalog, kill_after_records=kill_after)
    assert killed.run.returncode != 0  # really killed, not finished
    assert killed.run.of_type("RECORD")[-1]["record"]["stream"] == target  # ... in the middle of the target
    states = killed.run.last_states()
    assert any(value is not None for value in _state_of(states, target).values())

    resumed = read(clean_sim, catalog, states)
    assert resumed.run.returncode == 0, describe(resumed.run)
    assert final_statuses(resumed.run, list(ALL_STREAMS)) == {stream: "COMPLETE" for stream in ALL_STREAMS}
    assert SIM_TOKEN not in killed.run.stdout + killed.run.stderr + resumed.run.stdout + resumed.run.stderr

    first, second = key_sets(killed.run.records_by_stream(), stream_pks), key_sets(resumed.run.records_by_stream(), stream_pks)
    gaps = {stream: len(clean_keys[stream] - (first[stream] | second[stream])) for stream in INCREMENTAL_STREAMS + SUBSTREAMS}
    assert gaps == {stream: 0 for stream in INCREMENTAL_STREAMS + SUBSTREAMS}
    extra = {stream: len((first[stream] | second[stream]) - clean_keys[stream]) for stream in ALL_STREAMS}
    assert extra == {stream: 0 for stream in ALL_STREAMS}

    # the resumed read continued from the checkpoint instead of reading the target from the start again
    endpoint = re.compile(INTERRUPT_TARGETS[target])
    clean_calls = sum(1 for r in clean_read.requests if endpoint.match(r.path))
    resumed_calls = sum(1 for r in resumed.requests if endpoint.match(r.path))
    assert 0 < resumed_calls < clean_calls
