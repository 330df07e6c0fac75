"""Nothing lost, nothing doubled: faults driven through the whole local stack.

Every accepted prompt ends in exactly one photo or one clear apology. Each test here breaks one
thing on the way (a GPU instance dies mid-picture, a hop delivers twice, the Bot API answers
429, 5xx or 403, a crowd of prompts collides on one user's quota, the queue runs deep, a burst
of deliveries) through the real processes of the session's stack, and fails if a photo is lost
or doubled. What each hop does on its own is tested in tests/integration/; here the hops meet.

The faults go into shared processes (the fake Bot API's faults are per method, not per chat;
the GPU service is killed or frozen), so each test starts once the stack is quiet and puts back
what it broke, whatever the outcome. Every prompt's words are its own: the prompt cache would
answer a repeated prompt without the GPU.
"""

from __future__ import annotations

import io
import os
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from google.cloud import firestore, pubsub_v1, storage
from imagebot.core.contract import GenerationJob
from imagebot.core.updates import Prompt, encode_event
from imagebot.edges.store import JobStore
from PIL import Image

from local.event_bridge import finalized_event, object_resource
from local.fake_telegram_client import FakeTelegram, RecordedCall
from local.stack import FAKE_BOT_USERNAME, LocalStack
from local.wiring import MAX_DELIVERY_ATTEMPTS, UNREPORTABLE_TOPIC
from tests.conftest import PROJECT
from tests.e2e.conftest import E2E_BUCKET, E2E_SWEEP_PERIOD
from tests.support.events import unique_ids
from tests.support.pubsub import TopicTap
from tests.support.waits import answered, nothing_more_for, wait_until

pytestmark = pytest.mark.e2e
chats = unique_ids(22_000_000)

PHOTO_TIMEOUT = 90.0  # one picture, start to end, on a busy two-core machine
FINAL = ("delivered", "rejected", "failed")
APOLOGY = "Sorry"  # texts.py: "failed" and "failed_generic" both start so in English
REFUSAL = "You're going a bit fast. Try again in"

# Telegram's limits (core.telegram.org/bots/faq, "My bot is hitting limits"): about 30 messages
# a second per bot, about one a second per chat (short bursts are tolerated), 20 a minute per
# group. As functions/imagebot/core/pacing.py counts them: new messages count per chat, new messages
# and edits count bot-wide; callback answers, chat actions and deletions are not limited.
BOT_PER_SECOND = 30
CHAT_INTERVAL = 1.0
CHAT_BURST = 3  # pacing.py's burst tolerance: a status message and its photo need not wait
GROUP_PER_MINUTE = 20
NEW_MESSAGES = frozenset({"sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup"})
BOT_WIDE = NEW_MESSAGES | {"editMessageText", "editMessageCaption", "editMessageReplyMarkup"}
CLOCK_SLACK = 0.05  # the fake stamps a call as it arrives, a few ms after the sender's slot


# -- helpers ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def db(stack: LocalStack) -> firestore.Client:
    return firestore.Client(project=PROJECT)


@pytest.fixture(scope="module")
def bucket(stack: LocalStack) -> storage.Bucket:
    return storage.Client(project=PROJECT).bucket(E2E_BUCKET)


@pytest.fixture(scope="module")
def publisher(stack: LocalStack) -> pubsub_v1.PublisherClient:
    return pubsub_v1.PublisherClient()


@pytest.fixture
def faults(telegram: FakeTelegram) -> Iterator[FakeTelegram]:
    """The fake Bot API once quiet, and no fault left over afterwards for the next test to meet."""
    quiet(telegram)
    try:
        yield telegram
    finally:
        telegram.clear_faults()


def in_chat(chat_id: int, ok: bool = False) -> Callable[[RecordedCall], bool]:
    return lambda call: str(call.params.get("chat_id")) == str(chat_id) and (call.ok or not ok)


def chat_calls(
    telegram: FakeTelegram, chat_id: int, since: int, method: str | None = None
) -> list[RecordedCall]:
    return [call for call in telegram.calls(method, since) if in_chat(chat_id)(call)]


def photos(telegram: FakeTelegram, chat_id: int, since: int) -> list[RecordedCall]:
    """The photos that reached the chat (a refused sendPhoto delivers nothing)."""
    return [call for call in chat_calls(telegram, chat_id, since, "sendPhoto") if call.ok]


def texts_in(telegram: FakeTelegram, chat_id: int, since: int, method: str | None = None) -> list[str]:
    return [call.params.get("text", "") for call in chat_calls(telegram, chat_id, since, method) if call.ok]


def statuses(telegram: FakeTelegram, chat_id: int, since: int) -> list[str]:
    """The status messages sent (not edited) to the chat: one per job at most."""
    return [text for text in texts_in(telegram, chat_id, since, "sendMessage") if text.startswith("⏳")]


def wait_for_photo(
    telegram: FakeTelegram, chat_id: int, since: int, timeout: float = PHOTO_TIMEOUT
) -> RecordedCall:
    return telegram.wait_for_call("sendPhoto", in_chat(chat_id, ok=True), since=since, timeout=timeout)


