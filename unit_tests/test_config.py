"""Spec and config validation: each bad value is a config error naming the field, from `check` and from `read`."""

import logging
from datetime import datetime, timedelta, timezone

import pytest
from airbyte_cdk.models import FailureType, Status
from airbyte_cdk.test.models.outcome import ExpectedOutcome

from source_segment import SourceSegment
from source_segment.config import ConfigError, normalize_config, parse_config
from unit_tests.builders import (
    EU,
    TOKEN,
    US,
    config,
    config_errors,
    error_traces,
    json_response,
    list_request,
    mocked_api,
    page,
    records,
    run_read,
    segment_request,
    sent,
    serialized,
)

LOGGER = logging.getLogger("airbyte")
WORKSPACE = {"id": "9aQ1Lj62S4bomZKLF4DPqW", "slug": "acme", "name": "Acme Inc."}
ROLE = {"id": "1K5gbPt5GOMBvsVC9WCb7eP5wnS", "name": "Workspace Owner", "description": "Full access."}


def _future_day() -> str:
    return (datetime.now(timezone.utc) + timedelta(days=2)).strftime("%Y-%m-%d")


# (field the error must name, config overrides); each is a value a user could plausibly paste.
BAD_CONFIGS = [
    pytest.param("api_token", {"api_token": ""}, id="empty-token"),
    pytest.param("api_token", {"api_token": "   \t "}, id="whitespace-token"),
    pytest.param("api_token", {"api_token": None}, id="missing-token"),
    pytest.param("api_token", {"api_token": TOKEN[:20] + "\n" + TOKEN[20:]}, id="token-with-newline"),
    pytest.param("api_token", {"api_token": TOKEN[:20] + " " + TOKEN[20:]}, id="token-with-inner-space"),
    pytest.param("api_token", {"api_token": TOKEN[:20] + "\u200b" + TOKEN[20:]}, id="token-with-zero-width-space"),
    pytest.param("api_token", {"api_token": "\u201c" + TOKEN + "\u201d"}, id="token-in-smart-quotes"),
    pytest.param("api_token", {"api_token": TOKEN[:20] + "\u00e9" + TOKEN[20:]}, id="token-with-latin-1-letter"),
    pytest.param("api_token", {"api_token": TOKEN[:20] + "\x00" + TOKEN[20:]}, id="token-with-nul"),
    pytest.param("api_token", {"api_token": 12345678901234}, id="numeric-token"),
    pytest.param("api_token", {"api_token": [TOKEN]}, id="token-in-a-list"),
    pytest.param("region", {"region": "eu2"}, id="unknown-region"),
    pytest.param("region", {"region": "api.segmentapis.com"}, id="region-as-host"),
    pytest.param("region", {"region": 1}, id="numeric-region"),
    pytest.param("start_date", {"start_date": None}, id="missing-start-date"),
    pytest.param("start_date", {"start_date": "2999-01-01"}, id="start-date-far-future"),
    pytest.param("start_date", {"start_date": "FUTURE_DAY"}, id="start-date-day-after-tomorrow"),
    pytest.param("start_date", {"start_date": "2024-13-01"}, id="month-13"),
    pytest.param("start_date", {"start_date": "2024-02-30"}, id="february-30"),
    pytest.param("start_date", {"start_date": "01/02/2024"}, id="slashed-date"),
    pytest.param("start_date", {"start_date": "2024-01-01T00:00:00"}, id="datetime-without-offset"),
    pytest.param("start_date", {"start_date": "2024-01-01T25:00:00Z"}, id="hour-25"),
    pytest.param("start_date", {"start_date": "yesterday"}, id="word"),
    pytest.param("start_date", {"start_date": 20240101}, id="numeric-start-date"),
    pytest.param("start_date", {"start_date": ""}, id="empty-start-date"),
    pytest.param("base_url", {"base_url": "http://api.segmentapis.com"}, id="http-to-segment"),
    pytest.param("base_url", {"base_url": "http://10.0.0.5:8080"}, id="http-to-private-ip"),
    pytest.param("base_url", {"base_url": "http://localhost.evil.example"}, id="http-to-localhost-lookalike"),
    pytest.param("base_url", {"base_url": "https://api.segmentapis.com/v1"}, id="with-path"),
    pytest.param("base_url", {"base_url": "https://api.segmentapis.com?debug=1"}, id="with-query"),
    pytest.param("base_url", {"base_url": "ftp://api.segmentapis.com"}, id="other-scheme"),
    pytest.param("base_url", {"base_url": "api.segmentapis.com"}, id="no-scheme"),
    pytest.param("page_size", {"page_size": -1}, id="negative-page-size"),
    pytest.param("page_size", {"page_size": 0}, id="zero-page-size"),
    pytest.param("page_size", {"page_size": 1001}, id="page-size-above-1000"),
    pytest.param("page_size", {"page_size": 10**9}, id="huge-page-size"),
    pytest.param("page_size", {"page_size": 12.5}, id="fractional-page-size"),
    pytest.param("page_size", {"page_size": "ten"}, id="text-page-size"),
    pytest.param("page_size", {"page_size": True}, id="boolean-page-size"),
    pytest.param("page_size", {"page_size": "1e3"}, id="page-size-in-exponent-notation"),
    pytest.param("page_size", {"page_size": "0"}, id="page-size-zero-as-string"),
    pytest.param("requests_per_minute", {"requests_per_minute": "fast"}, id="text-request-rate"),
    pytest.param("requests_per_minute", {"requests_per_minute": 0}, id="zero-request-rate"),
    pytest.param("num_workers", {"num_workers": 0}, id="zero-workers"),
    pytest.param("num_workers", {"num_workers": 17}, id="seventeen-workers"),
    pytest.param("max_retries", {"max_retries": -1}, id="negative-retries"),
    pytest.param("delivery_metrics_granularity", {"delivery_metrics_granularity": "WEEK"}, id="unknown-granularity"),
    pytest.param("delivery_metrics_granularity", {"delivery_metrics_granularity": ["HOUR"]}, id="granularity-in-a-list"),
    pytest.param("delivery_metrics_window_hours", {"delivery_metrics_granularity": "MINUTE", "delivery_metrics_window_hours": 5}, id="window-too-long-for-minutes"),
    pytest.param("user_permissions_lookup", {"user_permissions_lookup": "yes"}, id="boolean-as-word"),
    pytest.param("base_url", {"base_url": 8080}, id="numeric-base-url"),
]

