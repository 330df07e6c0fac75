"""The pace kept in Firestore holds across concurrent senders (as across function instances)."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from google.cloud import firestore
from imagebot.core.answer_to import AnswerTo
from imagebot.edges.store import CacheStats


def test_concurrent_reservations_get_distinct_slots_one_interval_apart(runtime):
    key, now = f"chat-test-{uuid.uuid4().hex[:8]}", time.time()
    with ThreadPoolExecutor(max_workers=8) as pool:
        slots = sorted(pool.map(lambda _: runtime.pacing.reserve_slot(key, 1.0), range(8)))
    assert now <= slots[0]
    # At least one interval apart (more when a contender reserved after the slot had passed).
    assert all(later - earlier >= 1.0 - 1e-6 for earlier, later in zip(slots, slots[1:], strict=False))


def test_a_slot_beyond_the_horizon_is_read_but_not_taken(runtime):
    key = f"chat-test-{uuid.uuid4().hex[:8]}"
    first = runtime.pacing.reserve_slot(key, 60.0)
    # The next slot is a minute off: past a 30 s horizon it is reported, and stays free.
    assert runtime.pacing.reserve_slot(key, 60.0, 0.0, 30.0) - first >= 60.0 - 1e-6
    assert runtime.pacing.reserve_slot(key, 60.0) - first == pytest.approx(60.0, abs=1e-6)


def test_the_bot_client_waits_for_its_chat_slot(runtime, telegram):
    chat_id = 14_000_000 + int(time.time()) % 1000
    for n in range(5):
        runtime.bot.send_message(AnswerTo(chat_id), f"message {n}")
    sent = [
        call.time for call in telegram.calls("sendMessage") if str(call.params["chat_id"]) == str(chat_id)
    ]
    assert len(sent) == 5
    # A burst of three goes at once; from then on a message a second (Telegram's per-chat pace).
    assert sent[3] - sent[0] >= 0.95 and sent[4] - sent[0] >= 1.95, [t - sent[0] for t in sent]


def test_the_time_per_picture_takes_concurrent_deliveries_without_a_lock(emulators):
    # A project of its own: the statistics documents are shared by everything in one project.
    store = CacheStats(firestore.Client(project=f"imagebot-stats-{uuid.uuid4().hex[:6]}"))
    assert store.seconds_per_image(default=6.5) == 6.5

    with ThreadPoolExecutor(max_workers=16) as pool:  # as many deliveries at once
        list(pool.map(lambda _: store.record_generation(4.0), range(48)))
    assert store.seconds_per_image(default=6.5) == 4.0

    for _ in range(40):  # the GPU slows down: the estimate follows
        store.record_generation(10.0)
    assert 8.0 < store.seconds_per_image(default=6.5) < 10.0