def quiet(telegram: FakeTelegram, idle: float = 1.5, timeout: float = 90.0) -> int:
    """Wait until the bot has made no Bot API call for `idle` seconds; the latest call's seq.
    Jobs of earlier tests still travelling would otherwise meet this test's faults."""
    deadline = time.monotonic() + timeout
    last = telegram.last_seq()
    while True:
        time.sleep(idle)
        if (now := telegram.last_seq()) == last:
            return now
        assert time.monotonic() < deadline, f"the bot was still busy after {timeout:.0f}s"
        last = now


def settle(stack: LocalStack, db: firestore.Client, *job_ids: str) -> None:
    """Nothing more can come for these jobs (tests/support/waits.py): what a duplicate would
    have sent is recorded by the time this returns."""
    nothing_more_for(stack, lambda: all_final(db, list(job_ids)))


def job(db: firestore.Client, job_id: str) -> dict[str, Any]:
    return db.collection("jobs").document(job_id).get().to_dict() or {}


def all_final(db: firestore.Client, job_ids: list[str]) -> list[dict[str, Any]] | None:
    """The job documents once every one of them is final; None before."""
    docs = [job(db, job_id) for job_id in job_ids]
    return docs if all(doc.get("state") in FINAL for doc in docs) else None


def settled(db: firestore.Client, job_id: str, timeout: float = 15.0) -> dict[str, Any]:
    """The job once final (delivery marks it just after sendPhoto returns)."""
    return wait_until(lambda: all_final(db, [job_id]), timeout, f"{job_id} final")[0]


@contextmanager
def on_state(db: firestore.Client, job_id: str, states: set[str]) -> Iterator[threading.Event]:
    """An event set the moment the job document is in one of `states` (a Firestore listener:
    polling could miss a state the job passes in a fraction of a second)."""
    reached = threading.Event()

    def changed(snapshots: list[firestore.DocumentSnapshot], *_: Any) -> None:
        if any((snapshot.to_dict() or {}).get("state") in states for snapshot in snapshots):
            reached.set()

    watch = db.collection("jobs").document(job_id).on_snapshot(changed)
    try:
        yield reached
    finally:
        watch.unsubscribe()


def prompt(telegram: FakeTelegram, chat_id: int, words: str) -> str:
    """A /pixel prompt (drawn at once, no style question) from the chat's user; the job id."""
    sent = telegram.send_text(chat_id=chat_id, user_id=chat_id, text=f"/pixel {words}")
    assert sent.status == 200, f"webhook answered {sent.status}: {sent.body}"
    return f"u{sent.update_id}"


def user_photo(chat_id: int) -> bytes:
    """A photo of the chat's own: two colours from its id."""
    image = Image.new("RGB", (800, 600), (chat_id * 37 % 256, 90, 160))
    image.paste((240, chat_id * 11 % 256, 40), (400, 0, 800, 600))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def photo_prompt(telegram: FakeTelegram, chat_id: int, words: str) -> str:
    """A photo captioned "/pixel <words>" (drawn at once, from the photo); the job id."""
    sent = telegram.send_photo(chat_id, chat_id, user_photo(chat_id), caption=f"/pixel {words}")
    assert sent.status == 200, f"webhook answered {sent.status}: {sent.body}"
    return f"u{sent.update_id}"


def fresh_update_id(telegram: FakeTelegram) -> int:
    """An update id above every one the fake has given out, for sending one update several
    times at once (the fake carries on above it, so no later update gets the same id)."""
    chat_id = next(chats)
    return telegram.send_text(chat_id=chat_id, user_id=chat_id, text="/help").update_id + 1000


