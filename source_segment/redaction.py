"""Credential redaction: what of a workspace's settings may leave the connector, and in what form.

Segment returns integration settings as free-form JSON, so a credential can sit under any key name, inside a
header list, a URL or a connection string. `safe` mode therefore judges each value by what it is, not only by
its key; `strict` hashes every string; `off` emits the API's values. A hash is a stable stand-in: the same
value always gives the same marker, so a rotated credential shows up as a change without being readable.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Iterable, MutableMapping
from urllib.parse import urlsplit

from source_segment.credential_names import is_credential_key

MODES = ("safe", "strict", "off")
MARKER = re.compile(r"redacted:sha256:[0-9a-f]{12}")


def redact(value: Any) -> str:
    """A stable, non-reversible stand-in for a credential: changes stay visible, the value does not."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if MARKER.fullmatch(text):  # parent records are shared with child streams and may pass twice
        return text
    return "redacted:sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


# -------------------------------------------------------------------------------------------- value shapes
PEM = re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?(-----END [A-Z0-9 ]+-----|\Z)", re.DOTALL)
AUTH_SCHEMES = r"(?:Bearer|Basic|Digest|Token|Negotiate|NTLM|Splunk|GenieKey|SSWS|Key|ApiKey|OAuth)"
_TOKENISH = r"[A-Za-z0-9._~+/=:\-]{8,}"
AUTH_VALUE = re.compile(rf"\s*{AUTH_SCHEMES}\s+({_TOKENISH})\s*", re.IGNORECASE)
# In prose "the token expired." is no header: only capitalised schemes, and a token that ends like one.
AUTH_IN_TEXT = re.compile(r"\b(Bearer|Basic|Digest|Token|Negotiate|NTLM|Splunk|GenieKey|SSWS|ApiKey)(\s+)([A-Za-z0-9._~+/=:\-]{7,}[A-Za-z0-9=])")
# Formats that are credentials wherever they appear, whatever the key.
KNOWN_TOKENS = re.compile(
    r"\b(?:"
    r"xox[abposre]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,}"  # Slack
    r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9]{10,}"  # Stripe
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}"  # GitHub, GitLab
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}|ya29\.[0-9A-Za-z_-]{10,}"  # AWS key id, Google
    r"|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"  # SendGrid
    r"|shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}|npm_[A-Za-z0-9]{36}|sgp_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,}"
    r"|[0-9a-f]{32}-us\d{1,2}"  # Mailchimp
    r"|eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"  # JWT
    r")"
)
URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s\"'<>`]+")
# Incoming-webhook URLs whose path (or whole URL) is the credential: posting to them needs nothing else.
SECRET_WEBHOOKS = (
    ("hooks.slack.com", "/"), ("discord.com", "/api/webhooks/"), ("discordapp.com", "/api/webhooks/"),
    ("outlook.office.com", "/webhook"), ("webhook.office.com", "/"), ("hooks.zapier.com", "/hooks/"),
    ("maker.ifttt.com", "/trigger/"), ("api.telegram.org", "/bot"), ("chat.googleapis.com", "/"),
    ("logic.azure.com", "/"),
)
# Self-hosted chat (Mattermost, Rocket.Chat) and most webhook receivers: a long opaque id after /hooks/ is the key.
CAPABILITY_PATH = re.compile(r"/(?:hooks?|webhooks?)/[A-Za-z0-9_\-]{20,}")
# Query parameters that carry a credential under a name the key rule would not flag.
SECRET_PARAMS = {"key", "sig", "code", "x-amz-credential", "x-amz-signature", "x-amz-security-token", "x-goog-signature"}
# `Password=...;` (ADO/JDBC/libpq connection strings, query strings), `"password": "..."` (JSON or dict reprs in
# error text) and `Authorization: ...` header lines. Names are bounded so that no input makes a regex backtrack long.
ASSIGNMENT = re.compile(r"\b([A-Za-z][\w.\-]{0,63})(\s*=\s*)(\"[^\"]*\"|'[^']*'|[^;&,\s\"']+)")
QUOTED_PAIR = re.compile(r"([\"'])([^\"'\n]{1,64})\1(\s*:\s*)(\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'|-?\d[\d.]*)")
HEADER_LINE = re.compile(r"(?m)^([ \t]*)([A-Za-z][\w-]{0,63})([ \t]*:[ \t]*)(\S.*?)[ \t]*$")


