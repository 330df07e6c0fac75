import json

import httpx
import pytest
from imagebot.core.answer_to import AnswerTo
from imagebot.edges.telegram import BotApi, TelegramError

TOKEN = "123456:TEST-TOKEN"


def api(handler):
    return BotApi(
        TOKEN,
        "https://bot.test",
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        max_retry_after=2,
    )


def ok(result):
    return httpx.Response(200, json={"ok": True, "result": result})


def test_send_message_posts_json_to_the_method_url():
    seen = []

    def handler(request):
        seen.append((request.url.path, json.loads(request.content)))
        return ok({"message_id": 3})

    assert api(handler).send_message(AnswerTo(7, reply_to=5), "hi")["message_id"] == 3
    path, body = seen[0]
    assert path == f"/bot{TOKEN}/sendMessage"
    assert body == {
        "chat_id": 7,
        "text": "hi",
        "parse_mode": "HTML",
        "reply_parameters": {"message_id": 5, "allow_sending_without_reply": True},
    }


def test_send_photo_is_multipart_with_the_file():
    def handler(request):
        assert request.headers["content-type"].startswith("multipart/form-data")
        assert b"PNGDATA" in request.content and b'name="caption"' in request.content
        return ok({"message_id": 9, "photo": [{"file_id": "f"}]})

    sent = api(handler).send_photo(AnswerTo(7), ("a.png", b"PNGDATA", "image/png"), caption="c")
    assert sent["message_id"] == 9


def test_429_is_waited_out_once_then_succeeds():
    answers = iter(
        [
            httpx.Response(
                429,
                json={
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests",
                    "parameters": {"retry_after": 1},
                },
            ),
            ok(True),
        ]
    )
    assert api(lambda request: next(answers)).delete_message(7, 1) is True


def test_429_longer_than_the_budget_is_raised_as_transient():
    def handler(request):
        return httpx.Response(
            429,
            json={
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests",
                "parameters": {"retry_after": 60},
            },
        )

    with pytest.raises(TelegramError) as raised:
        api(handler).delete_message(7, 1)
    assert raised.value.transient and raised.value.retry_after == 60


def test_blocked_user_is_unreachable_not_transient():
    def handler(request):
        return httpx.Response(
            403,
            json={"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
        )

    with pytest.raises(TelegramError) as raised:
        api(handler).send_message(AnswerTo(7), "hi")
    assert raised.value.user_unreachable and not raised.value.transient


def test_transport_errors_become_transient_telegram_errors_without_the_token():
    def handler(request):
        raise httpx.ConnectError("boom", request=request)

    with pytest.raises(TelegramError) as raised:
        api(handler).send_message(AnswerTo(7), "hi")
    assert raised.value.transient
    assert TOKEN not in str(raised.value)


def too_many(retry_after):
    parameters = {} if retry_after is None else {"parameters": {"retry_after": retry_after}}
    return httpx.Response(
        429, json={"ok": False, "error_code": 429, "description": "Too Many Requests", **parameters}
    )


def test_a_429_above_what_the_client_may_sleep_is_raised_at_once_with_its_retry_after(monkeypatch):
    """retry_after 90 with a 2 s budget: one call, no sleep, no second try sooner than 90 s;
    the error says how long whoever retries must wait."""
    sleeps, calls = [], []
    monkeypatch.setattr("imagebot.edges.telegram.time.sleep", sleeps.append)

    def handler(request):
        calls.append(request.url.path)
        return too_many(90)

    with pytest.raises(TelegramError) as raised:
        api(handler).send_photo(AnswerTo(7), ("a.png", b"PNG", "image/png"), caption="c")
    assert (len(calls), sleeps) == (1, [])
    assert raised.value.transient and raised.value.not_before == 90.0


def test_a_short_429_is_slept_for_exactly_its_retry_after_and_a_second_one_is_raised(monkeypatch):
    sleeps = []
    monkeypatch.setattr("imagebot.edges.telegram.time.sleep", sleeps.append)
    answers = iter([too_many(2), too_many(2)])
    with pytest.raises(TelegramError) as raised:
        api(lambda request: next(answers)).delete_message(7, 1)
    assert sleeps == [2.0]
    assert raised.value.not_before == 2.0


def test_only_a_429_sets_a_time_before_which_not_to_retry():
    assert TelegramError("sendPhoto", 500, "Internal Server Error").not_before is None
    assert TelegramError("sendPhoto", 599, "transport error: ReadTimeout").not_before is None
    assert TelegramError("sendPhoto", 429, "Too Many Requests").not_before == 1.0


def test_a_pacing_backlog_is_raised_as_a_429_without_calling_telegram(monkeypatch):
    """Our own limit is answered as Telegram answers its own: nothing is sent, and the caller
    gets a transient error that says when to try again."""
    from imagebot.core.pacing import Pacer, PacingPolicy

    sleeps, calls = [], []
    monkeypatch.setattr("imagebot.edges.telegram.time.sleep", sleeps.append)
    far_off = Pacer(lambda key, interval, tolerance, horizon: 1_040.0, PacingPolicy(), clock=lambda: 1_000.0)
    bot = BotApi(
        TOKEN,
        "https://bot.test",
        client=httpx.Client(transport=httpx.MockTransport(lambda r: calls.append(r) or ok({}))),
        pace=far_off,
    )
    with pytest.raises(TelegramError) as raised:
        bot.send_message(AnswerTo(-100), "hello")
    assert (calls, sleeps) == ([], [])
    assert raised.value.transient and raised.value.not_before == 40.0
