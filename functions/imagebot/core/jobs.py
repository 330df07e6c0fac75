"""The job state machine: which moves are allowed, and what each move writes. Pure.

    received → awaiting_style → validated → queued → generating → generated → delivered
    any non-final state → rejected | failed
    any non-final state before generated → cancelled (the user's ✖ Cancel)

Every move stamps `times.<state>`, which gives the latency breakdown and the audit trail.
Job is the document typed: JobStore hands jobs out as Jobs and creates them from Job.to_doc().
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Self

from imagebot.core.texts import DEFAULT_LANGUAGE


class State(StrEnum):
    RECEIVED = "received"
    AWAITING_STYLE = "awaiting_style"
    VALIDATED = "validated"
    QUEUED = "queued"
    GENERATING = "generating"
    GENERATED = "generated"
    DELIVERED = "delivered"
    REJECTED = "rejected"
    FAILED = "failed"
    CANCELLED = "cancelled"  # vocabulary.CANCELLED: the GPU skips such a job


PIPELINE = (
    State.RECEIVED,
    State.AWAITING_STYLE,
    State.VALIDATED,
    State.QUEUED,
    State.GENERATING,
    State.GENERATED,
    State.DELIVERED,
)
FINAL = frozenset({State.DELIVERED, State.REJECTED, State.FAILED, State.CANCELLED})
# Cancelled only while the picture is not drawn yet: a drawn one is on its way to the user.
CANCELLABLE = frozenset(PIPELINE[: PIPELINE.index(State.GENERATED)])
# Cancelled before drawing started: the quota it was charged (if any) goes back.
REFUNDED_ON_CANCEL = frozenset({State.QUEUED})


def can_move(current: State, target: State) -> bool:
    """Forward along the pipeline only (stages may be skipped); a final state never moves."""
    if current in FINAL:
        return False
    if target in (State.REJECTED, State.FAILED):
        return True
    if target == State.CANCELLED:
        return current in CANCELLABLE
    return PIPELINE.index(target) > PIPELINE.index(current)


def move(current: State, target: State, now: datetime, **fields: Any) -> dict[str, Any]:
    """The Firestore field updates for a move; raises if the move is not allowed."""
    if not can_move(current, target):
        raise ValueError(f"job cannot move from {current} to {target}")
    return {"state": target.value, f"times.{target.value}": now, **fields}


@dataclass(frozen=True)
class DeliveryClaim:
    """Which delivery attempt holds the job's photo, since when (JobStore.claim_delivery)."""

    by: str
    at: datetime


# Written with the prompt: a job with words carries its drawing fields, `style` among them
# (None while the user has not chosen one); a job refused before it had words has none of them.
_DRAWING_FIELDS = frozenset({"negative_prompt", "style", "aspect"})
_ALWAYS = frozenset({"job_id", "state", "chat_id", "user_id", "language", "times"})


