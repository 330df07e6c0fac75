"""Fault bookkeeping: which call fails, how, and how often."""

from __future__ import annotations

import pytest

from local.fake_telegram._faults import FaultBook, make_fault


def test_a_fault_serves_its_count_then_calls_succeed_again() -> None:
    book = FaultBook()
    book.inject("sendPhoto", make_fault(429, retry_after=2), count=2)

    taken = [book.take("sendPhoto") for _ in range(3)]

    assert [fault.error_code if fault else None for fault in taken] == [429, 429, None]
    assert book.remaining() == {}


def test_method_names_match_case_insensitively_and_only_their_method() -> None:
    book = FaultBook()
    book.inject("sendMessage", make_fault(500))

    assert book.take("sendPhoto") is None
    assert book.take("SENDMESSAGE") is not None


def test_faults_for_one_method_are_served_in_the_order_injected() -> None:
    book = FaultBook()
    book.inject("sendMessage", make_fault(403))
    book.inject("sendMessage", make_fault(500), count=2)

    assert book.remaining() == {"sendmessage": 3}
    taken = [book.take("sendMessage") for _ in range(3)]
    assert [fault.error_code if fault else None for fault in taken] == [403, 500, 500]


def test_a_429_is_answered_like_telegram_with_retry_after() -> None:
    error = make_fault(429, retry_after=5).error()

    assert error is not None
    assert error.payload() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 5",
        "parameters": {"retry_after": 5},
    }


def test_a_429_without_retry_after_still_tells_one() -> None:
    assert make_fault(429).retry_after == 1


def test_blocked_and_server_errors_use_telegram_descriptions() -> None:
    assert make_fault(403).description == "Forbidden: bot was blocked by the user"
    assert make_fault(500).description == "Internal Server Error"
    assert (
        make_fault(400, description="Bad Request: chat not found").description
        == "Bad Request: chat not found"
    )


def test_a_delay_only_fault_answers_normally() -> None:
    fault = make_fault(None, delay=1.5)

    assert fault.error() is None
    assert fault.delay == 1.5


@pytest.mark.parametrize(
    "arguments",
    [
        {"error_code": 200},
        {"error_code": None},
        {"error_code": 429, "retry_after": -1},
        {"error_code": 500, "delay": 999},
    ],
)
def test_nonsense_faults_are_refused(arguments: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        make_fault(**arguments)  # type: ignore[arg-type]


def test_clear_drops_everything_pending() -> None:
    book = FaultBook()
    book.inject("sendMessage", make_fault(500), count=5)

    book.clear()

    assert book.take("sendMessage") is None


def test_count_must_be_positive() -> None:
    with pytest.raises(ValueError):
        FaultBook().inject("sendMessage", make_fault(500), count=0)


def test_a_timed_fault_answers_every_call_until_its_time_is_up_then_the_next_fault_serves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr("local.fake_telegram._faults.time.monotonic", lambda: clock[0])
    book = FaultBook()
    book.inject("sendPhoto", make_fault(500), seconds=180)
    book.inject("sendPhoto", make_fault(429, retry_after=3))

    outage = [book.take("sendPhoto") for _ in range(50)]
    assert {fault.error_code if fault else None for fault in outage} == {500}
    assert book.remaining() == {"sendphoto": 2}
    clock[0] += 179.9
    assert book.take("sendPhoto").error_code == 500
    clock[0] += 0.1
    assert book.take("sendPhoto").error_code == 429
    assert book.take("sendPhoto") is None and book.remaining() == {}


def test_a_timed_fault_needs_a_sensible_length() -> None:
    with pytest.raises(ValueError):
        FaultBook().inject("sendPhoto", make_fault(500), seconds=0)
