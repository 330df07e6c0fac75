"""Scripted failures: the next N calls of a method answer with an error, Telegram-style, or
every call for the next S seconds (an outage).

Bot API method names are case-insensitive, so faults are keyed by the lower-cased name.
"""

from __future__ import annotations

import threading
import time
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
    remaining: int  # calls left; for a timed fault, the calls it answered so far
    until: float | None = None  # time.monotonic() the timed fault ends at


class FaultBook:
    """Thread-safe queue of faults per method; faults injected first are served first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, deque[_Pending]] = {}

    def inject(self, method: str, fault: Fault, count: int = 1, seconds: float | None = None) -> None:
        """The next `count` calls fail, or, with `seconds`, every call until that long from now."""
        if count < 1:
            raise ValueError("count must be at least 1")
        if seconds is not None and not 0 < seconds <= 3600:
            raise ValueError("seconds must be above 0 and at most 3600")
        if not method:
            raise ValueError("method is empty")
        until = None if seconds is None else time.monotonic() + seconds
        with self._lock:
            self._pending.setdefault(method.lower(), deque()).append(_Pending(fault, count, until))

    def take(self, method: str) -> Fault | None:
        """The fault the next call of `method` must answer with, or None; consumes one."""
        with self._lock:
            queue = self._pending.get(method.lower())
            while queue and queue[0].until is not None and time.monotonic() >= queue[0].until:
                queue.popleft()  # an outage that is over
            if not queue:
                self._pending.pop(method.lower(), None)
                return None
            head = queue[0]
            if head.until is not None:
                return head.fault
            head.remaining -= 1
            if head.remaining == 0:
                queue.popleft()
                if not queue:
                    del self._pending[method.lower()]
            return head.fault

    def remaining(self) -> dict[str, int]:
        with self._lock:
            now = time.monotonic()  # an outage still on counts as one
            pending = {
                method: sum(p.remaining if p.until is None else int(now < p.until) for p in queue)
                for method, queue in self._pending.items()
            }
            return {method: count for method, count in pending.items() if count}

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
