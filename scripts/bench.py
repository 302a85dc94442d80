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
    .venv/bin/python scripts/bench.py --pacing a,b,c  # only the pacing scenarios (issue 16), see PACING

Pacing scenarios (`--pacing`), each a full-refresh read of every stream with `requests_per_minute` unset
unless the scenario sets it:
  a. generous server limit (--generous-rate, default 1200/min, window empty at start) and 25 ms latency:
     wall vs the floor, requests vs the minimum;
  b. server limit 120/min: share of 429s, wall vs requests / 120 per minute;
  c. requests_per_minute set (--cap, default 300) under a generous server: the most requests the server saw
     in any 60-second window of its request log.
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
from source_segment.rate_limiting import ENDPOINT_LIMITS_PER_MINUTE  # noqa: E402
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
    series_total, seen_ok, refused = {}, Counter(), set()
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
        elif 400 <= entry.status < 500 and entry.status != 429:
            refused.add(series)  # a 403/404 answer is a request the data needs too (a gone parent, a gated feature)
    for (path, _), total in series_total.items():
        minimum[stream_of(path)] += max(1, math.ceil((total or 0) / PAGE_MAX))
    for path, _ in refused - set(series_total):
        minimum[stream_of(path)] += 1
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


def max_in_any_window(log, seconds=60.0):
    """The most requests the server logged within any `seconds`-long window (two-pointer over arrival times)."""
    times = sorted(entry.ts for entry in log)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


def lane_floor_seconds(log):
    """The slowest documented per-endpoint limit: its n-th request cannot start before 60 s x (n-1) // limit."""
    counts = Counter(pattern for entry in log for pattern, limit in ENDPOINT_LIMITS_PER_MINUTE.items() if re.match(pattern, entry.path))
    return max((60.0 * ((n - 1) // ENDPOINT_LIMITS_PER_MINUTE[pattern]) for pattern, n in counts.items()), default=0.0)


def pacing_scenario(name, size, months, latency, server_rate, cap=None, workers=None, window="moving", exclude=()):
    """One read with `requests_per_minute` unset (or `cap`) against a server allowing `server_rate`/min."""
    with Simulator(token=SIM_TOKEN, seed=1, size=size, latency=latency, rate_limit_per_minute=server_rate,
                   rate_limit_window=window) as sim:
        config = {"api_token": SIM_TOKEN, "base_url": sim.url, "start_date": start_date(months)}
        if cap:
            config["requests_per_minute"] = cap
        if workers:
            config["num_workers"] = workers
        streams = discovered_streams(config)
        catalog = configured_catalog(streams, incremental=False, only=[s["name"] for s in streams if s["name"] not in exclude])
        sim.clear_log()
        sim.reset_rate_limits()  # discover sends nothing today, but the window must start empty whatever it does
        run = run_connector("read", config, catalog, timeout=3600)
        log = list(sim.requests)
    rows = request_table(log, run.records_by_stream())
    total = len(log)
    minimum = sum(row["minimum"] for row in rows)
    throttled = sum(1 for entry in log if entry.status == 429)
    rate_floor = total / (server_rate / 60.0) if server_rate else 0.0
    # A window that starts empty admits `server_rate` requests at once; request n+1 can only start a window later.
    window_floor = 60.0 * ((total - 1) // server_rate) + latency if server_rate else 0.0
    critical = critical_path_seconds(log, latency)
    lane = lane_floor_seconds(log)
    leaked = SIM_TOKEN in run.stdout or SIM_TOKEN in run.stderr
    result = {
        "scenario": name, "window": window, "excluded": list(exclude), "size": size, "months": months, "latency": latency, "server_rate": server_rate, "cap": cap,
        "workers": workers, "exit": run.returncode, "wall_seconds": round(run.seconds, 1), "requests": total,
        "minimum": minimum, "requests_ratio": round(total / max(1, minimum), 3), "429s": throttled,
        "429_share": round(throttled / max(1, total), 4), "rate_floor_seconds": round(rate_floor, 1),
        "window_floor_seconds": round(window_floor, 1), "critical_path_seconds": round(critical, 2),
        "lane_floor_seconds": round(lane, 1),
        "wall_vs_rate_floor": round(run.seconds / max(rate_floor, critical, 1e-9), 3),
        "wall_vs_floor": round(run.seconds / max(rate_floor, critical, lane, 1e-9), 3),
        "max_in_any_60s": max_in_any_window(log), "records": len(run.records()), "token_in_output": leaked,
        "per_stream": {row["stream"]: [row["records"], row["requests"], row["minimum"]] for row in rows},
        "429_by_stream": dict(Counter(stream_of(entry.path) for entry in log if entry.status == 429)),
        "errors": [m["trace"]["error"]["message"][:300] for m in run.of_type("TRACE") if m["trace"].get("type") == "ERROR"],
    }
    print(
        f"[{name}] {size}{' without ' + ','.join(exclude) if exclude else ''}, {latency * 1000:.0f} ms, server {server_rate or 'unlimited'}/min {window}, requests_per_minute={cap or 'unset'}: "
        f"wall {run.seconds:.1f} s (floor requests/rate {rate_floor:.1f} s, window floor {window_floor:.1f} s, critical path "
        f"{critical:.1f} s, slowest endpoint lane {lane:.1f} s) ratio {result['wall_vs_floor']:.2f}; requests {total} / minimum {minimum} = "
        f"{result['requests_ratio']:.3f}; 429s {throttled} ({100 * result['429_share']:.1f}%); max in any 60 s "
        f"{result['max_in_any_60s']}; records {result['records']}; exit {run.returncode}; token in output: {leaked}"
    )
    for message in result["errors"]:
        print(f"    error: {message}")
    return result


def run_pacing(args):
    common = dict(workers=args.workers, window=args.window, exclude=tuple(filter(None, args.exclude.split(","))))
    scenarios = {
        # u: the same read with no server limit at all: what latency, CPU and stream order alone cost
        "u": lambda: pacing_scenario("u", args.size, args.months, args.pacing_latency, None, **common),
        "a": lambda: pacing_scenario("a", args.size, args.months, args.pacing_latency, args.generous_rate, **common),
        "b": lambda: pacing_scenario("b", args.limited_size, args.months, args.pacing_latency, 120, **common),
        "c": lambda: pacing_scenario("c", args.cap_size, args.months, args.pacing_latency, args.generous_rate, cap=args.cap, **common),
    }
    results = [scenarios[name]() for name in args.pacing.split(",")]
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    label = f"-{args.label}" if args.label else ""
    (out / f"pacing{label}.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"results written to {out / f'pacing{label}.json'}")
    return 0


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
    parser.add_argument("--pacing", default=None, help="run only these pacing scenarios, e.g. a,b,c")
    parser.add_argument("--generous-rate", type=int, default=1200, help="server limit of scenarios a and c, per minute")
    parser.add_argument("--limited-size", default="small", help="workspace for scenario b (120/min makes it long)")
    parser.add_argument("--cap", type=int, default=300, help="requests_per_minute of scenario c")
    parser.add_argument("--pacing-latency", type=float, default=0.025, help="simulated latency of the pacing scenarios, seconds")
    parser.add_argument("--cap-size", default="small", help="workspace for scenario c")
    parser.add_argument("--exclude", default="", help="streams left out of the catalog, comma-separated")
    parser.add_argument("--window", default="moving", choices=["moving", "fixed"], help="the simulator's global limit window")
    parser.add_argument("--label", default="", help="suffix of the pacing results file, e.g. before/after")
    args = parser.parse_args()
    if args.pacing:
        return run_pacing(args)
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
