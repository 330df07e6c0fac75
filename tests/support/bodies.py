"""Request bodies for the webhook's limits: streams that count what was read, deep JSON."""

from __future__ import annotations


class CountingStream:
    """A WSGI input stream of `body` that counts what was read from it;
    `chunk` caps each read, as a chunked body arrives in pieces."""

    def __init__(self, body: bytes, chunk: int | None = None) -> None:
        self._body = body
        self._chunk = chunk
        self.read_bytes = 0

    def read(self, size: int) -> bytes:
        if self._chunk is not None:
            size = min(size, self._chunk)
        piece = self._body[self.read_bytes : self.read_bytes + size]
        self.read_bytes += len(piece)
        return piece


def nested(depth: int) -> bytes:
    """A JSON array `depth` deep."""
    return b"[" * depth + b"]" * depth
