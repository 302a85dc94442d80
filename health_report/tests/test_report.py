"""The report's numbers against the records it was built from (computed here in plain Python, not in SQL), its
skipping of absent streams, its charts' labels, and the page: offline, escaped, well-formed, loaded in a browser."""

from __future__ import annotations

import datetime as dt
import html.parser
import json
import re
import shutil
import subprocess
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, List

import pytest

pytest.importorskip("duckdb", reason="the report's optional dependencies are not installed: pip install -e '.[report]'")
pytest.importorskip("plotly", reason="the report's optional dependencies are not installed: pip install -e '.[report]'")

from health_report.__main__ import main, render_file  # noqa: E402
from health_report.tests import loader  # noqa: E402
from health_report.tests.conftest import HOSTILE_NAME, Fixture  # noqa: E402


def _month(ts: str) -> str:
    return ts[:7]


@pytest.fixture(scope="module")
def report(fixture: Fixture, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    summary = render_file(fixture.db_path, out, fixture.today, "test fixture")
    text = out.read_text(encoding="utf-8")
    embedded = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', text, re.S).group(1).replace("<\\/", "</"))
    return {"path": out, "html": text, "summary": summary, "data": embedded}


def _last_snapshot_per_source_month(rows: List[Dict[str, Any]], value) -> Dict[str, int]:
    latest: Dict[tuple, Dict[str, Any]] = {}
    for row in rows:
        key = (row.get("sourceId"), _month(row["timestamp"]))
        if key not in latest or row["timestamp"] > latest[key]["timestamp"]:
            latest[key] = row
    by_month: Dict[str, int] = defaultdict(int)
    for (_, month), row in latest.items():
        by_month[month] += value(row)
    return dict(by_month)


# ------------------------------------------------------------------------------------------------------- cost
def test_mtu_per_month_is_the_last_cumulative_snapshot_of_identified_plus_never_identified(fixture, report):
    expected = _last_snapshot_per_source_month(fixture.records["usage_mtu_per_source_daily"],
                                               lambda r: r["identified"] + r["neverIdentified"])
    assert len(expected) >= 3
    assert report["data"]["cost"]["mtu_by_month"] == expected


def test_api_calls_per_month_is_the_last_cumulative_snapshot(fixture, report):
    expected = _last_snapshot_per_source_month(fixture.records["usage_api_calls_per_source_daily"], lambda r: r["apiCalls"])
    assert report["data"]["cost"]["api_calls_by_month"] == expected
    # the per-source figures add up to the workspace's own usage stream
    workspace = _last_snapshot_per_source_month(fixture.records["usage_api_calls_workspace_daily"], lambda r: r["apiCalls"])
    assert report["data"]["cost"]["workspace"]["api_calls"] == workspace == expected


def test_top_sources_are_ranked_by_mtu_of_the_last_complete_month(fixture, report):
    last_month = (fixture.today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    per_source: Dict[str, int] = {}
    for row in fixture.records["usage_mtu_per_source_daily"]:
        if _month(row["timestamp"]) == last_month:  # cumulative: the last day of the month wins
            per_source[row["sourceId"]] = max(per_source.get(row["sourceId"], 0), row["identified"] + row["neverIdentified"])
    ranked = sorted(per_source.items(), key=lambda kv: (-kv[1], kv[0]))
    top = report["data"]["cost"]["top_sources"]
    assert [(t["source_id"], t["value"]) for t in top] == ranked
    assert {t["month"] for t in top} == {last_month}


# ----------------------------------------------------------------------------------------------------- volume
def test_event_volume_totals_match_the_records(fixture, report):
    rows = fixture.records["event_volume_daily"]
    by_type = Counter()
    for row in rows:
        by_type[row["eventType"]] += row["count"]
    assert report["data"]["volume"]["total_events"] == sum(r["count"] for r in rows) > 0
    assert report["data"]["volume"]["by_type"] == dict(by_type)


def test_silent_sources_are_those_without_events_in_the_last_seven_days(fixture, report):
    last_day = fixture.today - dt.timedelta(days=1)
    window = {(last_day - dt.timedelta(days=i)).isoformat() for i in range(7)}
    recent = Counter()
    for row in fixture.records["event_volume_daily"]:
        if row["day"] in window:
            recent[row["sourceId"]] += row["count"]
    expected = {s["id"] for s in fixture.records["sources"] if not recent[s["id"]]}
    assert fixture.silent_source in expected and fixture.quiet_source not in expected
    assert set(report["data"]["volume"]["silent_sources"]) == expected


# --------------------------------------------------------------------------------------------------- delivery
def test_delivery_stage_totals_per_destination_and_top_reasons_match_the_records(fixture, report):
    rows = fixture.records["delivery_overview"]
    stages, reasons = Counter(), Counter()
    per_destination: Dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        stages[row["stage"]] += row["count"]
        if row["destinationId"]:
            per_destination[row["destinationId"]][row["stage"]] += row["count"]
        if row["discardReason"] and row["stage"] != "successfully_received" and row["stage"] != "successful_delivery":
            reasons[row["discardReason"]] += row["count"]
    delivery = report["data"]["delivery"]
    assert delivery["stages"] == dict(stages)
    assert delivery["per_destination"] == {
        d: {s: c[s] for s in ("successful_delivery", "filtered_at_destination", "failed_delivery")} for d, c in per_destination.items()
    }
    assert delivery["reasons"] == dict(reasons)


def test_only_one_granularity_is_counted_when_the_cache_holds_two(fixture, tmp_path):
    records = dict(fixture.records)
    records["delivery_overview"] = fixture.records["delivery_overview"] + [
        dict(r, granularity="DAY") for r in fixture.records["delivery_overview"] if r["stage"] == "failed_delivery"
    ]
    db = loader.write(tmp_path / "two.duckdb", records)
    summary = render_file(db, tmp_path / "two.html", fixture.today, "test")
    day_total = sum(r["count"] for r in fixture.records["delivery_overview"] if r["stage"] == "failed_delivery")
    assert summary["delivery"]["stages"] == {"failed_delivery": day_total}  # DAY only, not DAY + HOUR
    assert any("several granularities" in n for n in summary["notes"]["delivery"])


def test_warehouse_and_reverse_etl_failures_match_the_records(fixture, report):
    syncs = fixture.records["warehouse_syncs"]
    retl = fixture.records["reverse_etl_syncs"]
    assert report["data"]["delivery"]["warehouse"] == {
        "syncs": len(syncs),
        "failed": sum(1 for s in syncs if s["status"] in ("FAILED", "PARTIAL_SUCCESS")),
        "long": sum(1 for s in syncs if s["duration"] / 60 > 60),
    }
    assert report["data"]["delivery"]["warehouse"]["failed"] > 0
    assert report["data"]["delivery"]["reverse_etl"] == {
        "syncs": len(retl), "failed": sum(1 for s in retl if s["syncStatus"] in ("FAIL", "FAILED", "PARTIAL_SUCCESS")),
    }


# ------------------------------------------------------------------------------------------------- governance
def test_audit_events_per_actor_match_the_records(fixture, report):
    actors = Counter((e.get("actorEmail") or e.get("actor") or "(unknown)") for e in fixture.records["audit_events"])
    assert report["data"]["governance"]["audit_actors"] == dict(actors)


def test_disabled_destinations_and_sources_without_a_tracking_plan(fixture, report):
    gov = report["data"]["governance"]
    assert fixture.disabled_destination in gov["disabled_destinations"]
    assert set(gov["disabled_destinations"]) == {d["id"] for d in fixture.records["destinations"] if d.get("enabled") is False}
    tracked = {s["id"] for s in fixture.records["tracking_plan_sources"]}
    assert set(gov["untracked_sources"]) == {s["id"] for s in fixture.records["sources"] if s["id"] not in tracked}
    assert fixture.untracked_source in gov["untracked_sources"]


def test_users_per_role_come_from_the_users_permissions(fixture, report):
    per_role: Dict[str, set] = defaultdict(set)
    for user in fixture.records["users"]:
        for permission in user.get("permissions") or []:
            per_role[permission.get("roleName") or "(unnamed role)"].add(user["id"])
    assert per_role, "the fixture's users must carry permissions for this test to mean anything"
    users = report["data"]["governance"]["users"]
    assert users["users"] == len(fixture.records["users"])
    assert users["roles"] == {role: len(ids) for role, ids in per_role.items()}


# -------------------------------------------------------------------------------------------------- inventory
def test_inventory_counts_and_labels_match_the_records(fixture, report):
    inv = report["data"]["inventory"]
    for stream in ("sources", "destinations", "warehouses", "functions", "spaces", "tracking_plans", "reverse_etl_models"):
        assert inv["counts"][stream] == len(fixture.records[stream]), stream
    assert inv["enabled"]["destinations"] == sum(1 for d in fixture.records["destinations"] if d.get("enabled"))
    labels = Counter(f"{label['key']}: {label['value']}" for s in fixture.records["sources"] for label in (s.get("labels") or []))
    assert inv.get("source_labels", {}) == dict(labels)
    assert inv["labels_defined"] == len(fixture.records["labels"])


# ------------------------------------------------------------------------------------------------ skipping
def test_sections_say_what_is_missing_instead_of_failing(fixture, tmp_path):
    keep = ("sources", "destinations", "users", "event_volume_daily")
    records = {s: rows for s, rows in fixture.records.items() if s in keep}
    records["audit_events"] = []  # synced, but the feature is off: an empty table
    db = loader.write(tmp_path / "partial.duckdb", records)
    summary = render_file(db, tmp_path / "partial.html", fixture.today, "test")
    notes = summary["notes"]
    assert any("usage_mtu_per_source_daily` was not synced" in n for n in notes["cost"])
    assert any("delivery_overview` was not synced" in n for n in notes["delivery"])
    assert any("warehouse_syncs` was not synced" in n for n in notes["delivery"])
    assert any("reverse_etl_syncs` was not synced" in n for n in notes["delivery"])
    assert any("audit_events` synced no rows" in n for n in notes["governance"])
    assert any("tracking_plan_sources` was not synced" in n for n in notes["governance"])
    assert summary["volume"]["total_events"] == sum(r["count"] for r in fixture.records["event_volume_daily"])
    assert "cost" not in summary or not summary["cost"].get("mtu_by_month")
    page = (tmp_path / "partial.html").read_text()
    assert "was not synced (no table in the cache), so this part is skipped." in page


# ----------------------------------------------------------------------------------------------------- charts
def test_every_chart_has_a_title_axis_titles_and_a_unit(report):
    charts = report["data"]["charts"]
    assert len(charts) >= 15
    for chart in charts:
        assert chart["title"] and chart["x"] and chart["y"], chart
        assert re.search(r"\([^)]+\)", chart["x"] + chart["y"]), f"no unit in the axis titles of {chart}"


# ------------------------------------------------------------------------------------------------------ page
class _Checker(html.parser.HTMLParser):
    VOID = {"meta", "br", "img", "hr", "input", "link", "col", "source", "wbr", "area", "base", "embed", "param", "track"}

    def __init__(self):
        super().__init__()
        self.stack: List[str] = []
        self.errors: List[str] = []
        self.external: List[str] = []
        self.tags = Counter()

    def handle_starttag(self, tag, attrs):
        self.tags[tag] += 1
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe") and attrs.get("src") or tag == "link" and attrs.get("href"):
            self.external.append(f"<{tag}> {attrs}")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def test_page_is_well_formed_self_contained_and_escapes_workspace_strings(report):
    text = report["html"]
    checker = _Checker()
    checker.feed(text)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    assert checker.external == [], "the page must load nothing from the network"
    assert checker.tags["section"] == 5
    assert text.count("Plotly.newPlot") == len(report["data"]["charts"])
    assert HOSTILE_NAME not in text  # the raw name would inject an <img> into the page
    assert "&lt;img src=x onerror=" in text


def test_cli_reuses_an_existing_cache_without_syncing(fixture, tmp_path, capsys):
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    shutil.copy(fixture.db_path, cache_dir / "segment.duckdb")
    out = tmp_path / "cli.html"
    assert main(["--cache", str(cache_dir), "--output", str(out), "--today", fixture.today.isoformat()]) == 0
    assert "reusing the synced cache" in capsys.readouterr().out
    assert out.stat().st_size > 1_000_000  # plotly.js is inlined


def test_cli_names_the_config_file_and_the_fix_when_it_is_broken(tmp_path, capsys):
    bad = tmp_path / "config.json"
    bad.write_text('{"api_token": ')
    assert main(["--config", str(bad), "--output", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "not valid JSON" in err and "Traceback" not in err
    assert main(["--skip", "warehouse_sync", "--output", str(tmp_path / "x.html")]) == 2
    assert "--skip names streams the report does not sync: warehouse_sync;" in capsys.readouterr().err
    bad.write_text('{"start_date": "2026-01-01"}')
    assert main(["--config", str(bad), "--output", str(tmp_path / "x.html")]) == 2
    assert "has no `api_token`" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------- browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


@pytest.mark.skipif(CHROMIUM is None, reason="no headless browser (apt-get install chromium); the HTML checks above still run")
def test_a_headless_browser_draws_every_chart_with_its_titles(report):
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=15000", "--dump-dom",
             report["path"].as_uri()],
            capture_output=True, text=True, timeout=120,
        ).stdout
    charts = report["data"]["charts"]
    assert dom.count('class="main-svg"') >= len(charts), "plotly drew fewer charts than the page holds"
    for chart in charts:
        for key in ("title", "x", "y"):
            assert chart[key].replace("&", "&amp;") in dom, (key, chart)