# Other spellings of valid values, accepted by check, discover and read alike (and by the spec, after
# `normalize_config`): (overrides, what parse_config makes of the field).
ACCEPTED_SPELLINGS = [
    pytest.param({"region": "eu1"}, ("region", "eu"), id="legacy-region-eu1"),
    pytest.param({"region": "api"}, ("region", "us"), id="legacy-region-api"),
    pytest.param({"region": "EU"}, ("region", "eu"), id="region-upper-case"),
    pytest.param({"region": " us "}, ("region", "us"), id="region-padded"),
    pytest.param({"region": None}, ("region", "us"), id="region-null"),
    pytest.param({"region": ""}, ("region", "us"), id="region-empty"),
    pytest.param({"page_size": "1000"}, ("page_size", 1000), id="page-size-as-string"),
    pytest.param({"page_size": " 250 "}, ("page_size", 250), id="page-size-padded-string"),
    pytest.param({"page_size": 500.0}, ("page_size", 500), id="page-size-as-whole-float"),
    pytest.param({"requests_per_minute": "600"}, ("requests_per_minute", 600), id="request-rate-as-string"),
    pytest.param({"num_workers": "8"}, ("num_workers", 8), id="workers-as-string"),
    pytest.param({"max_retries": None}, ("max_retries", 5), id="retries-null"),
    pytest.param({"start_date": " 2024-01-01 "}, ("start_date", datetime(2024, 1, 1, tzinfo=timezone.utc)), id="start-date-padded"),
    pytest.param({"delivery_metrics_granularity": "day"}, ("delivery_metrics_granularity", "DAY"), id="granularity-lower-case"),
    pytest.param({"base_url": ""}, ("base_url", US), id="base-url-empty"),
]


