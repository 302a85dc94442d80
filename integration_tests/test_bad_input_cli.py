"""The installed `source-segment` command with inputs real users have (issue 14): check, discover and read agree
on a config, with one message naming the field and the fix; unreadable files are named; no traceback on stdout
or stderr. (unit_tests/test_bad_input.py runs the whole table in process; these few run the command's entry point,
forked like every end-to-end command, and the unreadable-file cases start the installed console script itself.)"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import List, Optional

import pytest

from integration_tests.harness import SIM_TOKEN, connector_command, run_args
from integration_tests.simulator import Simulator

CATALOG = {"streams": [{"stream": {"name": "roles", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                        "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]}


def _run(command: str, config: bytes, catalog: Optional[bytes] = None) -> tuple:
    with tempfile.TemporaryDirectory() as tmp:
        args = connector_command() + [command, "--config", str(Path(tmp) / "config.json")]
        (Path(tmp) / "config.json").write_bytes(config)
        if command == "read":
            (Path(tmp) / "catalog.json").write_bytes(catalog if catalog is not None else json.dumps(CATALOG).encode())
            args += ["--catalog", str(Path(tmp) / "catalog.json")]
        code, stdout, stderr = run_args(args)
    out, err = stdout.decode("utf-8"), stderr.decode("utf-8", "replace")
    assert "Traceback" not in out + err
    messages: List[dict] = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return code, messages, out + err


def _told(messages: List[dict]) -> str:
    for m in messages:
        if m["type"] == "CONNECTION_STATUS":
            return m["connectionStatus"]["message"]
    (error,) = [m["trace"]["error"] for m in messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]
    return error["message"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "overrides,field",
    [({"api_token": SIM_TOKEN[:8] + "\u200b" + SIM_TOKEN[8:]}, "api_token"), ({"num_workers": 0}, "num_workers")],
    ids=["zero-width-space-in-token", "zero-workers"],
)
def test_check_discover_and_read_give_the_same_message_for_a_bad_config(overrides, field):
    config = json.dumps({"api_token": SIM_TOKEN, "start_date": "2024-01-01", **overrides}).encode()
    told = {}
    for command in ("check", "discover", "read"):
        code, messages, text = _run(command, config)
        assert code == (0 if command == "check" else 1), text[-2000:]
        told[command] = _told(messages)
        assert SIM_TOKEN[8:] not in text
    assert told["check"].startswith(f"Invalid configuration: `{field}`")
    assert told["discover"] == told["check"] == told["read"]


@pytest.mark.slow
def test_legacy_region_string_numbers_and_a_bom_pass_check_and_read_against_the_simulator():
    with Simulator(token=SIM_TOKEN) as sim:
        config = {"api_token": SIM_TOKEN, "start_date": "2024-01-01", "base_url": sim.url, "region": "eu1", "page_size": "50"}
        raw = b"\xef\xbb\xbf" + json.dumps(config).encode()
        code, messages, text = _run("check", raw)
        assert [m["connectionStatus"]["status"] for m in messages if m["type"] == "CONNECTION_STATUS"] == ["SUCCEEDED"], text[-2000:]
        code, messages, text = _run("read", raw, b"\xef\xbb\xbf" + json.dumps(CATALOG).encode())
    assert code == 0, text[-2000:]
    assert [m["record"]["data"]["id"] for m in messages if m["type"] == "RECORD"] == [r["id"] for r in sim.workspace.roles]


@pytest.mark.slow
@pytest.mark.parametrize("content,problem", [(b"", "is empty"), (b"[]", "holds a JSON array")], ids=["empty", "array"])
def test_an_unreadable_config_file_is_named_without_a_traceback(content, problem, real_console_script):
    code, messages, _ = _run("check", content)
    assert code == 1
    message = _told(messages)
    assert message.startswith("The config file ") and problem in message
