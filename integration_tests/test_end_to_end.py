"""End-to-end: the installed `source-segment` command against the simulator, compared record by record with
what the simulator holds (integration_tests/expected.py)."""

from __future__ import annotations

import datetime as dt
import re
from typing import List

import jsonschema
import pytest

from integration_tests.e2e_fixtures import SEED, SIZE, Read, config_for, describe, final_statuses, read, start_date_for
from integration_tests.expected import (
    ALL_STREAMS,
    GATED_BY,
    INCREMENTAL_STREAMS,
    SUBSTREAMS,
    USAGE_STREAMS,
    VERBATIM_STREAMS,
    as_emitted,
    audit_events,
    duplicates,
    event_volume_rows,
    expected_keys,
    key_sets,
    parse_ts,
    primary_key_of,
    raw_items,
    secret_values,
    usage_periods,
    usage_rows,
)
from integration_tests.harness import SIM_TOKEN, configured_catalog
from integration_tests.simulator import Simulator

REDACTED = re.compile(r"^redacted:sha256:[0-9a-f]{12}$")


# ----------------------------------------------------------------------------------------------- full read
def test_discovered_catalog_lists_exactly_the_streams_the_expectations_cover(catalog_streams):
    assert sorted(s["name"] for s in catalog_streams) == sorted(ALL_STREAMS)


def test_full_read_of_every_stream_exits_0_without_error_traces(clean_read: Read):
    assert clean_read.run.returncode == 0, describe(clean_read.run)
    assert clean_read.run.errors() == []


def test_every_configured_stream_ends_with_a_complete_status(clean_read: Read):
    statuses = final_statuses(clean_read.run, list(ALL_STREAMS))
    assert statuses == {stream: "COMPLETE" for stream in ALL_STREAMS}


@pytest.mark.parametrize("stream", ALL_STREAMS)
def test_full_read_emits_exactly_the_primary_keys_the_simulator_holds(stream, clean_keys, clean_expected):
    assert clean_expected[stream], f"the tiny workspace must hold {stream} data for this test to mean anything"
    emitted, expected = clean_keys[stream], clean_expected[stream]
    assert emitted == expected, f"missing {sorted(expected - emitted)[:5]}, unexpected {sorted(emitted - expected)[:5]}"


@pytest.mark.parametrize("stream", ALL_STREAMS)
def test_full_read_emits_each_record_once(stream, clean_read: Read, stream_pks):
    records = clean_read.run.records(stream)
    assert duplicates({stream: records}, stream_pks) == {}


@pytest.mark.parametrize("stream", ALL_STREAMS)
def test_every_record_validates_against_the_discovered_json_schema(stream, clean_read: Read, catalog_streams):
    schema = next(s["json_schema"] for s in catalog_streams if s["name"] == stream)
    validator = jsonschema.Draft7Validator(schema)
    records = clean_read.run.records(stream)
    assert records
    problems = [f"{list(e.absolute_path)}: {e.message}" for record in records for e in validator.iter_errors(record)]
    assert problems == []


def test_the_token_never_appears_in_stdout_or_stderr(clean_read: Read):
    assert len(SIM_TOKEN) >= 32  # long and distinctive: a partial mask would still leave a match
    assert SIM_TOKEN not in clean_read.run.stdout
    assert SIM_TOKEN not in clean_read.run.stderr


def test_every_request_carried_the_token_only_as_a_bearer_header(clean_read: Read):
    assert clean_read.requests
    assert {r.headers.get("Authorization") for r in clean_read.requests} == {f"Bearer {SIM_TOKEN}"}
    assert not any(SIM_TOKEN in str(r.query) or SIM_TOKEN in r.path for r in clean_read.requests)


def test_write_keys_and_secret_settings_never_appear_in_the_output(clean_read: Read, clean_sim):
    secrets = secret_values(clean_sim.workspace)
    assert len(secrets) > 5
    leaked = sorted(s for s in secrets if s in clean_read.run.stdout or s in clean_read.run.stderr)
    assert leaked == []


def test_write_keys_are_replaced_by_stable_redaction_markers(clean_read: Read, clean_sim):
    by_id = {s["id"]: s for s in clean_sim.workspace.sources}
    checked = 0
    for record in clean_read.run.records("sources"):
        original = by_id[record["id"]].get("writeKeys") or []
        assert len(record["writeKeys"]) == len(original)
        assert all(REDACTED.match(marker) for marker in record["writeKeys"])
        checked += len(original)
    assert checked > 0