def _bad(overrides: dict) -> dict:
    overrides = {key: (_future_day() if value == "FUTURE_DAY" else value) for key, value in overrides.items()}
    cfg = config(**{key: value for key, value in overrides.items() if value is not None})
    for key, value in overrides.items():
        if value is None:
            cfg.pop(key, None)
    return cfg


# ------------------------------------------------------------------------------------------ spec


def test_spec_loads_with_required_token_and_start_date():
    spec = SourceSegment().spec(LOGGER).connectionSpecification
    assert spec["type"] == "object"
    assert sorted(spec["required"]) == ["api_token", "start_date"]


def test_spec_marks_the_token_as_a_secret():
    properties = SourceSegment().spec(LOGGER).connectionSpecification["properties"]
    assert properties["api_token"]["airbyte_secret"] is True
    secrets = [name for name, prop in properties.items() if prop.get("airbyte_secret")]
    assert secrets == ["api_token"]


def _spec_error(cfg: dict):
    """The spec's JSON-schema verdict on the config as the CDK sees it (after `configure` normalized it)."""
    import jsonschema

    try:
        jsonschema.validate(normalize_config(cfg), SourceSegment().spec(LOGGER).connectionSpecification)
    except jsonschema.ValidationError as error:
        return error
    return None


def _spec_accepts(cfg: dict) -> bool:
    return _spec_error(cfg) is None


def _spec_field(error) -> str:
    if error.validator == "required":
        return error.message.split("'")[1]
    return str(error.absolute_path[0])


@pytest.mark.parametrize("overrides,expected", ACCEPTED_SPELLINGS)
def test_an_accepted_spelling_parses_to_the_canonical_value_and_passes_the_spec(overrides, expected):
    field, value = expected
    assert getattr(parse_config(_bad(overrides)), field) == value
    assert _spec_accepts(_bad(overrides))


@pytest.mark.parametrize("field,overrides", BAD_CONFIGS)
def test_a_bad_config_the_spec_refuses_is_refused_on_the_same_field(field, overrides):
    # The spec cannot judge everything (loopback-only http, a date in the future, a character inside a token):
    # where it does refuse, it must be about the field our message names.
    spec_error = _spec_error(_bad(overrides))
    if spec_error is not None:
        assert _spec_field(spec_error) == field


def _wrong_values(prop: dict) -> list:
    """Values of every JSON kind the property's schema refuses, plus one past each bound and outside each enum."""
    wrong = {"integer": ["ten", True, 1.5, [1]], "string": [12345, True, ["x"], {"a": 1}], "boolean": ["yes", 1, [True]]}[prop["type"]]
    if "minimum" in prop:
        wrong.append(prop["minimum"] - 1)
    if "maximum" in prop:
        wrong.append(prop["maximum"] + 1)
    if "enum" in prop:
        wrong.append("not-a-" + str(prop["enum"][0]))
    return wrong


def _spec_cases():
    properties = SourceSegment().spec(LOGGER).connectionSpecification["properties"]
    for name, prop in sorted(properties.items()):
        for value in _wrong_values(prop):
            yield pytest.param(name, value, id=f"{name}={value!r}")


@pytest.mark.parametrize("name,value", list(_spec_cases()))
def test_every_value_the_spec_refuses_is_refused_by_parse_config_naming_the_field(name, value):
    """Spec-driven, so a field added to spec.yaml without validation in config.py fails here."""
    cfg = config(**{name: value})
    assert not _spec_accepts(cfg)
    with pytest.raises(ConfigError) as raised:
        parse_config(cfg)
    assert raised.value.field == name
    assert raised.value.message.startswith(f"Invalid configuration: `{name}`")
    assert TOKEN not in raised.value.message


def test_spec_region_is_the_us_eu_enum_defaulting_to_us():
    region = SourceSegment().spec(LOGGER).connectionSpecification["properties"]["region"]
    assert region["enum"] == ["us", "eu"]
    assert region["default"] == "us"


