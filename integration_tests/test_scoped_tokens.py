"""End-to-end (issue 14): a token whose role cannot read some resources, and features switched off with the
404/422 "... not enabled" answers alpha/beta endpoints may give. The installed `source-segment` command reads
every stream from the simulator; what the token may read must arrive exactly, the rest is skipped with one
warning per stream naming what it needs, each skipped stream ends INCOMPLETE, and the sync exits 0."""

from __future__ import annotations

from typing import Dict, List

import pytest

from integration_tests.e2e_fixtures import SEED, SIZE, config_for, describe, final_statuses, read, start_date_for
from integration_tests.expected import ALL_STREAMS, GATED_BY, expected_keys, key_sets
from integration_tests.harness import SIM_TOKEN, configured_catalog
from integration_tests.simulator import Simulator

NARROW_TOKEN = "sim-narrow-role-token-5e1d9c3b7a"
# stream -> words its skip warning must hold: the feature or area the token's role lacks
DENIED = {
    "audit_events": "Audit Trail",
    "tracking_plans": "Protocols",
    "transformations": "Protocols",
    "tracking_plan_rules": "Protocols",  # its parent is denied: skipped with it
    "tracking_plan_sources": "Protocols",
    "functions": "Functions",
    "function_versions": "Functions",
    "spaces": "Spaces",
    "audiences": "Spaces",
    "computed_traits": "Spaces",
    "regulations": "Privacy",
    "source_regulations": "Privacy",
}


def _skip_warnings(logs: List[str]) -> Dict[str, List[str]]:
    found: Dict[str, List[str]] = {}
    for line in logs:
        if line.startswith("Skipping stream `"):
            found.setdefault(line.split("`")[1], []).append(line)
    return found


@pytest.fixture(scope="module")
def narrow(catalog_streams):
    with Simulator(token=SIM_TOKEN, narrow_token=NARROW_TOKEN, seed=SEED, size=SIZE, awkward=True) as sim:
        yield sim, read(sim, configured_catalog(catalog_streams), config=config_for(sim, api_token=NARROW_TOKEN))


def test_a_narrow_role_token_syncs_with_exit_0_and_no_error(narrow):
    _, result = narrow
    assert result.run.returncode == 0, describe(result.run)
    assert result.run.errors() == []


def test_a_narrow_role_token_reads_every_permitted_stream_exactly(narrow, stream_pks):
    sim, result = narrow
    expected = expected_keys(sim.workspace, start_date_for(sim))
    emitted = key_sets(result.run.records_by_stream(), stream_pks)
    permitted = [stream for stream in ALL_STREAMS if stream not in DENIED]
    assert {s: emitted.get(s, set()) for s in permitted} == {s: expected[s] for s in permitted}
    assert all(expected[s] for s in ("sources", "users", "destinations", "usage_mtu_workspace_daily")), "the test must mean something"


def test_each_denied_stream_is_warned_once_with_what_it_needs_and_emits_nothing(narrow):
    _, result = narrow
    skips = _skip_warnings(result.run.logs("WARN"))
    assert sorted(skips) == sorted(DENIED)
    for stream, words in DENIED.items():
        (warning,) = skips[stream]
        assert words in warning and "Access Management > Tokens" in warning, warning
    by_stream = result.run.records_by_stream()
    assert {s: len(by_stream.get(s, [])) for s in DENIED} == {s: 0 for s in DENIED}


def test_denied_streams_end_incomplete_and_the_rest_complete(narrow):
    _, result = narrow
    statuses = final_statuses(result.run, list(ALL_STREAMS))
    assert statuses == {s: ("INCOMPLETE" if s in DENIED else "COMPLETE") for s in ALL_STREAMS}


def test_the_token_was_checked_against_get_root_once_and_the_401s_were_real(narrow):
    _, result = narrow
    assert sum(1 for r in result.requests if r.path == "/" and r.status == 200) <= 2  # the workspace stream, and one check
    assert any(r.status == 401 for r in result.requests)
    assert NARROW_TOKEN not in result.run.stdout + result.run.stderr


def test_a_token_the_simulator_does_not_know_fails_the_read_as_a_token_error(catalog_streams):
    with Simulator(token=SIM_TOKEN, narrow_token=NARROW_TOKEN, seed=SEED, size=SIZE) as sim:
        result = read(sim, configured_catalog(catalog_streams, only=["audit_events", "roles"]), config=config_for(sim, api_token="sim-wrong-token"))
    assert result.run.returncode != 0
    assert any("invalid, expired" in e["message"] and "`api_token`" in e["message"] for e in result.run.errors())
    assert _skip_warnings(result.run.logs("WARN")) == {}


# ------------------------------------------------------------------------------------------ "not enabled" answers
GATED_FEATURES = {"protocols", "spaces", "reverse_etl"}
NOT_ENABLED = sorted(stream for stream, feature in GATED_BY.items() if feature in GATED_FEATURES)


@pytest.mark.parametrize("status", [404, 422])
def test_features_answering_not_enabled_are_skipped_like_403(catalog_streams, stream_pks, status):
    with Simulator(token=SIM_TOKEN, seed=SEED, size=SIZE, disabled_features=GATED_FEATURES, feature_gate_status=status) as sim:
        result = read(sim, configured_catalog(catalog_streams))
        expected = expected_keys(sim.workspace, start_date_for(sim), disabled_features=GATED_FEATURES)
    assert result.run.returncode == 0, describe(result.run)
    assert result.run.errors() == []
    assert any(r.status == status for r in result.requests)
    skips = _skip_warnings(result.run.logs("WARN"))
    assert sorted(skips) == NOT_ENABLED
    assert all(len(lines) == 1 for lines in skips.values()), skips
    emitted = key_sets(result.run.records_by_stream(), stream_pks)
    others = [s for s in ALL_STREAMS if s not in NOT_ENABLED]
    assert {s: emitted.get(s, set()) for s in others} == {s: expected[s] for s in others}
    statuses = final_statuses(result.run, list(ALL_STREAMS))
    assert statuses == {s: ("INCOMPLETE" if s in NOT_ENABLED else "COMPLETE") for s in ALL_STREAMS}
