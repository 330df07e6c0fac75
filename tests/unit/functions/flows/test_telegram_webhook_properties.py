"""Property-based tests of the webhook: random and hostile bodies get 200, 400, 401 or 413,
never an exception (a 500, which Telegram would redeliver for ever), and whatever is published
is a valid, bounded event with ids that fit downstream."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st
from imagebot.core import inbound, keyboards
from imagebot.core.updates import (
    INT64_IDS,
    Event,
    MalformedUpdate,
    decode_event,
    encode_event,
    parse_update,
)
from imagebot.flows.telegram_webhook import handle_request, handle_webhook

from tests.support.bodies import CountingStream, nested
from tests.support.fakes import SETTINGS

BOT = "imagebot_local_bot"
GROUP_SETTINGS = dataclasses.replace(SETTINGS, bot_username=BOT)
PUBSUB_MAX_MESSAGE_BYTES = 10_000_000
PUBSUB_MAX_ATTRIBUTE_BYTES = 1024

characters = st.characters() | st.characters(categories=["Cs"])  # lone surrogates included
any_text = st.text(characters, max_size=40)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text
)
hostile = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)


def sometimes_anything(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes anything at all."""
    return st.one_of(plausible, plausible, plausible, hostile)


def as_is(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return plausible


peer_ids = st.integers(min_value=-(2**52 - 1), max_value=2**52 - 1)
any_ids = peer_ids | st.sampled_from([0, 2**52, -(2**52), 2**63 - 1, 2**63, -(2**63) - 1, 2**70, True])
texts = any_text | st.sampled_from(
    [
        "/start",
        "/help",
        "/pixel",
        "/ghibli a fox\n--no hats",
        "/limits",
        "/stats",
        "/style",
        f"/start@{BOT}",
        "/help@other_bot",
        f"@{BOT} a lighthouse",
        "a cat \ud800 in a hat",
        "\u200b\u200b",
        "x" * 5000,
    ]
)
callback_data = any_text | st.sampled_from(
    [
        keyboards.encode("style", "ghibli", "u1"),
        keyboards.encode("again", "u7"),
        keyboards.encode("same", "pixel", "u7"),
        keyboards.encode("default", "realistic"),
        keyboards.encode("lang", "ru"),
    ]
)


def updates(
    field: Callable[[st.SearchStrategy[Any]], st.SearchStrategy[Any]], ids: st.SearchStrategy[int]
) -> st.SearchStrategy[Any]:
    """Update-shaped JSON: every field passes through `field`, which may spoil it; `as_is` gives
    well-formed ones, mostly texts and presses from a sender."""
    spoiled = field is not as_is
    users = st.fixed_dictionaries(
        {"id": field(ids)},
        optional={
            "language_code": field(st.sampled_from(["en", "ru", "ru-RU", "", "\ud800"])),
            "first_name": field(any_text),
            "username": field(st.sampled_from([BOT, "someone"])),
        },
    )
    chats = st.fixed_dictionaries(
        {"id": field(ids), "type": field(st.sampled_from(["private", "group", "supergroup", "channel"]))}
    )
    sent = {"from": field(users), "text": field(texts)}
    messages = st.fixed_dictionaries(
        {"message_id": field(ids), "chat": field(chats), **({} if spoiled else sent)},
        optional={
            **(sent if spoiled else {}),
            "reply_to_message": field(st.fixed_dictionaries({}, optional={"from": field(users)})),
            "sticker": st.just({"file_id": "s"}),
        },
    )
    pressed_under = {"message": field(messages)}  # absent for inline messages
    callback_queries = st.fixed_dictionaries(
        {
            "id": field(any_text),
            "from": field(users),
            "data": field(callback_data),
            **({} if spoiled else pressed_under),
        },
        optional=pressed_under if spoiled else {},
    )
    return st.fixed_dictionaries(
        {"update_id": field(ids)}, optional={"edited_message": field(messages)}
    ).flatmap(
        lambda update: st.one_of(
            st.just(update),
            messages.map(lambda message: {**update, "message": message}),
            messages.map(lambda message: {**update, "message": message}),
            callback_queries.map(lambda query: {**update, "callback_query": query}),
        )
    )


def dumps(value: Any) -> bytes:
    """JSON as a sender could write it: surrogates escaped (`\\ud800`), which is valid JSON."""
    return json.dumps(value).encode()


deep = st.integers(min_value=0, max_value=3000).map(
    lambda depth: b'{"update_id": 1, "message": ' + nested(depth) + b"}"
)
well_formed = updates(as_is, peer_ids).map(dumps)
bodies = st.one_of(
    well_formed,
    well_formed,
    updates(sometimes_anything, any_ids).map(dumps),
    hostile.map(dumps),
    st.binary(max_size=200),
    deep,
    st.integers(min_value=0, max_value=100_000).map(nested),
)


class StrictPublisher:
    """Publishes as Pub/Sub accepts: valid UTF-8, within its size limits."""

    def __init__(self) -> None:
        self.published: list[bytes] = []

    def publish(self, topic: str, data: bytes, **attributes: str) -> str:
        assert len(data) <= PUBSUB_MAX_MESSAGE_BYTES
        data.decode("utf-8")
        for value in attributes.values():
            assert len(value.encode("utf-8")) <= PUBSUB_MAX_ATTRIBUTE_BYTES
        self.published.append(data)
        return "m-1"


def no_choice(user_id: int) -> dict[str, str]:
    return {}


def assert_fits_downstream(event: Event) -> None:
    """What the worker will store: ids in Firestore's integer range, strings valid UTF-8."""
    for name in ("update_id", "chat_id", "user_id", "message_id"):
        value = getattr(event, name, 0)
        assert type(value) is int and value in INT64_IDS, name
    for value in dataclasses.asdict(event).values():
        for text in value if isinstance(value, tuple) else [value]:
            if isinstance(text, str):
                text.encode("utf-8")


@given(bodies)
def test_the_parser_returns_an_event_or_says_malformed_and_nothing_else(body):
    try:
        parsed = parse_update(inbound.load_json(body), BOT)
    except (inbound.MalformedBody, MalformedUpdate) as error:
        event(type(error).__name__)
        return
    event(type(parsed).__name__)
    assert_fits_downstream(parsed)
    if hasattr(parsed, "kind"):
        assert decode_event(encode_event(parsed)) == parsed


@given(bodies, st.sampled_from([SETTINGS, GROUP_SETTINGS]))
def test_the_handler_answers_200_or_400_and_publishes_only_valid_events(body, settings_):
    publisher = StrictPublisher()
    reply = handle_webhook(body, "s3cret", settings_, publisher, no_choice)  # type: ignore[arg-type]
    event(f"{reply.status} {reply.body.get('method', '')}, {len(publisher.published)} published")
    assert reply.status in (200, 400)
    json.dumps(reply.body, ensure_ascii=False).encode("utf-8")
    assert len(publisher.published) <= (1 if reply.status == 200 else 0)
    for data in publisher.published:
        assert_fits_downstream(decode_event(data))


@settings(max_examples=40)
@given(
    update=well_formed,
    size=st.integers(min_value=0, max_value=3 * inbound.MAX_BODY_BYTES),
    declared=st.booleans(),
    chunk=st.none() | st.integers(min_value=1, max_value=256 * 1024),
    secret=st.sampled_from(["s3cret", "wrong", None]),
)
def test_any_request_gets_an_answer_and_never_more_than_the_limit_is_read(
    update, size, declared, chunk, secret
):
    body = update.ljust(size)  # trailing whitespace is still the same JSON
    stream = CountingStream(body, chunk)
    publisher = StrictPublisher()
    reply = handle_request(
        stream.read,
        len(body) if declared else None,
        secret,
        SETTINGS,
        publisher,
        no_choice,  # type: ignore[arg-type]
    )
    too_large = len(body) > inbound.MAX_BODY_BYTES
    if too_large and declared:
        assert (reply.status, stream.read_bytes) == (413, 0)
    elif secret != "s3cret":
        assert (reply.status, stream.read_bytes) == (401, 0)
    elif too_large:
        assert reply.status == 413
    else:
        assert reply.status in (200, 400) and stream.read_bytes == len(body)
    assert stream.read_bytes <= inbound.MAX_BODY_BYTES + inbound.READ_CHUNK_BYTES
    assert reply.body_read == (reply.status not in (401, 413))  # what is left stays unread
    assert not publisher.published or reply.status == 200
