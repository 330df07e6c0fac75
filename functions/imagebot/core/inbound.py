"""What an HTTP body must be before anything reads it as an update. Pure: no I/O.

Any entry point (the WSGI one in main.py, an ASGI one) refuses an oversized body before reading
it (`declared_too_large`), reads the rest through `BoundedBody`, and decodes it with `load_json`,
which bounds the nesting and makes every string valid Unicode. A body that fails here is the
sender's fault (413 or 400), never the server's (500), so Telegram has nothing to redeliver.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

# Telegram's updates are a few kilobytes: a message is at most 4,096 characters, and one it
# replies to or quotes is carried without its own reply. 1 MiB leaves room for all of that many
# times over, and keeps every published event far below Pub/Sub's 10 MB message limit.
MAX_BODY_BYTES = 1 << 20
# An update nests about ten deep (update → message → reply_to_message → reply_markup →
# inline_keyboard → row → button → web_app); Python's own parser gives up near 1,000.
MAX_DEPTH = 64
READ_CHUNK_BYTES = 64 * 1024
_SURROGATE = re.compile("[\ud800-\udfff]")
# Where a string decoded from UTF-8 JSON can get a surrogate from: a `\uD800`-`\uDFFF` escape,
# or the bytes of one (ED A0-BF), which json.loads lets through ("surrogatepass").
_MAY_HOLD_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


class BodyTooLarge(ValueError):
    """Over MAX_BODY_BYTES: answered 413."""


class MalformedBody(ValueError):
    """Not JSON, or JSON no update can be: answered 400."""


def declared_too_large(content_length: int | None) -> bool:
    """A Content-Length over the limit: refused without reading a byte of the body."""
    return content_length is not None and content_length > MAX_BODY_BYTES


class BoundedBody:
    """A body read chunk by chunk (chunked transfer has no Content-Length to check first),
    given up as soon as it passes the limit."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._size = 0

    def add(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > MAX_BODY_BYTES:
            raise BodyTooLarge(f"a body over {MAX_BODY_BYTES} bytes")
        self._chunks.append(chunk)

    def value(self) -> bytes:
        return b"".join(self._chunks)


def read_bounded(read: Callable[[int], bytes]) -> bytes:
    """The whole body from a blocking `read(size)` (a WSGI input stream), or BodyTooLarge once
    more than MAX_BODY_BYTES has come: never more than one chunk past the limit is read."""
    body = BoundedBody()
    while chunk := read(READ_CHUNK_BYTES):
        body.add(chunk)
    return body.value()


def load_json(raw: bytes) -> Any:
    """The body as JSON, at most MAX_DEPTH deep, every string (keys too) valid Unicode.

    A lone surrogate (`"\\ud800"`) is legal JSON but no valid text: it cannot be encoded as
    UTF-8, so publishing or storing it would fail on every retry. It is replaced with U+FFFD,
    not refused: Telegram never sends one (its JSON is UTF-8, where lone surrogates cannot
    occur), so a real update is never changed; and replacing keeps a prompt or button press
    that somehow carried one answerable, which is what the Unicode standard's decoders do with
    ill-formed text. A 400 would only make the sender retry the same bytes."""
    try:
        decoded = json.loads(raw, parse_constant=_no_constant)
    except RecursionError as error:
        raise MalformedBody(f"JSON nested deeper than {MAX_DEPTH}") from error
    except ValueError as error:  # not JSON, not UTF-8, or an integer past Python's digit limit
        raise MalformedBody(f"not JSON: {error}") from error
    if _nothing_to_walk(raw):
        # Nothing to replace and no way to nest past the limit: the walk would change nothing
        # (it is most of this function's time for an ordinary update).
        return decoded
    return _valid(decoded, 0)


def _nothing_to_walk(raw: bytes) -> bool:
    """True when the bytes alone show that `_valid` would change nothing: UTF-8 (json.loads also
    reads UTF-16 and UTF-32) with no surrogate in it, and too few brackets to nest past
    MAX_DEPTH."""
    return (
        json.detect_encoding(raw) == "utf-8"
        and _MAY_HOLD_SURROGATE.search(raw) is None
        and raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _valid(value: Any, depth: int) -> Any:
    """`value` with valid strings; recursion is bounded by MAX_DEPTH, not by the input."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, list | dict):
        if depth >= MAX_DEPTH:
            raise MalformedBody(f"JSON nested deeper than {MAX_DEPTH}")
        if isinstance(value, list):
            return [_valid(item, depth + 1) for item in value]
        return {_text(key): _valid(item, depth + 1) for key, item in value.items()}
    return value


def _text(value: str) -> str:
    return value if value.isascii() else _SURROGATE.sub("\ufffd", value)