@pytest.mark.parametrize("stream", ["sources", "destinations", "warehouses"])
def test_redacted_entities_keep_every_non_credential_field_as_sent(stream, clean_read: Read, clean_sim):
    originals = {item["id"]: item for item in getattr(clean_sim.workspace, stream)}
    records = clean_read.run.records(stream)
    assert records
    for record in records:
        original = originals[record["id"]]
        strip = ("writeKeys", "settings")
        assert {k: v for k, v in record.items() if k not in strip} == {k: v for k, v in as_emitted(original).items() if k not in strip}
        assert ("settings" in record) == ("settings" in original)


@pytest.mark.parametrize("stream", VERBATIM_STREAMS)
def test_records_are_emitted_exactly_as_the_api_returns_them(stream, clean_read: Read, clean_sim, stream_pks):
    items = raw_items(clean_sim.workspace, start_date_for(clean_sim))[stream]
    records = clean_read.run.records(stream)
    assert records
    for record in records:
        assert record == as_emitted(items[primary_key_of(record, stream_pks[stream])])


def test_nested_objects_stay_nested_in_records(clean_read: Read, clean_sim):
    """`metadata.logos` of a source is an object inside an object in the API; the record keeps it so."""
    catalog = {c["id"]: c for c in clean_sim.workspace.catalog_sources}
    records = clean_read.run.records("sources")
    assert records
    for record in records:
        assert isinstance(record["metadata"], dict)
        assert record["metadata"]["logos"] == catalog[record["metadata"]["id"]]["logos"]
        assert "metadata.logos" not in record and "metadata_logos" not in record


@pytest.mark.parametrize("stream", sorted(USAGE_STREAMS))
def test_usage_counts_are_integers_equal_to_the_api_bigint_strings(stream, clean_read: Read, clean_sim, stream_pks):
    _, per_source, count_fields = USAGE_STREAMS[stream]
    rows = usage_rows(clean_sim.workspace, stream, start_date_for(clean_sim))
    by_key = {((row["sourceId"], row["timestamp"]) if per_source else (row["timestamp"],)): row for row in rows}
    records = clean_read.run.records(stream)
    assert records
    assert any(int(by_key[primary_key_of(r, stream_pks[stream])][count_fields[0]]) > 0 for r in records)
    for record in records:
        row = by_key[primary_key_of(record, stream_pks[stream])]
        for field in count_fields:
            assert type(record[field]) is int
            assert record[field] == int(row[field])


def test_event_volume_counts_equal_the_simulator_daily_counts(clean_read: Read, clean_sim):
    rows = event_volume_rows(clean_sim.workspace, start_date_for(clean_sim))
    records = clean_read.run.records("event_volume_daily")
    assert sum(r["count"] for r in records) > 0
    assert any(r["eventName"] == "" for r in records) and any(r["sourceId"] == "" for r in records)  # issue 12
    assert {(r["day"], r["sourceId"], r["eventName"], r["eventType"]): r["count"] for r in records} == rows


def test_substream_records_name_their_parent(clean_read: Read, clean_sim):
    ws = clean_sim.workspace
    filters = {f["id"]: d_id for d_id, items in ws.destination_filters.items() for f in items}
    for record in clean_read.run.records("destination_filters"):
        assert record["destinationId"] == filters[record["id"]]
    for record in clean_read.run.records("source_schema_settings"):
        assert record["sourceId"] in ws.source_by_id


def test_audit_events_are_read_from_start_date_on_and_not_before(clean_sim, catalog_streams):
    start = clean_sim.today - dt.timedelta(days=30)
    ws = clean_sim.workspace
    wanted = {e["id"] for e in audit_events(ws, start)}
    older = {e["id"] for e in ws.audit_events} - wanted
    assert wanted and older, "the workspace must hold audit events on both sides of start_date"
    result = read(clean_sim, configured_catalog(catalog_streams, only=["audit_events"]), config=config_for(clean_sim, start_date=start.isoformat()))
    assert result.run.returncode == 0, describe(result.run)
    assert {r["id"] for r in result.run.records("audit_events")} == wanted


