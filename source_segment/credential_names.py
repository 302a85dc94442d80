"""Which setting names hold a credential: a key is split into words (camelCase, snake_case, kebab-case,
`X-Api-Key`), then judged by its words."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, List, Optional

SECRET_WORDS = {
    "secret", "secrets", "password", "passwords", "passwd", "pwd", "pass", "passphrase", "passcode", "token", "tokens",
    "credential", "credentials", "creds", "signature", "hmac", "salt", "cert", "certs", "certificate", "pem", "cookie",
    "cookies", "jwt", "otp", "dsn", "encrypted", "sas", "apikey",
}
SECRET_PAIRS = {("connection", "string"), ("service", "account"), ("session", "id")}
# `<word> key` names that are structure, not credentials (trackingId-style ids do not end in "key" at all).
SAFE_KEY_PREFIXES = {
    "primary", "partition", "sort", "cluster", "clustering", "distribution", "dist", "field", "event", "events",
    "property", "properties", "trait", "traits", "audience", "mapping", "dedupe", "dedup", "deduplication", "group",
    "lookup", "match", "matching", "object", "foreign", "unique", "join", "idempotency", "column", "table", "record",
    "entity", "attribute", "identifier", "id", "item", "metric", "dimension", "message", "cache", "row", "merge",
}
# A last word that says the value describes a credential rather than being one (`tokenUrl`, `authType`).
DESCRIPTOR_WORDS = {
    "type", "types", "method", "mode", "url", "uri", "endpoint", "host", "hostname", "enabled", "required", "scheme",
    "provider", "expiry", "expires", "expiration", "ttl", "length", "name", "names", "field", "fields", "format",
    "version", "strategy", "path", "label", "description", "placeholder", "location", "prefix",
}
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def _words(name: str) -> List[str]:
    return [word.lower() for word in _WORD.findall(name)]


def _is_auth_word(word: str) -> bool:
    return word.startswith(("auth", "oauth")) and not (word.startswith("author") and not word.startswith(("authoriz", "authoris")))


def _word_is_secret(word: str, previous: Optional[str]) -> bool:
    if word in SECRET_WORDS or _is_auth_word(word):
        return True
    if word in ("key", "keys"):
        return previous is not None and previous not in SAFE_KEY_PREFIXES
    # all-lowercase compounds: `apikey`, `licensekey`, `secretkey`, `accesstoken`
    if word.endswith("key") and len(word) > 3 and word[:-3] not in SAFE_KEY_PREFIXES:
        return True
    return any(part in word for part in ("secret", "password", "passwd", "token", "credential"))


def is_credential_key(name: Any) -> bool:
    """Whether a key (or a header/parameter name) names a credential; a lone `key` does, `eventKey` does not."""
    return isinstance(name, str) and _credential_name(name)


@lru_cache(maxsize=8192)  # settings repeat the same few hundred key names across thousands of records
def _credential_name(name: str) -> bool:
    words = _words(name)
    if not words:
        return False
    if words == ["key"]:
        return True
    if len(words) > 1 and words[-1] in DESCRIPTOR_WORDS:
        return False
    if any(pair in SECRET_PAIRS for pair in zip(words, words[1:])):
        return True
    return any(_word_is_secret(word, words[i - 1] if i else None) for i, word in enumerate(words))