def test_spec_documents_every_option_with_title_description_and_default_or_example():
    properties = SourceSegment().spec(LOGGER).connectionSpecification["properties"]
    expected = {
        "api_token", "region", "start_date", "base_url", "page_size", "requests_per_minute", "max_rate_limit_wait_seconds",
        "max_retries", "audit_events_lookback_minutes", "audit_events_window_days", "event_volume_window_days",
        "delivery_metrics_granularity", "delivery_metrics_window_hours", "user_permissions_lookup", "redact_secrets",
        "num_workers",
    }
    assert expected <= set(properties)
    for name, prop in properties.items():
        assert prop.get("title") and prop.get("description"), name
        if name not in ("api_token", "start_date"):
            assert "default" in prop or prop.get("examples"), name


def test_spec_defaults_match_the_parsed_defaults():
    properties = SourceSegment().spec(LOGGER).connectionSpecification["properties"]
    parsed = parse_config(config())
    for name, prop in properties.items():
        if "default" in prop and hasattr(parsed, name):
            assert getattr(parsed, name) == prop["default"], name


# ------------------------------------------------------------------------------------------ bad values


@pytest.mark.parametrize("field,overrides", BAD_CONFIGS)
def test_bad_value_fails_check_with_a_message_naming_the_field(field, overrides):
    with mocked_api() as mocker:
        status = SourceSegment().check(LOGGER, _bad(overrides))
        assert sent(mocker) == []  # rejected before any request
    assert status.status == Status.FAILED
    assert f"`{field}`" in status.message
    assert "Invalid configuration" in status.message
    assert "Traceback" not in status.message
    assert TOKEN not in status.message


@pytest.mark.parametrize("field,overrides", BAD_CONFIGS)
def test_bad_value_fails_read_with_one_config_error_naming_the_field(field, overrides):
    with mocked_api() as mocker:
        output = run_read("roles", _bad(overrides), expected_outcome=ExpectedOutcome.EXPECT_EXCEPTION)
        assert sent(mocker) == []
    assert records(output) == []
    errors = config_errors(output)
    assert len(errors) == 1, error_traces(output)
    message = errors[0].message
    assert message.startswith(f"Invalid configuration: `{field}`")
    assert "Traceback" not in message and 'File "' not in message
    assert TOKEN not in serialized(output)


def test_config_error_message_says_how_to_fix_the_region():
    with pytest.raises(ConfigError) as raised:
        parse_config(config(region="eu2"))
    assert raised.value.field == "region"
    assert "`us`" in raised.value.message and "`eu`" in raised.value.message
    assert raised.value.failure_type == FailureType.config_error


def test_start_date_in_the_future_is_judged_against_the_injected_clock():
    now = datetime(2024, 6, 1, tzinfo=timezone.utc)
    assert parse_config(config(start_date="2024-05-31"), now=lambda: now).start_date == datetime(2024, 5, 31, tzinfo=timezone.utc)
    with pytest.raises(ConfigError) as raised:
        parse_config(config(start_date="2024-06-02"), now=lambda: now)
    assert raised.value.field == "start_date"


def test_discover_with_a_bad_config_is_a_config_error_too():
    from unit_tests.builders import run_discover

    output = run_discover(config(region="eu2"))
    assert [error.message.split(":")[0] for error in config_errors(output)] == ["Invalid configuration"]


# ------------------------------------------------------------------------------------------ accepted values


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2024-01-01", datetime(2024, 1, 1, tzinfo=timezone.utc)),
        ("2024-01-01T00:00:00Z", datetime(2024, 1, 1, tzinfo=timezone.utc)),
        ("2024-01-01T12:30:45z", datetime(2024, 1, 1, 12, 30, 45, tzinfo=timezone.utc)),
        ("2024-01-01T12:30:45.123Z", datetime(2024, 1, 1, 12, 30, 45, 123000, tzinfo=timezone.utc)),
        ("2024-01-01T12:30:45.123456789Z", datetime(2024, 1, 1, 12, 30, 45, 123456, tzinfo=timezone.utc)),
        ("2024-01-01T12:30:45+02:00", datetime(2024, 1, 1, 10, 30, 45, tzinfo=timezone.utc)),
        ("2024-01-01T12:30:45.5-05:30", datetime(2024, 1, 1, 18, 0, 45, 500000, tzinfo=timezone.utc)),
    ],
)
def test_start_date_accepts_a_day_or_rfc3339_and_normalizes_to_utc(value, expected):
    assert parse_config(config(start_date=value)).start_date == expected
    with mocked_api() as mocker:
        mocker.get(segment_request("/"), json_response({"data": {"workspace": WORKSPACE}}))
        assert SourceSegment().check(LOGGER, config(start_date=value)).status == Status.SUCCEEDED


