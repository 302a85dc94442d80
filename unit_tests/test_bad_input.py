"""Bad catalogs and state files: a clear message or a safe fallback, never a stack trace."""

import pytest
from airbyte_cdk.models import AirbyteStreamStatus, FailureType, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import read
from airbyte_cdk.test.mock_http import HttpMocker
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_segment import SourceSegment
from unit_tests.builders import config, list_request, page, records, run_read, warnings

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
