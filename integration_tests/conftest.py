import pytest

from integration_tests import harness
from integration_tests.forkserver import ForkServer

# Fixtures live in their own modules so this file stays a list of imports other suites can extend.
from integration_tests.e2e_fixtures import catalog_streams, clean_expected, clean_keys, clean_read, clean_sim, stream_pks  # noqa: F401,E402


@pytest.fixture(scope="session", autouse=True)
def _connector_fork_server():
    """Every `source-segment` command of the session is forked from one process that imported the connector
    (saves ~2.7 s of CPU per command); `real_console_script` tests start the installed script instead."""
    server = ForkServer()
    harness.use_fork_server(server)
    yield server
    harness.use_fork_server(None)
    server.stop()


@pytest.fixture
def real_console_script(_connector_fork_server):
    """For a test about the installed command itself: no fork server while it runs."""
    harness.use_fork_server(None)
    yield
    harness.use_fork_server(_connector_fork_server)
