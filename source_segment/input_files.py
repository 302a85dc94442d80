"""Reads the config, catalog and state files the platform (or a user at a shell) passes on the command line.

The CDK's readers end in a stack trace for an empty file, a JSON array where an object belongs, or a file
saved with a byte-order mark. Here each problem becomes a config error naming the file, what is wrong with it
and how to fix it. A BOM (Windows editors, PowerShell redirects) is read past rather than refused: the
content is unambiguous.
"""

from __future__ import annotations

import codecs
import json
from typing import Any, List, Tuple, Type

from airbyte_cdk.models import (
    AirbyteStateMessage,
    AirbyteStateMessageSerializer,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteCatalogSerializer,
    FailureType,
)
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))  # UTF-32 LE starts like UTF-16 LE


class InputFileError(AirbyteTracedException):
    def __init__(self, kind: str, path: str, problem: str, fix: str):
        message = f"The {kind} file {path} {problem}. {fix}"
        super().__init__(message=message, internal_message=message, failure_type=FailureType.config_error)
        self.kind = kind
        self.path = path


def _decode(raw: bytes) -> str:
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return raw.decode(encoding)
    return raw.decode("utf-8")


def read_json(path: str, kind: str, expected: Tuple[Type, ...], fix: str) -> Any:
    """The parsed JSON of `path`, whose top level must be one of `expected` (dict and/or list)."""
    try:
        with open(path, "rb") as file:
            raw = file.read()
    except FileNotFoundError:
        raise InputFileError(kind, path, "does not exist", fix) from None
    except IsADirectoryError:
        raise InputFileError(kind, path, "is a directory", fix) from None
    except OSError as error:
        raise InputFileError(kind, path, f"cannot be read ({error.strerror or type(error).__name__})", fix) from None
    try:
        text = _decode(raw)
    except UnicodeDecodeError as error:
        raise InputFileError(kind, path, f"is not UTF-8 text (byte {error.start})", "Save it as UTF-8. " + fix) from None
    if not text.strip():
        raise InputFileError(kind, path, "is empty", fix)
    try:
        content = json.loads(text)
    except json.JSONDecodeError as error:
        # The position, not the excerpt: a config line can hold the token.
        raise InputFileError(kind, path, f"is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})", fix) from None
    if not isinstance(content, expected):
        wanted = " or ".join(_json_name(kind_) for kind_ in expected)
        raise InputFileError(kind, path, f"holds a JSON {_json_name(type(content))}, not a JSON {wanted}", fix)
    return content


def _json_name(kind: type) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number", type(None): "null"}
    return names.get(kind, kind.__name__)


def _schema_problem(error: Exception) -> str:
    """serpyco's "Schema validation failed:\n- <what> (instance_path='streams/0/stream')" as one short line."""
    lines = [line.lstrip("- ").strip() for line in str(error).splitlines()[1:] if line.strip()]
    return "; ".join(lines[:3]) or type(error).__name__


CONFIG_FIX = 'Pass a JSON object such as {"api_token": "...", "start_date": "2024-01-01"}, saved as UTF-8.'
CATALOG_FIX = (
    "Pass a configured catalog: a JSON object whose `streams` list holds entries like "
    '{"stream": <a stream from discover>, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}.'
)
STATE_FIX = "Reset the connection's state in Airbyte (or run without --state) to sync from start_date again."


def read_config_file(path: str) -> dict:
    return read_json(path, "config", (dict,), CONFIG_FIX)


def read_catalog_file(path: str) -> ConfiguredAirbyteCatalog:
    content = read_json(path, "catalog", (dict,), CATALOG_FIX)
    streams = content.get("streams")
    if isinstance(streams, list) and streams and all(isinstance(entry, dict) and "stream" not in entry and "name" in entry for entry in streams):
        raise InputFileError("catalog", path, "is a discovered catalog, not a configured one (its streams have no `sync_mode`)", CATALOG_FIX)
    try:
        return ConfiguredAirbyteCatalogSerializer.load(content)
    except Exception as error:  # serpyco's validation errors name the JSON path; keep only those lines
        raise InputFileError("catalog", path, f"is not a configured catalog ({_schema_problem(error)})", CATALOG_FIX) from None


def read_state_file(path: str) -> List[AirbyteStateMessage]:
    content = read_json(path, "state", (list, dict), STATE_FIX)
    if not content:
        return []
    if isinstance(content, dict):
        raise InputFileError("state", path, "holds a single JSON object (a legacy state format), not a list of state messages", STATE_FIX)
    messages = []
    for index, entry in enumerate(content):
        try:
            message = AirbyteStateMessageSerializer.load(entry)
        except Exception as error:
            raise InputFileError("state", path, f"holds an entry {index} that is not a state message ({_schema_problem(error)})", STATE_FIX) from None
        if not (message.stream or message.data or message.global_):
            raise InputFileError("state", path, f"holds an entry {index} with no `stream`, `global` or `data`", STATE_FIX)
        messages.append(message)
    return messages
