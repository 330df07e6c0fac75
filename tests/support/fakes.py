"""Small in-memory stand-ins for the edges (imagebot/ports.py), so a flow runs in a unit test
in milliseconds. They keep state the way the real ones do (documents, moves of the state
machine, sent messages) and nothing more: transactions, TTLs and pacing are the emulator
tests' to check.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from imagebot.config import Settings
from imagebot.core import ledger, payments, quota, texts
from imagebot.core.albums import Album, Seat, seat
from imagebot.core.answer_to import AnswerTo
from imagebot.core.contract import input_object_name
from imagebot.core.jobs import (
    REFUNDED_ON_CANCEL,
    Job,
    State,
    apology_claimable,
    cancellable,
    claimable,
    move,
    set_ready,
    updated,
)
from imagebot.core.ops import Ops
from imagebot.core.payments import Credits, Payment, PaymentState
from imagebot.core.stats import LedgerTotals, ledger_totals
from imagebot.edges.gpu_endpoint import Predict
from imagebot.edges.telegram import DOWNLOAD, MAX_DOWNLOAD_BYTES, FileTooBig, TelegramError
from imagebot.edges.translation import Translator
from imagebot.ports import InputImages, Services, TelegramFiles

Doc = dict[str, Any]
SETTINGS = Settings(
    project="p",
    bot_token="123456:TEST-TOKEN",
    webhook_secret="s3cret",
    images_bucket="images",
    operator_ids=frozenset({99}),
)


class FakeJobs:
    """The documents as Firestore would hold them (`docs`), handed out as Jobs like JobStore."""

    def __init__(self) -> None:
        self.docs: dict[str, Doc] = {}
        self.updates: dict[int, bool] = {}  # update id → finished
        self.sets: dict[str, Doc] = {}  # sets/<set_id>
        # What admit_job answers (None: admitted); the quota maths is unit-tested on its own.
        self.refusal: quota.Admission | None = None
        self.refunds: list[str] = []  # the jobs cancel_job gave the quota back for, in order
        # Free daily pictures the quota still covers (None: every job's whole cost); past them a
        # job is paid with the user's credits (payments.split_cost), as JobStore.admit_job does.
        self.free_left: int | None = None
        self.users = FakeUsers()  # FakeServices shares its own: users' `credits`

    def begin_update(self, update_id: int, now: datetime, message_id: str | None = None) -> bool:
        if self.updates.get(update_id):
            return False
        self.updates[update_id] = False
        return True

    def finish_update(self, update_id: int) -> None:
        self.updates[update_id] = True

    def create_job(self, job: Job) -> Job:
        self.docs.setdefault(job.job_id, job.to_doc())
        return Job.from_doc(self.docs[job.job_id], job.job_id)

    def get_job(self, job_id: str) -> Job | None:
        doc = self.docs.get(job_id)
        return None if doc is None else Job.from_doc(copy.deepcopy(doc), job_id)

    def set_job_fields(self, job_id: str, **fields: Any) -> None:
        self.docs[job_id] = updated(self.docs[job_id], fields)

    def move_job(self, job_id: str, target: State, now: datetime, **fields: Any) -> Job | None:
        job = self.docs.get(job_id)
        if job is None:
            return None
        try:
            changes = move(State(job["state"]), target, now, **fields)
        except ValueError:  # not allowed from where it is: the real store answers None too
            return None
        self.docs[job_id] = updated(job, changes)
        return self.get_job(job_id)

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
        """As JobStore.admit_job: a set is charged once, by its first job admitted, for its jobs
        still to be drawn (ledger.live_members, ledger.shares_of_live), and its other jobs
        follow its answer, paused or not."""
        job = self.get_job(job_id)
        if job is None or job.state != State.VALIDATED:
            return job, None
        fresh = quota.QuotaState.fresh(policy, now.timestamp())
        members = self.sets.get(job.set_id) if job.set_id else None
        decided = (members or {}).get("admission")
        if members is not None and decided == "admitted":
            return self._queue(job_id, now, message_id, ledger.set_share(members, job_id)), None
        if members is not None and decided:  # the set was refused: its other jobs follow, untold
            retry = int(members.get("retry_after_seconds", 0))
            refusal: quota.Admission | None = quota.Admission(False, fresh, decided, retry, tell=False)
        elif paused and self.refusal is None:  # nothing charged, nothing decided for a set
            refusal = quota.Admission(False, fresh, "paused")
        else:
            refusal, paid = self._charge(job, members, self.refusal, fresh)
            if refusal is None:
                return self._queue(job_id, now, message_id, paid), None
        assert refusal is not None
        fields = {"reason": refusal.reason, "retry_after_seconds": refusal.retry_after_seconds}
        return self.move_job(job_id, State.REJECTED, now, told=refusal.tell, **fields), refusal

    def _charge(
        self, job: Job, members: Doc | None, refusal: quota.Admission | None, fresh: quota.QuotaState
    ) -> tuple[quota.Admission | None, int]:
        """The job, or its whole set, charged: (the refusal, or None; the job's credits)."""
        member_ids = (members or {}).get("jobs", [])
        live = ledger.live_members(member_ids, job.job_id, {j: self.get_job(j) for j in member_ids})
        cost = job.cost * max(1, sum(live))
        credits = self.users.credits(job.user_id)
        free = cost if self.free_left is None else self.free_left
        split = payments.split_cost(cost, free, credits.held) if refusal is None else None
        paid = 0
        if split is None:
            refusal = refusal or quota.Admission(False, fresh, "daily", 3600)
        else:
            from_free, paid = split
            if self.free_left is not None:
                self.free_left -= from_free
            self.users.docs.setdefault(job.user_id, {})["credits"] = credits.spend(paid).to_doc()
        if members is not None:
            members.update(
                admission="admitted" if refusal is None else refusal.reason,
                retry_after_seconds=0 if refusal is None else refusal.retry_after_seconds,
                paid_credits=ledger.shares_of_live(paid, job.cost, live),
            )
            paid = ledger.set_share(members, job.job_id)
        return refusal, paid

    def _queue(self, job_id: str, now: datetime, message_id: str | None, paid: int) -> Job | None:
        return self.move_job(job_id, State.QUEUED, now, admitted_by=message_id, paid_credits=paid)

    def cancel_job(
        self, job_id: str, policy: quota.QuotaPolicy, now: datetime, lease: timedelta
    ) -> tuple[Job | None, bool]:
        job = self.get_job(job_id)
        if job is None or not cancellable(job, now, lease):
            return job, False
        refunded = job.state in REFUNDED_ON_CANCEL
        if refunded:
            self.refunds.append(job_id)
        cancelled = self.move_job(job_id, State.CANCELLED, now)
        if cancelled is not None and ledger.owed_credits(cancelled):
            # The credits go back in the cancel's own move, as JobStore.cancel_job does.
            self.users.give_back(cancelled)
            self.set_job_fields(job_id, credits_returned=True)
            cancelled = self.get_job(job_id)
        return cancelled, refunded

    def claim_delivery(
        self, job_id: str, claimant: str, now: datetime, lease: timedelta, *, due_only: bool = True
    ) -> Job | None:
        if not claimable(self.get_job(job_id), job_id, claimant, now, lease, due_only=due_only):
            return None
        self.docs[job_id]["delivery_claim"] = {"by": claimant, "at": now}
        return self.get_job(job_id)

    def create_set(self, set_id: str, job_ids: list[str], now: datetime) -> None:
        self.sets.setdefault(set_id, {"jobs": job_ids})

    def claim_set(self, set_id: str, claimant: str, now: datetime, lease: timedelta) -> list[Job] | None:
        members = self.sets.get(set_id)
        if members is None or members.get("delivered"):
            return None
        jobs = [job for job in map(self.get_job, members["jobs"]) if job is not None]
        if not set_ready(jobs, members.get("delivery_claim"), claimant, now, lease, set_id):
            return None
        members["delivery_claim"] = {"by": claimant, "at": now}
        return jobs

    def finish_set(self, set_id: str, *, delivered: bool) -> None:
        members = self.sets[set_id]
        members.pop("delivery_claim", None)
        members["delivered"] = members.get("delivered", False) or delivered

    def defer_delivery(self, job_id: str, retry_at: datetime, **fields: Any) -> None:
        job = self.docs[job_id]
        job.pop("delivery_claim", None)
        job.update(delivery_retry_at=retry_at, **fields)

    def release_delivery(self, job_id: str) -> None:
        self.docs[job_id].pop("delivery_claim", None)

    def claim_apology(self, job_id: str, claimant: str, now: datetime, lease: timedelta) -> Job | None:
        if not apology_claimable(self.get_job(job_id), claimant, now, lease):
            return None
        self.docs[job_id]["delivery_claim"] = {"by": claimant, "at": now}
        return self.get_job(job_id)

    def apologies_due(self, now: datetime) -> list[Job]:
        return [job for job in self._all() if job.apology_retry_at and job.apology_retry_at <= now]

    def queue_depth(self) -> int:
        return len(self.jobs_in_states((State.QUEUED, State.GENERATING)))

    def oldest_queued_since(self, route: str) -> datetime | None:
        queued = [j.times["queued"] for j in self.jobs_in_states((State.QUEUED,)) if j.gpu_route == route]
        return min(queued, default=None)

    def jobs_in_states(self, states: tuple[State, ...]) -> list[Job]:
        return [job for job in self._all() if job.state in states]

    def jobs_received_since(self, start: datetime) -> list[Job]:
        return [job for job in self._all() if job.times["received"] >= start]

    def _all(self) -> list[Job]:
        return [Job.from_doc(copy.deepcopy(doc), job_id) for job_id, doc in self.docs.items()]


class FakeUsers:
    def __init__(self) -> None:
        self.docs: dict[int, Doc] = {}

    def get_user(self, user_id: int) -> Doc:
        return copy.deepcopy(self.docs.get(user_id, {}))

    def chosen_language(self, user_id: int) -> str | None:
        return self.docs.get(user_id, {}).get("language")

    def language_of(self, user_id: int, language_code: str | None) -> str:
        return texts.user_language(self.chosen_language(user_id), language_code)

    def update_user(self, user_id: int, **fields: Any) -> None:
        self.docs.setdefault(user_id, {}).update(fields)

    def add_to_history(self, user_id: int, entry: Doc, keep: int = 10) -> None:
        user = self.docs.setdefault(user_id, {})
        user["history"] = [entry, *user.get("history", [])][:keep]

    def credits(self, user_id: int) -> Credits:
        return Credits.from_doc(self.docs.get(user_id, {}).get("credits"))

    def give_back(self, job: Job) -> int:
        """A job's owed credits (ledger.owed_credits) back to its user; the caller marks the job."""
        owed = ledger.owed_credits(job)
        if owed:
            self.docs.setdefault(job.user_id, {})["credits"] = (
                self.credits(job.user_id).give_back(owed).to_doc()
            )
        return owed


class FakePayments:
    """payments/<charge_id> and users' `credits` as PaymentStore keeps them, moved by the same
    pure steps (core/ledger.py), without the transactions. FakeServices shares its jobs and
    users with it. `logged` holds (step, charge id or job id) for every step taken, in order."""

    def __init__(self, jobs: FakeJobs | None = None, users: FakeUsers | None = None) -> None:
        self.jobs = jobs or FakeJobs()
        self.users = users or self.jobs.users
        self.docs: dict[str, Doc] = {}  # payments/<charge_id>
        self.logged: list[tuple[str, str]] = []

    def credits_of(self, user_id: int) -> Credits:
        return self.users.credits(user_id)

    def record_payment(self, payment: Payment) -> tuple[Payment, bool]:
        stored = self.get_payment(payment.charge_id)
        if stored is not None:
            return stored, False
        recorded, credits = ledger.paid(payment, self.credits_of(payment.user_id))
        self._save(recorded, credits)
        self.logged.append(("paid", payment.charge_id))
        return recorded, True

    def mark_told(self, charge_id: str) -> None:
        if charge_id in self.docs:
            self.docs[charge_id]["told"] = True

    def mark_refund_told(self, charge_id: str) -> None:
        if charge_id in self.docs:
            self.docs[charge_id]["refund_told"] = True

    def get_payment(self, charge_id: str) -> Payment | None:
        if "/" in charge_id or (charge_id.startswith("__") and charge_id.endswith("__")):
            raise ValueError(f"not a document id: {charge_id!r}")  # as Firestore's client refuses it
        doc = self.docs.get(charge_id)
        return None if doc is None else Payment.from_doc(copy.deepcopy(doc))

    def payment_by_short_id(self, user_id: int, short_id: str) -> Payment | None:
        return next((p for p in self.payments_of(user_id) if ledger.short_id(p.charge_id) == short_id), None)

    def payments_of(self, user_id: int) -> list[Payment]:
        mine = [Payment.from_doc(copy.deepcopy(d)) for d in self.docs.values() if d["user_id"] == user_id]
        return sorted(mine, key=lambda p: p.paid_at, reverse=True)

    def return_credits(self, job_id: str, now: datetime) -> int:
        job = self.jobs.get_job(job_id)
        if job is None:
            return 0
        if job.set_id:  # a job of a set closed before its own admission: its share, as PaymentStore
            job = ledger.charged_by_set(job, self.jobs.sets.get(job.set_id, {}))
        owed = self.users.give_back(job)
        if owed:
            self.jobs.set_job_fields(job_id, paid_credits=job.paid_credits, credits_returned=True)
            self.logged.append(("credits returned", job_id))
        return owed

    def start_refund(self, charge_id: str, now: datetime, *, by: str, whole: bool) -> Payment | None:
        payment = self.get_payment(charge_id)
        if payment is None:
            return None
        step = ledger.refund_started(payment, self.credits_of(payment.user_id), now, by=by, whole=whole)
        if step is None:
            return payment
        self._save(*step)
        self.logged.append(("refund started", charge_id))
        return step[0]

    def finish_refund(self, charge_id: str, now: datetime) -> Payment | None:
        payment = self.get_payment(charge_id)
        finished = ledger.refund_finished(payment, now) if payment else None
        if finished is None:
            return None  # moved nothing (Payments.finish_refund)
        self._save(finished, None)
        self.logged.append(("refunded", charge_id))
        return finished

    def abort_refund(self, charge_id: str, now: datetime, error: str) -> Payment | None:
        payment = self.get_payment(charge_id)
        if payment is None:
            return None
        step = ledger.refund_aborted(payment, self.credits_of(payment.user_id), now, error)
        if step is None:
            return None  # moved nothing (Payments.abort_refund)
        self._save(*step)
        self.logged.append(("refund aborted", charge_id))
        return step[0]

    def refunds_pending(self) -> list[Payment]:
        return [p for p in map(Payment.from_doc, self.docs.values()) if p.state == PaymentState.REFUNDING]

    def jobs_owed_credits(self) -> list[Job]:
        return [job for job in self.jobs._all() if ledger.owed_credits(job)]

    def totals(self) -> LedgerTotals:
        payments = [Payment.from_doc(doc) for doc in self.docs.values()]
        return ledger_totals(
            payments, [Credits.from_doc(user.get("credits")) for user in self.users.docs.values()]
        )

    def _save(self, payment: Payment, credits: Credits | None) -> None:
        self.docs[payment.charge_id] = {
            **copy.deepcopy(payment.to_doc()),
            "short_id": ledger.short_id(payment.charge_id),
        }
        if credits is not None:
            self.users.docs.setdefault(payment.user_id, {})["credits"] = credits.to_doc()


class FakeCache:
    def __init__(self) -> None:
        self.photos: dict[str, str] = {}
        self.translations: dict[str, str] = {}
        self.generation_seconds: list[float] = []
        self.counts: dict[str, int] = {}

    def cached_photo(self, key: str) -> str | None:
        return self.photos.get(key)

    def remember_photo(self, key: str, file_id: str, job_id: str, now: datetime) -> None:
        self.photos[key] = file_id

    def cache_counts(self) -> tuple[int, int]:
        return 0, 0

    def seconds_per_image(self, default: float) -> float:
        return default

    def record_generation(self, seconds: float) -> None:
        self.generation_seconds.append(seconds)

    def cached_translation(self, key: str, now: datetime) -> str | None:
        return self.translations.get(key)

    def remember_translation(self, key: str, model_prompt: str, now: datetime) -> None:
        self.translations[key] = model_prompt

    def count_translation(self, counts: dict[str, int]) -> None:
        for name, value in counts.items():
            self.counts[name] = self.counts.get(name, 0) + value

    def translation_counts(self) -> dict[str, int]:
        return dict(self.counts)


class FakeConfig:
    def __init__(self) -> None:
        self.ops = Ops()
        self.endpoint_failure: datetime | None = None

    def get_ops(self) -> Ops:
        return self.ops

    def set_ops(self, ops: Ops) -> None:
        self.ops = ops

    def endpoint_failed_at(self) -> datetime | None:
        return self.endpoint_failure

    def note_endpoint_failure(self, now: datetime, reason: str) -> None:
        self.endpoint_failure = now


@dataclass
class Sent:
    method: str
    chat_id: int
    params: dict[str, Any]
    to: AnswerTo | None = None  # where a sent message went (topic, quote); None for an edit


class FakeTelegramFiles:
    """Files a user sent, as the Bot API keeps them: getFile by id, then a download by path."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}  # file_id -> bytes
        self.downloads: list[str] = []  # paths downloaded, in order

    def add(self, data: bytes, file_id: str | None = None) -> str:
        file_id = file_id or f"user-file-{len(self.files) + 1}"
        self.files[file_id] = data
        return file_id

    def get_file(self, file_id: str) -> dict[str, Any]:
        if file_id not in self.files:
            raise TelegramError("getFile", 400, "Bad Request: invalid file_id")
        data = self.files[file_id]
        if len(data) > MAX_DOWNLOAD_BYTES:
            raise FileTooBig("getFile", 400, "Bad Request: file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(data),
            "file_path": f"photos/{file_id}.jpg",
        }

    def download_file(self, file_path: str, max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes:
        file_id = file_path.removeprefix("photos/").removesuffix(".jpg")
        if file_id not in self.files:
            raise TelegramError(DOWNLOAD, 404, f"{file_path}: HTTP 404")
        if len(self.files[file_id]) > max_bytes:
            raise FileTooBig(DOWNLOAD, 413, f"{file_path}: over the {max_bytes} bytes taken")
        self.downloads.append(file_path)
        return self.files[file_id]


class FakeInputStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_input(self, job_id: str, jpeg: bytes) -> str:
        name = input_object_name(job_id)
        self.objects.setdefault(name, jpeg)  # create-only, as the real one
        return name


class FakeAlbums:
    """Albums' records as AlbumStore keeps them (without its transaction)."""

    def __init__(self) -> None:
        self.records: dict[str, Album] = {}

    def take_seat(self, media_group_id: str, update_id: int, limit: int, now: datetime) -> Seat:
        found, after = seat(self.records.get(media_group_id, Album()), update_id, limit)
        self.records[media_group_id] = after
        return found


class FakeBot:
    """Records every call; answers as the Bot API would, with new message ids. A user's files
    are in `files`; fail_next("getFile" or "downloadFile", ...) makes them fail."""

    def __init__(self) -> None:
        self.files = FakeTelegramFiles()
        self.fetches: list[Sent] = []  # getFile and downloads, in order
        self.calls: list[Sent] = []
        self.refused: list[Sent] = []  # calls answered with an error from `errors`
        # Errors the next calls of a method raise (a TelegramError, say), first in first out.
        self.errors: dict[str, list[Exception]] = {}
        self._ids = itertools.count(100)

    def fail_next(self, method: str, *errors: Exception) -> None:
        self.errors.setdefault(method, []).extend(errors)

    def _record(self, method: str, chat: int | AnswerTo, **params: Any) -> dict[str, Any]:
        to = chat if isinstance(chat, AnswerTo) else None
        chat_id = chat.chat_id if isinstance(chat, AnswerTo) else chat
        if self.errors.get(method):
            self.refused.append(Sent(method, chat_id, params, to))
            raise self.errors[method].pop(0)
        self.calls.append(Sent(method, chat_id, params, to))
        return {"message_id": next(self._ids), "chat": {"id": chat_id}}

    def methods(self) -> list[str]:
        return [call.method for call in self.calls]

    def texts(self) -> list[str]:
        return [str(call.params.get("text") or call.params.get("caption") or "") for call in self.calls]

    def send_message(self, to: AnswerTo, text: str, **params: Any) -> dict[str, Any]:
        return self._record("sendMessage", to, text=text, **params)

    def edit_message_text(self, chat_id: int, message_id: int, text: str, **params: Any) -> Any:
        return self._record("editMessageText", chat_id, message_id=message_id, text=text, **params)

    def edit_message_caption(self, chat_id: int, message_id: int, caption: str, **params: Any) -> Any:
        return self._record("editMessageCaption", chat_id, message_id=message_id, caption=caption, **params)

    def edit_inline_text(self, inline_message_id: str, text: str, **params: Any) -> Any:
        return self._record("editMessageText", 0, inline_message_id=inline_message_id, text=text, **params)

    def edit_inline_photo(self, inline_message_id: str, file_id: str, **params: Any) -> Any:
        return self._record(
            "editMessageMedia", 0, inline_message_id=inline_message_id, media=file_id, **params
        )

    def delete_message(self, chat_id: int, message_id: int) -> Any:
        return self._record("deleteMessage", chat_id, message_id=message_id)

    def send_photo(self, to: AnswerTo, photo: Any, **params: Any) -> dict[str, Any]:
        sent = self._record("sendPhoto", to, photo=photo, **params)
        return {**sent, "photo": [{"file_id": f"file-{sent['message_id']}"}]}

    def send_media_group(self, to: AnswerTo, photos: list[Any], **params: Any) -> list[dict[str, Any]]:
        sent = self._record("sendMediaGroup", to, photos=photos, **params)
        first = sent["message_id"]
        extra = [next(self._ids) for _ in photos[1:]]
        return [{"message_id": m, "photo": [{"file_id": f"file-{m}"}]} for m in (first, *extra)]

    def send_document(self, to: AnswerTo, data: bytes, **params: Any) -> dict[str, Any]:
        return self._record("sendDocument", to, data=data, **params)

    def send_chat_action(self, to: AnswerTo, action: str) -> Any:
        return self._record("sendChatAction", to, action=action)

    # -- Telegram Stars
    def send_invoice(self, to: AnswerTo, **params: Any) -> dict[str, Any]:
        return self._record("sendInvoice", to, **params)

    def refund_star_payment(self, user_id: int, charge_id: str) -> Any:
        self._record("refundStarPayment", user_id, telegram_payment_charge_id=charge_id)
        return True

    def _fetch(self, method: str, **params: Any) -> None:
        # Kept apart from `calls`, which are what the user sees (texts(), methods()).
        if self.errors.get(method):
            self.refused.append(Sent(method, 0, params))
            raise self.errors[method].pop(0)
        self.fetches.append(Sent(method, 0, params))

    def get_file(self, file_id: str) -> dict[str, Any]:
        self._fetch("getFile", file_id=file_id)
        return self.files.get_file(file_id)

    def download_file(self, file_path: str, max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes:
        self._fetch(DOWNLOAD, file_path=file_path, max_bytes=max_bytes)
        return self.files.download_file(file_path, max_bytes)


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, dict[str, str]]] = []

    def publish(self, topic: str, data: bytes, **attributes: str) -> str:
        self.published.append((topic, data, attributes))
        return f"m-{len(self.published)}"

    def on(self, topic: str) -> list[bytes]:
        return [data for name, data, _ in self.published if name == topic]


