"""Validate simulator responses against the v32 OpenAPI 200-response schemas (copied into the project).

Schemas: integration_tests/simulator/v32_response_schemas.json, produced by
integration_tests/simulator/tools/extract_v32_schemas.py from the saved v32 openapi.yaml.
Where v32 disagrees with v73 (the current API, see REFERENCE.md) we follow v73; each such
exception is patched into the schema below with a comment.
"""
import copy
import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest
import requests

from integration_tests.simulator import Simulator

SCHEMAS = json.loads((Path(__file__).parent / "simulator" / "v32_response_schemas.json").read_text())
TODAY = dt.date(2026, 11, 23)
TOKEN = "sim-token-0123456789abcdef"


def _items(schema, list_key):
    return schema["properties"]["data"]["properties"][list_key]["items"]


def _unwrap(s):
    return s["allOf"][0] if "allOf" in s and len(s["allOf"]) == 1 else s


def patched(path, awkward=False):
    s = copy.deepcopy(SCHEMAS[path]["schema"])
    data = s["properties"]["data"]
    # v73: SourceV1.name / DestinationV1.name are optional; the simulator also sends explicit null
    # sometimes (seen in the wild, "unkind" data) -> allow null.
    for key in ("sources", "destinations"):
        if key in data.get("properties", {}):
            props = data["properties"][key]["items"]["properties"]
            if "name" in props:
                props["name"] = {"type": ["string", "null"]}
    # v73 added ENGAGE to TrackingPlanV1.type.
    if path == "/tracking-plans":
        _items(s, "trackingPlans")["properties"]["type"]["enum"].append("ENGAGE")
    # v73 added INSERT_* function resource types.
    if path == "/functions":
        _items(s, "functions")["properties"]["resourceType"]["enum"] += ["INSERT_DESTINATION", "INSERT_SOURCE",
                                                                        "INSERT_TRANSFORMATION"]
    # v73: SourceEventVolumeV1.source is optional (only present when grouped by source).
    if path == "/events/volume":
        _items(s, "result")["required"].remove("source")
        if awkward:  # v73 SourceEventVolumeV1: eventName and eventType are optional too ("if applicable")
            _items(s, "result")["required"] = [f for f in _items(s, "result")["required"] if f not in ("eventName", "eventType")]
    if path == "/functions" and awkward:  # v73 ListFunctionItemV1: every field optional
        _items(s, "functions")["required"] = []
    # v73: RuleV1.jsonSchema is optional (`jsonSchema?: any`).
    if path == "/tracking-plans/{trackingPlanId}/rules":
        _items(s, "rules")["required"].remove("jsonSchema")
    return s


@pytest.fixture(scope="module", params=["tiny", "small", "tiny-awkward"])
def sim(request):
    # v32 allowed at most 200 per page: mimic it.
    size, _, awkward = request.param.partition("-")
    with Simulator(token=TOKEN, seed=7, size=size, today=TODAY, max_page_count=200, awkward=bool(awkward)) as s:
        yield s


