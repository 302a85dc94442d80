"""The spellings of a config we accept beyond the spec's canonical form, rewritten before anything validates it.

The CDK checks `check`'s config against the spec before our code runs, so what `parse_config` accepts must
first be brought to the form the spec's JSON schema accepts; this module does that and nothing else.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from typing import Any, Dict, Mapping

import yaml

# Other Segment connectors name the regions after the host prefix; their configs keep working here.
LEGACY_REGIONS = {"api": "us", "eu1": "eu"}


@functools.lru_cache(maxsize=1)
def connection_specification() -> Mapping[str, Any]:
    """The spec's JSON schema, as the CDK loads it for `spec` and for its own config check."""
    text = importlib.resources.files("source_segment").joinpath("spec.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)["connectionSpecification"]


def json_type(value: Any) -> str:
    for kind, name in ((bool, "boolean"), ((int, float), "number"), (str, "string"), (list, "list"), (Mapping, "object")):
        if isinstance(value, kind):
            return name
    return "null" if value is None else type(value).__name__


def as_integer(value: Any) -> Any:
    """A number the user clearly meant as a whole number ("1000", " 600 ", 1000.0) as an int; else unchanged."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,18}\s*", value):
        return int(value)
    return value


def normalize_config(config: Mapping[str, Any]) -> Dict[str, Any]:
    """The config with every spelling we accept rewritten to the form the spec's JSON schema accepts.

    Optional fields set to null or "" are unset; whole numbers written as strings or floats become integers;
    enum values match case-insensitively and legacy region names map to `us`/`eu`; dates lose surrounding
    blanks. Anything else is left as it is, for `parse_config` to reject with a message naming the field.
    """
    schema = connection_specification()
    properties, required = schema.get("properties", {}), set(schema.get("required", []))
    normalized: Dict[str, Any] = {}
    for key, value in config.items():
        prop = properties.get(key)
        if not isinstance(prop, Mapping):
            normalized[key] = value
            continue
        if key not in required and (value is None or (isinstance(value, str) and not value.strip())):
            continue
        if prop.get("type") == "integer":
            value = as_integer(value)
        elif isinstance(value, str) and ("enum" in prop or "pattern" in prop):
            value = value.strip()
            if key == "region":
                value = LEGACY_REGIONS.get(value.lower(), value)
            for member in prop.get("enum", ()):
                if isinstance(member, str) and member.lower() == value.lower():
                    value = member
        normalized[key] = value
    return normalized
