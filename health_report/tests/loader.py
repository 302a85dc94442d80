"""Builds a DuckDB file laid out like PyAirbyte's cache from plain records, without PyAirbyte (fast, for tests).

Column names and types follow PyAirbyte 0.71 (airbyte/types.py, LowerCaseNormalizer): the stream's JSON schema
(source_segment/schemas, read as files) decides each column's type; fields outside the schema are dropped as
PyAirbyte drops them. `test_pyairbyte_layout` (opt-in, in the report venv) pins this layout to PyAirbyte's own.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping

import duckdb

from health_report.db import normalize

SCHEMAS = Path(__file__).resolve().parents[2] / "source_segment" / "schemas"


def _sql_type(prop: Mapping[str, Any]) -> str:
    if "$ref" in prop:
        target = json.loads((SCHEMAS / "shared" / prop["$ref"]).read_text())
        return _sql_type(target)
    types = prop.get("type", "string")
    types = [t for t in (types if isinstance(types, list) else [types]) if t != "null"]
    kind = types[0] if len(types) == 1 else "string"
    if not types or kind in ("object", "array"):
        return "JSON"
    if kind == "string":
        return {"date": "DATE", "date-time": "TIMESTAMPTZ"}.get(prop.get("format", ""), "VARCHAR")
    return {"integer": "BIGINT", "number": "DECIMAL(38, 9)", "boolean": "BOOLEAN"}.get(kind, "VARCHAR")


def schema_columns(stream: str) -> Dict[str, str]:
    schema = json.loads((SCHEMAS / f"{stream}.json").read_text())
    return {name: _sql_type(prop) for name, prop in schema["properties"].items()}


def write(path: Path, records: Mapping[str, Iterable[Mapping[str, Any]]]) -> Path:
    """One table per stream in `main`, even for an empty record list (a stream synced with no rows)."""
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for stream, rows in records.items():
                columns = schema_columns(stream)
                table = f'main."{normalize(stream)}"'
                ddl = ", ".join(f'"{normalize(c)}" {t}' for c, t in columns.items())
                con.execute(f"CREATE TABLE {table} ({ddl}, _airbyte_raw_id VARCHAR, _airbyte_extracted_at TIMESTAMPTZ, _airbyte_meta JSON)")
                ndjson = Path(tmp) / f"{stream}.jsonl"
                with ndjson.open("w") as out:
                    for row in rows:
                        out.write(json.dumps({c: row.get(c) for c in columns}) + "\n")
                if not ndjson.stat().st_size:
                    continue
                # Every field read as JSON, then cast: bulk insert (executemany is ~1000x slower in DuckDB).
                spec = "{" + ", ".join(f"'{c}': 'JSON'" for c in columns) + "}"
                select = ", ".join(
                    f'"{c}"' if t == "JSON" else f"CAST(\"{c}\"->>'$' AS {t})" for c, t in columns.items()
                )
                con.execute(
                    f"INSERT INTO {table} SELECT {select}, uuid()::VARCHAR, now(), '{{}}' "
                    f"FROM read_json(?, format='newline_delimited', columns={spec})",
                    [str(ndjson)],
                )
    finally:
        con.close()
    return path
