"""Credential redaction (issue 19): every rule proven on real-shaped settings from fixtures/settings_credentials.json.

Each rule has its own test over fixture cases whose secrets only that rule catches, so removing a rule fails
its test. The fixture's non-secret configuration must come through `safe` unchanged.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from source_segment.config import ConfigError, parse_config
from source_segment.errors import segment_error_message
from source_segment.redaction import is_credential_key, redact, redact_record, redact_settings, redact_text
from source_segment.streams.registry import ALL_STREAMS
from unit_tests.builders import config, list_request, mocked_api, page, run_read, serialized, stream_schemas

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "settings_credentials.json").read_text(encoding="utf-8"))
CASES = FIXTURE["cases"]
NON_SECRET = FIXTURE["non_secret"]["settings"]
MARKER = re.compile(r"redacted:sha256:[0-9a-f]{12}")


def cases_for(rule: str) -> list:
    selected = [pytest.param(case, id=case["id"]) for case in CASES if case["rule"] == rule]
    assert selected, f"no fixture case for rule {rule}"
    return selected


def at(value: Any, path: str) -> Any:
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def leaked(output: Any, case: dict) -> list:
    text = json.dumps(output, ensure_ascii=False)
    return [secret for secret in case["secrets"] if secret in text]


def assert_rule_holds(case: dict) -> None:
    original = copy.deepcopy(case["settings"])
    out = redact_settings(case["settings"], "safe")
    assert case["settings"] == original, "redaction must not change the input in place"
    assert leaked(out, case) == []
    for path in case.get("whole", []):
        assert MARKER.fullmatch(str(at(out, path))), (path, at(out, path))
    for path in case.get("kept", []):
        assert at(out, path) == at(original, path), path
    for path, parts in case.get("kept_text", {}).items():
        for part in parts:
            assert part in at(out, path), (path, part, at(out, path))


# ------------------------------------------------------------------------------------------ one test per rule

@pytest.mark.parametrize("case", cases_for("key_words"))
def test_keys_naming_a_secret_password_token_salt_cert_or_pass_are_hashed_with_everything_under_them(case):
    assert_rule_holds(case)


@pytest.mark.parametrize("case", cases_for("key_suffix"))
def test_keys_ending_in_key_are_hashed_except_structural_names_like_eventKey(case):
    assert_rule_holds(case)


@pytest.mark.parametrize("case", cases_for("auth_prefix"))
def test_auth_named_keys_are_hashed_but_not_authType_or_authorName(case):
    assert_rule_holds(case)


@pytest.mark.parametrize("case", cases_for("kv_pair"))
def test_values_of_key_value_pairs_naming_a_credential_are_hashed_and_the_names_kept(case):
    assert_rule_holds(case)


@pytest.mark.parametrize("case", cases_for("sensitive_flag"))
def test_values_segment_marks_sensitive_or_password_typed_are_hashed(case):
    assert_rule_holds(case)


@pytest.mark.parametrize("case", cases_for("url_userinfo"))
def test_url_userinfo_is_hashed_and_the_rest_of_the_url_kept(case):
    assert_rule_holds(case)


@pytest.mark.parametrize("case", cases_for("url_query"))
def test_credential_query_and_fragment_parameters_are_hashed_and_the_others_kept(case):
    assert_rule_holds(case)


@pytest.mark.parametrize("case", cases_for("secret_webhook"))
def test_incoming_webhook_urls_of_secret_bearing_hosts_are_hashed_whole(case):
    assert_rule_holds(case)


@pytest.mark.parametrize("case", cases_for("auth_scheme"))
def test_bearer_basic_and_token_values_are_hashed_whole(case):
    assert_rule_holds(case)


@pytest.mark.parametrize("case", cases_for("pem"))
def test_pem_blocks_are_hashed_whole(case):
    assert_rule_holds(case)


@pytest.mark.parametrize("case", cases_for("assignment"))
def test_connection_string_passwords_and_account_keys_are_hashed_and_the_rest_kept(case):
    assert_rule_holds(case)


@pytest.mark.parametrize("case", cases_for("known_token"))
def test_known_token_formats_are_hashed_under_any_key(case):
    assert_rule_holds(case)


def test_write_keys_are_hashed_one_by_one_and_stay_distinguishable():
    keys = ["wk_live_4f9a8b7c6d5e4f3a", "wk_live_0a1b2c3d4e5f6a7b"]
    record = redact_record({"id": "src", "writeKeys": list(keys), "settings": {"region": "eu"}}, ("writeKeys", "settings"), "safe")
    assert [MARKER.fullmatch(key) is not None for key in record["writeKeys"]] == [True, True]
    assert len(set(record["writeKeys"])) == 2
    assert record["settings"] == {"region": "eu"} and record["id"] == "src"


# ------------------------------------------------------------------------------------------ modes

@pytest.mark.parametrize("mode", ["safe", "strict"])
@pytest.mark.parametrize("case", [pytest.param(case, id=case["id"]) for case in CASES])
def test_no_planted_credential_survives_safe_or_strict(case, mode):
    assert leaked(redact_settings(case["settings"], mode), case) == []


def test_non_secret_configuration_survives_safe_unchanged():
    assert redact_settings(copy.deepcopy(NON_SECRET), "safe") == NON_SECRET


def _assert_strict_shape(original: Any, out: Any, safe: Any) -> None:
    if isinstance(original, dict):
        assert list(out) == list(original)
        for key in original:
            _assert_strict_shape(original[key], out[key], safe[key])
    elif isinstance(original, list):
        assert len(out) == len(original)
        for item, redacted, safe_item in zip(original, out, safe):
            _assert_strict_shape(item, redacted, safe_item)
    elif isinstance(original, str) and original:
        assert MARKER.fullmatch(out), (original, out)
    elif safe != original:  # a number safe hides (a PIN under `auth`) stays hidden in strict
        assert out == safe
    else:
        assert out == original and type(out) is type(original)


@pytest.mark.parametrize("settings", [pytest.param(case["settings"], id=case["id"]) for case in CASES] + [pytest.param(NON_SECRET, id="non_secret")])
def test_strict_hashes_every_string_and_keeps_keys_booleans_numbers_and_nulls(settings):
    _assert_strict_shape(settings, redact_settings(settings, "strict"), redact_settings(settings, "safe"))


@pytest.mark.parametrize("case", [pytest.param(case, id=case["id"]) for case in CASES])
def test_off_returns_the_settings_as_sent(case):
    assert redact_settings(case["settings"], "off") == case["settings"]


def test_markers_are_stable_across_calls_and_modes_and_differ_between_values():
    # the marker is a plain SHA-256 prefix, so it is the same in every run, process and connector version
    assert redact("hunter2-long") == "redacted:sha256:" + hashlib.sha256(b"hunter2-long").hexdigest()[:12]
    safe = redact_settings({"password": "same-secret-1"}, "safe")["password"]
    strict = redact_settings({"password": "same-secret-1"}, "strict")["password"]
    assert safe == strict == redact("same-secret-1")
    assert redact("same-secret-1") != redact("same-secret-2")


@pytest.mark.parametrize("mode", ["safe", "strict"])
@pytest.mark.parametrize("settings", [pytest.param(case["settings"], id=case["id"]) for case in CASES] + [pytest.param(NON_SECRET, id="non_secret")])
def test_redacting_twice_changes_nothing_more(settings, mode):
    # parent records are shared with child streams, so one record may pass through redaction twice
    once = redact_settings(settings, mode)
    assert redact_settings(once, mode) == once


@pytest.mark.parametrize(
    "name,credential",
    [("apiKey", True), ("X-Api-Key", True), ("accessKeyId", True), ("writeKeys", True), ("encryptedSettings", True), ("OAuth2Token", True),
     ("key", True), ("trackingId", False), ("measurementId", False), ("eventKey", False), ("primaryKey", False), ("tokenUrl", False),
     ("authType", False), ("author", False), ("Content-Type", False), ("username", False), ("settings", False), ("keyId", False)],
)
def test_credential_key_names(name, credential):
    assert is_credential_key(name) is credential


# ------------------------------------------------------------------------------------------ log and error text

@pytest.mark.parametrize(
    "text,secret,kept",
    [
        ("GET https://api.partner.example/v1?token=tx_query_1&page=2 failed", "tx_query_1", "&page=2 failed"),
        ("could not connect to postgres://loader:tx_pgpw_2@db.example.com:5432/prod", "tx_pgpw_2", "@db.example.com:5432/prod"),
        ("Authorization: Bearer tx_bearer_3abc", "tx_bearer_3abc", "Authorization: Bearer redacted:sha256:"),
        ("request headers:\nX-Api-Key: tx_header_4\nAccept: */*", "tx_header_4", "Accept: */*"),
        ('rejected {"password": "tx_json_5", "region": "eu"}', "tx_json_5", '"region": "eu"'),
        ("{'apiKey': 'tx_repr_6', 'enabled': True}", "tx_repr_6", "'enabled': True"),
        ("dsn Server=x;Password=tx_ado_7;Database=y", "tx_ado_7", ";Database=y"),
        ("posting to https://hooks.slack.com/services/T1/B2/tx_slack_8 timed out", "tx_slack_8", " timed out"),
        ("key file -----BEGIN PRIVATE KEY-----\ntx_pem_9\n-----END PRIVATE KEY----- rejected", "tx_pem_9", " rejected"),
        ("token sk_live_tx10abcdefghij leaked", "sk_live_tx10abcdefghij", " leaked"),
    ],
)
def test_redact_text_hides_credential_looking_parts_and_keeps_the_rest(text, secret, kept):
    out = redact_text(text)
    assert secret not in out and kept in out, out
    assert redact_text(out) == out


@pytest.mark.parametrize(
    "text",
    ["Skipping stream `users`: Segment answered 403", "Basic authentication is not supported", "see https://segment.com/docs/connections/",
     "the token expired.", "Token pagination.count is invalid: use 1..1000", "GET /destinations/abc/subscriptions failed: 503; retry 1/5 in 2 s.", ""],
)
def test_redact_text_leaves_plain_text_alone(text):
    assert redact_text(text) == text


# ------------------------------------------------------------------------------------------ config

@pytest.mark.parametrize(
    "overrides,mode",
    [({}, "safe"), ({"redact_secrets": True}, "safe"), ({"redact_secrets": False}, "off"), ({"settings_redaction": "strict"}, "strict"),
     ({"settings_redaction": "off"}, "off"), ({"settings_redaction": "safe", "redact_secrets": False}, "safe"),
     ({"settings_redaction": " STRICT "}, "strict")],
)
def test_settings_redaction_defaults_to_safe_and_the_deprecated_flag_still_turns_it_off(overrides, mode):
    parsed = parse_config(config(**overrides))
    assert parsed.settings_redaction == mode
    assert parsed.redact_secrets is (mode != "off")


@pytest.mark.parametrize("value", ["paranoid", True, 1])
def test_an_unknown_settings_redaction_is_a_config_error_naming_the_field_and_the_choices(value):
    with pytest.raises(ConfigError) as raised:
        parse_config(config(settings_redaction=value))
    assert raised.value.field == "settings_redaction"
    assert all(mode in raised.value.message for mode in ("`safe`", "`strict`", "`off`"))


# ------------------------------------------------------------------------------------------ streams

CREDENTIAL_CARRIERS = ("settings", "writeKeys", "encryptedSettings", "connectionSettings")


def test_every_stream_whose_records_carry_settings_redacts_them():
    schemas = stream_schemas()
    carried, uncovered = set(), []
    for stream_class in ALL_STREAMS:
        name = stream_class.name
        fields = [field for field in CREDENTIAL_CARRIERS if field in schemas.get(name, {}).get("properties", {})]
        carried |= {f"{name}.{field}" for field in fields}
        uncovered += [f"{name}.{field}" for field in fields if field not in stream_class.redact_fields]
    assert {"sources.writeKeys", "destinations.settings", "warehouses.settings", "destination_subscriptions.settings"} <= carried
    assert uncovered == []


def _planted(mode: str):
    settings = {case["id"]: case["settings"] for case in CASES}
    secrets = [secret for case in CASES for secret in case["secrets"]] + ["wk_live_planted_0123456789"]
    source = {"id": "src_1", "slug": "web", "name": "Web", "workspaceId": "ws", "enabled": True, "labels": [],
              "writeKeys": ["wk_live_planted_0123456789"], "settings": settings, "metadata": {"id": "m1", "slug": "js", "name": "JS"}}
    destination = {"id": "dst_1", "name": "Hooks", "enabled": True, "sourceId": "src_1", "settings": settings,
                   "metadata": {"id": "m2", "slug": "webhooks", "name": "Webhooks"}}
    warehouse = {"id": "wh_1", "workspaceId": "ws", "enabled": True, "settings": settings, "metadata": {"id": "m3", "slug": "postgres", "name": "Postgres"}}
    with mocked_api() as mocker:
        mocker.get(list_request("/sources"), page("sources", [source]))
        mocker.get(list_request("/destinations"), page("destinations", [destination]))
        mocker.get(list_request("/warehouses"), page("warehouses", [warehouse]))
        output = run_read(["sources", "destinations", "warehouses"], config(settings_redaction=mode))
    text = serialized(output)
    return len(output.records), sorted({secret for secret in secrets if secret in text}), len(set(secrets))


@pytest.mark.parametrize("mode", ["safe", "strict"])
def test_a_read_of_sources_destinations_and_warehouses_prints_no_planted_credential(mode):
    emitted, leaks, _ = _planted(mode)
    assert emitted == 3
    assert leaks == []


def test_with_redaction_off_the_read_emits_the_planted_credentials_as_sent():
    _, leaks, planted = _planted("off")
    assert len(leaks) == planted


def test_text_fields_of_a_record_get_the_value_rules_in_safe_and_strict_but_stay_readable():
    error = "load failed: could not connect to postgres://loader:tf_pgpw_1@db.example.com:5432/prod"
    for mode in ("safe", "strict"):
        record = redact_record({"syncId": "s1", "error": error, "notices": [{"message": "Authorization: Bearer tf_bearer_2abc"}]}, (), mode, ("error", "notices"))
        assert "tf_pgpw_1" not in json.dumps(record) and "tf_bearer_2abc" not in json.dumps(record)
        assert record["error"].startswith("load failed: could not connect to postgres://") and record["syncId"] == "s1"
    assert redact_record({"error": error}, (), "off", ("error",)) == {"error": error}


def test_segment_error_messages_are_redacted_before_they_reach_an_error_or_log():
    message, field = segment_error_message({"errors": [{"type": "validation", "message": "settings.url https://u:em_pw_1@h.example/x is unreachable", "field": "settings"}]})
    assert "em_pw_1" not in message and "@h.example/x is unreachable" in message and field == "settings"
