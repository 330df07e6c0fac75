"""edges/telegram: getFile and the download, whose URL holds the bot token: every failure is a
TelegramError naming the file's path, and the token is in no message, repr, context or log."""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest
from imagebot.edges.telegram import DOWNLOAD, MAX_DOWNLOAD_BYTES, BotApi, FileTooBig, TelegramError

TOKEN = "123456:SECRET-TOKEN-xyz"
PATH = "photos/file_7.jpg"


def api(handler, timeout: float = 15.0) -> BotApi:
    return BotApi(
        TOKEN,
        "https://bot.test/",
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        max_retry_after=0,
        timeout=timeout,
    )


def assert_no_token(error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    told = [str(error), repr(error), *traceback.format_exception(error), caplog.text]
    assert not any(TOKEN in text or "SECRET" in text for text in told), told
    assert error.__cause__ is None and error.__context__ is None  # no httpx error rides along


def test_get_file_asks_for_the_file_and_answers_its_path():
    seen = []

    def handler(request):
        seen.append((request.url.path, request.content))
        return httpx.Response(200, json={"ok": True, "result": {"file_id": "F", "file_path": PATH}})

    assert api(handler).get_file("F")["file_path"] == PATH
    assert seen == [(f"/bot{TOKEN}/getFile", b'{"file_id":"F"}')]


def test_a_file_over_getfiles_limit_is_file_too_big_and_not_transient():
    def handler(request):
        return httpx.Response(
            400, json={"ok": False, "error_code": 400, "description": "Bad Request: file is too big"}
        )

    with pytest.raises(FileTooBig) as raised:
        api(handler).get_file("F")
    assert not raised.value.transient


def test_the_download_is_a_get_of_the_file_root():
    seen = []

    def handler(request):
        seen.append((request.method, str(request.url)))
        return httpx.Response(200, content=b"jpeg bytes")

    assert api(handler).download_file(PATH) == b"jpeg bytes"
    assert seen == [("GET", f"https://bot.test/file/bot{TOKEN}/{PATH}")]


@pytest.mark.parametrize(
    ("status", "transient"), [(404, False), (401, False), (500, True), (502, True), (429, True)]
)
def test_a_refused_download_names_the_path_and_not_the_token(status, transient, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(TelegramError) as raised:
        api(lambda request: httpx.Response(status, text=f"error for {request.url}")).download_file(PATH)
    error = raised.value
    assert (error.method, error.error_code, error.transient) == (DOWNLOAD, status, transient)
    assert PATH in str(error)
    assert_no_token(error, caplog)


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.DecodingError],
    ids=lambda e: e.__name__,
)
def test_a_transport_failure_is_transient_and_says_no_url(failure, caplog):
    caplog.set_level(logging.DEBUG)

    def handler(request):
        raise failure(f"failed talking to {request.url}", request=request)

    with pytest.raises(TelegramError) as raised:
        api(handler).download_file(PATH)
    assert raised.value.transient and raised.value.error_code == 599
    assert failure.__name__ in str(raised.value)
    assert_no_token(raised.value, caplog)


def test_a_path_that_makes_no_url_is_refused_without_it(caplog):
    with pytest.raises(TelegramError) as raised:
        api(lambda request: httpx.Response(200)).download_file("photos/a\x00b.jpg")
    assert raised.value.error_code == 400 and not raised.value.transient
    assert_no_token(raised.value, caplog)


def test_a_real_connection_refused_leaks_nothing(caplog):
    caplog.set_level(logging.DEBUG)
    bot = BotApi(TOKEN, "http://127.0.0.1:9", timeout=2)  # the discard port: nothing listens
    with pytest.raises(TelegramError) as raised:
        bot.download_file(PATH)
    assert raised.value.transient
    assert_no_token(raised.value, caplog)


def test_a_declared_size_over_the_cap_is_refused_before_reading(caplog):
    caplog.set_level(logging.DEBUG)

    def handler(request):
        return httpx.Response(200, headers={"content-length": str(MAX_DOWNLOAD_BYTES + 1)}, content=b"x")

    with pytest.raises(FileTooBig) as raised:
        api(handler).download_file(PATH)
    assert not raised.value.transient and PATH in str(raised.value)
    assert_no_token(raised.value, caplog)


def test_a_stream_past_the_cap_is_cut_off():
    pulled = []

    def chunks():
        for _ in range(1000):
            pulled.append(1)
            yield b"x" * 1024

    def handler(request):
        return httpx.Response(200, content=chunks())  # streamed: no content-length

    with pytest.raises(FileTooBig):
        api(handler).download_file(PATH, max_bytes=10 * 1024)
    assert len(pulled) < 20  # it stopped reading, it did not take the whole megabyte
    assert (
        len(api(lambda request: httpx.Response(200, content=b"y" * 10240)).download_file(PATH, 10240))
        == 10240
    )


def test_the_bot_api_object_does_not_show_its_token():
    bot = api(lambda request: httpx.Response(200))
    assert TOKEN not in repr(bot) and TOKEN not in str(bot)


def test_the_in_memory_fakes_answer_as_the_edges_do():
    from tests.support.fakes import FakeBot, FakeInputStore

    bot = FakeBot()
    file_id = bot.files.add(b"photo bytes")
    path = bot.get_file(file_id)["file_path"]
    assert bot.download_file(path) == b"photo bytes"
    with pytest.raises(FileTooBig):
        bot.download_file(path, max_bytes=3)
    bot.fail_next("getFile", TelegramError("getFile", 502, "Bad Gateway"))
    with pytest.raises(TelegramError) as raised:
        bot.get_file(file_id)
    assert raised.value.transient
    with pytest.raises(TelegramError):
        bot.get_file("unknown")
    assert [call.method for call in bot.fetches] == ["getFile", DOWNLOAD, DOWNLOAD, "getFile"]
    assert bot.calls == []  # fetching sends the user nothing
    inputs = FakeInputStore()
    assert inputs.put_input("job-1", b"first") == "inputs/job-1.jpg"
    inputs.put_input("job-1", b"second")
    assert inputs.objects == {"inputs/job-1.jpg": b"first"}
