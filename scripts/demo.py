"""Demo: start the bundled Segment API simulator, then check, discover and read every stream from it with the
installed `source-segment` command, printing progress and a per-stream table of record counts."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from integration_tests.harness import SIM_TOKEN, configured_catalog, discovered_streams, run_connector  # noqa: E402
from integration_tests.simulator import Simulator  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="small", choices=["tiny", "small", "medium", "large"])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    started = time.monotonic()
    with Simulator(token=SIM_TOKEN, seed=args.seed, size=args.size) as sim:
        start_date = (date.today().replace(day=1) - timedelta(days=365)).replace(day=1).isoformat()
        # The simulator enforces Segment's per-endpoint limits but no global one, so the client budget is raised.
        config = {"api_token": SIM_TOKEN, "base_url": sim.url, "start_date": start_date, "requests_per_minute": 6000}
        print(f"Simulator ({args.size} workspace, seed {args.seed}) listening on {sim.url}; start_date {start_date}")

        check = run_connector("check", config)
        status = check.of_type("CONNECTION_STATUS")
        print(f"check:    {status[0]['connectionStatus']['status'] if status else 'no status'}")
        streams = discovered_streams(config)
        print(f"discover: {len(streams)} streams")

        counts: dict = {}
        statuses: dict = {}
        last_print = [time.monotonic()]

        def progress(message: dict) -> None:
            if message.get("type") == "RECORD":
                counts[message["record"]["stream"]] = counts.get(message["record"]["stream"], 0) + 1
            elif message.get("type") == "TRACE" and message["trace"].get("type") == "STREAM_STATUS":
                status_ = message["trace"]["stream_status"]
                statuses[status_["stream_descriptor"]["name"]] = status_["status"]
            if time.monotonic() - last_print[0] > 2:
                last_print[0] = time.monotonic()
                running = [name for name, value in statuses.items() if value in ("STARTED", "RUNNING")]
                print(f"  ... {sum(counts.values()):>7} records so far, reading {running[-1] if running else '-'}", flush=True)

        print("read:     all streams (incremental where supported) ...", flush=True)
        run = run_connector("read", config, configured_catalog(streams), on_message=progress)

    print()
    print(f"{'stream':<40} {'records':>8}  status")
    print("-" * 62)
    for stream in streams:
        name = stream["name"]
        print(f"{name:<40} {counts.get(name, 0):>8}  {statuses.get(name, '-')}")
    print("-" * 62)
    print(f"{'total':<40} {sum(counts.values()):>8}")
    errors = run.errors()
    for error in errors:
        print(f"ERROR: {error.get('message')}")
    print(f"\nread exit code {run.returncode}; {len(sim.requests)} API requests; read {run.seconds:.1f} s; demo wall time {time.monotonic() - started:.1f} s")
    return 0 if run.returncode == 0 and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
