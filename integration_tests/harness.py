"""Runs the installed `source-segment` command the way Airbyte does (a subprocess speaking the protocol on
stdout), for the demo, the end-to-end tests and the benchmark."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional

SIM_TOKEN = "sim-token-e2e-4b9f0c2d7a1e8f3b6c5d"

# Set by the test session (integration_tests/conftest.py): commands are forked from a process that imported the
# connector once (integration_tests/forkserver.py). None: each command starts the console script.
_fork_server = None


def use_fork_server(server) -> None:
    global _fork_server
    _fork_server = server


def connector_command() -> List[str]:
    """The installed console script next to this Python (the venv's), else the one on PATH."""
    candidate = Path(sys.executable).with_name("source-segment")
    if candidate.exists():
        return [str(candidate)]
    found = shutil.which("source-segment")
    if not found:
        raise RuntimeError("source-segment is not installed: run `pip install -e .` first")
    return [found]


@dataclass
class Run:
    returncode: int
    messages: List[dict]
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mb: float = 0.0
    cpu_seconds: float = 0.0

    def of_type(self, kind: str) -> List[dict]:
        return [m for m in self.messages if m.get("type") == kind]

    def records(self, stream: Optional[str] = None) -> List[dict]:
        return [m["record"]["data"] for m in self.of_type("RECORD") if stream is None or m["record"]["stream"] == stream]

    def records_by_stream(self) -> Dict[str, List[dict]]:
        out: Dict[str, List[dict]] = {}
        for m in self.of_type("RECORD"):
            out.setdefault(m["record"]["stream"], []).append(m["record"]["data"])
        return out

    def statuses(self, stream: str) -> List[str]:
        return [
            m["trace"]["stream_status"]["status"]
            for m in self.of_type("TRACE")
            if m["trace"].get("type") == "STREAM_STATUS" and m["trace"]["stream_status"]["stream_descriptor"]["name"] == stream
        ]

    def logs(self, level: Optional[str] = None) -> List[str]:
        return [m["log"]["message"] for m in self.of_type("LOG") if level is None or m["log"]["level"] == level]

    def errors(self) -> List[dict]:
        return [m["trace"]["error"] for m in self.of_type("TRACE") if m["trace"].get("type") == "ERROR"]

    def last_states(self) -> List[dict]:
        """The last STATE per stream, as a list of state messages ready to pass to the next read."""
        latest: Dict[str, dict] = {}
        for m in self.of_type("STATE"):
            if m["state"].get("type") == "STREAM":
                latest[m["state"]["stream"]["stream_descriptor"]["name"]] = m["state"]
        return list(latest.values())


def _start(args: List[str], retry_wait_scale: float = 1.0):
    """A `Popen` (or its forked stand-in) of a whole command line (`connector_command() + [...]`), stdout and
    stderr piped: forked from the fork server when the test session has one, else the installed console script."""
    if _fork_server is not None:
        return _fork_server.popen(args, os.environ, retry_wait_scale)
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))


def run_args(args: List[str], timeout: float = 300) -> tuple:
    """Runs a whole command line to its end: (exit code, stdout bytes, stderr bytes)."""
    process = _start(args)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return process.returncode, out, err


def run_connector(
    command: str,
    config: Mapping[str, Any],
    catalog: Optional[Mapping[str, Any]] = None,
    state: Optional[List[dict]] = None,
    on_message: Optional[Callable[[dict], None]] = None,
    timeout: float = 600,
    kill_after_records: Optional[int] = None,
    retry_wait_scale: float = 1.0,
) -> Run:
    """Runs `source-segment <command>`; with `kill_after_records` the process is killed mid-read (SIGKILL).
    `retry_wait_scale` shortens the waits between retries, when commands are forked (see use_fork_server)."""
    with tempfile.TemporaryDirectory() as tmp:
        args = connector_command() + [command]
        if command != "spec":
            (Path(tmp) / "config.json").write_text(json.dumps(config))
            args += ["--config", str(Path(tmp) / "config.json")]
        if catalog is not None:
            (Path(tmp) / "catalog.json").write_text(json.dumps(catalog))
            args += ["--catalog", str(Path(tmp) / "catalog.json")]
        if state is not None:
            (Path(tmp) / "state.json").write_text(json.dumps(state))
            args += ["--state", str(Path(tmp) / "state.json")]
        started = time.monotonic()
        # Bytes, not text: a SIGKILL can cut the last line inside a multi-byte character. Only whole lines
        # (ending in a newline) are decoded; a cut tail is dropped, as a destination would drop it.
        process = _start(args, retry_wait_scale)
        usage = _ProcessUsage(process.pid)
        messages, lines, records = [], [], 0
        assert process.stdout is not None
        for raw in process.stdout:
            if not raw.endswith(b"\n"):
                break
            line = raw.decode("utf-8")
            lines.append(line)
            try:
                message = json.loads(line)
            except ValueError:
                continue
            messages.append(message)
            if on_message:
                on_message(message)
            if message.get("type") == "RECORD":
                records += 1
                if kill_after_records is not None and records >= kill_after_records:
                    process.kill()
                    break
        try:
            _, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
        usage.stop()
        return Run(process.returncode, messages, "".join(lines), (stderr or b"").decode("utf-8", "replace"), time.monotonic() - started, usage.peak_rss_mb, usage.cpu_seconds)


class _ProcessUsage:
    """Samples a child's peak RSS (VmHWM) and CPU time from /proc while it runs (Linux; zeros elsewhere)."""

    def __init__(self, pid: int):
        self.pid, self.peak_rss_mb, self.cpu_seconds = pid, 0.0, 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        while not self._done.is_set():
            try:
                with open(f"/proc/{self.pid}/status") as status:
                    for line in status:
                        if line.startswith("VmHWM:"):
                            self.peak_rss_mb = max(self.peak_rss_mb, int(line.split()[1]) / 1024)
                with open(f"/proc/{self.pid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                    self.cpu_seconds = (int(fields[11]) + int(fields[12])) / ticks
            except (OSError, ValueError, IndexError):
                pass
            self._done.wait(0.05)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def discovered_streams(config: Mapping[str, Any]) -> List[dict]:
    run = run_connector("discover", config)
    catalogs = run.of_type("CATALOG")
    if not catalogs:
        raise RuntimeError(f"discover emitted no catalog: {run.stdout[-2000:]}{run.stderr[-2000:]}")
    return catalogs[0]["catalog"]["streams"]


def configured_catalog(streams: Iterable[dict], incremental: bool = True, only: Optional[Iterable[str]] = None) -> dict:
    """Every stream (or `only` those), incremental where the stream supports it when `incremental` is set."""
    wanted = set(only) if only is not None else None
    configured = []
    for stream in streams:
        if wanted is not None and stream["name"] not in wanted:
            continue
        use_incremental = incremental and "incremental" in stream["supported_sync_modes"]
        configured.append(
            {
                "stream": stream,
                "sync_mode": "incremental" if use_incremental else "full_refresh",
                "destination_sync_mode": "append_dedup" if use_incremental else "overwrite",
                "cursor_field": stream.get("default_cursor_field", []) if use_incremental else [],
                "primary_key": stream.get("source_defined_primary_key", []),
            }
        )
    return {"streams": configured}


def primary_key_of(record: Mapping[str, Any], key: List[List[str]]) -> tuple:
    return tuple(record.get(path[0]) for path in key)
