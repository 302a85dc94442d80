"""Read-only access to a PyAirbyte DuckDB cache: which stream tables exist, and rows as dicts.

PyAirbyte names a table after its stream and each column after the record field, lower-cased with every
non-alphanumeric character replaced by `_` (`sourceId` -> `sourceid`); nested objects and arrays become JSON,
`date-time` strings TIMESTAMPTZ, `number` DECIMAL(38, 9). The queries are written against that layout.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import duckdb


def normalize(name: str) -> str:
    """PyAirbyte's LowerCaseNormalizer: the column/table name a record field gets in its cache."""
    out = re.sub(r"[^a-z0-9]", "_", name.lower())
    return "_" + out if out[:1].isdigit() else out


class Cache:
    """A DuckDB cache file opened read-only; `schema` is PyAirbyte's (`main` unless configured otherwise)."""

    def __init__(self, path: Path, schema: str = "main"):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no DuckDB cache at {path}: pass --cache DIR of an earlier sync, or omit --cache to sync now")
        self.path = path
        self.schema = schema
        self.con = duckdb.connect(str(path), read_only=True)
        # Day boundaries are UTC everywhere in Segment's API; the session time zone would otherwise be the laptop's.
        self.con.execute("SET TimeZone = 'UTC'")
        rows = self.con.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = ?", [schema]
        ).fetchall()
        self._columns: Dict[str, List[str]] = {}
        for table, column in rows:
            self._columns.setdefault(table, []).append(column)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Cache":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def has(self, stream: str, *columns: str) -> bool:
        have = self._columns.get(normalize(stream))
        return have is not None and all(normalize(c) in have for c in columns)

    def count(self, stream: str) -> int:
        if not self.has(stream):
            return 0
        return int(self.con.execute(f"SELECT COUNT(*) FROM {self.table(stream)}").fetchone()[0])

    def table(self, stream: str) -> str:
        return f'"{self.schema}"."{normalize(stream)}"'

    def rows(self, sql: str, params: Optional[Sequence[Any]] = None) -> List[Dict[str, Any]]:
        cursor = self.con.execute(sql, list(params or []))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def value(self, sql: str, params: Optional[Sequence[Any]] = None) -> Any:
        row = self.con.execute(sql, list(params or [])).fetchone()
        return row[0] if row else None
