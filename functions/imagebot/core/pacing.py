"""Outbound pacing: Telegram allows about 30 messages a second per bot, one a second per chat
and 20 a minute per group. Every function instance shares these limits, so the pace is kept in
Firestore: each send reserves the next free slot of its chat and of one shard of the bot-wide
budget, then waits for the later of the two. Waiting for a slot is cheaper than a 429.

The reservation is the generic cell rate algorithm: a slot document holds the theoretical time
of the next send, each reservation moves it on by one interval, and a send may go early by the
burst tolerance (so a status message and its photo need not wait a second apart, while a stream
to one chat settles at one a second). Shards keep any one document's write rate low.

A slot further off than `max_wait` is not taken: the send is refused at once with
PacingBacklog, which the Bot API client turns into a 429 with that `retry_after`, so every
caller handles a deep backlog exactly as it handles Telegram's own rate limit (tries later).
Sending after a capped wait instead would go early, and break the limit it waits for.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

# Methods that put a new message in a chat count per chat; edits count towards the bot-wide
# budget only; callback answers, chat actions and deletions are not limited by Telegram.
log = logging.getLogger(__name__)
NEW_MESSAGES = frozenset({"sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup"})
BOT_WIDE = NEW_MESSAGES | {"editMessageText", "editMessageReplyMarkup", "editMessageCaption"}


@dataclass(frozen=True)
class PacingPolicy:
    per_second: float = 20.0  # bot-wide: shards at 0.4 s allow at most 24 in any second, below ~30
    private_interval: float = 1.0  # seconds between new messages to one private chat
    group_interval: float = 3.1  # 20 a minute in a group: at 3.0 s a 60 s window can hold 21
    chat_burst: int = 3  # messages a chat may get back to back before the interval applies
    shards: int = 8
    max_wait: float = 30.0  # beyond this the backlog is too deep to hold a function for

    def chat_interval(self, chat_id: int) -> float:
        return self.private_interval if chat_id > 0 else self.group_interval

    def chat_tolerance(self, chat_id: int) -> float:
        # Groups get no burst: 20 a minute holds over any 60 s window only at a strict 3 s pace.
        return (self.chat_burst - 1) * self.chat_interval(chat_id) if chat_id > 0 else 0.0

    @property
    def shard_interval(self) -> float:
        return self.shards / self.per_second


def reserve(
    next_free_at: float | None,
    now: float,
    interval: float,
    tolerance: float = 0.0,
    horizon: float = float("inf"),
) -> tuple[float, float | None]:
    """(when this send may go, the slot's new theoretical time). Pure. A slot more than
    `horizon` seconds off is not taken: the new time is None and the slot stays as it was."""
    theoretical = max(now, next_free_at or now)
    slot = max(now, theoretical - tolerance)
    if slot - now > horizon:
        return slot, None
    return slot, theoretical + interval


# (key, interval, tolerance, horizon) -> slot time, wall clock; taken only within the horizon.
Reserve = Callable[[str, float, float, float], float]


class PacingBacklog(Exception):
    """The next free slot is `seconds` away, beyond `max_wait`: try the send again later."""

    def __init__(self, key: str, seconds: float) -> None:
        super().__init__(f"pacing backlog on {key}: next slot in {seconds:.1f}s")
        self.seconds = seconds


class Pacer:
    """Called before each Bot API call; sleeps until the call may go."""

    def __init__(
        self,
        reserve_slot: Reserve,
        policy: PacingPolicy = PacingPolicy(),
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._reserve = reserve_slot
        self._policy = policy
        self._clock = clock
        self._sleep = sleep

    def __call__(self, method: str, chat_id: int | None) -> float:
        """Waits for the slot; returns the seconds waited. Raises PacingBacklog when the
        slot is further off than `max_wait` (nothing is sent, and that slot is not taken)."""
        if method not in BOT_WIDE:
            return 0.0
        shard = random.randrange(self._policy.shards)
        slot = self._slot(f"bot-{shard}", self._policy.shard_interval, 0.0)
        if method in NEW_MESSAGES and chat_id is not None:
            policy = self._policy
            slot = max(
                slot,
                self._slot(f"chat-{chat_id}", policy.chat_interval(chat_id), policy.chat_tolerance(chat_id)),
            )
        wait = max(0.0, slot - self._clock())
        if wait > self._policy.max_wait:
            raise PacingBacklog(f"{method} to {chat_id}", wait)
        if wait > 0:
            self._sleep(wait)
        return wait

    def _slot(self, key: str, interval: float, tolerance: float) -> float:
        try:
            return self._reserve(key, interval, tolerance, self._policy.max_wait)
        except Exception:
            # Pacing must never cost a message: without a slot the call goes now, and a 429
            # (honoured by the Bot API client) is the worst that can follow.
            log.warning("no pacing slot for %s; sending unpaced", key, exc_info=True)
            return self._clock()