@dataclass(frozen=True)
class Job:
    """The job document `jobs/<job_id>`, typed. Written by the functions (creation, `move`,
    delivery's bookkeeping) and by the GPU service (`state`, `times.*`, `seed`,
    `negative_applied`, `reason`: the contract's part 4). A field at its default is one the
    document lacks: None, or what the code read a missing field as before (told, say).

    `from_doc` ignores fields it does not know: every write after creation is a partial update,
    so such a field stays in Firestore untouched, and nothing here reads it."""

    job_id: str
    state: State
    # 0: none recorded (a document written by hand, say); every job the functions make has both.
    chat_id: int = 0
    user_id: int = 0
    update_id: int | None = None
    message_id: int | None = None  # the prompt's message, which the photo answers
    message_thread_id: int | None = None  # the prompt's forum topic: every answer goes there
    language: str = DEFAULT_LANGUAGE
    times: dict[str, datetime] = field(default_factory=dict)  # when each state was reached
    expire_at: datetime | None = None  # the TTL policy's (JobStore.create_job)
    # What to draw: the user's words, and the English the model reads (translation.py).
    prompt: str | None = None
    model_prompt: str | None = None
    negative_prompt: str = ""
    style: str | None = None
    aspect: str = "square"
    seed: int | None = None  # the GPU writes back the seed it drew with
    enhance: bool | None = None
    source_job_id: str | None = None  # the photo whose button made this job
    style_update_id: int | None = None  # the press that chose the style
    status_message_id: int | None = None
    # A job chosen in inline mode: its placeholder message, edited as the job moves (status
    # texts, then the picture); chat_id is then the user's private chat with the bot.
    inline_message_id: str | None = None
    # Admission (JobStore.admit_job) and the refusal told for it.
    admitted_by: str | None = None
    reason: str | None = None  # why it was rejected or failed
    retry_after_seconds: int = 0
    told: bool = True  # False: a refusal the user is not told of (quota.refusal_notice)
    refusal_shown: bool | None = None
    error: str | None = None
    # Sent to the GPU.
    dispatched_message_id: str | None = None
    cache_key: str | None = None
    gpu_route: str | None = None
    handed_back: str | None = None  # why the Vertex AI endpoint gave it back to Cloud Run
    negative_applied: bool = True  # the GPU's word on whether the picture honoured the negative prompt
    # Delivery.
    delivery_claim: DeliveryClaim | None = None
    delivery_retry_at: datetime | None = None
    delivery_attempts: int = 0
    delivery_error: str | None = None
    output_name: str | None = None
    output_type: str | None = None
    photo_file_id: str | None = None
    delivered_message_id: int | None = None
    cached: bool | None = None  # answered from the prompt cache
    # An apology owed (steps/failure.py): set with the move to failed, cleared once it is out;
    # while set, the sweep tries it when due, with the delivery's backoff (and its claim).
    apology_retry_at: datetime | None = None
    apology_attempts: int = 0
    durations_ms: dict[str, int] | None = None
    # More than one picture (issue 16): a 2x2 grid, a variation of a candidate, a set of styles.
    candidates: int = 1  # GRID_SIZE: a grid drawn in one batch, delivered as one collage
    # What the picture starts from: the user's photo (contract.input_object_name), for a photo
    # job and every redraw of it (`prompt` is then the caption's hint, "" without one), or the
    # candidate a variation varies.
    input_image: str | None = None
    strength: float | None = None  # img2img strength with input_image; None = the style's own
    flagged: list[int] | None = None  # a delivered grid's candidates the safety checker blanked
    cost: int = 1  # pictures charged for this job (quota.job_cost): what a refund gives back
    set_id: str | None = None  # the set of jobs delivered together as one album (sets/<set_id>)
    # Telegram Stars (core/payments.py): the credits admission took for this job (the part of
    # `cost` the free daily pictures did not cover), and whether they went back to the user.
    paid_credits: int = 0
    credits_returned: bool = False
    pause_told: bool = False  # its user was told a pause holds it and their credits are safe

    def drawing(self) -> tuple[str, str, int]:
        """The words, style and seed of a job with all three (validated onwards); ValueError
        for one without (refused before it had words, or still waiting for its style)."""
        if self.prompt is None or self.style is None or self.seed is None:
            raise ValueError(f"job {self.job_id} has no prompt, style or seed yet")
        return self.prompt, self.style, self.seed

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any], job_id: str | None = None) -> Self:
        """Tolerant of older documents: a missing (or null) optional field takes its default;
        `job_id`, the document's id, stands in for a missing `job_id` field (a hand-written
        document, say)."""
        known = {f.name for f in fields(cls)}
        values = {name: value for name, value in doc.items() if name in known and value is not None}
        values.setdefault("job_id", job_id)
        values["state"] = State(doc["state"])
        values["times"] = dict(doc.get("times") or {})
        claim = doc.get("delivery_claim")
        values["delivery_claim"] = DeliveryClaim(claim["by"], claim["at"]) if claim else None
        return cls(**values)

    def to_doc(self) -> dict[str, Any]:
        """The document as the functions create it: the fields every job has, the drawing
        fields whenever there is a prompt, and any other field that is set."""
        doc: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            default = f.default_factory() if f.default_factory is not MISSING else f.default
            drawing = f.name in _DRAWING_FIELDS and self.prompt is not None
            if f.name in _ALWAYS or drawing or value != default:
                doc[f.name] = value
        doc["state"] = self.state.value
        doc["times"] = dict(self.times)
        if self.delivery_claim is not None:
            doc["delivery_claim"] = {"by": self.delivery_claim.by, "at": self.delivery_claim.at}
        return doc


class DeliveryPending(RuntimeError):
    """The photo may not be sent now: another attempt holds a live claim on the job, or its
    retry time (`delivery_retry_at`) has not come. Raised so the event is delivered again."""

    def __init__(self, job_id: str, reason: str, until: datetime) -> None:
        super().__init__(f"{job_id}: {reason} until {until.isoformat()}")
        self.until = until


def delivery_retry_delay(
    attempts: int, retry_after: float | None, *, initial: float, cap: float
) -> timedelta:
    """How long to wait before the next try of a photo that could not be sent: what Telegram
    said (`retry_after`, never less), or a doubling backoff from `initial` up to `cap` after
    the `attempts` tries that failed before this one."""
    if retry_after is not None and retry_after > 0:
        return timedelta(seconds=retry_after)
    return timedelta(seconds=min(cap, initial * 2 ** min(attempts, 32)))


