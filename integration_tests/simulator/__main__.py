"""CLI: python -m integration_tests.simulator --port 8080 --size small --seed 1 --token TOKEN ..."""
from __future__ import annotations

import argparse
import datetime as dt
import signal
import sys
import threading

from .server import FAULT_KINDS, FEATURES, FaultSpec, Simulator


def _fault(text: str) -> FaultSpec:
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise argparse.ArgumentTypeError("fault must be KIND:RATE[:MAX_CONSECUTIVE], e.g. 500:0.05")
    try:
        return FaultSpec(parts[0], float(parts[1]), int(parts[2]) if len(parts) == 3 else 1)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m integration_tests.simulator",
                                description="Local simulator of the Segment Public API (binds 127.0.0.1 only).")
    p.add_argument("--port", type=int, default=8080, help="port (0 = any free port)")
    p.add_argument("--size", choices=["tiny", "small", "medium", "large"], default="small")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--token", default="sim-token-0123456789abcdef")
    p.add_argument("--today", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD (default: real UTC today)")
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--rate-limit", type=int, default=0, help="global requests/minute (0 = unlimited)")
    p.add_argument("--no-endpoint-limits", action="store_true", help="disable per-endpoint limits (events volume 60/min, rules 200/min)")
    p.add_argument("--rate-limit-signal", choices=["retry_after", "ms_before_next", "reset", "all"], default="all")
    p.add_argument("--fault", type=_fault, action="append", default=[],
                   help=f"KIND:RATE[:MAX_CONSECUTIVE], repeatable; kinds: {','.join(sorted(FAULT_KINDS))}")
    p.add_argument("--disable", action="append", default=[],
                   help=f"feature to disable (repeatable or comma-separated): {','.join(sorted(FEATURES))}")
    p.add_argument("--deleted-parents", type=int, default=0)
    p.add_argument("--max-page-count", type=int, default=1000)
    p.add_argument("--awkward", action="store_true",
                   help="legal-but-awkward answers (issue 12): nameless/sourceless volume groups, strict indexed array "
                        "params, URL limit, empty groups omitted, functions without id, float periodStart")
    p.add_argument("--events-volume-cap", type=int, default=5000, help="max /events/volume entries (0 = no cap)")
    p.add_argument("--audit-max-delay", type=float, default=0.0, help="max audit visibility delay in seconds")
    p.add_argument("--usage-retention-months", type=int, default=None)
    a = p.parse_args(argv)
    disabled = [x.strip() for d in a.disable for x in d.split(",") if x.strip()]
    sim = Simulator(token=a.token, seed=a.seed, size=a.size, today=a.today, latency=a.latency_ms / 1000.0,
                    rate_limit_per_minute=a.rate_limit or None, enforce_endpoint_limits=not a.no_endpoint_limits,
                    rate_limit_signal=a.rate_limit_signal, faults=a.fault, disabled_features=disabled,
                    deleted_parents=a.deleted_parents, max_page_count=a.max_page_count, host="127.0.0.1", port=a.port,
                    awkward=a.awkward, events_volume_cap=a.events_volume_cap or None,
                    audit_max_delay_seconds=a.audit_max_delay, usage_retention_months=a.usage_retention_months)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    sim.start()
    print(f"Segment API simulator listening on {sim.url} (size={a.size}, seed={a.seed})", flush=True)
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
