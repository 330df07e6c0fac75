"""Firestore: the only module that reads or writes documents, one class per aggregate.

JobStore (`jobs/`, `updates/`), UserStore (`users/`), CacheStats (`cache/`, `translations/`,
`stats/`), PacingStore (`pacing/`), ConfigStore (`config/`), AlbumStore (`albums/`),
PaymentStore (`payments/`, users' `credits`); the flows see them through the Protocols of
imagebot/ports.py. Every read-modify-write is a transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from google.api_core.exceptions import Aborted, AlreadyExists
from google.cloud import firestore

from imagebot.core import ledger, pacing, quota, texts
from imagebot.core.albums import Album, Seat, seat
from imagebot.core.jobs import (
    REFUNDED_ON_CANCEL,
    Job,
    State,
    apology_claimable,
    applied,
    can_move,
    cancellable,
    claimable,
    move,
    set_ready,
)
from imagebot.core.ops import Ops
from imagebot.core.payments import Credits, Payment, PaymentState
from imagebot.core.stats import LedgerTotals
from imagebot.logs import fields

Doc = dict[str, Any]
T = TypeVar("T")
log = logging.getLogger(__name__)
UPDATE_RETENTION = timedelta(days=7)  # a TTL policy on `expire_at` deletes old dedupe records
HISTORY_SIZE = 10
GENERATION_SHARDS = 8  # documents the running time per picture is spread over (record_generation)
# How much the newest generation time moves its shard's running average: with 8 shards the
# mean follows about the last 16 pictures.
THROUGHPUT_WEIGHT = 0.5
CONTENDED_ATTEMPTS = 16
JOB_RETENTION = timedelta(days=30)  # the audit trail /stats and the analytics sink read
PACING_RETENTION = timedelta(days=1)  # a chat's pacing slot matters for seconds
CACHE_RETENTION = timedelta(days=30)  # Telegram keeps file ids valid for long; a TTL bounds the cache
TRANSLATION_RETENTION = timedelta(days=30)  # a TTL policy on `expire_at` bounds the translations
# An album's photos arrive within seconds, their redeliveries within Pub/Sub's retention (7 days).
ALBUM_RETENTION = timedelta(days=7)


class _Firestore:
    """What every aggregate below shares: the client, contended transactions, document paths."""

    def __init__(self, db: firestore.Client) -> None:
        self._db = db

    def _contended(self, attempt: Callable[[firestore.Transaction], T]) -> T:
        """Run a transaction on a document many senders write at once (a user's quota in a
        burst, a pacing slot). The client retries an aborted transaction at once, so a crowd
        of them keeps colliding; these retries wait a jittered, growing pause first."""
        for n in range(CONTENDED_ATTEMPTS):
            try:
                return attempt(self._db.transaction(max_attempts=1))
            except (Aborted, ValueError) as error:
                if isinstance(error, ValueError) and "Failed to commit" not in str(error):
                    raise
                if n == CONTENDED_ATTEMPTS - 1:
                    raise
                time.sleep(_retry_pause(n))
        raise AssertionError("unreachable")

    def _job(self, job_id: str) -> firestore.DocumentReference:
        return self._db.collection("jobs").document(job_id)

    def _user(self, user_id: int) -> firestore.DocumentReference:
        return self._db.collection("users").document(str(user_id))

    def _set(self, set_id: str) -> firestore.DocumentReference:
        return self._db.collection("sets").document(set_id)


class JobStore(_Firestore):
    """Jobs `jobs/<job_id>` (the state machine of core/jobs.py) and the updates that make them
    (`updates/<update_id>`: each Telegram update is handled to the end once)."""

    def begin_update(self, update_id: int, now: datetime, message_id: str | None = None) -> bool:
        """False when this update was already handled to the end, or is being handled for
        another message; True to (re)handle it.

        A redelivery of the message whose handling crashed half-way is handled again, which is
        safe because every step after this one is idempotent. A second message for the same
        update (Telegram retried the webhook, which published it again) is not handled beside
        the first: both would ask the style question or show the status. Should the first
        message's handling fail, Pub/Sub redelivers that message.
        """
        ref = self._db.collection("updates").document(str(update_id))
        try:
            ref.create(
                {"received_at": now, "done": False, "by": message_id, "expire_at": now + UPDATE_RETENTION}
            )
            return True
        except AlreadyExists:
            record = ref.get().to_dict() or {}
            if record.get("done", False):
                return False
            return record.get("by") in (None, message_id)

    def finish_update(self, update_id: int) -> None:
        self._db.collection("updates").document(str(update_id)).update({"done": True})

    def create_job(self, job: Job) -> Job:
        """Create the job, or return the one a previous delivery of the same update made."""
        doc = {**job.to_doc(), "expire_at": datetime.now(UTC) + JOB_RETENTION}
        try:
            self._job(job.job_id).create(doc)
            return Job.from_doc(doc)
        except AlreadyExists:
            return self.get_job(job.job_id) or Job.from_doc(doc)

    def get_job(self, job_id: str) -> Job | None:
        return _job_or_none(self._job(job_id).get().to_dict(), job_id)

    def set_job_fields(self, job_id: str, **fields: Any) -> None:
        self._job(job_id).update(fields)

    def move_job(self, job_id: str, target: State, now: datetime, **fields: Any) -> Job | None:
        """Move a job along the state machine; None when the job is missing or past `target`."""
        ref = self._job(job_id)

        @firestore.transactional
        def attempt(transaction: firestore.Transaction) -> Job | None:
            job = _job_or_none(ref.get(transaction=transaction).to_dict(), job_id)
            if job is None or not can_move(job.state, target):
                return None
            changes = move(job.state, target, now, **fields)
            transaction.update(ref, changes)
            return applied(job, changes)

        return attempt(self._db.transaction())

    def admit_job(
        self,
        job_id: str,
        user_id: int,
        policy: quota.QuotaPolicy,
        now: datetime,
        *,
        paused: bool = False,
        message_id: str | None = None,
    ) -> tuple[Job | None, quota.Admission | None]:
        """Charge the user's quota and queue the job, or reject it, in one transaction: the free
        daily pictures first, then the user's credits (quota.admit), the credits taken written
        on the job (`paid_credits`).

        A set is charged once, by its first job admitted, for its jobs still to be drawn
        (ledger.live_members: read in the same transaction), and its credits are split over
        them (ledger.shares_of_live, on `sets/<set_id>`); each other job follows the set's
        answer, paused or not (the set was paid: its jobs keep their place like any queued
        paid job), and carries its share once admitted.

        Only a job still in `validated` is charged, so a redelivered message never charges
        twice; for any other job the admission is None and the job is returned as it is.
        While the bot is paused nothing is charged and the job (unless its set was admitted
        before) is refused with reason "paused".
        """
        job_ref, user_ref = self._job(job_id), self._user(user_id)

        @firestore.transactional
        def attempt(transaction: firestore.Transaction) -> tuple[Job | None, quota.Admission | None]:
            job = _job_or_none(job_ref.get(transaction=transaction).to_dict(), job_id)
            if job is None or job.state != State.VALIDATED:
                return job, None
            set_ref = self._set(job.set_id) if job.set_id else None
            members = (set_ref.get(transaction=transaction).to_dict() or {}) if set_ref else {}
            if set_ref is not None and members.get("admission"):
                # A set is charged once, by its first job admitted: the others follow its answer.
                saved = (user_ref.get(transaction=transaction).to_dict() or {}).get("quota")
                admission = _follow_set(members, saved, policy, now, job_id)
            elif paused:
                changes = move(State.VALIDATED, State.REJECTED, now, reason="paused")
                transaction.update(job_ref, changes)
                return applied(job, changes), quota.Admission(
                    False, quota.QuotaState.fresh(policy, now.timestamp()), "paused"
                )
            else:
                member_ids: list[str] = members.get("jobs", [])
                others = [self._job(j) for j in member_ids if j != job_id]
                read = self._db.get_all(others, transaction=transaction) if others else []
                found = {s.id: _job_or_none(s.to_dict(), s.id) for s in read}  # in one round trip
                live = ledger.live_members(member_ids, job_id, found)
                user = user_ref.get(transaction=transaction).to_dict() or {}
                saved = user.get("quota")
                cost = job.cost * max(1, sum(live))
                credits = Credits.from_doc(user.get("credits"))
                admission = quota.admit(
                    quota.QuotaState(**saved) if saved else None, policy, now.timestamp(), cost, credits.held
                )
                admission, quiet_until = quota.refusal_notice(
                    admission, user.get("refusals_quiet_until", 0.0), now.timestamp()
                )
                user_changes: Doc = {"quota": vars(admission.state), "refusals_quiet_until": quiet_until}
                if admission.paid_credits:
                    user_changes["credits"] = credits.spend(admission.paid_credits).to_doc()
                transaction.set(user_ref, user_changes, merge=True)
                if set_ref is not None:
                    decided: Doc = {
                        "admission": "admitted" if admission.admitted else admission.reason,
                        "retry_after_seconds": admission.retry_after_seconds,
                        "paid_credits": ledger.shares_of_live(admission.paid_credits, job.cost, live),
                    }
                    transaction.set(set_ref, decided, merge=True)
                    admission = replace(admission, paid_credits=ledger.set_share(members | decided, job_id))
            if admission.admitted:
                # The message that admitted the job sends it on (flows/rate_limit.py), not a duplicate.
                changes = move(State.VALIDATED, State.QUEUED, now, admitted_by=message_id)
                if admission.paid_credits:
                    # Both written: jobs_owed_credits queries on them (a default is not stored).
                    changes.update(paid_credits=admission.paid_credits, credits_returned=False)
            else:
                changes = move(
                    State.VALIDATED,
                    State.REJECTED,
                    now,
                    reason=admission.reason,
                    retry_after_seconds=admission.retry_after_seconds,
                    told=admission.tell,
                )
            transaction.update(job_ref, changes)
            return applied(job, changes), admission

        admitted, admission = self._contended(attempt)
        if admission is not None and admission.admitted and admission.paid_credits:
            log.info(
                "credits spent",
                extra=fields(
                    stage="payment", reason="credits spent", job_id=job_id, credits=admission.paid_credits
                ),
            )
        return admitted, admission

    def cancel_job(
        self, job_id: str, policy: quota.QuotaPolicy, now: datetime, lease: timedelta
    ) -> tuple[Job | None, bool]:
        """The user's Cancel, in one transaction: the job moves to cancelled (jobs.cancellable)
        and, cancelled before drawing started, gives back the quota its admission charged and
        the credits it paid (marked `credits_returned`, so return_credits gives nothing more).
        Returns the job as it is now and whether this call refunded it: a second press (or a
        redelivered one) finds it cancelled already and refunds nothing."""
        job_ref = self._job(job_id)

        @firestore.transactional
        def attempt(transaction: firestore.Transaction) -> tuple[Job | None, bool]:
            job = _job_or_none(job_ref.get(transaction=transaction).to_dict(), job_id)
            if job is None or not cancellable(job, now, lease):
                return job, False
            refunded = job.state in REFUNDED_ON_CANCEL
            user_ref = self._user(job.user_id)
            saved = user_ref.get(transaction=transaction).to_dict() or {} if refunded else {}
            changes = move(job.state, State.CANCELLED, now)
            owed = ledger.owed_credits(applied(job, changes))
            if owed:  # the credits it paid come back with the quota, in this same transaction
                changes.update(credits_returned=True, credits_returned_at=now)
            transaction.update(job_ref, changes)
            back = quota.refund(
                quota.QuotaState(**saved["quota"]) if saved.get("quota") else None,
                policy,
                now.timestamp(),
                job.cost - job.paid_credits,  # only the free pictures: the credits go back below
            )
            user_changes: Doc = {"quota": vars(back)} if back is not None else {}
            if owed:
                user_changes["credits"] = Credits.from_doc(saved.get("credits")).give_back(owed).to_doc()
            if user_changes:
                transaction.set(user_ref, user_changes, merge=True)
            return applied(job, changes), back is not None

        cancelled, refunded = self._contended(attempt)
        if refunded and cancelled is not None and cancelled.credits_returned:
            _credits_returned(job_id, cancelled.paid_credits)
        return cancelled, refunded

    def claim_delivery(
        self, job_id: str, claimant: str, now: datetime, lease: timedelta, *, due_only: bool = True
    ) -> Job | None:
        """The job, if this claimant may send its photo now; None if there is nothing to send
        (delivered, closed, unknown). Raises DeliveryPending, to be tried again later, while
        another attempt holds a live claim (it may be sending; should it have crashed, the
        lease runs out and a later attempt delivers), or, with `due_only`, before the job's
        `delivery_retry_at`."""
        ref = self._job(job_id)

        @firestore.transactional
        def attempt(transaction: firestore.Transaction) -> Job | None:
            job = _job_or_none(ref.get(transaction=transaction).to_dict(), job_id)
            if not claimable(job, job_id, claimant, now, lease, due_only=due_only):
                return None
            transaction.update(ref, {"delivery_claim": {"by": claimant, "at": now}})
            return job

        return attempt(self._db.transaction())

    def create_set(self, set_id: str, job_ids: list[str], now: datetime) -> None:
        """`sets/<set_id>`: jobs charged once together and delivered as one album. Created
        before its jobs; a redelivery finds it there."""
        with contextlib.suppress(AlreadyExists):
            self._set(set_id).create({"jobs": job_ids, "created_at": now, "expire_at": now + JOB_RETENTION})

    def claim_set(self, set_id: str, claimant: str, now: datetime, lease: timedelta) -> list[Job] | None:
        """The set's jobs, once every one of them is ready (its output recorded) or closed, if
        this claimant may deliver them now; None while one is still drawing, or once the set is
        delivered. One transaction over the set and its jobs: of the finalize events that
        arrive together, exactly one gets the set. Raises DeliveryPending while another
        attempt's claim is live."""
        ref = self._set(set_id)

        @firestore.transactional
        def attempt(transaction: firestore.Transaction) -> list[Job] | None:
            members = ref.get(transaction=transaction).to_dict()
            if members is None or members.get("delivered"):
                return None
            jobs = [
                _job_or_none(self._job(j).get(transaction=transaction).to_dict(), j) for j in members["jobs"]
            ]
            present = [job for job in jobs if job is not None]
            if not set_ready(present, members.get("delivery_claim"), claimant, now, lease, set_id):
                return None
            transaction.update(ref, {"delivery_claim": {"by": claimant, "at": now}})
            return present

        return attempt(self._db.transaction())

    def finish_set(self, set_id: str, *, delivered: bool) -> None:
        """The set's album is out (`delivered`), or its send failed: the claim released."""
        changes: Doc = {"delivery_claim": firestore.DELETE_FIELD}
        if delivered:
            changes["delivered"] = True
        self._set(set_id).update(changes)

    def defer_delivery(self, job_id: str, retry_at: datetime, **fields: Any) -> None:
        """A send that failed for now: when to try again, what to send (`fields`), and the
        claim released, so the next attempt (the sweep's or Eventarc's) may claim it."""
        self._job(job_id).update(
            {"delivery_retry_at": retry_at, **fields, "delivery_claim": firestore.DELETE_FIELD}
        )

    def release_delivery(self, job_id: str) -> None:
        """After a failed send, so the retried event may claim the delivery at once."""
        self._job(job_id).update({"delivery_claim": firestore.DELETE_FIELD})

    def claim_apology(self, job_id: str, claimant: str, now: datetime, lease: timedelta) -> Job | None:
        """The failed job, if this claimant may send its owed apology now (jobs.apology_claimable);
        the claim is the delivery's field, free once the job has failed."""
        ref = self._job(job_id)

        @firestore.transactional
        def attempt(transaction: firestore.Transaction) -> Job | None:
            job = _job_or_none(ref.get(transaction=transaction).to_dict(), job_id)
            if not apology_claimable(job, claimant, now, lease):
                return None
            transaction.update(ref, {"delivery_claim": {"by": claimant, "at": now}})
            return job

        return attempt(self._db.transaction())

    def apologies_due(self, now: datetime) -> list[Job]:
        """Failed jobs whose apology could not be sent and is due again (steps/failure.py)."""
        query = self._db.collection("jobs").where(filter=firestore.FieldFilter("apology_retry_at", "<=", now))
        return [Job.from_doc(snapshot.to_dict(), snapshot.id) for snapshot in query.stream()]

    def queue_depth(self) -> int:
        """Jobs admitted and not yet drawn: what a new job waits behind."""
        query = self._db.collection("jobs").where(
            filter=firestore.FieldFilter("state", "in", [State.QUEUED.value, State.GENERATING.value])
        )
        return int(query.count().get()[0][0].value)

    def oldest_queued_since(self, route: str) -> datetime | None:
        """When the longest-waiting job sent to `route` was queued: the overflow signal
        (routing.py). Indexed: terraform/firestore.tf."""
        query = (
            self._db.collection("jobs")
            .where(filter=firestore.FieldFilter("state", "==", State.QUEUED.value))
            .where(filter=firestore.FieldFilter("gpu_route", "==", route))
            .order_by("times.queued")
            .limit(1)
        )
        for snapshot in query.stream():
            return snapshot.get("times.queued")
        return None

    def jobs_in_states(self, states: tuple[State, ...]) -> list[Job]:
        query = self._db.collection("jobs").where(
            filter=firestore.FieldFilter("state", "in", [s.value for s in states])
        )
        return [Job.from_doc(snapshot.to_dict(), snapshot.id) for snapshot in query.stream()]

    def jobs_received_since(self, start: datetime) -> list[Job]:
        query = self._db.collection("jobs").where(filter=firestore.FieldFilter("times.received", ">=", start))
        return [Job.from_doc(snapshot.to_dict(), snapshot.id) for snapshot in query.stream()]


