"""Fault matrix (issue 6): a full read of every stream under each fault the simulator can inject, compared with
what the simulator holds and with a fault-free read.

    .venv/bin/python scripts/fault_matrix.py [--size tiny] [--seed 7] [--rate 0.08] [--workers 4]

Prints: fault, requests injected / total, records expected vs emitted, duplicates, exit code, token occurrences,
streams not COMPLETE, streams whose primary-key set differs, seconds. Exit status 1 if any row is wrong.
integration_tests/test_fault_matrix.py runs the same rows through `run_row`.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from integration_tests.expected import Key, duplicates, expected_keys, first_day_months_back, key_sets, primary_keys  # noqa: E402
from integration_tests.harness import SIM_TOKEN, configured_catalog, discovered_streams, run_connector  # noqa: E402
from integration_tests.simulator import FaultSpec, Simulator  # noqa: E402
from integration_tests.simulator.server import FAULT_KINDS  # noqa: E402
from source_segment.rate_limiting import ENDPOINT_LIMITS_PER_MINUTE  # noqa: E402

FAULT_RATE = 0.08
MAX_CONSECUTIVE = 1
# The `timeout` row stalls a response for STALL_SECONDS, past the READ_TIMEOUT the connector is configured with
# (`request_timeout_seconds`), so the client really times out and retries the request.
STALL_SECONDS = 6.0
READ_TIMEOUT = 3
# Faults that cost real seconds each, mostly in sequence (parents are listed one page at a time): a read timeout,
# or a wait the server dictates (Retry-After, X-RateLimit-Reset in whole seconds), which the connector's pacing
# keeps for real. At the full rate those rows took 25-30 s while the others took ~12 s, so they run at a share of
# it (4-8 injections each), and every fault is injected at least once whatever the rate.
RATE_SHARE = {"timeout": 3 / 16, "429_retry_after": 3 / 8, "429_reset": 3 / 8}
MONTHS_BACK = 3
# The waits between retries (1 s after a 5xx, doubling; 429 waits as told) are shortened to a tenth when the
# test suite forks the connector (integration_tests/forkserver.py): the rows test what is read, and the unit tests
# pin each wait with a fake clock. Run as a script, the connector waits for real.
RETRY_WAIT_SCALE = 0.1
# Endpoints limited to 2 requests a minute are never faulted: one retry there is a third request, which waits out a
# minute by design (unit_tests/test_pacing.py pins that wait), and it made four rows take 61 s instead of ~10.
SPARED = tuple(pattern.strip("^$") for pattern, limit in ENDPOINT_LIMITS_PER_MINUTE.items() if limit <= 2)
ORDER = ["429_retry_after", "429_ms_before_next", "429_reset", "500", "502", "503_html", "504", "reset", "timeout",
         "truncated", "invalid_json"]


@dataclass
class Row:
    fault: str  # "none" for the fault-free baseline
    injected: int  # requests the simulator answered with the fault
    requests: int  # all requests of the read
    expected: int  # records the simulator holds for the catalog (sum over streams of expected primary keys)
    emitted: int  # records the connector emitted
    unique: int  # distinct primary keys emitted
    duplicates: int  # emitted - unique
    exit_code: int
    token_occurrences: int  # of the API token in stdout + stderr
    not_complete: List[str] = field(default_factory=list)  # streams whose last status is not COMPLETE
    mismatched: Dict[str, str] = field(default_factory=dict)  # stream -> "missing n, unexpected m" vs the simulator
    errors: List[str] = field(default_factory=list)  # TRACE error messages
    seconds: float = 0.0
    keys: Dict[str, Set[Key]] = field(default_factory=dict, repr=False)  # emitted primary keys per stream

    @property
    def ok(self) -> bool:
        return (self.exit_code == 0 and self.token_occurrences == 0 and self.duplicates == 0 and not self.not_complete
                and not self.mismatched and not self.errors and self.emitted == self.expected
                and (self.fault == "none" or self.injected > 0))


def fault_spec(kind: str, rate: float = FAULT_RATE) -> FaultSpec:
    rate = rate * RATE_SHARE.get(kind, 1.0)
    return FaultSpec(kind, rate, max_consecutive=MAX_CONSECUTIVE, timeout_seconds=STALL_SECONDS, spared=SPARED,
                     at_least_once=True)


def run_row(kind: Optional[str], streams: Sequence[dict], seed: int = 7, size: str = "tiny", rate: float = FAULT_RATE,
            only: Optional[Iterable[str]] = None) -> Row:
    """One full read (incremental where supported, no state) of `streams` (or `only` those) with `kind` injected."""
    faults = [fault_spec(kind, rate)] if kind else []
    # awkward: the same legal-but-awkward workspace as the e2e clean read it is compared with (issue 12)
    with Simulator(token=SIM_TOKEN, seed=seed, size=size, faults=faults, awkward=True) as sim:
        start_date = first_day_months_back(sim.today, MONTHS_BACK)
        config = {"api_token": SIM_TOKEN, "base_url": sim.url, "start_date": start_date.isoformat(), "request_timeout_seconds": READ_TIMEOUT}
        catalog = configured_catalog(streams, only=only)
        names = [c["stream"]["name"] for c in catalog["streams"]]
        started = time.monotonic()
        run = run_connector("read", config, catalog, retry_wait_scale=RETRY_WAIT_SCALE)
        seconds = time.monotonic() - started
        requests = sim.requests
        expected = {name: keys for name, keys in expected_keys(sim.workspace, start_date).items() if name in names}

    pks = {name: pk for name, pk in primary_keys(streams).items() if name in names}
    by_stream = run.records_by_stream()
    emitted_keys = key_sets(by_stream, pks)
    mismatched = {}
    for name in names:
        missing, unexpected = expected[name] - emitted_keys[name], emitted_keys[name] - expected[name]
        if missing or unexpected:
            mismatched[name] = f"missing {len(missing)}, unexpected {len(unexpected)}"
    output = run.stdout + run.stderr
    return Row(
        fault=kind or "none",
        injected=sum(1 for r in requests if r.fault == kind) if kind else 0,
        requests=len(requests),
        expected=sum(len(keys) for keys in expected.values()),
        emitted=sum(len(records) for records in by_stream.values()),
        unique=sum(len(keys) for keys in emitted_keys.values()),
        duplicates=sum(duplicates(by_stream, pks).values()),
        exit_code=run.returncode,
        token_occurrences=output.count(SIM_TOKEN),
        not_complete=[name for name in names if (run.statuses(name) or [None])[-1] != "COMPLETE"],
        mismatched=mismatched,
        errors=[str(error.get("message")) for error in run.errors()],
        seconds=seconds,
        keys=emitted_keys,
    )


def run_matrix(kinds: Sequence[Optional[str]], streams: Sequence[dict], workers: int = 4, **kwargs: Any) -> List[Row]:
    """Rows in the order of `kinds`; each row has its own simulator and connector process, run `workers` at a time."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(lambda kind: run_row(kind, streams, **kwargs), kinds))


