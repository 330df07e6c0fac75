"""Scripted failures: the next N calls of a method answer with an error, Telegram-style.

Bot API method names are case-insensitive, so faults are keyed by the lower-cased name.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from local.fake_telegram._errors import BotApiError

# What Telegram says for each code a resilience test is likely to want.
DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


@dataclass(frozen=True)
class Fault:
    """An error to answer with (after `delay` seconds), or only a delay when error_code is None."""

    error_code: int | None
    description: str
    retry_after: int | None = None
    delay: float = 0.0

    def error(self) -> BotApiError | None:
        if self.error_code is None:
            return None
        parameters = {"retry_after": self.retry_after} if self.retry_after is not None else None
        return BotApiError(self.error_code, self.description, parameters)


def make_fault(
    error_code: int | None,
    *,
    retry_after: int | None = None,
    description: str | None = None,
    delay: float = 0.0,
) -> Fault:
    if not 0 <= delay <= 120:
        raise ValueError("delay must be between 0 and 120 seconds")
    if error_code is None:
        if delay == 0:
            raise ValueError("a fault needs an error_code, a delay, or both")
        return Fault(None, "", None, delay)
    if not 400 <= error_code <= 599:
        raise ValueError(f"error_code must be a 4xx or 5xx code, not {error_code}")
    if error_code == 429 and retry_after is None:
        retry_after = 1
    if retry_after is not None and retry_after < 0:
        raise ValueError("retry_after must not be negative")
    if description is None:
        template = DESCRIPTIONS.get(error_code, f"Error {error_code}")
        description = template.format(retry_after=retry_after)
    return Fault(error_code, description, retry_after, delay)


@dataclass
class _Pending:
    fault: Fault
    remaining: int


class FaultBook:
    """Thread-safe queue of faults per method; faults injected first are served first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, deque[_Pending]] = {}

    def inject(self, method: str, fault: Fault, count: int = 1) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        if not method:
            raise ValueError("method is empty")
        with self._lock:
            self._pending.setdefault(method.lower(), deque()).append(_Pending(fault, count))

    def take(self, method: str) -> Fault | None:
        """The fault the next call of `method` must answer with, or None; consumes one."""
        with self._lock:
            queue = self._pending.get(method.lower())
            if not queue:
                return None
            head = queue[0]
            head.remaining -= 1
            if head.remaining == 0:
                queue.popleft()
                if not queue:
                    del self._pending[method.lower()]
            return head.fault

    def remaining(self) -> dict[str, int]:
        with self._lock:
            return {method: sum(p.remaining for p in queue) for method, queue in self._pending.items()}

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
