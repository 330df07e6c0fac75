import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imagebot.core import inbound
from imagebot.core.inbound import (
    MAX_BODY_BYTES,
    MAX_DEPTH,
    READ_CHUNK_BYTES,
    BodyTooLarge,
    BoundedBody,
    MalformedBody,
    declared_too_large,
    load_json,
    read_bounded,
)

from tests.support.bodies import CountingStream, nested


def test_a_declared_length_over_the_limit_is_refused_before_reading():
    assert declared_too_large(MAX_BODY_BYTES + 1) and declared_too_large(50 * 2**20)
    assert not declared_too_large(MAX_BODY_BYTES) and not declared_too_large(None)


def test_a_body_up_to_the_limit_is_read_whole():
    stream = CountingStream(b" " * MAX_BODY_BYTES)
    assert len(read_bounded(stream.read)) == MAX_BODY_BYTES


def test_reading_stops_one_chunk_past_the_limit():
    stream = CountingStream(b" " * 50 * 2**20)
    with pytest.raises(BodyTooLarge):
        read_bounded(stream.read)
    assert stream.read_bytes <= MAX_BODY_BYTES + READ_CHUNK_BYTES


def test_chunks_from_an_async_reader_are_bounded_the_same_way():
    body = BoundedBody()
    body.add(b"a" * MAX_BODY_BYTES)
    assert body.value() == b"a" * MAX_BODY_BYTES
    with pytest.raises(BodyTooLarge):
        body.add(b"b")


def test_nesting_is_bounded_whether_or_not_pythons_parser_copes():
    assert load_json(nested(MAX_DEPTH)) is not None
    for depth in (MAX_DEPTH + 1, 999, 10_000, 1_000_000):
        with pytest.raises(MalformedBody, match="nested deeper"):
            load_json(nested(depth))
    deep_object = b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1)
    with pytest.raises(MalformedBody):
        load_json(deep_object)


def test_lone_surrogates_become_replacement_characters_in_values_and_keys():
    body = json.dumps({"text": "a\ud800b", "\udfff": ["\ud83d"], "ok": "\U0001f600 кот"}).encode()
    decoded = load_json(body)
    assert decoded == {"text": "a\ufffdb", "\ufffd": ["\ufffd"], "ok": "\U0001f600 кот"}
    # Valid everywhere downstream: strict UTF-8 encodes it.
    json.dumps(decoded, ensure_ascii=False).encode()
    # An escaped pair is one character, not two surrogates.
    assert load_json(b'"\\ud83d\\ude00"') == "\U0001f600"


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"\xff\xfe", b"\xed\xa0\x80", b"NaN", b'{"a": Infinity}', b"-Infinity", b"1" * 5000],
    ids=["empty", "truncated", "not utf-8", "utf-8 surrogate", "nan", "infinity", "-infinity", "huge int"],
)
def test_what_is_not_json_is_malformed(body):
    with pytest.raises(MalformedBody):
        load_json(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(st.characters(exclude_categories=())),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=80,
)


@settings(max_examples=300)
@given(json_values, st.sampled_from(["utf-8", "utf-16", "utf-32"]), st.booleans())
def test_the_shortcut_past_the_walk_never_changes_the_answer(value, encoding, escaped):
    """load_json skips its walk over the decoded body when the bytes show it has nothing to do:
    whatever the body, its answer is the walk's."""
    raw = json.dumps(value, ensure_ascii=escaped).encode(encoding, "surrogatepass")
    try:
        walked = inbound._valid(json.loads(raw), 0)
    except inbound.MalformedBody:
        with pytest.raises(inbound.MalformedBody):
            load_json(raw)
        return
    assert load_json(raw) == walked