def _secret_webhook(host: str, path: str) -> bool:
    known = any((host == h or host.endswith("." + h)) and path.startswith(p) and len(path) > len(p) for h, p in SECRET_WEBHOOKS)
    return known or bool(CAPABILITY_PATH.search(path))


def _redact_params(text: str) -> str:
    def pair(match: "re.Match[str]") -> str:
        name, value = match.group(1), match.group(3)
        if value and (is_credential_key(name) or name.lower() in SECRET_PARAMS):
            return f"{name}{match.group(2)}{redact(value)}"
        return match.group(0)

    return re.sub(r"([^&=#;]+)(=)([^&#;]*)", pair, text)


def _redact_url(url: str) -> str:
    trail = re.search(r"[.,;:)\]}]+$", url)  # punctuation that ends a sentence, not the URL
    tail = trail.group(0) if trail else ""
    url = url[: len(url) - len(tail)]
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return redact(url) + tail
    if _secret_webhook(host, parts.path):
        return redact(url) + tail
    scheme, rest = url.split("://", 1)
    authority, sep, after = re.match(r"([^/?#]*)([/?#]?)(.*)", rest, re.DOTALL).groups()
    if "@" in authority:
        userinfo, hostport = authority.rsplit("@", 1)
        authority = f"{redact(userinfo)}@{hostport}"
    if sep in ("?", "#") or "?" in after or "#" in after:
        path, qsep, query = re.match(r"([^?#]*)([?#]?)(.*)", sep + after, re.DOTALL).groups()
        after_text = path + qsep + _redact_params(query)
    else:
        after_text = sep + after
    return f"{scheme}://{authority}{after_text}{tail}"


def _hide_value(name: str, value: str) -> bool:
    # A lone `key` in prose or JSON text is usually a label's or a header list's name half, not a credential.
    return bool(value) and not MARKER.fullmatch(value.strip("\"'")) and name.lower() != "key" and is_credential_key(name)


def _quoted(value: str) -> str:
    """A marker in the quotes the value came in, so a JSON or repr text stays well-formed."""
    return value[0] + redact(value[1:-1]) + value[0] if value[:1] in ("'", '"') and len(value) > 1 else redact(value)


def redact_text(text: str) -> str:
    """Text with credential-looking parts replaced by markers, the rest kept: for logs, errors and free text."""
    if not isinstance(text, str) or not text:
        return text
    text = PEM.sub(lambda m: redact(m.group(0)), text)
    text = URL.sub(lambda m: _redact_url(m.group(0)), text)
    text = KNOWN_TOKENS.sub(lambda m: redact(m.group(0)), text)
    text = AUTH_IN_TEXT.sub(lambda m: m.group(1) + m.group(2) + redact(m.group(3)) if _tokenish(m.group(3)) else m.group(0), text)
    text = HEADER_LINE.sub(lambda m: m.group(1) + m.group(2) + m.group(3) + (
        _redact_header(m.group(4)) if _hide_value(m.group(2), m.group(4)) else m.group(4)), text)
    text = QUOTED_PAIR.sub(lambda m: m.group(0)[: -len(m.group(4))] + _quoted(m.group(4)) if _hide_value(m.group(2), m.group(4)) else m.group(0), text)
    return ASSIGNMENT.sub(lambda m: m.group(1) + m.group(2) + _quoted(m.group(3)) if _hide_value(m.group(1), m.group(3)) else m.group(0), text)


def _redact_header(value: str) -> str:
    """`Authorization: Bearer <marker>` has already lost its secret; anything else after a credential header goes."""
    return value if MARKER.search(value) else redact(value)