class UserStore(_Firestore):
    """Users `users/<user_id>`: settings, language, quota (charged by JobStore.admit_job), history."""

    def get_user(self, user_id: int) -> Doc:
        return self._user(user_id).get().to_dict() or {}

    def chosen_language(self, user_id: int) -> str | None:
        """The language the user chose with /lang, if any."""
        language = self.get_user(user_id).get("language")
        return language if isinstance(language, str) else None

    def language_of(self, user_id: int, language_code: str | None) -> str:
        """The language to answer this user in (texts.user_language)."""
        return texts.user_language(self.chosen_language(user_id), language_code)

    def update_user(self, user_id: int, **fields: Any) -> None:
        self._user(user_id).set(fields, merge=True)

    def add_to_history(self, user_id: int, entry: Doc, keep: int = HISTORY_SIZE) -> None:
        """The user's latest delivered pictures, newest first, at most `keep` of them."""
        ref = self._user(user_id)

        @firestore.transactional
        def attempt(transaction: firestore.Transaction) -> None:
            history = (ref.get(transaction=transaction).to_dict() or {}).get("history", [])
            fresh = [old for old in history if old.get("job_id") != entry["job_id"]]
            transaction.set(ref, {"history": [entry, *fresh][:keep]}, merge=True)

        attempt(self._db.transaction())