@pytest.mark.parametrize(
    "region,host",
    [(None, US), ("us", US), ("eu", EU), ("api", US), ("eu1", EU)],
    ids=["default", "us", "eu", "legacy-api", "legacy-eu1"],
)
def test_region_selects_the_segment_host_for_check(region, host):
    with mocked_api() as mocker:
        mocker.get(segment_request("/", base=host), json_response({"data": {"workspace": WORKSPACE}}))
        status = SourceSegment().check(LOGGER, config(region=region))
        assert [request.url.split("/")[2] for request in sent(mocker)] == [host.split("/")[2]]
    assert status.status == Status.SUCCEEDED


@pytest.mark.parametrize("region,host", [("eu", EU), ("eu1", EU), ("api", US)], ids=["eu", "legacy-eu1", "legacy-api"])
def test_region_selects_the_segment_host_for_read(region, host):
    with mocked_api() as mocker:
        mocker.get(list_request("/roles", base=host), page("roles", [ROLE]))
        output = run_read("roles", config(region=region))
        assert {request.hostname for request in sent(mocker)} == {host.split("/")[2]}
    assert records(output) == [ROLE]


@pytest.mark.parametrize("padded", [f"  {TOKEN}  ", f"{TOKEN}\n", f"\t{TOKEN}\r\n"], ids=["spaces", "newline", "tab-crlf"])
def test_token_surrounding_whitespace_is_stripped_before_it_is_sent(padded):
    with mocked_api() as mocker:
        # segment_request() only matches `Authorization: Bearer <TOKEN>` exactly
        mocker.get(list_request("/roles"), page("roles", [ROLE]))
        output = run_read("roles", config(api_token=padded))
        assert [request.headers["Authorization"] for request in sent(mocker)] == [f"Bearer {TOKEN}"]
    assert records(output) == [ROLE]


@pytest.mark.parametrize(
    "base_url,expected_base",
    [
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
        ("http://127.5.6.7:9000/", "http://127.5.6.7:9000"),
        ("http://localhost", "http://localhost"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("https://segment-proxy.example.com", "https://segment-proxy.example.com"),
        ("https://api.segmentapis.com/", "https://api.segmentapis.com"),
    ],
)
def test_base_url_to_loopback_or_https_is_accepted_and_used(base_url, expected_base):
    assert parse_config(config(base_url=base_url)).base_url == expected_base
    with mocked_api() as mocker:
        mocker.get(list_request("/roles", base=expected_base), page("roles", [ROLE]))
        output = run_read("roles", config(base_url=base_url))
        assert [request.url.split("?")[0] for request in sent(mocker)] == [expected_base + "/roles"]
    assert records(output) == [ROLE]


def test_base_url_overrides_the_region_host():
    assert parse_config(config(region="eu", base_url="http://127.0.0.1:8080")).base_url == "http://127.0.0.1:8080"


@pytest.mark.parametrize("page_size,sent_count", [(1, 1), (250, 250), ("500", 500), (1000, 1000), (None, 1000)])
def test_page_size_within_1_to_1000_is_sent_as_pagination_count(page_size, sent_count):
    with mocked_api() as mocker:
        mocker.get(list_request("/roles", count=sent_count), page("roles", [ROLE]))
        output = run_read("roles", config(page_size=page_size))
    assert records(output) == [ROLE]


def test_defaults_of_the_optional_settings():
    parsed = parse_config(config())
    assert (parsed.region, parsed.base_url, parsed.page_size) == ("us", US, 1000)
    assert (parsed.max_rate_limit_wait_seconds, parsed.max_retries) == (900, 5)
    assert (parsed.user_permissions_lookup, parsed.redact_secrets) == (False, True)
