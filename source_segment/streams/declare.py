"""Streams declared in one row: the class body every plain list or child endpoint would otherwise repeat."""

from __future__ import annotations

import sys
from typing import Any

from source_segment.streams.base import SegmentStream
from source_segment.streams.children import SegmentChildStream


def declare(name: str, *, base: type[SegmentStream] = SegmentStream, **attributes: Any) -> type:
    """A stream class named after `name` (`group_users` -> `GroupUsers`), with `attributes` as its class
    attributes: endpoint, data_key, primary_key, feature, version, redact_fields, ..."""
    declared_in = sys._getframe(1).f_globals.get("__name__", __name__)  # tracebacks and reprs name the declaring module
    class_name = "".join(part.title() for part in name.split("_"))
    return type(class_name, (base,), dict(attributes, name=name, __module__=declared_in))


def child_stream(name: str, *, parent: type[SegmentStream], endpoint: str, data_key: str, parent_id_field: str, **attributes: Any) -> type:
    """A full-refresh per-parent stream: `endpoint` holds `{parent_id}`; every record gets `parent_id_field`."""
    attributes.setdefault("base", SegmentChildStream)
    declared_in = sys._getframe(1).f_globals.get("__name__", __name__)
    cls = declare(name, parent=parent, endpoint=endpoint, data_key=data_key, parent_id_field=parent_id_field, **attributes)
    cls.__module__ = declared_in
    return cls
