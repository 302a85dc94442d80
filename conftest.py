"""Root conftest: the Airbyte standard tests (CDK `SourceTestSuiteBase`) and the simulator they read from.

The standard tests take their configs from `acceptance-test-config.yml`. The configs under
`integration_tests/` point at a Segment API simulator on the fixed address below, which this file
starts once per session, only when a standard test runs (so `airbyte-cdk connector test` and
`integration_tests/test_standard.py` both get it, and unit tests do not pay for it). If another process
holds that port, the simulator takes a free one and this run's scenarios are pointed at it.
Scenarios whose config lives under `secrets/` need a real token: they are skipped when the file is absent.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]

ROOT = Path(__file__).resolve().parent
STANDARD_TESTS_CONFIG = ROOT / "integration_tests" / "sample_config.json"
SIMULATOR_HOST, SIMULATOR_PORT = "127.0.0.1", 18765
FIXED_BASE_URL = f"http://{SIMULATOR_HOST}:{SIMULATOR_PORT}"  # `base_url` of integration_tests/*.json
SECRETS_CONFIG = ROOT / "secrets" / "config.json"


def _is_standard_test(item: pytest.Item) -> bool:
    from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

    cls = getattr(item, "cls", None)
    return cls is not None and issubclass(cls, SourceTestSuiteBase)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SECRETS_CONFIG.exists():
        return
    skip = pytest.mark.skip(reason=f"needs a real Segment token in {SECRETS_CONFIG.relative_to(ROOT)} (git-ignored)")
    for item in items:
        if item.get_closest_marker("requires_creds") is not None:
            item.add_marker(skip)


def _start_simulator(token: str, port: int):
    from integration_tests.simulator import Simulator

    simulator = Simulator(token=token, seed=1, size="tiny", host=SIMULATOR_HOST, port=port)
    simulator.start()
    return simulator


@pytest.fixture(scope="session")
def standard_tests_simulator():
    """The simulator the `integration_tests/*.json` standard-test configs point at (tiny workspace, seed 1).

    It listens on the configs' fixed port when that port is free. When it is not (another test run or a
    simulator started by hand holds it), it listens on any free port, and the standard-test scenarios of
    this run get their config with `base_url` rewritten to it (see `_simulator_for_standard_tests`).
    """
    token = json.loads(STANDARD_TESTS_CONFIG.read_text())["api_token"]
    try:
        simulator = _start_simulator(token, SIMULATOR_PORT)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        simulator = _start_simulator(token, 0)
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture(autouse=True)
def _simulator_for_standard_tests(request: pytest.FixtureRequest) -> None:
    if not _is_standard_test(request.node):
        return
    simulator = request.getfixturevalue("standard_tests_simulator")
    if simulator.port == SIMULATOR_PORT:
        return
    # Autouse fixtures are set up before the test's `scenario` parameter is resolved, so replacing the
    # parameter here hands the test a scenario whose config points at the fallback port.
    callspec = getattr(request.node, "callspec", None)
    scenario = callspec.params.get("scenario") if callspec else None
    if scenario is None or scenario.config_path is None or scenario.requires_creds:
        return
    config = scenario.get_config_dict(connector_root=ROOT, empty_if_missing=True)
    if config.get("base_url") == FIXED_BASE_URL:
        callspec.params["scenario"] = scenario.model_copy(update={"config_dict": {**config, "base_url": simulator.url}})
