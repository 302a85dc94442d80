"""Secret redaction: what of a workspace's settings may leave the connector, and in what form."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

SECRET_KEY = re.compile(
    r"(secret|password|passwd|token|api_?key|access_?key|private_?key|credential|write_?key|signing_?key|connection_?string|service_?account)",
    re.IGNORECASE,
)

def redact(value: Any) -> str:
    """A stable, non-reversible stand-in for a credential: changes stay visible, the value does not."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return "redacted:sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def redact_settings(settings: Any) -> Any:
    if isinstance(settings, dict):
        return {
            key: (redact(value) if SECRET_KEY.search(key) and value not in (None, "", [], {}) and not isinstance(value, bool) else redact_settings(value))
            for key, value in settings.items()
        }
    if isinstance(settings, list):
        return [redact_settings(item) for item in settings]
    return settings