def _tokenish(word: str) -> bool:
    """`Basic dXNlcjpwYXNz` is a credential; `Basic authentication` and `Token pagination.count` are prose."""
    return bool(re.search(r"[0-9=+/]", word)) or (len(word) >= 12 and word.lower() != word and word.upper() != word)


def _redact_string(value: str) -> str:
    if MARKER.fullmatch(value):
        return value
    if PEM.search(value):
        return redact(value)
    auth = AUTH_VALUE.fullmatch(value)
    if auth and _tokenish(auth.group(1)):
        return redact(value)
    return redact_text(value)


# ------------------------------------------------------------------------------------------------ walking
NAME_FIELDS = ("key", "name", "header", "field", "param", "parameter")
VALUE_FIELDS = ("value", "val", "content", "defaultValue", "default")


def _is_reference(value: Any) -> bool:
    """An Actions mapping like `{"@path": "$.properties.token"}` points at event data; it holds no credential."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("@path"), str)


def _hash_leaves(value: Any) -> Any:
    """Everything under a credential key: strings and numbers hashed; keys, booleans, nulls and references kept."""
    if isinstance(value, dict):
        return value if _is_reference(value) else {key: _hash_leaves(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_hash_leaves(item) for item in value]
    if value is None or isinstance(value, bool) or value == "":
        return value
    return redact(value)


def _marks_sensitive(item: dict) -> bool:
    """Segment's own metadata: functions' settings carry `sensitive: true`; catalog fields `type: PASSWORD`."""
    return (item.get("sensitive") is True or item.get("secret") is True or item.get("isSecret") is True
            or str(item.get("type", "")).lower() in ("password", "secret"))


def _safe_dict(item: dict) -> dict:
    names = [item.get(field) for field in NAME_FIELDS if isinstance(item.get(field), str)]
    pair_names_secret = any(is_credential_key(name) for name in names) and any(field in item for field in VALUE_FIELDS)
    hide_values = pair_names_secret or _marks_sensitive(item)
    out = {}
    for key, value in item.items():
        if hide_values and key in VALUE_FIELDS:
            out[key] = _hash_leaves(value)
        elif key in NAME_FIELDS and names and any(field in item for field in VALUE_FIELDS):
            out[key] = _safe(value)  # the name half of a key/value pair: `{"key": "Authorization", ...}`
        elif is_credential_key(key):
            out[key] = _hash_leaves(value)
        else:
            out[key] = _safe(value)
    return out


def _safe(value: Any) -> Any:
    if isinstance(value, dict):
        return _safe_dict(value)
    if isinstance(value, list):
        return [_safe(item) for item in value]
    if isinstance(value, str):
        return _redact_string(value)
    return value


def _strict(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _strict(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_strict(item) for item in value]
    return redact(value) if isinstance(value, str) and value else value


def redact_settings(settings: Any, mode: str = "safe") -> Any:
    """A copy of a settings value as `mode` allows it to leave the connector (see MODES)."""
    if mode == "off":
        return settings
    if mode == "strict":
        return _strict(_safe(settings))  # never weaker than safe: a numeric PIN under `auth` stays hidden
    return _safe(settings)


def redact_record(record: MutableMapping[str, Any], fields: Iterable[str], mode: str, text_fields: Iterable[str] = ()) -> MutableMapping[str, Any]:
    """Redacts the named top-level fields of a record in place; a field named like a credential (`writeKeys`,
    `encryptedSettings`) is hidden whole, a settings-like field value by value. `text_fields` (error messages,
    sync notices) get the `safe` rules in both modes: hashing a whole error message would leave nothing to read."""
    if mode == "off":
        return record
    for field in fields:
        if field in record:
            record[field] = _hash_leaves(record[field]) if is_credential_key(field) else redact_settings(record[field], mode)
    for field in text_fields:
        if field in record:
            record[field] = _safe(record[field])
    return record