def claimable(
    job: Job | None,
    job_id: str,
    claimant: str,
    now: datetime,
    lease: timedelta,
    *,
    due_only: bool = True,
) -> bool:
    """Whether `claimant` may take the job's delivery now (JobStore.claim_delivery, in its
    transaction): False when there is nothing to send (no job, or a final one). Raises
    DeliveryPending while another attempt's claim is live, or, with `due_only`, before the
    job's `delivery_retry_at`."""
    if job is None or job.state in FINAL:
        return False
    claim = job.delivery_claim
    if claim and claim.by != claimant and now - claim.at < lease:
        raise DeliveryPending(job_id, "another attempt holds the delivery", claim.at + lease)
    retry_at = job.delivery_retry_at
    if due_only and retry_at is not None and now < retry_at:
        raise DeliveryPending(job_id, "the next try is not due", retry_at)
    return True


def set_ready(
    jobs: list[Job],
    claim: Mapping[str, Any] | None,
    claimant: str,
    now: datetime,
    lease: timedelta,
    set_id: str,
) -> bool:
    """Whether a set's album may go out now (JobStore.claim_set, in its transaction): every job
    has its output recorded or is closed (refused, failed, flagged). Raises DeliveryPending
    while another attempt's claim on the set is live."""
    if claim and claim["by"] != claimant and now - claim["at"] < lease:
        raise DeliveryPending(set_id, "another attempt holds the set", claim["at"] + lease)
    return bool(jobs) and all(job.output_name or job.state in FINAL for job in jobs)


def apology_claimable(job: Job | None, claimant: str, now: datetime, lease: timedelta) -> bool:
    """Whether `claimant` may send the job's owed apology now (JobStore.claim_apology, in its
    transaction): a failed job whose apology is due, and no other attempt's live claim on it."""
    if job is None or job.state != State.FAILED or job.apology_retry_at is None or now < job.apology_retry_at:
        return False
    claim = job.delivery_claim
    return not (claim and claim.by != claimant and now - claim.at < lease)


def cancellable(job: Job | None, now: datetime, lease: timedelta) -> bool:
    """Whether the user's Cancel may end the job now (JobStore.cancel_job, in its transaction):
    not once it is final or drawn, nor while a delivery holds a live claim on it (that attempt
    may be sending the photo right now: the claim and the cancel exclude each other)."""
    if job is None or not can_move(job.state, State.CANCELLED):
        return False
    claim = job.delivery_claim
    return claim is None or now - claim.at >= lease


def job_id_for_update(update_id: int) -> str:
    """One Telegram update makes at most one job, so redeliveries find the same job."""
    return f"u{update_id}"


def seed_for(job_id: str) -> int:
    """A stable seed per job: a retried job draws the same picture."""
    return int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:4], "big")


def seed_for_prompt(prompt: str, negative_prompt: str = "") -> int:
    """A first request's seed comes from its words, so everyone asking for the same picture
    gets the same one, and a popular prompt is drawn once (see cache_key); "Again" draws anew."""
    return int.from_bytes(hashlib.sha256(f"{prompt}\n{negative_prompt}".encode()).digest()[:4], "big")


def cacheable(job: Job) -> bool:
    """Only a plain text-to-image picture is answered from the prompt cache, or keeps its
    picture there: a photo job's picture is of that photo, which no other job's words describe;
    a grid's buttons need its candidates in the bucket under its own id; a set is delivered as
    one album."""
    return job.candidates == 1 and not job.input_image and not job.set_id


def cache_key(job: Job, mode: str) -> str:
    """What makes two pictures the same: the words drawn (the translation, when there is one),
    the style, the seed, the size, the recipe."""
    parts = (
        job.model_prompt or job.prompt or "",
        job.negative_prompt,
        job.style or "",
        str(job.seed),
        job.aspect,
        mode,
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def stage_durations(times: dict[str, datetime]) -> list[tuple[str, float]]:
    """Seconds spent reaching each stamped stage from the one before it, in pipeline order."""
    stamped = [(state.value, times[state.value]) for state in PIPELINE if state.value in times]
    return [
        (stage, (at - previous_at).total_seconds())
        for (_, previous_at), (stage, at) in zip(stamped, stamped[1:], strict=False)
    ]


def applied(job: Job, changes: Mapping[str, Any]) -> Job:
    """The job as it reads after `changes`."""
    return Job.from_doc(updated(job.to_doc(), changes))


def updated(doc: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The job document as it reads after `changes` (dotted paths into maps included)."""
    result = {**doc, "times": dict(doc.get("times") or {})}
    for path, value in changes.items():
        if path.startswith("times."):
            result["times"][path.removeprefix("times.")] = value
        else:
            result[path] = value
    return result