def format_table(rows: Sequence[Row]) -> str:
    header = f"{'fault':<20} {'injected':>13} {'expected':>9} {'emitted':>8} {'dups':>5} {'exit':>5} {'token':>6} {'not COMPLETE':>13} {'pk diff':>8} {'sec':>6}"
    lines = [header, "-" * len(header)]
    for row in rows:
        label = row.fault
        lines.append(
            f"{label:<20} {f'{row.injected}/{row.requests}':>13} {row.expected:>9} {row.emitted:>8} {row.duplicates:>5} "
            f"{row.exit_code:>5} {row.token_occurrences:>6} {len(row.not_complete):>13} {len(row.mismatched):>8} {row.seconds:>6.1f}"
        )
        for stream, diff in row.mismatched.items():
            lines.append(f"    {stream}: {diff}")
        for error in row.errors:
            lines.append(f"    error: {error[:200]}")
    lines.append(f"timeout: responses stalled {STALL_SECONDS} s against a {READ_TIMEOUT} s read timeout (request_timeout_seconds), "
                 f"timeout and 429s with a wait in seconds at a share of the fault rate ("
                 f"{', '.join(f'{kind} {share:.3g}' for kind, share in RATE_SHARE.items())}); never faulted (2/min): "
                 f"{', '.join(SPARED)}.")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="tiny", choices=["tiny", "small", "medium", "large"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=FAULT_RATE)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--fault", action="append", choices=sorted(FAULT_KINDS), help="only these faults (repeatable)")
    args = parser.parse_args()

    started = time.monotonic()
    with Simulator(token=SIM_TOKEN, seed=args.seed, size=args.size, awkward=True) as sim:
        streams = discovered_streams({"api_token": SIM_TOKEN, "base_url": sim.url,
                                      "start_date": first_day_months_back(sim.today, MONTHS_BACK).isoformat()})
    kinds: List[Optional[str]] = [None] + [k for k in ORDER if not args.fault or k in args.fault]
    rows = run_matrix(kinds, streams, workers=args.workers, seed=args.seed, size=args.size, rate=args.rate)
    baseline = rows[0]
    for row in rows[1:]:
        for stream, keys in row.keys.items():
            if keys != baseline.keys.get(stream) and stream not in row.mismatched:
                row.mismatched[stream] = "differs from the fault-free read"
    print(f"Fault matrix: {len(streams)} streams, {args.size} workspace (seed {args.seed}), fault rate {args.rate}, "
          f"max {MAX_CONSECUTIVE} consecutive fault per request\n")
    print(format_table(rows))
    print(f"\nwall time {time.monotonic() - started:.1f} s ({args.workers} rows at a time)")
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
