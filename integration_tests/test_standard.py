"""Airbyte's standard connector tests (the CDK's successor of the Connector Acceptance Tests).

Scenarios come from `acceptance-test-config.yml` at the repository root; the root `conftest.py` loads the
CDK's pytest hooks and starts the simulator the `integration_tests/*.json` configs point at. The
`test_docker_image_*` tests need a container engine and are deselected by `./scripts/test.sh`
(`-k "not docker_image"`); `scripts/image_test.sh` covers the image instead.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import yaml
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

from source_segment.source import SourceSegment

ROOT = Path(__file__).resolve().parent.parent


class TestSourceSegmentStandard(SourceTestSuiteBase):
    # Named explicitly: the suite would otherwise derive module and class from the checkout's directory
    # name, which is only `source-segment` in a conventional clone.
    connector = SourceSegment

    @classmethod
    def get_connector_root_dir(cls) -> Path:
        return ROOT


def _pyproject_version() -> str:
    match = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert match, "pyproject.toml has no version"
    return match.group(1)


def test_image_tag_label_and_package_version_agree():
    metadata = yaml.safe_load((ROOT / "metadata.yaml").read_text())["data"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    version = _pyproject_version()
    assert metadata["dockerImageTag"] == version
    assert f'io.airbyte.version="{version}"' in dockerfile
    assert f'io.airbyte.name="{metadata["dockerRepository"]}"' in dockerfile


def test_dockerfile_default_base_image_is_the_one_metadata_declares():
    base_image = yaml.safe_load((ROOT / "metadata.yaml").read_text())["data"]["connectorBuildOptions"]["baseImage"]
    assert f"ARG BASE_IMAGE={base_image}\n" in (ROOT / "Dockerfile").read_text()


def test_configured_catalogs_cover_every_discovered_stream_in_a_mode_it_supports():
    config = json.loads((ROOT / "integration_tests" / "sample_config.json").read_text())
    discovered = {stream.name: stream for stream in SourceSegment().discover(logging.getLogger("airbyte"), config).streams}
    for catalog_path in ("integration_tests/configured_catalog.json", "sample_files/configured_catalog.json"):
        configured = json.loads((ROOT / catalog_path).read_text())["streams"]
        assert sorted(c["stream"]["name"] for c in configured) == sorted(discovered), catalog_path
        for entry in configured:
            stream = discovered[entry["stream"]["name"]]
            assert entry["sync_mode"] in {mode.value for mode in stream.supported_sync_modes}, (catalog_path, stream.name)
            if entry["sync_mode"] == "incremental":
                assert entry["cursor_field"] == stream.default_cursor_field, (catalog_path, stream.name)
