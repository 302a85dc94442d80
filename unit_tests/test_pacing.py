"""Pacing by the server's rate-limit headers (issue 16), driven by a fake clock: nothing sleeps, nothing is timed.

Each test plays requests and answers in a fixed order against `CallBudget`, the way the client does
(`acquire`, then `complete` with the answer), and checks the waits the budget asks for.
"""

import email.utils
from datetime import datetime, timedelta, timezone

import pytest
import requests

from source_segment.config import parse_config
from source_segment.rate_limiting import (
    CAP_WINDOW_SECONDS,
    FALLBACK_REQUESTS_PER_MINUTE,
    CallBudget,
    ServerRoom,
    endpoint_limit,
)

EPOCH = datetime(2026, 12, 3, 8, 0, 0, tzinfo=timezone.utc)


class FakeTime:
    """A monotonic clock and a wall clock that move only when the budget sleeps or the test advances them."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def clock(self):
        return self.now

    def wall(self):
        return EPOCH + timedelta(seconds=self.now - 1000.0)

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def fake(monkeypatch):
    fake = FakeTime()
    monkeypatch.setattr(CallBudget, "clock", staticmethod(fake.clock))
    monkeypatch.setattr(CallBudget, "wall", staticmethod(fake.wall))
    monkeypatch.setattr(CallBudget, "sleep", staticmethod(fake.sleep))
    return fake


def answer(fake=None, status=200, remaining=None, reset_in=None, date=None, extra=None):
    """An HTTP answer with Segment's rate-limit headers: `reset_in` seconds after the fake wall clock."""
    response = requests.Response()
    response.status_code = status
    if remaining is not None:
        response.headers["X-RateLimit-Remaining"] = str(remaining)
        response.headers["X-RateLimit-Consumed"] = "1"
    if reset_in is not None:
        when = (date or fake.wall()) + timedelta(seconds=reset_in)
        response.headers["X-RateLimit-Reset"] = email.utils.format_datetime(when, usegmt=True)
    if date is not None:
        response.headers["Date"] = email.utils.format_datetime(date, usegmt=True)
    response.headers.update(extra or {})
    return response


def send(budget, path, response):
    """One request the way the client makes it; returns how long the budget held it back."""
    ticket = budget.acquire(path)
    budget.complete(ticket, response)
    return ticket.waited


# ------------------------------------------------------------------------------------------ following the server


def test_unset_requests_per_minute_means_follow_the_server():
    assert parse_config({"api_token": "t", "start_date": "2024-01-01"}).requests_per_minute is None
    assert parse_config({"api_token": "t", "start_date": "2024-01-01", "requests_per_minute": 300}).requests_per_minute == 300


def test_the_reported_room_is_spent_at_once_keeping_a_reserve_then_one_probe_waits_for_the_reset(fake):
    budget = CallBudget()
    assert send(budget, "/sources", answer(fake, remaining=10, reset_in=40)) == 0  # the probe that learns the room
    # 10 left after the probe: 8 go without waiting, 2 are kept back
    waits = [send(budget, "/sources", None) for _ in range(8)]
    assert waits == [0] * 8
    ticket = budget.acquire("/sources")
    assert ticket.waited == 40  # the reset the server named
    budget.complete(ticket, answer(fake, remaining=99, reset_in=60))
    assert [send(budget, "/sources", None) for _ in range(5)] == [0] * 5


def test_requests_in_flight_are_subtracted_from_the_room_an_answer_reports(fake):
    budget = CallBudget()
    send(budget, "/sources", answer(fake, remaining=6, reset_in=30))
    tickets = [budget.acquire("/sources") for _ in range(4)]  # four in flight: 6 - 4 = 2 = the reserve
    assert [t.waited for t in tickets] == [0] * 4
    # The first of them answers "5 left": the three sent after it still count, so the room is spent.
    budget.complete(tickets[0], answer(fake, remaining=5, reset_in=30))
    probe = budget.acquire("/sources")
    assert probe.waited == 30


def test_an_older_answer_never_overrides_what_a_newer_one_said(fake):
    budget = CallBudget()
    send(budget, "/sources", answer(fake, remaining=50, reset_in=30))
    first, second = budget.acquire("/sources"), budget.acquire("/sources")
    budget.complete(second, answer(fake, remaining=40, reset_in=30))
    budget.complete(first, answer(fake, remaining=0, reset_in=30))  # late and stale
    assert send(budget, "/sources", None) == 0


