"""Benchmark: the installed `source-segment read` against the bundled simulator.

Prints one table per run and writes everything to bench/results/latest.json:
  1. requests made vs the minimum possible, per stream (minimum = for every distinct request series
     (path + non-pagination params) ceil(totalEntries / 1000), at least 1; duplicates = identical
     successful requests sent twice);
  2. wall time with realistic latency and a rate limit vs the floor max(requests / rate, critical path);
  3. pure CPU (no latency, no limit): records/s and CPU seconds per 100k records on the largest stream,
     vs a bare json.loads + json.dumps loop over the same pages (our CPU floor);
  4. peak RSS on a workspace and on the next size up (memory must not grow with record count).

    .venv/bin/python scripts/bench.py                 # defaults below, a few minutes
    .venv/bin/python scripts/bench.py --quick         # smaller, for a smoke run
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import sys
import time
from collections import Counter, defaultdict
from datetime import date, timedelta
from importlib import metadata
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from integration_tests.harness import SIM_TOKEN, configured_catalog, discovered_streams, run_connector  # noqa: E402
from integration_tests.simulator import Simulator  # noqa: E402
from source_segment.source import ALL_STREAMS  # noqa: E402

PAGE_MAX = 1000
PATTERNS = sorted(
    ((re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", cls.endpoint) + "$"), cls.name) for cls in ALL_STREAMS),
    key=lambda item: -len(item[0].pattern),
)
PATTERNS.append((re.compile(r"^/users/[^/]+$"), "users"))


def stream_of(path: str) -> str:
    return next((name for pattern, name in PATTERNS if pattern.match(path)), path)


def start_date(months_back: int) -> str:
    day = date.today().replace(day=1)
    for _ in range(months_back):
        day = (day - timedelta(days=1)).replace(day=1)
    return day.isoformat()


def request_table(log, records_by_stream):
    """Per stream: requests made, minimum possible, duplicates, records."""
    made, minimum, dupes = Counter(), Counter(), Counter()
    series_total, seen_ok = {}, Counter()
    for entry in log:
        stream = stream_of(entry.path)
        made[stream] += 1
        key_params = tuple(sorted((k, tuple(v)) for k, v in entry.query.items() if not k.startswith("pagination.")))
        series = (entry.path, key_params)
        if entry.status == 200:
            full = (entry.path, tuple(sorted((k, tuple(v)) for k, v in entry.query.items())))
            seen_ok[full] += 1
            if seen_ok[full] > 1:
                dupes[stream] += 1
            series_total.setdefault(series, entry.total)
    for (path, _), total in series_total.items():
        minimum[stream_of(path)] += max(1, math.ceil((total or 0) / PAGE_MAX))
    rows = []
    for stream in sorted(set(made) | set(records_by_stream)):
        rows.append({"stream": stream, "requests": made[stream], "minimum": minimum[stream], "duplicates": dupes[stream], "records": len(records_by_stream.get(stream, []))})
    return rows


def print_requests(rows, title):
    print(f"\n{title}")
    print(f"{'stream':<40} {'records':>8} {'requests':>9} {'minimum':>8} {'ratio':>6} {'dupes':>6}")
    for row in rows:
        ratio = row["requests"] / row["minimum"] if row["minimum"] else float("nan")
        print(f"{row['stream']:<40} {row['records']:>8} {row['requests']:>9} {row['minimum']:>8} {ratio:>6.2f} {row['duplicates']:>6}")
    total_req, total_min = sum(r["requests"] for r in rows), sum(r["minimum"] for r in rows)
    print(f"{'total':<40} {sum(r['records'] for r in rows):>8} {total_req:>9} {total_min:>8} {total_req / max(1, total_min):>6.2f} {sum(r['duplicates'] for r in rows):>6}")
    return total_req, total_min


def critical_path_seconds(log, latency):
    """The longest chain of dependent requests: the pages of one series follow each other."""
    pages = Counter()
    for entry in log:
        if entry.status == 200:
            pages[(entry.path, tuple(sorted((k, tuple(v)) for k, v in entry.query.items() if not k.startswith("pagination."))))] += 1
    return (max(pages.values()) if pages else 0) * latency


def full_read(size, months, latency=0.0, rate=None, workers=None, streams=None, bodies_of=None):
    """One read of the catalog (or `streams`); with `bodies_of`, also the raw pages served for that stream."""
    with Simulator(token=SIM_TOKEN, seed=1, size=size, latency=latency, rate_limit_per_minute=rate) as sim:
        config = {"api_token": SIM_TOKEN, "base_url": sim.url, "start_date": start_date(months), "requests_per_minute": rate or 6000}
        if workers:
            config["num_workers"] = workers
        catalog = configured_catalog(discovered_streams(config), incremental=False, only=streams)
        sim.clear_log()
        run = run_connector("read", config, catalog, timeout=3600)
        log = list(sim.requests)
        bodies = []
        if bodies_of:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {SIM_TOKEN}"
            for entry in log:
                if entry.status == 200 and stream_of(entry.path) == bodies_of:
                    bodies.append(session.get(sim.url + entry.path, params={k: v[-1] for k, v in entry.query.items()}).content)
        return run, log, bodies


def bare_json_floor(bodies):
    """Throughput of json.loads on the served pages plus json.dumps per record: the least CPU any connector needs."""
    started = time.process_time()
    count = 0
    for body in bodies:
        data = json.loads(body)["data"]
        for key, value in data.items():
            if isinstance(value, list):
                for item in value:
                    json.dumps({"type": "RECORD", "record": {"stream": "s", "data": item, "emitted_at": 0}})
                    count += 1
    seconds = time.process_time() - started
    return count, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="small", help="workspace for the latency/limit run (default small)")
    parser.add_argument("--latency", type=float, default=0.1, help="simulated latency per request, seconds")
    parser.add_argument("--rate", type=int, default=600, help="rate limit, requests per minute (simulator and connector)")
    parser.add_argument("--months", type=int, default=12, help="history read: start_date this many months back")
    parser.add_argument("--cpu-size", default="medium", help="workspace for the CPU run")
    parser.add_argument("--memory-sizes", default="small,medium", help="two sizes for the peak RSS comparison")
    parser.add_argument("--workers", type=int, default=None, help="num_workers (default: the connector's default)")
    parser.add_argument("--quick", action="store_true", help="tiny/small sizes, 3 months: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.size, args.cpu_size, args.memory_sizes, args.months = "tiny", "small", "tiny,small", 3

    results = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "versions": {"source-segment": metadata.version("source-segment"), "airbyte-cdk": metadata.version("airbyte-cdk")},
        "args": vars(args),
    }
    print(f"machine: {results['machine']}\nversions: {results['versions']}")

    # 1 + 2: requests and wall time under latency and a rate limit
    run, log, _ = full_read(args.size, args.months, latency=args.latency, rate=args.rate, workers=args.workers)
    rows = request_table(log, run.records_by_stream())
    total_req, total_min = print_requests(rows, f"[1] requests vs minimum ({args.size} workspace, {args.months} months, full refresh of every stream)")
    floor = max(total_req / (args.rate / 60.0), critical_path_seconds(log, args.latency))
    print(f"\n[2] wall time with {args.latency * 1000:.0f} ms latency and {args.rate}/min: {run.seconds:.1f} s; floor {floor:.1f} s; ratio {run.seconds / floor:.2f} (exit {run.returncode})")
    results["latency_run"] = {"rows": rows, "requests": total_req, "minimum": total_min, "wall_seconds": run.seconds, "floor_seconds": floor, "exit": run.returncode}

    # 2b + 3: pure CPU, whole catalog and the largest stream alone
    run0, log0, _ = full_read(args.size, args.months)
    print(f"    same read with no latency and no limit: {run0.seconds:.1f} s wall, {run0.cpu_seconds:.1f} s CPU, {len(run0.records())} records")
    big = "usage_api_calls_per_source_daily"
    run_big, _, bodies = full_read(args.cpu_size, args.months, streams=[big], bodies_of=big)
    n_big = len(run_big.records(big))
    # CPU of the same process reading one tiny stream: interpreter and CDK start-up, not per-record work
    baseline, _, _ = full_read(args.cpu_size, args.months, streams=["workspace"])
    net_cpu = max(1e-6, run_big.cpu_seconds - baseline.cpu_seconds)
    bare_count, bare_cpu = bare_json_floor(bodies)
    ours = n_big / net_cpu
    bare = bare_count / bare_cpu if bare_cpu else float("nan")
    print(
        f"\n[3] CPU, {big} on {args.cpu_size} ({n_big} records): {ours:,.0f} records/s of CPU, "
        f"{100000 / ours:.2f} CPU s per 100k records (start-up CPU of {baseline.cpu_seconds:.1f} s subtracted); "
        f"bare json loop {bare:,.0f} records/s -> {100 * ours / bare:.0f}% of the floor"
    )
    results["cpu"] = {"stream": big, "records": n_big, "cpu_seconds": run_big.cpu_seconds, "startup_cpu_seconds": baseline.cpu_seconds, "wall_seconds": run_big.seconds, "records_per_cpu_second": ours, "bare_records_per_cpu_second": bare}
    results["pure_cpu_full_read"] = {"wall_seconds": run0.seconds, "cpu_seconds": run0.cpu_seconds, "records": len(run0.records())}

    # 4: memory, two workspace sizes
    memory = {}
    for size in args.memory_sizes.split(","):
        run_m, _, _ = full_read(size, args.months)
        memory[size] = {"records": len(run_m.records()), "peak_rss_mb": run_m.peak_rss_mb}
        print(f"[4] peak RSS, full read of {size}: {run_m.peak_rss_mb:.0f} MB for {len(run_m.records())} records")
    results["memory"] = memory

    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"\nresults written to {out / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
