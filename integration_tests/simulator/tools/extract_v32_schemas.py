"""One-off: extract self-contained JSON Schemas of the v32 200 responses we simulate.

Usage: python extract_v32_schemas.py /path/to/openapi.yaml [out.json]
Not run by tests; its output (v32_response_schemas.json) is committed.
Requires PyYAML.
"""
import json
import os
import sys

import yaml

PATHS = [
    "/", "/sources", "/destinations", "/warehouses", "/catalog/sources", "/catalog/destinations",
    "/catalog/warehouses", "/tracking-plans", "/users", "/users/{userId}", "/groups", "/roles", "/invites",
    "/labels", "/transformations", "/functions", "/regulations", "/audit-events",
    "/usage/api-calls/daily", "/usage/api-calls/sources/daily", "/usage/mtu/daily", "/usage/mtu/sources/daily",
    "/events/volume", "/sources/{sourceId}/connected-destinations", "/sources/{sourceId}/connected-warehouses",
    "/sources/{sourceId}/settings", "/warehouses/{warehouseId}/connected-sources",
    "/destinations/{destinationId}/subscriptions", "/destination/{destinationId}/filters",
    "/destinations/{destinationId}/delivery-metrics", "/tracking-plans/{trackingPlanId}/rules",
    "/tracking-plans/{trackingPlanId}/sources", "/groups/{userGroupId}/users",
]
KEEP = {"type", "properties", "required", "items", "enum", "nullable", "additionalProperties",
        "oneOf", "anyOf", "allOf", "description"}


def convert(node, comps, stack=()):
    if isinstance(node, dict) and "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in stack:  # recursive type: leave open
            return {}
        return convert(comps[name], comps, stack + (name,))
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k not in KEEP or k == "description":
            continue
        if k == "properties":
            out[k] = {pk: convert(pv, comps, stack) for pk, pv in v.items()}
        elif k in ("items",):
            out[k] = convert(v, comps, stack)
        elif k == "additionalProperties":
            out[k] = convert(v, comps, stack) if isinstance(v, dict) else v
        elif k in ("oneOf", "anyOf", "allOf"):
            out[k] = [convert(x, comps, stack) for x in v]
        else:
            out[k] = v
    if out.pop("nullable", False):
        t = out.get("type")
        if t:
            out["type"] = [t, "null"]
        if "enum" in out:
            out["enum"] = list(out["enum"]) + [None]
    return out


def main():
    src = sys.argv[1]
    dst = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "v32_response_schemas.json")
    with open(src) as f:
        spec = yaml.safe_load(f)
    comps = spec["components"]["schemas"]
    result = {"_source": "Segment Public API v%s openapi.yaml, 200 responses, $refs resolved" % spec["info"]["version"]}
    for p in PATHS:
        op = spec["paths"].get(p, {}).get("get")
        if not op:
            print("missing in spec:", p, file=sys.stderr)
            continue
        content = op["responses"]["200"]["content"]
        mt = "application/json" if "application/json" in content else sorted(content)[0]
        schema = convert(content[mt]["schema"], comps)
        schema["$schema"] = "http://json-schema.org/draft-07/schema#"
        result[p] = {"operationId": op["operationId"], "mediaType": mt, "schema": schema}
    with open(dst, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    print("wrote", dst, len(result) - 1, "schemas")


if __name__ == "__main__":
    main()
