"""The sync layer: PyAirbyte runs the installed connector (a subprocess) and loads its streams into a DuckDB cache.

PyAirbyte lives in its own venv (scripts/report.sh makes .venv-report); the connector stays in the project venv
and is reached through `local_executable`, so neither venv's pins touch the other's.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Sequence

# What the report reads; anything else would only make the sync slower.
REPORT_STREAMS = (
    "workspace", "sources", "destinations", "warehouses", "functions", "spaces", "labels", "users", "roles",
    "tracking_plans", "tracking_plan_sources", "reverse_etl_models", "audit_events",
    "usage_mtu_workspace_daily", "usage_mtu_per_source_daily", "usage_api_calls_workspace_daily",
    "usage_api_calls_per_source_daily", "event_volume_daily", "delivery_overview", "warehouse_syncs", "reverse_etl_syncs",
)
CACHE_FILE = "segment.duckdb"


@dataclass
class SyncResult:
    db_path: Path
    streams: List[str]
    not_offered: List[str] = field(default_factory=list)
    records: int = 0
    seconds: float = 0.0


def _offline(log_root: Path) -> None:
    # Must be set before `import airbyte`: without offline mode get_source() downloads the connector registry
    # and sends telemetry, which a closed network refuses.
    os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("AIRBYTE_LOGGING_ROOT", str(log_root))


def sync(config: Mapping[str, Any], cache_dir: Path, executable: Path, skip: Sequence[str] = (),
         log: Callable[[str], None] = print) -> SyncResult:
    """Reads the report's streams into `cache_dir/segment.duckdb`; incremental streams resume from the cache's state."""
    if not executable.exists():
        raise FileNotFoundError(
            f"connector executable {executable} not found: install the connector (`python -m venv .venv && .venv/bin/pip install -e .`) "
            "or set SOURCE_SEGMENT_EXECUTABLE"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    _offline(cache_dir / "logs")
    # Google's client libraries (PyAirbyte's BigQuery/Secret Manager extras) warn about Python 3.11's end of life on import.
    warnings.filterwarnings("ignore", category=FutureWarning, message=r"You are using a Python version")
    try:
        import airbyte as ab  # noqa: PLC0415 - heavy (~7 s); only the sync layer needs it
        from airbyte.caches import DuckDBCache  # noqa: PLC0415
    except ImportError:
        raise ValueError(
            "PyAirbyte (`airbyte`) is not installed in this Python: run ./scripts/report.sh, which creates .venv-report, "
            "or render an existing cache with --cache DIR"
        ) from None

    started = time.monotonic()
    source = ab.get_source("source-segment", config=dict(config), local_executable=str(executable))
    offered = set(source.get_available_streams())
    wanted = [s for s in REPORT_STREAMS if s not in set(skip)]
    streams = [s for s in wanted if s in offered]
    source.select_streams(streams)
    cache = DuckDBCache(db_path=cache_dir / CACHE_FILE, cache_dir=cache_dir / "cache")
    log(f"syncing {len(streams)} streams with PyAirbyte into {cache_dir / CACHE_FILE}")
    result = source.read(cache=cache)  # an explicit cache: ab.get_default_cache() returns a new object per call
    records = int(result.processed_records)
    # Release DuckDB's write lock before the report opens the file read-only.
    cache.get_sql_engine().dispose()
    return SyncResult(cache_dir / CACHE_FILE, streams, sorted(set(wanted) - offered), records, time.monotonic() - started)


def demo_config(sim: Any, start_date: str) -> Dict[str, Any]:
    return report_config({"api_token": sim.token, "base_url": sim.url, "start_date": start_date})


def report_config(config: Mapping[str, Any]) -> Dict[str, Any]:
    """The report charts days: DAY buckets of delivery_overview carry the same counts as 24x as many HOUR rows
    (HOUR made 96% of a demo sync's records and most of its time). An explicit choice in the config is kept."""
    out = dict(config)
    out.setdefault("delivery_overview_granularity", "DAY")
    return out
