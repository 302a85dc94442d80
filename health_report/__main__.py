"""python -m health_report --output report.html [--config FILE] [--cache DIR] ...

Without --config it starts the bundled Segment API simulator (the demo workspace) and syncs from it. With --cache
DIR the DuckDB cache lives there and is reused: an existing cache with no --config is rendered as it is (no sync);
with --config the sync resumes from the cache's saved state.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO_ROOT = Path(__file__).resolve().parent.parent


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="report.sh", description="Writes a self-contained HTML health report of a Segment workspace.")
    p.add_argument("--output", required=True, type=Path, help="HTML file to write")
    p.add_argument("--config", type=Path, help="connector config JSON (api_token, start_date, ...) of a real workspace; "
                   "without it the bundled simulator's demo workspace is used")
    p.add_argument("--cache", type=Path, help="folder of the DuckDB cache to create or reuse (default: a temporary one)")
    p.add_argument("--skip", default="", help="comma-separated streams not to sync (their sections say so)")
    p.add_argument("--months", type=int, default=6, help="demo only: start_date this many months back (default 6)")
    p.add_argument("--size", default="small", choices=["tiny", "small", "medium", "large"], help="demo workspace size")
    p.add_argument("--seed", type=int, default=1, help="demo workspace seed")
    p.add_argument("--long-sync-minutes", type=int, default=60, help="a warehouse sync longer than this is listed as long")
    p.add_argument("--today", type=dt.date.fromisoformat, help="reference day, YYYY-MM-DD (default: UTC today)")
    return p


def _fail(message: str) -> int:
    print(f"report: {message}", file=sys.stderr)
    return 2


def _load_config(path: Path) -> Dict[str, Any]:
    try:
        config = json.loads(path.read_text())
    except OSError as exc:
        raise ValueError(f"cannot read --config {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ValueError(f"--config {path} is not valid JSON ({exc.msg} at line {exc.lineno}); fix the file") from None
    if not isinstance(config, dict) or not config.get("api_token"):
        raise ValueError(f"--config {path} has no `api_token`: add the workspace's Public API token")
    return config


def render_file(db_path: Path, output: Path, today: dt.date, origin: str, long_sync_minutes: int = 60) -> Dict[str, Any]:
    """The rendering layer alone: DuckDB file in, HTML file out. Returns the summary embedded in the page."""
    from . import queries, render  # noqa: PLC0415
    from .db import Cache  # noqa: PLC0415

    with Cache(db_path) as cache:
        sections = queries.build(cache, today, long_sync_minutes)
        meta = {
            "workspace": queries.workspace_name(cache),
            "as_of": today.isoformat(),
            "origin": origin,
            "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cache": str(db_path),
        }
    text, summary = render.page(sections, meta)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    return summary


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    started = time.monotonic()
    skip = [s.strip() for s in args.skip.split(",") if s.strip()]
    from .sync import REPORT_STREAMS  # noqa: PLC0415

    unknown = sorted(set(skip) - set(REPORT_STREAMS))
    if unknown:
        return _fail(f"--skip names streams the report does not sync: {', '.join(unknown)}; choose among {', '.join(REPORT_STREAMS)}")
    executable = Path(os.environ.get("SOURCE_SEGMENT_EXECUTABLE") or REPO_ROOT / ".venv" / "bin" / "source-segment")
    temp_dir = None
    cache_dir = args.cache
    if cache_dir is None:
        temp_dir = Path(tempfile.mkdtemp(prefix="health-report-"))
        cache_dir = temp_dir
    db_path = cache_dir / "segment.duckdb"
    phase = "sync"
    try:
        from .sync import demo_config, report_config, sync  # noqa: PLC0415

        if args.config is not None:
            config = report_config(_load_config(args.config))
            today = args.today or dt.datetime.now(dt.timezone.utc).date()
            result = sync(config, cache_dir, executable, skip)
            origin = "the Segment Public API"
        elif args.cache is not None and db_path.is_file():
            print(f"reusing the synced cache {db_path} (pass --config to sync it again)")
            today = args.today or dt.datetime.now(dt.timezone.utc).date()
            result = None
            origin = "a reused cache"
        else:
            sys.path.insert(0, str(REPO_ROOT))
            from integration_tests.expected import first_day_months_back  # noqa: PLC0415
            from integration_tests.simulator import Simulator  # noqa: PLC0415

            # The demo token is random per run: nothing real, and nothing worth logging.
            with Simulator(token="sim-" + secrets.token_hex(12), seed=args.seed, size=args.size, today=args.today) as sim:
                today = sim.today
                start = first_day_months_back(sim.today, args.months).isoformat()
                print(f"demo: simulator ({args.size} workspace, seed {args.seed}) on {sim.url}, start_date {start}")
                result = sync(demo_config(sim, start), cache_dir, executable, skip)
            origin = f"the bundled simulator ({args.size} workspace, seed {args.seed})"
        if result is not None:
            print(f"synced {result.records} records from {len(result.streams)} streams in {result.seconds:.1f}s"
                  + (f"; not offered by the connector: {', '.join(result.not_offered)}" if result.not_offered else ""))
        phase = "render"
        summary = render_file(db_path, args.output, today, origin, args.long_sync_minutes)
    except (ValueError, FileNotFoundError) as exc:
        return _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - PyAirbyte's errors carry a long context; the user needs the log's place
        if phase != "sync":
            raise
        temp_dir = None  # keep the logs of a failed sync
        return _fail(f"the sync failed ({type(exc).__name__}); PyAirbyte's and the connector's logs are under {cache_dir / 'logs'}")
    finally:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.1f} MB, {len(summary['charts'])} charts) "
          f"in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