def _get(sim, path, **params):
    r = requests.get(sim.url + path, params=params, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    return r.json()


def _requests_for(sim):
    ws = sim.workspace
    now = dt.datetime.now(dt.timezone.utc)
    src = ws.sources[0]["id"]
    dest = ws.destinations[0]
    wh = ws.warehouses[0]["id"]
    tp = next(t for t in ws.tracking_plans if ws.tracking_plan_rules[t["id"]])["id"]
    grp = ws.groups[0]["id"]
    p = {"pagination.count": "200"}
    yield "/", "/", {}
    for path in ["/sources", "/destinations", "/warehouses", "/catalog/sources", "/catalog/destinations",
                 "/catalog/warehouses", "/tracking-plans", "/users", "/groups", "/roles", "/invites",
                 "/transformations", "/regulations", "/audit-events"]:
        yield path, path, p
    yield "/labels", "/labels", {}
    for rt in ("SOURCE", "DESTINATION", "INSERT_SOURCE"):
        yield "/functions", "/functions", dict(p, resourceType=rt)
    yield "/users/{userId}", f"/users/{ws.users[0]['id']}", {}
    for path in ["/usage/api-calls/daily", "/usage/api-calls/sources/daily", "/usage/mtu/daily", "/usage/mtu/sources/daily"]:
        yield path, path, dict(p, period="2026-11-01")
    for gb in ("source,eventName,eventType", "eventType", ""):
        arrays = {f"groupBy.{i}": g for i, g in enumerate(gb.split(",") if gb else [])} if sim.strict_array_params else {"groupBy": gb}
        yield "/events/volume", "/events/volume", dict(p, granularity="DAY", startTime="2026-11-01T00:00:00Z",
                                                       endTime="2026-11-05T00:00:00Z", **arrays)
    yield "/sources/{sourceId}/connected-destinations", f"/sources/{src}/connected-destinations", p
    yield "/sources/{sourceId}/connected-warehouses", f"/sources/{src}/connected-warehouses", p
    yield "/sources/{sourceId}/settings", f"/sources/{src}/settings", {}
    yield "/warehouses/{warehouseId}/connected-sources", f"/warehouses/{wh}/connected-sources", p
    yield "/destinations/{destinationId}/subscriptions", f"/destinations/{dest['id']}/subscriptions", p
    yield "/destination/{destinationId}/filters", f"/destination/{dest['id']}/filters", p
    yield ("/destinations/{destinationId}/delivery-metrics", f"/destinations/{dest['id']}/delivery-metrics",
           {"sourceId": dest["sourceId"], "granularity": "HOUR",
            "startTime": (now - dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")})
    yield "/tracking-plans/{trackingPlanId}/rules", f"/tracking-plans/{tp}/rules", p
    yield "/tracking-plans/{trackingPlanId}/sources", f"/tracking-plans/{tp}/sources", p
    yield "/groups/{userGroupId}/users", f"/groups/{grp}/users", p


def test_all_v32_endpoints_conform(sim):
    seen = set()
    errors = []
    for spec_path, path, params in _requests_for(sim):
        assert spec_path in SCHEMAS, spec_path
        body = _get(sim, path, **params)
        validator = jsonschema.Draft7Validator(patched(spec_path, sim.awkward))
        for err in validator.iter_errors(body):
            errors.append(f"{path} {params}: {list(err.absolute_path)}: {err.message[:200]}")
        seen.add(spec_path)
    assert not errors, "\n".join(errors[:30])
    # every schema we copied is exercised
    assert seen == {k for k in SCHEMAS if k.startswith("/")}


def test_every_source_and_destination_conforms(sim):
    """Walk whole lists (all records, not just first page) for the two most varied record types."""
    for path, key in (("/sources", "sources"), ("/destinations", "destinations"), ("/catalog/destinations", "destinationsCatalog")):
        validator = jsonschema.Draft7Validator(patched(path))
        cursor = None
        while True:
            params = {"pagination.count": "200"}
            if cursor:
                params["pagination.cursor"] = cursor
            body = _get(sim, path, **params)
            errs = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(body)]
            assert not errs, errs[:10]
            cursor = body["data"]["pagination"].get("next")
            if not cursor:
                break


def test_schemas_are_effective():
    """Guard: a broken record must fail validation (the copied schemas are not vacuous)."""
    v = jsonschema.Draft7Validator(patched("/sources"))
    good = {"data": {"sources": [], "pagination": {"current": "MA==", "previous": None, "totalEntries": 0}}}
    assert not list(v.iter_errors(good))
    bad = copy.deepcopy(good)
    bad["data"]["sources"] = [{"id": "x", "enabled": "yes"}]
    assert list(v.iter_errors(bad))
    v2 = jsonschema.Draft7Validator(patched("/usage/api-calls/daily"))
    bad2 = {"data": {"dailyWorkspaceAPICallsUsage": [{"apiCalls": 5, "timestamp": "t"}], "pagination": {"current": "x"}}}
    assert list(v2.iter_errors(bad2))