def test_while_the_room_is_unknown_only_the_probe_is_admitted():
    room = ServerRoom(reserve=2)
    wait, number, probe = room.admit(now=0.0)
    assert (wait, probe) == (0.0, True)
    assert room.admit(now=0.0) is None  # everyone else waits for the probe's answer
    room.answered(number, remaining=30, reset_in=60, headerless=False, now=0.1)
    assert room.admit(now=0.1)[2] is False


def test_a_probe_without_an_answer_is_released_so_the_next_request_probes(fake):
    budget = CallBudget()
    ticket = budget.acquire("/sources")
    budget.complete(ticket, None)  # connection reset
    assert send(budget, "/sources", answer(fake, remaining=30, reset_in=60)) == 0


def test_an_error_without_headers_after_the_reset_makes_the_next_request_probe_again(fake):
    budget = CallBudget()
    send(budget, "/sources", answer(fake, remaining=2, reset_in=20))
    probe = budget.acquire("/sources")
    assert probe.waited == 20
    budget.complete(probe, answer(fake, status=502))
    again = budget.acquire("/sources")
    assert again.waited == 0
    budget.complete(again, answer(fake, remaining=100, reset_in=60))
    assert send(budget, "/sources", None) == 0


def test_the_reset_is_measured_against_the_servers_date_not_a_skewed_local_clock(fake):
    budget = CallBudget()
    server_now = fake.wall() + timedelta(hours=3)  # our clock is three hours behind the server's
    send(budget, "/sources", answer(fake, remaining=2, reset_in=25, date=server_now))
    assert budget.acquire("/sources").waited == 25


def test_remaining_zero_without_a_reset_date_tries_again_after_a_short_pause(fake):
    budget = CallBudget()
    send(budget, "/sources", answer(fake, remaining=0))
    assert 0 < budget.acquire("/sources").waited <= 5


def test_a_429_holds_the_next_request_back_for_the_wait_it_named(fake):
    budget = CallBudget()
    send(budget, "/sources", answer(fake, remaining=100, reset_in=60))
    ticket = budget.acquire("/sources")
    budget.complete(ticket, answer(fake, status=429, remaining=0, reset_in=60))
    budget.throttled(ticket, 7.0)  # Retry-After: 7 wins over the reset date
    fake.advance(7.0)  # the client slept it
    assert budget.acquire("/sources").waited == 0


def test_a_429_holds_other_requests_back_too(fake):
    budget = CallBudget()
    send(budget, "/sources", answer(fake, remaining=100, reset_in=60))
    ticket = budget.acquire("/sources")
    budget.complete(ticket, answer(fake, status=429))
    budget.throttled(ticket, 12.0)
    assert budget.acquire("/destinations").waited == 12


# ------------------------------------------------------------------------------------------ lanes


@pytest.mark.parametrize(
    "path,limit",
    [
        ("/events/volume", 60),
        ("/tracking-plans/tp_1/rules", 200),
        ("/warehouses/wh_1/syncs", 2),
        ("/warehouses/wh_1/connected-sources/src_1/syncs", 2),
        ("/spaces/spa_1/audiences", 60),
        ("/spaces/spa_1/computed-traits", 25),
        ("/sources", None),
        ("/spaces/spa_1/audiences/aud_1", None),
        ("/warehouses/wh_1", None),
    ],
)
def test_documented_per_endpoint_limits(path, limit):
    assert endpoint_limit(path) == limit


@pytest.mark.parametrize("path,limit", [("/warehouses/wh_1/syncs", 2), ("/spaces/spa_1/computed-traits", 25), ("/events/volume", 60)])
def test_a_lane_admits_its_documented_limit_per_minute_however_much_room_the_server_reports(fake, path, limit):
    budget = CallBudget()
    send(budget, "/sources", answer(fake, remaining=5000, reset_in=60))
    waits = [send(budget, path, answer(fake, remaining=5000, reset_in=60)) for _ in range(limit)]
    assert waits == [0] * limit
    assert send(budget, path, answer(fake, remaining=5000, reset_in=60)) == pytest.approx(60.0)