def parallel(count: int, action: Callable[[int], Any]) -> list[Any]:
    """`action(i)` for each i in range(count), all released at the same moment."""
    start = threading.Barrier(count)

    def run(i: int) -> Any:
        start.wait()
        return action(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def quota_used(db: firestore.Client, user_id: int) -> int:
    user = db.collection("users").document(str(user_id)).get().to_dict() or {}
    return int((user.get("quota") or {}).get("used_today", 0))


def publish(publisher: pubsub_v1.PublisherClient, topic: str, data: bytes, **attributes: str) -> str:
    return publisher.publish(publisher.topic_path(PROJECT, topic), data, **attributes).result(timeout=10)


# -- 1. a GPU instance dies mid-picture --------------------------------------------------------------


def signal_while_drawing(
    stack: LocalStack,
    telegram: FakeTelegram,
    db: firestore.Client,
    chat_id: int,
    words: str,
    child: str,
    sig: int = signal.SIGKILL,
    send: Callable[[FakeTelegram, int, str], str] = prompt,
) -> str:
    """A prompt (or what `send` sends) from the chat; the moment its job is `generating`, `sig`
    to the stack's `child` (its whole process group, as a lost instance); the job id."""
    job_id = send(telegram, chat_id, f"{words}, chat {chat_id}")
    with on_state(db, job_id, {"generating"}) as generating:
        assert generating.wait(PHOTO_TIMEOUT), f"{job_id} never started drawing: {job(db, job_id)}"
        stack.supervisor.kill(child, sig)
    return job_id


@pytest.mark.parametrize("send", [prompt, photo_prompt], ids=["text", "photo"])
def test_a_gpu_killed_mid_generation_is_restarted_and_the_photo_arrives_once(
    stack, telegram, db, bucket, send
):
    """SIGKILL while the job is `generating`; nobody restarts it by hand: the stack's supervisor
    does, as Cloud Run replaces a lost instance. The Pub/Sub emulator sees the push connection
    drop and redelivers at once (there is no ack deadline to sit out); the replacement answers
    503 while it warms up, and the GPU route's cloud-like backoff (local/stack.py) gives it time
    to warm before the five attempts run out. The redelivery draws the job anew (no output
    exists) and the photo goes out once; a job drawn from a user's photo reads its stored
    input again."""
    chat_id = next(chats)
    since = quiet(telegram)
    restarts = stack.supervisor.restarts("gpu_service")
    job_id = signal_while_drawing(
        stack, telegram, db, chat_id, "a lighthouse in a storm", "gpu_service", send=send
    )
    assert job(db, job_id)["state"] == "generating", "the kill came too late to test anything"
    assert list(bucket.list_blobs(prefix=f"outputs/{job_id}.")) == [], "the kill came after the upload"
    stack.supervisor.wait_for_restart("gpu_service", restarts + 1, timeout=30)

    # Attempts 10 s, 20 s, 40 s and 80 s apart: the last is about three minutes after the kill.
    wait_for_photo(telegram, chat_id, since, timeout=200)
    settle(stack, db, job_id)
    assert len(photos(telegram, chat_id, since)) == 1
    assert settled(db, job_id)["state"] == "delivered"
    assert not any(text.startswith(APOLOGY) for text in texts_in(telegram, chat_id, since))
    assert quota_used(db, chat_id) == 1


def test_deliver_image_killed_with_the_event_in_its_socket_is_restarted_and_sends_once(stack, telegram, db):
    """deliver_image is frozen while the job draws, so the event bridge's post of the finished
    picture waits in its socket; then it is SIGKILLed, as an instance lost mid-request. The
    bridge sees the connection drop and retries (Eventarc's backoff, compressed) until the
    instance the supervisor starts again takes the event."""
    chat_id = next(chats)
    since = quiet(telegram)
    restarts = stack.supervisor.restarts("deliver_image")
    job_id = signal_while_drawing(
        stack, telegram, db, chat_id, "a clockwork owl", "deliver_image", signal.SIGSTOP
    )
    try:
        wait_until(lambda: job(db, job_id).get("state") == "generated", PHOTO_TIMEOUT, f"{job_id} drawn")
        wait_until(lambda: stack.bridge_stats()["in_flight"] >= 1, 30, "the event posted to deliver_image")
    finally:
        stack.supervisor.kill("deliver_image")  # SIGKILL ends a stopped process too
    assert "delivery_claim" not in job(db, job_id), "the frozen instance had begun the delivery"
    stack.supervisor.wait_for_restart("deliver_image", restarts + 1, timeout=30)

    wait_for_photo(telegram, chat_id, since)
    settle(stack, db, job_id)
    assert len(photos(telegram, chat_id, since)) == 1
    assert job(db, job_id)["state"] == "delivered"
    assert not any(text.startswith(APOLOGY) for text in texts_in(telegram, chat_id, since))


def test_rate_limit_killed_while_it_admits_a_job_is_restarted_and_the_photo_arrives_once(stack, faults, db):
    """rate_limit has charged the quota and is telling the user their place in line (the fake
    Bot API holds that sendMessage) when it is SIGKILLed. Pub/Sub redelivers the `validated`
    message to the instance the supervisor starts again, which sends the job on; the quota is
    charged once."""
    chat_id = next(chats)
    since = faults.last_seq()
    restarts = stack.supervisor.restarts("rate_limit")
    faults.inject_fault("sendMessage", error_code=None, delay=HELD * 5)
    job_id = prompt(faults, chat_id, f"a marble staircase, chat {chat_id}")

    def telling_the_place() -> bool:
        return any(
            str(call["params"].get("chat_id")) == str(chat_id) for call in faults.in_flight("sendMessage")
        )

    wait_until(telling_the_place, PHOTO_TIMEOUT, "rate_limit's status message under way")
    stack.supervisor.kill("rate_limit")
    held = job(db, job_id)
    assert held["state"] == "queued" and "dispatched_message_id" not in held, held
    stack.supervisor.wait_for_restart("rate_limit", restarts + 1, timeout=30)

    wait_for_photo(faults, chat_id, since)
    settle(stack, db, job_id)
    assert len(photos(faults, chat_id, since)) == 1
    assert job(db, job_id)["state"] == "delivered"
    assert quota_used(db, chat_id) == 1
    assert not any(text.startswith(APOLOGY) for text in texts_in(faults, chat_id, since))


def test_the_scheduled_sweep_fails_a_job_stuck_past_its_deadline_and_says_sorry(stack, telegram, db):
    """The stack's scheduler publishes to `sweep` every few seconds, as Cloud Scheduler does
    every five minutes; sweep_stuck_jobs fails a job queued for longer than JOB_DEADLINE_SECONDS
    and tells its user, with a retry button."""
    chat_id = next(chats)
    since = quiet(telegram)
    job_id = f"e2e-stuck-{chat_id}"
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    db.collection("jobs").document(job_id).set(
        {
            "job_id": job_id,
            "chat_id": chat_id,
            "user_id": chat_id,
            "language": "en",
            "prompt": f"a lost kite, chat {chat_id}",
            "style": "pixel",
            "seed": 7,
            "state": "queued",
            "gpu_route": "cloudrun",
            "times": {"received": two_hours_ago, "queued": two_hours_ago},
        }
    )
    done = settled(db, job_id, timeout=E2E_SWEEP_PERIOD * 10)
    assert (done["state"], done["reason"]) == ("failed", "stuck in queued past the deadline")
    apology = telegram.wait_for_call("sendMessage", in_chat(chat_id, ok=True), since=since, timeout=30)
    assert apology.params["text"].startswith(APOLOGY)
    buttons = [
        b["callback_data"] for row in apology.param_json("reply_markup")["inline_keyboard"] for b in row
    ]
    assert any(job_id in data for data in buttons), buttons


# -- 2. every hop delivers twice ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["shortcut", "style-question", "photo"])
def test_the_same_update_twice_at_once_makes_one_job_one_charge_one_photo(stack, telegram, db, kind):
    """Telegram retries a webhook call it believes failed, and the webhook publishes the update
    again: the copy is handled beside the first. One question (if any), one status message,
    one charge, one photo (a user's photo is fetched and stored for the one job)."""
    chat_id = next(chats)
    since = quiet(telegram)
    update_id = fresh_update_id(telegram)
    words = f"a red kite, chat {chat_id}"
    shortcut = kind != "style-question"

    def deliver(_: int) -> int:
        with FakeTelegram(stack.telegram_api_base) as client:
            if kind == "photo":
                image = user_photo(chat_id)
                sent = client.send_photo(
                    chat_id, chat_id, image, caption=f"/pixel {words}", update_id=update_id
                )
                return sent.status or 0
            text = f"/pixel {words}" if shortcut else words
            return (
                client.send_text(chat_id=chat_id, user_id=chat_id, text=text, update_id=update_id).status or 0
            )

    assert parallel(2, deliver) == [200, 200]
    # Both copies went to validate_prompt: once it has acknowledged both, a second question (or
    # job) would have been sent (or made).
    answered(stack, "validate_prompt", 2, update_id=str(update_id))
    if not shortcut:
        question = telegram.wait_for_call("sendMessage", in_chat(chat_id), since=since, timeout=PHOTO_TIMEOUT)
        buttons = question.param_json("reply_markup")["inline_keyboard"]
        telegram.press_button(chat_id, chat_id, question.result["message_id"], buttons[0][0]["callback_data"])
    wait_for_photo(telegram, chat_id, since)
    settle(stack, db, f"u{update_id}")

    assert len(photos(telegram, chat_id, since)) == 1
    assert settled(db, f"u{update_id}")["state"] == "delivered"
    assert quota_used(db, chat_id) == 1
    questions = [text for text in texts_in(telegram, chat_id, since) if text.startswith("Which style")]
    assert len(questions) == (0 if shortcut else 1), questions
    # With a question, the question itself becomes the status message (edited, not sent).
    assert len(statuses(telegram, chat_id, since)) == (1 if shortcut else 0), statuses(
        telegram, chat_id, since
    )


def test_the_same_validated_message_three_times_charges_and_dispatches_once(stack, telegram, db, publisher):
    """Two more copies of the job's `validated` message, published the moment the job is
    validated, reach rate_limit beside the first."""
    chat_id = next(chats)
    since = quiet(telegram)
    dispatched = TopicTap(PROJECT, "generation-jobs")
    job_id = prompt(telegram, chat_id, f"a brass telescope, chat {chat_id}")
    with on_state(db, job_id, {"validated", "queued"}) as validated:
        assert validated.wait(PHOTO_TIMEOUT), f"{job_id} never validated: {job(db, job_id)}"
        for _ in range(2):
            publish(publisher, "validated", job_id.encode(), job_id=job_id)
    wait_for_photo(telegram, chat_id, since)
    answered(stack, "rate_limit", 3, job_id=job_id)  # every copy handled: its publish is stored
    settle(stack, db, job_id)

    assert len(photos(telegram, chat_id, since)) == 1
    assert settled(db, job_id)["state"] == "delivered"
    assert quota_used(db, chat_id) == 1
    assert len(statuses(telegram, chat_id, since)) == 1, statuses(telegram, chat_id, since)
    # rate_limit publishes before it acknowledges, so a second dispatch is in the topic already:
    # the drain returns as soon as it has two, and otherwise gives the tap a few seconds.
    sent_on = [
        message for message in dispatched.drain(expect=2) if message.attributes.get("job_id") == job_id
    ]
    assert len(sent_on) == 1, f"the job went to the GPU {len(sent_on)} times"


def test_the_same_generation_job_three_times_draws_and_delivers_once(stack, telegram, db, bucket, publisher):
    """Two more copies of the generation job, published the moment the job is queued, reach
    the GPU beside the first (they may even share a batch)."""
    chat_id = next(chats)
    since = quiet(telegram)
    job_id = prompt(telegram, chat_id, f"a glass greenhouse, chat {chat_id}")
    with on_state(db, job_id, {"queued", "generating", "generated"}) as queued:
        assert queued.wait(PHOTO_TIMEOUT), f"{job_id} never queued: {job(db, job_id)}"
        doc = job(db, job_id)
        # The body rate_limit sends (admit.py), built with the functions' side of the contract.
        body = GenerationJob(
            job_id=job_id,
            chat_id=doc["chat_id"],
            prompt=doc["prompt"],
            style=doc["style"],
            seed=doc["seed"],
            negative_prompt=doc.get("negative_prompt", ""),
            aspect=doc.get("aspect", "square"),
            mode="normal",
        ).to_json()
        for _ in range(2):
            publish(publisher, "generation-jobs", body, job_id=job_id)
    wait_for_photo(telegram, chat_id, since)
    # The GPU service keeps no record of the pushes it answered (only the functions run under
    # local/function_host.py do), so a copy still drawing could upload after this: the bucket's
    # generations below would show it.
    settle(stack, db, job_id)

    assert len(photos(telegram, chat_id, since)) == 1
    assert settled(db, job_id)["state"] == "delivered"
    assert [blob.name for blob in bucket.list_blobs(prefix=f"outputs/{job_id}.")] == [f"outputs/{job_id}.png"]


HELD = 4.0  # seconds the fake holds the first sendPhoto


def test_a_finalize_event_redelivered_while_the_first_still_sends_sends_one_photo(stack, faults, db, bucket):
    """The first delivery's sendPhoto is held a few seconds (a slow Bot API). Meanwhile the same
    event comes again, as Eventarc redelivers one whose attempt it believes lost, and an event
    with another id for the same object comes too."""
    chat_id = next(chats)
    since = faults.last_seq()
    faults.inject_fault("sendPhoto", error_code=None, delay=HELD)
    job_id = prompt(faults, chat_id, f"a copper kettle, chat {chat_id}")
    blob = wait_until(
        lambda: bucket.get_blob(f"outputs/{job_id}.png"), PHOTO_TIMEOUT, f"{job_id}'s output", 0.05
    )
    headers, body = finalized_event(object_resource(blob))  # the bridge's own event, id and all
    other = {**headers, "ce-id": f"{headers['ce-id']}0"}
    wait_until(lambda: job(db, job_id).get("delivery_claim"), 10, "the first delivery under way", 0.05)

    def post(i: int) -> int:
        target = stack.urls["deliver_image"]
        return httpx.post(target, headers=(headers, other)[i], content=body, timeout=60).status_code

    # Each copy finds the first delivery's live claim and fails (Eventarc tries again later),
    # or, once the held send is done, finds the job delivered and succeeds: never a photo.
    statuses = parallel(2, post)
    assert all(status < 300 or status >= 500 for status in statuses), statuses
    settle(stack, db, job_id)  # the held send has finished too

    assert len(photos(faults, chat_id, since)) == 1
    assert settled(db, job_id)["state"] == "delivered"


# -- 3. the Bot API fails ----------------------------------------------------------------------------


def test_a_429_on_the_photo_is_waited_out_and_the_photo_sent_once(stack, faults, db):
    chat_id = next(chats)
    since = faults.last_seq()
    faults.inject_fault("sendPhoto", error_code=429, retry_after=3)
    job_id = prompt(faults, chat_id, f"a snail on a leaf, chat {chat_id}")
    wait_for_photo(faults, chat_id, since)
    settle(stack, db, job_id)

    attempts = chat_calls(faults, chat_id, since, "sendPhoto")
    assert [call.status for call in attempts] == [429, 200]
    assert attempts[1].time - attempts[0].time >= 3.0 - CLOCK_SLACK, "retry_after was not honoured"
    assert settled(db, job_id)["state"] == "delivered"


def test_5xx_on_the_photo_is_retried_with_backoff_and_the_photo_sent_once(stack, faults, db):
    """deliver_image records when to try again after a server error (a doubling backoff:
    0.5 s, 1 s, 2 s in the tests' stack, DELIVERY_RETRY_INITIAL_SECONDS) and raises; the event
    bridge, as Eventarc, and the sweep try again, never sooner, until the send goes."""
    chat_id = next(chats)
    since = faults.last_seq()
    faults.inject_fault("sendPhoto", error_code=502, count=3)
    job_id = prompt(faults, chat_id, f"a tin robot, chat {chat_id}")
    wait_for_photo(faults, chat_id, since)
    settle(stack, db, job_id)

    attempts = chat_calls(faults, chat_id, since, "sendPhoto")
    assert [call.status for call in attempts] == [502, 502, 502, 200]
    pauses = [later.time - earlier.time for earlier, later in zip(attempts, attempts[1:], strict=False)]
    assert all(pause >= least for pause, least in zip(pauses, (0.5, 1.0, 2.0), strict=True)), (
        f"no backoff: {pauses}"
    )
    assert settled(db, job_id)["state"] == "delivered"
    assert not any(text.startswith(APOLOGY) for text in texts_in(faults, chat_id, since))


OUTAGE = 20.0  # "three minutes" of sendPhoto answering 500, compressed as the stack's backoffs are
BACKOFF = (0.5, 5.0)  # DELIVERY_RETRY_INITIAL_SECONDS and DELIVERY_RETRY_MAX_SECONDS (conftest.py)


def test_a_photo_outlives_minutes_of_500s_and_arrives_once_when_telegram_is_back(stack, faults, db):
    """Every sendPhoto fails for OUTAGE seconds, past any one hop's patience. Each failure
    records the next try on the job (a doubling backoff, capped); Eventarc (the bridge) and the
    sweep both try again, never sooner than that, and never both at once: one photo."""
    chat_id = next(chats)
    since = faults.last_seq()
    outage_ends = time.time() + OUTAGE  # the fake stamps calls with its wall clock, on this machine
    faults.inject_fault("sendPhoto", error_code=500, seconds=OUTAGE)
    job_id = prompt(faults, chat_id, f"a weathervane in a gale, chat {chat_id}")
    wait_for_photo(faults, chat_id, since, timeout=PHOTO_TIMEOUT + OUTAGE)
    settle(stack, db, job_id)

    attempts = chat_calls(faults, chat_id, since, "sendPhoto")
    assert [call.status for call in attempts[:-1]] == [500] * (len(attempts) - 1) and attempts[-1].ok
    assert attempts[-1].time >= outage_ends - CLOCK_SLACK and len(attempts) >= 3, attempts
    pauses = [later.time - earlier.time for earlier, later in zip(attempts, attempts[1:], strict=False)]
    least = [min(BACKOFF[0] * 2**n, BACKOFF[1]) for n in range(len(pauses))]
    assert all(pause >= floor - CLOCK_SLACK for pause, floor in zip(pauses, least, strict=True)), (
        f"tried sooner than the backoff: {pauses}"
    )
    assert len(photos(faults, chat_id, since)) == 1
    done = settled(db, job_id)
    assert done["state"] == "delivered" and done["delivery_attempts"] == len(attempts) - 1
    assert not any(text.startswith(APOLOGY) for text in texts_in(faults, chat_id, since))


LONG_RETRY_AFTER = 12  # "90 s" compressed: above TELEGRAM_MAX_WAIT_SECONDS (5 here, 30 in the cloud)


def test_a_429_longer_than_the_client_waits_is_honoured_and_the_photo_sent_once(stack, faults, db):
    """The client will not sleep through a retry_after above its budget: it raises, the job
    records the retry time, and neither the bridge's redeliveries (every few seconds) nor the
    sweep send before it; then exactly one photo goes out."""
    chat_id = next(chats)
    since = faults.last_seq()
    faults.inject_fault("sendPhoto", error_code=429, retry_after=LONG_RETRY_AFTER)
    job_id = prompt(faults, chat_id, f"an hourglass on a shelf, chat {chat_id}")
    wait_for_photo(faults, chat_id, since, timeout=PHOTO_TIMEOUT + LONG_RETRY_AFTER)
    settle(stack, db, job_id)

    attempts = chat_calls(faults, chat_id, since, "sendPhoto")
    assert [call.status for call in attempts] == [429, 200]
    assert attempts[1].time - attempts[0].time >= LONG_RETRY_AFTER - CLOCK_SLACK, "sent before retry_after"
    assert len(photos(faults, chat_id, since)) == 1
    assert settled(db, job_id)["state"] == "delivered"


def test_an_outage_past_the_deadline_ends_in_one_apology_and_no_photo(stack, faults, db):
    """sendPhoto fails for good. Once the job's last move is older than JOB_DEADLINE_SECONDS
    (an hour here: the test ages the job's `generated` stamp rather than wait), the sweep takes
    the delivery claim and apologises, once; when Telegram is back, the event's next
    redelivery finds the job closed and sends nothing."""
    chat_id = next(chats)
    since = faults.last_seq()
    faults.inject_fault("sendPhoto", error_code=500, seconds=600)
    job_id = prompt(faults, chat_id, f"a lighthouse keeper's lamp, chat {chat_id}")
    wait_until(
        lambda: job(db, job_id).get("delivery_attempts", 0) >= 2, PHOTO_TIMEOUT, f"{job_id} retried once"
    )
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    db.collection("jobs").document(job_id).update({"times.generated": two_hours_ago})
    done = settled(db, job_id, timeout=E2E_SWEEP_PERIOD * 10)
    assert (done["state"], done["reason"]) == ("failed", "stuck in generated past the deadline")
    faults.clear_faults()  # Telegram is back
    settle(stack, db, job_id)  # the bridge's pending redelivery included

    assert photos(faults, chat_id, since) == []
    apologies = [text for text in texts_in(faults, chat_id, since) if text.startswith(APOLOGY)]
    assert len(apologies) == 1, apologies


def test_a_user_who_blocked_the_bot_is_tried_once_and_the_job_closes(stack, faults, db):
    chat_id = next(chats)
    since = faults.last_seq()
    # Every photo the bot tries is refused; one attempt must be all it makes.
    faults.inject_fault("sendPhoto", error_code=403, count=20)
    job_id = prompt(faults, chat_id, f"a paper lantern, chat {chat_id}")
    done = settled(db, job_id, timeout=PHOTO_TIMEOUT)
    settle(stack, db, job_id)

    assert (done["state"], done.get("reason")) == ("failed", "unreachable")
    attempts = chat_calls(faults, chat_id, since, "sendPhoto")
    assert [call.status for call in attempts] == [403]
    later = [
        call.method for call in chat_calls(faults, chat_id, attempts[0].seq) if call.method in NEW_MESSAGES
    ]
    assert later == [], "the bot kept sending to a user who blocked it"


# -- 4. a crowd on one quota -------------------------------------------------------------------------


def test_fifty_prompts_at_once_from_one_user_admit_exactly_the_quota(stack, telegram, db):
    """Fifty admissions contend for one user's quota document. The token bucket (RATE_BURST=3,
    one more every RATE_REFILL_SECONDS=20) admits the burst, plus one per 20 s should the
    admissions spread over longer; never more. Every other prompt is refused and recorded, none
    is lost, and the user is told why once per wait rather than once per prompt."""
    chat_id, count = next(chats), 50
    since = quiet(telegram)

    def send(i: int) -> str:
        with FakeTelegram(stack.telegram_api_base) as client:
            return prompt(client, chat_id, f"crowd picture number {i}, chat {chat_id}")

    job_ids = parallel(count, send)
    docs = wait_until(lambda: all_final(db, job_ids), 240, "every job of the crowd final", interval=1.0)
    states = Counter(doc["state"] for doc in docs)
    admitted = sum(1 for doc in docs if "queued" in doc["times"])
    decided = sorted(
        doc["times"].get("queued") or doc["times"].get("rejected") or doc["times"]["received"] for doc in docs
    )
    span = (decided[-1] - decided[0]).total_seconds()
    assert 3 <= admitted <= 3 + int(span // 20), f"{admitted} admitted over {span:.1f}s: {states}"
    assert states == {"delivered": admitted, "rejected": count - admitted}, states
    assert {doc.get("reason") for doc in docs if doc["state"] == "rejected"} == {"rate"}
    assert quota_used(db, chat_id) == admitted

    # Told once per wait, not once per prompt (quota.refusal_notice): each notice holds for the
    # wait it gives, and no other refusal inside that wait is told.
    told = sorted((doc for doc in docs if doc.get("told")), key=lambda doc: doc["times"]["rejected"])
    assert told and all("told" in doc for doc in docs if doc["state"] == "rejected")
    for earlier, later in zip(told, told[1:], strict=False):
        gap = (later["times"]["rejected"] - earlier["times"]["rejected"]).total_seconds()
        assert gap >= min(earlier["retry_after_seconds"], 60) - 1.0, (gap, earlier["retry_after_seconds"])

    def refusals() -> list[str]:
        return [text for text in texts_in(telegram, chat_id, since) if text.startswith(REFUSAL)]

    wait_until(
        lambda: len(refusals()) >= len(told) and len(photos(telegram, chat_id, since)) >= admitted,
        120,
        "every notice told and every photo sent",
        interval=1.0,
    )
    for job_id in job_ids:  # each refusal is told (or not) by rate_limit as it handles the job
        answered(stack, "rate_limit", 1, job_id=job_id)
    settle(stack, db, *job_ids)
    assert len(photos(telegram, chat_id, since)) == admitted
    assert len(refusals()) == len(told) < count - admitted
    assert not any(text.startswith(APOLOGY) for text in texts_in(telegram, chat_id, since))


# -- 5. the queue runs deeper than the GPU draws at once ---------------------------------------------


@contextmanager
def gpu_frozen(stack: LocalStack) -> Iterator[None]:
    """SIGSTOP the GPU service: pushes reach its socket and wait, as jobs wait behind a busy GPU."""
    group = stack.supervisor.processes["gpu_service"].pid
    os.killpg(group, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(group, signal.SIGCONT)


def place_in_line(status: str) -> int:
    if "you're next" in status:
        return 1
    found = re.search(r"you're number (\d+) in line", status)
    assert found, f"not a queue status: {status!r}"
    return int(found.group(1))


def test_a_deep_queue_tells_each_user_their_place_and_drops_nothing(stack, telegram, db):
    """Eight users ask while the GPU is busy (frozen here), twice what it draws at once
    (BATCH_MAX_SIZE=4): each hears their true place in line, and every picture arrives."""
    users = [next(chats) for _ in range(8)]
    since = quiet(telegram)
    ahead = JobStore(db).queue_depth()  # jobs other tests left queued for good count too
    told: list[str] = []
    job_ids: list[str] = []
    with gpu_frozen(stack):
        for chat_id in users:
            job_ids.append(prompt(telegram, chat_id, f"a queue of ducks, chat {chat_id}"))
            status = telegram.wait_for_call(
                "sendMessage", in_chat(chat_id, ok=True), since=since, timeout=PHOTO_TIMEOUT
            )
            told.append(status.params["text"])
    assert [place_in_line(text) for text in told] == list(range(ahead + 1, ahead + 9)), told

    for chat_id in users:
        wait_for_photo(telegram, chat_id, since, timeout=120)
    settle(stack, db, *job_ids)
    assert [len(photos(telegram, chat_id, since)) for chat_id in users] == [1] * len(users)


# -- 6. a burst of deliveries keeps within Telegram's limits -----------------------------------------


def busiest_second(times: list[float]) -> int:
    """The most calls in any one-second window."""
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def busiest_minute(times: list[float]) -> int:
    return max((sum(1 for t in times if first <= t < first + 60) for first in times), default=0)


def pace_breaches(times: list[float], interval: float, burst: int = CHAT_BURST) -> list[str]:
    """Stretches holding more messages than `burst` plus one per `interval`: the bound a paced
    stream keeps (a short burst, then one per interval)."""
    times = sorted(times)
    breaches = []
    for i, first in enumerate(times):
        for j in range(i + burst, len(times)):
            if j - i + 1 > burst + (times[j] - first + CLOCK_SLACK) / interval:
                breaches.append(f"{j - i + 1} messages in {times[j] - first:.2f}s")
    return breaches


def test_a_burst_of_deliveries_is_paced_within_telegrams_limits(stack, telegram, db):
    """Forty users in private chats and eleven members of one group ask at once. The fake
    stamps every outbound call as it arrives: no second may hold more than 30 messages and
    edits bot-wide; no chat more than a short burst, then one a second; the group no more than
    20 new messages a minute (its 22 need more than a minute). Every picture arrives once."""
    users = [next(chats) for _ in range(40)]
    group, members = -next(chats), [next(chats) for _ in range(11)]
    since = quiet(telegram)

    def send(i: int) -> str:
        with FakeTelegram(stack.telegram_api_base) as client:
            if i < len(users):
                return prompt(client, users[i], f"a burst of stars, chat {users[i]}")
            member = members[i - len(users)]
            text = f"/pixel@{FAKE_BOT_USERNAME} a group kite, member {member}"
            sent = client.send_text(chat_id=group, user_id=member, text=text, chat_type="supergroup")
            assert sent.status == 200
            return f"u{sent.update_id}"

    job_ids = parallel(len(users) + len(members), send)
    try:
        docs = wait_until(lambda: all_final(db, job_ids), 240, "every job of the burst final", interval=1.0)
    except AssertionError as error:
        states = Counter(job(db, job_id).get("state") for job_id in job_ids)
        raise AssertionError(f"{error}: {dict(states)}; busy: {stack.busy()}") from None
    settle(stack, db, *job_ids)
    calls = telegram.calls(since=since)

    assert Counter(doc["state"] for doc in docs) == {"delivered": len(job_ids)}
    assert [len(photos(telegram, chat_id, since)) for chat_id in users] == [1] * len(users)
    assert len(photos(telegram, group, since)) == len(members)

    bot_wide = [call.time for call in calls if call.method in BOT_WIDE]
    assert busiest_second(bot_wide) <= BOT_PER_SECOND, (
        f"{busiest_second(bot_wide)} messages and edits in a second"
    )

    def new_messages(chat_id: int) -> list[float]:
        return [call.time for call in calls if call.method in NEW_MESSAGES and in_chat(chat_id)(call)]

    breaches = {
        chat_id: found for chat_id in users if (found := pace_breaches(new_messages(chat_id), CHAT_INTERVAL))
    }
    assert breaches == {}, f"chats sent to faster than one a second after a burst of {CHAT_BURST}"
    assert pace_breaches(new_messages(group), CHAT_INTERVAL) == []
    assert busiest_minute(new_messages(group)) <= GROUP_PER_MINUTE, (
        f"{busiest_minute(new_messages(group))} in a minute"
    )


# -- 7. a poison update ------------------------------------------------------------------------------


def test_a_poison_update_is_refused_at_the_webhook_and_one_that_got_past_it_is_kept(
    stack, telegram, publisher
):
    """Ids beyond Telegram's 64-bit range (Firestore cannot store them) are refused by the
    webhook with 400, before anything is published. A message that got past it all the same (an
    older webhook, a hand-published one) fails validate_prompt on every attempt, and
    report_failure the same way: each subscription gives up after its five attempts, and the
    message ends, kept, in report-failure-dead rather than being retried for ever (issue 15)."""
    poison = 2**70
    refused = telegram.send_text(chat_id=poison, user_id=poison, text="a poison prompt")
    assert refused.status == 400 and "malformed" in refused.body

    unreportable = TopicTap(PROJECT, UNREPORTABLE_TOPIC)
    update_id = str(next(chats))
    event = Prompt(
        update_id=int(update_id), chat_id=poison, user_id=poison, message_id=1, text="a poison prompt"
    )
    publish(publisher, "prompts", encode_event(event), update_id=update_id, kind=event.kind)

    def kept() -> list[pubsub_v1.types.PubsubMessage]:
        messages = unreportable.drain(expect=1, timeout=2.0)
        return [m for m in messages if m.attributes.get("update_id") == update_id]

    [dead] = wait_until(kept, 240, f"update {update_id} in {UNREPORTABLE_TOPIC}", interval=0.5)
    assert dead.attributes["CloudPubSubDeadLetterSourceSubscription"].endswith("prompts-dead-report")
    tried = {
        target: [
            r["status"]
            for r in stack.requests(target)["requests"]
            if r.get("attributes", {}).get("update_id") == update_id
        ]
        for target in ("validate_prompt", "report_failure")
    }
    assert all(1 <= len(statuses) <= MAX_DELIVERY_ATTEMPTS for statuses in tried.values()), tried
    assert all(status >= 500 for statuses in tried.values() for status in statuses), tried
