"""A fork server for the end-to-end tests: one process imports the connector once, then forks a fresh child for
each `source-segment` command a test runs.

Importing the CDK costs ~2.7 s of CPU per process (1 s of it building the protocol serializers), more than a full
read of the tiny test workspace costs (~1.6 s); the suite runs about sixty commands (62 forked in one run). A forked
child is a new process with the real entry point (`source_segment.run:run`), its own stdout/stderr pipes, exit code
and pid (so tests can still SIGKILL it mid-read and sample its memory); only the imports are shared. The benchmark,
the demo and the image test keep starting the real console script (`harness.run_connector` without a server).

Protocol, over a Unix socket, one connection per command: the client sends a JSON request (argv, cwd, env) with
the child's stdout and stderr write ends attached (SCM_RIGHTS); the server forks and answers with the child's
pid; the child answers with its exit code just before it exits. A child killed by a signal sends nothing: the
client then reports -9 (the only signal the harness sends).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, List, Mapping, Optional

KILLED = -signal.SIGKILL


class ForkedProcess:
    """The parts of `subprocess.Popen` the harness uses, for a child of the fork server."""

    def __init__(self, conn: socket.socket, stdout: IO[bytes], stderr: IO[bytes]):
        self._conn, self.stdout, self._stderr = conn, stdout, stderr
        self._reader = conn.makefile("rb")
        self.pid = int(self._reader.readline())
        self.returncode: Optional[int] = None
        # stderr is drained from the start, so a chatty child never blocks on a full pipe while stdout is read
        self._err_chunks: List[bytes] = []
        self._drain_err = threading.Thread(target=lambda: self._err_chunks.append(stderr.read()), daemon=True)
        self._drain_err.start()

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def communicate(self, timeout: Optional[float] = None):
        """As Popen's: (the rest of stdout, stderr) once the child has exited; TimeoutExpired on timeout."""
        out_chunks: List[bytes] = []
        drain_out = threading.Thread(target=lambda: out_chunks.append(self.stdout.read()), daemon=True)
        drain_out.start()
        self._conn.settimeout(timeout)
        try:
            line = self._reader.readline()
        except socket.timeout:
            raise subprocess.TimeoutExpired("source-segment (forked)", timeout) from None
        self.returncode = int(line) if line.strip() else KILLED
        drain_out.join()
        self._drain_err.join()
        self._reader.close()
        self._conn.close()
        self.stdout.close()
        self._stderr.close()
        return b"".join(out_chunks), b"".join(self._err_chunks)


class ForkServer:
    """Starts the server process (imports done before it accepts) and forks commands through it."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="sseg-fork-")
        self.address = str(Path(self._dir.name) / "s")
        root = str(Path(__file__).resolve().parents[1])
        ready_r, ready_w = os.pipe()
        self._process = subprocess.Popen(
            [sys.executable, "-c", "import sys; from integration_tests.forkserver import serve; serve(sys.argv[1], int(sys.argv[2]))",
             self.address, str(ready_w)],
            cwd=root, pass_fds=(ready_w,), env={**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")},
        )
        os.close(ready_w)
        with os.fdopen(ready_r, "rb") as ready:
            if ready.read(1) != b"1":
                self.stop()
                raise RuntimeError("the fork server did not start (see stderr above)")

    def popen(self, args: List[str], env: Mapping[str, str], retry_wait_scale: float = 1.0) -> ForkedProcess:
        """Forks `args` (argv, the first item being the command's name). `retry_wait_scale` shortens the client's
        waits between retries (5xx, timeouts, 429s) in the child, through the client's `sleep` seam; the pacing
        waits stay real, since the simulator's per-minute windows are."""
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(self.address)
            request = json.dumps({"argv": list(args), "cwd": os.getcwd(), "env": dict(env), "retry_wait_scale": retry_wait_scale}).encode()
            socket.send_fds(conn, [request + b"\n"], [out_w, err_w])
        finally:
            os.close(out_w)
            os.close(err_w)
        return ForkedProcess(conn, os.fdopen(out_r, "rb"), os.fdopen(err_r, "rb"))

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            self._process.wait()
        self._dir.cleanup()


# ------------------------------------------------------------------------------------------------- server side
def serve(address: str, ready_fd: int) -> None:
    import source_segment.run  # noqa: F401  the point of the server: the CDK is imported once, here

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel; they report their own exit
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(64)
    os.write(ready_fd, b"1")
    os.close(ready_fd)
    while True:
        conn, _ = listener.accept()
        message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 2)
        if os.fork() == 0:
            listener.close()
            _child(conn, json.loads(message), fds)  # never returns
        for fd in fds:
            os.close(fd)
        conn.close()


def _child(conn: socket.socket, request: dict, fds: List[int]) -> None:
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        conn.sendall(f"{os.getpid()}\n".encode())
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        for fd in fds:
            os.close(fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        _scale_retry_waits(float(request.get("retry_wait_scale", 1.0)))
        code = _run_command(request["argv"][1:])
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            conn.sendall(f"{code}\n".encode())
        finally:
            os._exit(code)


def _scale_retry_waits(scale: float) -> None:
    if scale != 1.0:
        import time

        from source_segment.client import SegmentClient

        SegmentClient.sleep = staticmethod(lambda seconds: time.sleep(seconds * scale))


def _run_command(args: List[str]) -> int:
    """What the console script does: run(), its SystemExit as the exit code, anything else to sys.excepthook
    (the CDK installs one that emits an error TRACE) and exit code 1."""
    import logging

    from source_segment.run import run

    try:
        run(args)
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:  # noqa: BLE001  exactly what the interpreter would hand to the hook
        sys.excepthook(*sys.exc_info())
        code = 1
    logging.shutdown()
    return code