def test_one_lanes_window_is_not_anothers(fake):
    budget = CallBudget()
    for _ in range(2):
        send(budget, "/warehouses/wh_1/syncs", answer(fake, remaining=1, reset_in=60))
    assert send(budget, "/spaces/spa_1/computed-traits", answer(fake, remaining=24, reset_in=60)) == 0
    assert send(budget, "/warehouses/wh_2/syncs", None) == pytest.approx(60.0)  # one window for the endpoint


def test_a_spent_lane_never_stalls_other_endpoints(fake):
    budget = CallBudget()
    send(budget, "/sources", answer(fake, remaining=500, reset_in=60))
    # event volume's own limit is spent for 50 s ...
    send(budget, "/events/volume", answer(fake, remaining=0, reset_in=50))
    # ... the rest of the API is not
    assert [send(budget, "/sources", answer(fake, remaining=480, reset_in=60)) for _ in range(20)] == [0] * 20
    assert send(budget, "/events/volume", answer(fake, remaining=59, reset_in=60)) == 50


def test_lane_requests_count_against_the_global_room(fake):
    budget = CallBudget()
    send(budget, "/sources", answer(fake, remaining=5, reset_in=30))
    for _ in range(3):
        assert send(budget, "/tracking-plans/tp_1/rules", answer(fake, remaining=150, reset_in=60)) == 0
    assert budget.acquire("/sources").waited == 30  # 5 - 3 = 2 = the reserve


# ------------------------------------------------------------------------------------------ fallback and cap


def test_answers_without_headers_fall_back_to_the_conservative_budget(fake):
    budget = CallBudget()
    send(budget, "/sources", answer(fake))  # a 200 without rate-limit headers
    waits = [send(budget, "/sources", answer(fake)) for _ in range(FALLBACK_REQUESTS_PER_MINUTE - 1)]
    assert waits == [0] * (FALLBACK_REQUESTS_PER_MINUTE - 1)
    assert send(budget, "/sources", answer(fake)) == pytest.approx(60.0)


def test_headers_coming_back_end_the_fallback(fake):
    budget = CallBudget()
    send(budget, "/sources", answer(fake))
    send(budget, "/sources", answer(fake, remaining=5000, reset_in=60))
    waits = [send(budget, "/sources", None) for _ in range(FALLBACK_REQUESTS_PER_MINUTE + 100)]
    assert waits == [0] * (FALLBACK_REQUESTS_PER_MINUTE + 100)


def test_requests_per_minute_caps_even_a_server_with_plenty_of_room(fake):
    budget = CallBudget(requests_per_minute=10)
    waits = [send(budget, "/sources", answer(fake, remaining=5000, reset_in=60)) for _ in range(11)]
    assert waits[:10] == [0] * 10
    assert waits[10] == pytest.approx(CAP_WINDOW_SECONDS)


def test_requests_per_minute_is_never_exceeded_in_any_60_second_window(fake):
    budget = CallBudget(requests_per_minute=7)
    sent_at = []
    for n in range(100):
        path = "/events/volume" if n % 3 == 0 else "/sources"
        ticket = budget.acquire(path)
        sent_at.append(fake.now)
        budget.complete(ticket, answer(fake, remaining=5000, reset_in=60))
        fake.advance(0.4 if n % 5 else 3.0)  # irregular pauses between requests
    worst = max(sum(1 for t in sent_at if start <= t < start + 60) for start in sent_at)
    assert worst == 7


def test_a_spent_server_room_still_waits_under_a_cap(fake):
    budget = CallBudget(requests_per_minute=1000)
    send(budget, "/sources", answer(fake, remaining=2, reset_in=15))
    assert budget.acquire("/sources").waited == 15


def test_an_answer_that_overtook_earlier_requests_counts_them_as_spent(fake):
    budget = CallBudget()
    send(budget, "/sources", answer(fake, remaining=8, reset_in=30))
    budget.acquire("/sources")  # a slow request, still unanswered at the end
    fast = budget.acquire("/sources")
    # `fast` answers first; the server may not have counted the slow one yet: 6 - 1 = 5 left, 3 above the reserve
    budget.complete(fast, answer(fake, remaining=6, reset_in=30))
    assert [send(budget, "/sources", None) for _ in range(3)] == [0, 0, 0]
    assert budget.acquire("/sources").waited == 30