# ------------------------------------------------------------------------------------------ gated features
GATED_FEATURES = {"audit_trail", "protocols", "spaces"}
GATED_STREAMS = sorted(stream for stream, feature in GATED_BY.items() if feature in GATED_FEATURES)
GATED_TOP_LEVEL = [s for s in GATED_STREAMS if s not in SUBSTREAMS]
GATED_CHILDREN = [s for s in GATED_STREAMS if s in SUBSTREAMS]


@pytest.fixture(scope="module")
def gated(catalog_streams):
    with Simulator(token=SIM_TOKEN, seed=SEED, size=SIZE, awkward=True, disabled_features=GATED_FEATURES) as sim:
        result = read(sim, configured_catalog(catalog_streams))
        yield sim, result


def test_gated_features_leave_the_sync_successful_with_skipped_streams_incomplete(gated):
    _, result = gated
    assert result.run.returncode == 0, describe(result.run)
    assert result.run.errors() == []
    # issue 14: a skipped stream ends INCOMPLETE (visible, and no destination overwrite with nothing)
    expected = {stream: "INCOMPLETE" if stream in GATED_STREAMS else "COMPLETE" for stream in ALL_STREAMS}
    assert final_statuses(result.run, list(ALL_STREAMS)) == expected


def test_streams_of_gated_features_emit_no_records(gated):
    _, result = gated
    assert GATED_STREAMS == sorted(["audit_events", "spaces", "tracking_plan_rules", "tracking_plan_sources", "tracking_plans", "transformations",
                                    "audiences", "computed_traits"])
    by_stream = result.run.records_by_stream()
    assert {stream: len(by_stream.get(stream, [])) for stream in GATED_STREAMS} == {stream: 0 for stream in GATED_STREAMS}


@pytest.mark.parametrize("stream", GATED_TOP_LEVEL)
def test_a_gated_stream_is_skipped_with_a_warning_naming_it(stream, gated):
    _, result = gated
    warnings = [w for w in result.run.logs("WARN") if f"`{stream}`" in w]
    assert warnings, result.run.logs("WARN")
    assert "403" in warnings[0]


@pytest.mark.parametrize("stream", GATED_CHILDREN)
def test_a_child_of_a_gated_parent_is_skipped_with_a_warning_naming_it(stream, gated):
    _, result = gated
    assert [w for w in result.run.logs("WARN") if f"`{stream}`" in w], result.run.logs("WARN")


def test_gated_features_do_not_change_the_other_streams(gated, stream_pks):
    sim, result = gated
    expected = expected_keys(sim.workspace, start_date_for(sim), disabled_features=GATED_FEATURES)
    emitted = key_sets(result.run.records_by_stream(), stream_pks)
    others = [stream for stream in ALL_STREAMS if stream not in GATED_STREAMS]
    assert {s: emitted[s] for s in others} == {s: expected[s] for s in others}


def test_the_token_never_appears_in_the_output_of_a_gated_sync(gated):
    _, result = gated
    assert SIM_TOKEN not in result.run.stdout + result.run.stderr


# ------------------------------------------------------------------------------------------ deleted parents
@pytest.fixture(scope="module")
def deleted(catalog_streams):
    with Simulator(token=SIM_TOKEN, seed=SEED, size=SIZE, awkward=True, deleted_parents=1) as sim:
        result = read(sim, configured_catalog(catalog_streams))
        yield sim, result


def test_child_streams_skip_parents_deleted_mid_sync_and_the_sync_succeeds(deleted, stream_pks):
    sim, result = deleted
    assert result.run.returncode == 0, describe(result.run)
    assert final_statuses(result.run, list(ALL_STREAMS)) == {stream: "COMPLETE" for stream in ALL_STREAMS}
    # the deleted parents are still listed, and their children really answered 404
    listed = {r["id"] for r in result.run.records("sources")}
    assert sim.deleted_ids["sources"] <= listed and sim.deleted_ids["sources"]
    assert any(r.status == 404 for r in result.requests)
    expected = expected_keys(sim.workspace, start_date_for(sim))
    emitted = key_sets(result.run.records_by_stream(), stream_pks)
    assert {s: emitted[s] for s in SUBSTREAMS} == {s: expected[s] for s in SUBSTREAMS}


def test_a_deleted_parent_is_logged_as_skipped(deleted):
    sim, result = deleted
    (source_id,) = sim.deleted_ids["sources"]
    assert any(source_id in line and "404" in line for line in result.run.logs())