class UserReadsOnLoop:
    """users/<user_id> for an event loop (the ASGI webhook's /start and /help), never blocking
    it: the reads asked for in one turn of the loop go together, in a worker thread, as one
    BatchGetDocuments (`get_all`) of up to READ_BATCH documents (the way a DataLoader batches).
    A crowd's /start costs a few round trips, not one a user.

    On a loop busy with a crowd every await costs a turn of the loop (about 0.1 s with 1,000
    connections here), so a read takes as few as it can: its batch is sent from the loop's
    next turn, and the thread hands the answers back in one callback that sets them all. Not
    Firestore's asyncio client: it streams each document back as a message the loop must
    handle, a turn each (on the emulator, 100 documents took 0.3-0.8 s beside a hundred busy
    tasks, against 20 ms idle)."""

    READ_BATCH = 100

    def __init__(self, db: firestore.Client, threads: int = 4) -> None:
        self._db = db
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="user-reads")
        self._waiting: dict[int, list[asyncio.Future[Doc]]] = {}

    async def get_user(self, user_id: int) -> Doc:
        loop = asyncio.get_running_loop()
        if not self._waiting:
            loop.call_soon(self._send, loop)  # with every read this turn of the loop asks for
        answer: asyncio.Future[Doc] = loop.create_future()
        self._waiting.setdefault(user_id, []).append(answer)
        return await answer

    def _send(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting, self._waiting = self._waiting, {}
        users = iter(waiting.items())
        while batch := dict(itertools.islice(users, self.READ_BATCH)):
            self._threads.submit(self._read, loop, batch)

    def _read(self, loop: asyncio.AbstractEventLoop, batch: dict[int, list[asyncio.Future[Doc]]]) -> None:
        """In a worker thread: the batch's documents, handed to the loop in one callback."""
        refs = [self._db.collection("users").document(str(user_id)) for user_id in batch]
        try:
            found = {snapshot.id: snapshot.to_dict() or {} for snapshot in self._db.get_all(refs)}
        except Exception as error:  # each reader decides what a failed read means for it
            loop.call_soon_threadsafe(_settle, batch, {}, error)
            return
        loop.call_soon_threadsafe(_settle, batch, found, None)


def _settle(
    batch: dict[int, list[asyncio.Future[Doc]]], found: dict[str, Doc], error: Exception | None
) -> None:
    for user_id, answers in batch.items():
        for answer in answers:
            if answer.done():  # its request gave up waiting (a timeout, a disconnect)
                continue
            if error is not None:
                answer.set_exception(error)
            else:
                answer.set_result(found.get(str(user_id), {}))


class CacheStats(_Firestore):
    """The prompt cache, the translation cache, and the running figures: time per picture,
    cache hits, translation calls (`cache/`, `translations/`, `stats/`)."""

    def cached_photo(self, key: str) -> str | None:
        """The Telegram file id of a picture already drawn for this key, counting the lookup."""
        doc = self._db.collection("cache").document(key).get().to_dict()
        counter = "hits" if doc else "misses"
        self._db.collection("stats").document("cache").set({counter: firestore.Increment(1)}, merge=True)
        return doc["file_id"] if doc else None

    def remember_photo(self, key: str, file_id: str, job_id: str, now: datetime) -> None:
        self._db.collection("cache").document(key).set(
            {"file_id": file_id, "job_id": job_id, "created_at": now, "expire_at": now + CACHE_RETENTION}
        )

    def cache_counts(self) -> tuple[int, int]:
        doc = self._db.collection("stats").document("cache").get().to_dict() or {}
        return int(doc.get("hits", 0)), int(doc.get("misses", 0))

    def seconds_per_image(self, default: float) -> float:
        """The recent time per picture: the mean of the shards' running averages."""
        snapshots = self._db.get_all([self._generation_shard(shard) for shard in range(GENERATION_SHARDS)])
        values = [
            float(s.get("seconds_per_image"))
            for s in snapshots
            if s.exists and s.get("seconds_per_image") is not None
        ]
        return sum(values) / len(values) if values else default

    def record_generation(self, seconds: float) -> None:
        """A running average of generation time, for the wait shown to queued users.

        An estimate, written where contention cannot hurt: every delivery updates one of
        GENERATION_SHARDS documents at random (a single document took every delivery's write
        and its transactions timed out under load), without a transaction, since two deliveries
        racing on one shard lose a sample, which an average shrugs off."""
        ref = self._generation_shard(random.randrange(GENERATION_SHARDS))
        old = (ref.get().to_dict() or {}).get("seconds_per_image")
        ref.set({"seconds_per_image": seconds if old is None else old + THROUGHPUT_WEIGHT * (seconds - old)})

    def _generation_shard(self, shard: int) -> firestore.DocumentReference:
        return self._db.collection("stats").document(f"generation-{shard}")

    def cached_translation(self, key: str, now: datetime) -> str | None:
        doc = self._db.collection("translations").document(key).get().to_dict()
        # The TTL policy deletes expired documents within a day or so; until then they are misses.
        if not doc or doc["expire_at"] <= now:
            return None
        return str(doc["model_prompt"])

    def remember_translation(self, key: str, model_prompt: str, now: datetime) -> None:
        self._db.collection("translations").document(key).set(
            {"model_prompt": model_prompt, "created_at": now, "expire_at": now + TRANSLATION_RETENTION}
        )

    def count_translation(self, counts: dict[str, int]) -> None:
        """Calls, characters and tokens sent to the model: what Vertex AI bills."""
        increments = {name: firestore.Increment(value) for name, value in counts.items() if value}
        self._db.collection("stats").document("translation").set(increments, merge=True)

    def translation_counts(self) -> dict[str, int]:
        return {
            k: int(v)
            for k, v in (self._db.collection("stats").document("translation").get().to_dict() or {}).items()
        }


class PacingStore(_Firestore):
    """Outbound pacing slots `pacing/<key>` (core/pacing.py)."""

    def reserve_slot(
        self, key: str, interval: float, tolerance: float = 0.0, horizon: float = float("inf")
    ) -> float:
        """The time a send may go under the pace kept in `pacing/<key>` (see pacing.py); a
        slot more than `horizon` seconds off is only read, not taken."""
        ref = self._db.collection("pacing").document(key)

        @firestore.transactional
        def attempt(transaction: firestore.Transaction) -> float:
            saved = (ref.get(transaction=transaction).to_dict() or {}).get("next_free_at")
            # The clock is read inside the attempt: a reservation that waited for the lock
            # must not claim a slot that has already passed.
            slot, next_free_at = pacing.reserve(saved, time.time(), interval, tolerance, horizon)
            if next_free_at is not None:
                expire_at = datetime.now(UTC) + PACING_RETENTION
                transaction.set(ref, {"next_free_at": next_free_at, "expire_at": expire_at})
            return slot

        return self._contended(attempt)


class ConfigStore(_Firestore):
    """The operating mode `config/ops` and the Vertex AI endpoint's health `config/gpu_endpoint`."""

    def get_ops(self) -> Ops:
        return Ops.from_doc(self._db.collection("config").document("ops").get().to_dict())

    def set_ops(self, ops: Ops) -> None:
        # Merged: the fields the budget workflow writes (gpu_stop_verified) are left alone.
        self._db.collection("config").document("ops").set(ops.to_doc(), merge=True)

    def endpoint_failed_at(self) -> datetime | None:
        """When dispatch_vertex last got no answer from the endpoint (routing.ENDPOINT_REST)."""
        return (self._db.collection("config").document("gpu_endpoint").get().to_dict() or {}).get("failed_at")

    def note_endpoint_failure(self, now: datetime, reason: str) -> None:
        self._db.collection("config").document("gpu_endpoint").set({"failed_at": now, "reason": reason[:500]})


def _follow_set(
    members: Doc, saved: Doc | None, policy: quota.QuotaPolicy, now: datetime, job_id: str
) -> quota.Admission:
    """The answer a set's first job got, for another of its jobs: nothing charged (its share
    of the credits the set paid is recorded on it), and a refusal not told again (the first
    job told it)."""
    state = quota.QuotaState(**saved) if saved else quota.QuotaState.fresh(policy, now.timestamp())
    if members["admission"] == "admitted":
        return quota.Admission(True, state, paid_credits=ledger.set_share(members, job_id))
    return quota.Admission(
        False, state, members["admission"], int(members.get("retry_after_seconds", 0)), tell=False
    )


class AlbumStore(_Firestore):
    """`albums/<media_group_id>`: which photos of an album are drawn (core/albums.py)."""

    def take_seat(self, media_group_id: str, update_id: int, limit: int, now: datetime) -> Seat:
        ref = self._db.collection("albums").document(media_group_id)

        @firestore.transactional
        def attempt(transaction: firestore.Transaction) -> Seat:
            doc = ref.get(transaction=transaction).to_dict() or {}
            before = Album(tuple(doc.get("taken") or ()), doc.get("told_by"))
            found, after = seat(before, update_id, limit)
            if after != before:
                record = {"taken": list(after.taken), "told_by": after.told_by}
                transaction.set(ref, {**record, "expire_at": now + ALBUM_RETENTION})
            return found

        result: Seat = attempt(self._db.transaction())
        return result


class PaymentStore(_Firestore):
    """The Stars ledger (ports.Payments): `payments/<telegram_payment_charge_id>`, one document
    a payment with every step in its `log`, and each user's `credits` map. Every change is one
    transaction over the payment (or the job) and its user, so the two always agree. Payments
    are kept (no TTL): they are the money's record."""

    def credits_of(self, user_id: int) -> Credits:
        return Credits.from_doc((self._user(user_id).get().to_dict() or {}).get("credits"))

    def record_payment(self, payment: Payment) -> tuple[Payment, bool]:
        ref, user_ref = self._payment(payment.charge_id), self._user(payment.user_id)

        @firestore.transactional
        def attempt(transaction: firestore.Transaction) -> tuple[Payment, bool]:
            stored = ref.get(transaction=transaction).to_dict()
            if stored is not None:
                return Payment.from_doc(stored), False
            recorded, credits = ledger.paid(payment, _credits(user_ref, transaction))
            transaction.create(ref, _payment_doc(recorded))
            transaction.set(user_ref, {"credits": credits.to_doc()}, merge=True)
            return recorded, True

        recorded, first = self._contended(attempt)
        if first:
            _logged(recorded, "paid", credits=recorded.credits, stars=recorded.stars)
        return recorded, first

    def mark_told(self, charge_id: str) -> None:
        self._payment(charge_id).update({"told": True})

    def mark_refund_told(self, charge_id: str) -> None:
        self._payment(charge_id).update({"refund_told": True})

    def get_payment(self, charge_id: str) -> Payment | None:
        doc = self._payment(charge_id).get().to_dict()
        return None if doc is None else Payment.from_doc(doc)

    def payment_by_short_id(self, user_id: int, short_id: str) -> Payment | None:
        query = (
            self._db.collection("payments")
            .where(filter=firestore.FieldFilter("user_id", "==", user_id))
            .where(filter=firestore.FieldFilter("short_id", "==", short_id))
            .limit(1)
        )
        return next((Payment.from_doc(s.to_dict()) for s in query.stream()), None)

    def payments_of(self, user_id: int) -> list[Payment]:
        """Newest first. Indexed: terraform/firestore.tf (user_id, paid_at)."""
        query = (
            self._db.collection("payments")
            .where(filter=firestore.FieldFilter("user_id", "==", user_id))
            .order_by("paid_at", direction=firestore.Query.DESCENDING)
        )
        return [Payment.from_doc(snapshot.to_dict()) for snapshot in query.stream()]

    def return_credits(self, job_id: str, now: datetime) -> int:
        job_ref = self._job(job_id)

        @firestore.transactional
        def attempt(transaction: firestore.Transaction) -> tuple[Job | None, int]:
            job = _job_or_none(job_ref.get(transaction=transaction).to_dict(), job_id)
            if job is not None and job.set_id:  # a job of a set closed before its own admission
                job = ledger.charged_by_set(
                    job, self._set(job.set_id).get(transaction=transaction).to_dict() or {}
                )
            owed = ledger.owed_credits(job) if job else 0
            if job is None or not owed:
                return job, 0
            user_ref = self._user(job.user_id)
            credits = _credits(user_ref, transaction).give_back(owed)
            transaction.set(user_ref, {"credits": credits.to_doc()}, merge=True)
            # paid_credits too: a set's share, written here on a job that was never admitted,
            # so the job's message about its end and the books see what it paid and got back.
            returned = {
                "paid_credits": job.paid_credits,
                "credits_returned": True,
                "credits_returned_at": now,
            }
            transaction.update(job_ref, returned)
            return job, owed

        job, owed = self._contended(attempt)
        if job is not None and owed:
            _credits_returned(job_id, owed)
        return owed

    def start_refund(self, charge_id: str, now: datetime, *, by: str, whole: bool) -> Payment | None:
        def step(payment: Payment, credits: Credits) -> tuple[Payment, Credits] | None:
            return ledger.refund_started(payment, credits, now, by=by, whole=whole)

        payment, _ = self._step(charge_id, "refund started", step)
        return payment

    def finish_refund(self, charge_id: str, now: datetime) -> Payment | None:
        def step(payment: Payment, credits: Credits) -> tuple[Payment, Credits] | None:
            finished = ledger.refund_finished(payment, now)
            return None if finished is None else (finished, credits)

        payment, moved = self._step(charge_id, "refunded", step)
        return payment if moved else None

    def abort_refund(self, charge_id: str, now: datetime, error: str) -> Payment | None:
        payment, moved = self._step(
            charge_id,
            "refund aborted",
            lambda payment, credits: ledger.refund_aborted(payment, credits, now, error),
        )
        return payment if moved else None

    def refunds_pending(self) -> list[Payment]:
        query = self._db.collection("payments").where(
            filter=firestore.FieldFilter("state", "==", PaymentState.REFUNDING.value)
        )
        return [Payment.from_doc(snapshot.to_dict()) for snapshot in query.stream()]

    def jobs_owed_credits(self) -> list[Job]:
        """Paid jobs that ended without a picture and have not given their credits back. The
        state filter keeps the sweep from reading every delivered paid job (they keep
        credits_returned False) each tick; a job cancelled while drawing is read and passed
        over (ledger.owed_credits). Indexed: terraform/payments.tf (credits_returned, state,
        paid_credits)."""
        ended = [state.value for state in ledger.ENDED_WITHOUT_A_PICTURE]
        query = (
            self._db.collection("jobs")
            .where(filter=firestore.FieldFilter("credits_returned", "==", False))
            .where(filter=firestore.FieldFilter("state", "in", ended))
            .where(filter=firestore.FieldFilter("paid_credits", ">", 0))
        )
        jobs = (Job.from_doc(snapshot.to_dict(), snapshot.id) for snapshot in query.stream())
        return [job for job in jobs if ledger.owed_credits(job)]

    def totals(self) -> LedgerTotals:
        """Counted by the server (aggregation queries), not by reading every document."""
        payments = self._db.collection("payments")
        paid = _aggregated(payments.count(alias="n").sum("stars", alias="stars"))
        refunded_payments = payments.where(
            filter=firestore.FieldFilter("state", "==", PaymentState.REFUNDED.value)
        )
        refunded = _aggregated(refunded_payments.count(alias="n").sum("stars", alias="stars"))
        users = self._db.collection("users")
        credits = _aggregated(users.sum("credits.held", alias="held").sum("credits.spent", alias="spent"))
        return LedgerTotals(
            stars_paid=paid["stars"],
            payments=paid["n"],
            stars_refunded=refunded["stars"],
            refunds=refunded["n"],
            credits_held=credits["held"],
            credits_spent=credits["spent"],
        )

    def _step(
        self,
        charge_id: str,
        name: str,
        step: Callable[[Payment, Credits], tuple[Payment, Credits] | None],
    ) -> tuple[Payment | None, bool]:
        """One step of a payment's refund, in one transaction over the payment and its user:
        the payment as it is after it (unchanged when the step had nothing to do; None for an
        unknown charge), and whether this call moved it."""
        ref = self._payment(charge_id)

        @firestore.transactional
        def attempt(transaction: firestore.Transaction) -> tuple[Payment | None, bool]:
            doc = ref.get(transaction=transaction).to_dict()
            if doc is None:
                return None, False
            payment = Payment.from_doc(doc)
            user_ref = self._user(payment.user_id)
            moved = step(payment, _credits(user_ref, transaction))
            if moved is None:
                return payment, False
            after, credits = moved
            transaction.set(ref, _payment_doc(after))
            transaction.set(user_ref, {"credits": credits.to_doc()}, merge=True)
            return after, True

        payment, changed = self._contended(attempt)
        if payment is not None and changed:
            _logged(payment, name, credits=payment.log[-1].get("credits"), stars=payment.log[-1].get("stars"))
        return payment, changed

    def _payment(self, charge_id: str) -> firestore.DocumentReference:
        return self._db.collection("payments").document(charge_id)


def _aggregated(query: Any) -> dict[str, int]:
    """An aggregation query's results by alias (a sum over no documents is 0)."""
    return {result.alias: int(result.value or 0) for result in query.get()[0]}


def _credits(user_ref: firestore.DocumentReference, transaction: firestore.Transaction) -> Credits:
    return Credits.from_doc((user_ref.get(transaction=transaction).to_dict() or {}).get("credits"))


def _payment_doc(payment: Payment) -> Doc:
    return {**payment.to_doc(), "short_id": ledger.short_id(payment.charge_id)}


def _logged(payment: Payment, step: str, **amounts: Any) -> None:
    """The ledger's line for BigQuery: the step, and what it moved. The charge id stays in
    Firestore; the line carries its short id."""
    log.info(
        f"payment {ledger.short_id(payment.charge_id)}: {step}",
        extra=fields(stage="payment", reason=step, chat_id=payment.user_id, **amounts),
    )


def _credits_returned(job_id: str, credits: int) -> None:
    log.info(
        "credits returned",
        extra=fields(stage="payment", reason="credits returned", job_id=job_id, credits=credits),
    )


def _job_or_none(doc: Doc | None, job_id: str) -> Job | None:
    return None if doc is None else Job.from_doc(doc, job_id)


def _retry_pause(attempt: int) -> float:
    """Jittered, growing pauses: contenders that all restart at once would collide again.
    Contenders that each read and then write hold each other's locks until Firestore times
    them out (about 2 s on the emulator, measured), so a collision costs far more than the
    transaction itself (10-100 ms): the spread must soon outgrow the crowd's transactions."""
    return random.uniform(0, min(2.0, 0.05 * 2**attempt))