@dataclass
class FakeServices:
    """imagebot.ports.Services, in memory; the clock stands still unless a test moves it."""

    settings: Settings = SETTINGS
    jobs: FakeJobs = field(default_factory=FakeJobs)
    users: FakeUsers = field(default_factory=FakeUsers)
    cache: FakeCache = field(default_factory=FakeCache)
    config: FakeConfig = field(default_factory=FakeConfig)
    bot: FakeBot = field(default_factory=FakeBot)
    publisher: FakePublisher = field(default_factory=FakePublisher)
    translator: Translator | None = None
    gpu_endpoint: Predict = field(default=lambda instance: {"job_id": "", "outcome": "generated"})
    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)
    inputs: FakeInputStore = field(default_factory=FakeInputStore)
    albums: FakeAlbums = field(default_factory=FakeAlbums)
    payments: FakePayments = field(default_factory=FakePayments)
    clock: datetime = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __post_init__(self) -> None:
        # One set of documents: admission spends the credits the payments add.
        self.jobs.users = self.users
        self.payments.jobs, self.payments.users = self.jobs, self.users

    @property
    def quota_policy(self) -> quota.QuotaPolicy:
        s = self.settings
        return quota.QuotaPolicy(
            burst=s.rate_burst, refill_seconds=s.rate_refill_seconds, daily_limit=s.daily_quota
        )

    def now(self) -> datetime:
        return self.clock

    def download(self, bucket: str, name: str) -> bytes:
        return self.objects[(bucket, name)]


# mypy checks here that the fakes still answer to the Protocols the flows use.
_conforms: Services = FakeServices()
_conforms_files: TelegramFiles = FakeTelegramFiles()
_conforms_inputs: InputImages = FakeInputStore()