# ------------------------------------------------------------------------------ full refresh, then incremental
@pytest.fixture(scope="module")
def refresh_then_incremental(catalog_streams):
    """A full-refresh read of the incremental streams, then an incremental read from its final state."""
    with Simulator(token=SIM_TOKEN, seed=SEED, size=SIZE, awkward=True) as sim:
        first = read(sim, configured_catalog(catalog_streams, incremental=False, only=INCREMENTAL_STREAMS))
        second = read(sim, configured_catalog(catalog_streams, incremental=True, only=INCREMENTAL_STREAMS), first.run.last_states())
        yield sim, first, second


def _requests_for(result: Read, path: str) -> List:
    return [r for r in result.requests if r.path == path and r.status == 200]


def test_both_reads_succeed_and_the_first_leaves_a_cursor_for_every_incremental_stream(refresh_then_incremental):
    _, first, second = refresh_then_incremental
    for result in (first, second):
        assert result.run.returncode == 0, describe(result.run)
        assert final_statuses(result.run, list(INCREMENTAL_STREAMS)) == {s: "COMPLETE" for s in INCREMENTAL_STREAMS}
    states = {s["stream"]["stream_descriptor"]["name"]: s["stream"]["stream_state"] for s in first.run.last_states()}
    assert set(states) == set(INCREMENTAL_STREAMS)
    assert all(states[stream] for stream in INCREMENTAL_STREAMS), states


@pytest.mark.parametrize(
    "path", ["/usage/api-calls/daily", "/usage/api-calls/sources/daily", "/usage/mtu/daily", "/usage/mtu/sources/daily"]
)
def test_incremental_read_rereads_only_the_current_usage_month(path, refresh_then_incremental):
    sim, first, second = refresh_then_incremental
    start = start_date_for(sim)
    first_periods = {r.query["period"][0] for r in _requests_for(first, path)}
    assert first_periods == set(usage_periods(sim.workspace, start))
    # the previous month too while it may still be revised (the first 3 days of a month)
    since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3)).date()
    assert {r.query["period"][0] for r in _requests_for(second, path)} == set(usage_periods(sim.workspace, since))


def test_incremental_read_asks_audit_events_only_since_the_last_cursor(refresh_then_incremental):
    _, first, second = refresh_then_incremental
    assert len(_requests_for(first, "/audit-events")) > 3
    requests = _requests_for(second, "/audit-events")
    assert requests
    earliest_allowed = first.started - dt.timedelta(days=1, seconds=1)  # the cursor stays a lookback (a day) behind
    for request in requests:
        assert parse_ts(request.query["startTime"][0]) >= earliest_allowed, request.query


def test_incremental_read_rereads_only_the_last_complete_event_volume_day(refresh_then_incremental):
    sim, _, second = refresh_then_incremental
    yesterday = (sim.today - dt.timedelta(days=1)).isoformat()
    requests = _requests_for(second, "/events/volume")
    assert [r.query["startTime"][0][:10] for r in requests] == [yesterday]
    days = {r["day"] for r in second.run.records("event_volume_daily")}
    assert days == {yesterday}


@pytest.mark.parametrize("stream", INCREMENTAL_STREAMS)
def test_union_of_full_refresh_and_incremental_reads_equals_the_simulator_data(stream, refresh_then_incremental, stream_pks):
    sim, first, second = refresh_then_incremental
    expected = expected_keys(sim.workspace, start_date_for(sim))[stream]
    keys = {name: key_sets({stream: r.run.records(stream)}, {stream: stream_pks[stream]})[stream] for name, r in (("first", first), ("second", second))}
    assert keys["second"] <= expected
    assert keys["first"] | keys["second"] == expected


def test_incremental_read_emits_far_fewer_records_than_the_full_refresh(refresh_then_incremental):
    _, first, second = refresh_then_incremental
    assert len(second.run.records()) < len(first.run.records()) / 2


def test_expectations_differ_between_workspace_seeds():
    """Guards the comparisons above: expectations come from the workspace, so equal key sets are not vacuous."""
    with Simulator(token=SIM_TOKEN, seed=SEED, size=SIZE, awkward=True) as a, Simulator(token=SIM_TOKEN, seed=SEED + 1, size=SIZE, awkward=True) as b:
        keys_a = expected_keys(a.workspace, start_date_for(a))
        keys_b = expected_keys(b.workspace, start_date_for(b))
        assert all(keys_a[s] != keys_b[s] for s in ("sources", "destinations", "audit_events", "tracking_plan_rules"))
