"""report_failure: a message whose delivery attempts ran out; the job fails, the user is told.

Pub/Sub dead-letters a message after its delivery attempts run out (it adds the
`CloudPubSubDeadLetterSource*` attributes). Jobs that stall without a message to dead-letter
are sweep_stuck_jobs'. Either way the job is failed with its reason and the user gets a retry
button (steps/failure.py).
"""

from __future__ import annotations

import logging

from imagebot.chat.payments import credit_payment, record_telegram_refund, refund_press_ran_out
from imagebot.core import texts
from imagebot.core.answer_to import AnswerTo
from imagebot.core.events import PubSubMessage
from imagebot.core.jobs import Job, State, job_id_for_update
from imagebot.core.updates import (
    Button,
    ChosenInline,
    MalformedUpdate,
    PaymentMade,
    PaymentRefunded,
    Prompt,
    decode_event,
)
from imagebot.logs import fields
from imagebot.ports import Services
from imagebot.steps.decoding import decode_or_drop
from imagebot.steps.failure import fail

log = logging.getLogger(__name__)


@decode_or_drop(lambda message: message.data, stage="failure", what="dead letter")
def handle_dead_letter(body: bytes, message: PubSubMessage, rt: Services) -> None:
    attributes = message.attributes
    source = attributes.get("CloudPubSubDeadLetterSourceSubscription", "unknown subscription")
    attempts = attributes.get("CloudPubSubDeadLetterSourceDeliveryCount", "?")
    reason = f"dead-lettered from {source} after {attempts} attempts"
    job_id = attributes.get("job_id")
    if job_id is None:
        job_id = _job_of_inbound(body, reason, rt)
    if job_id is not None:
        fail(job_id, reason, rt)


def _job_of_inbound(body: bytes, reason: str, rt: Services) -> str | None:
    """An update that never became a job: a prompt's job is failed; anything else gets an apology."""
    try:
        event = decode_event(body)
    except MalformedUpdate as error:
        log.error(
            "dead letter of no known shape", extra=fields(stage="failure", error=str(error), reason=reason)
        )
        return None
    if isinstance(event, Prompt):
        job_id = job_id_for_update(event.update_id)
        rt.jobs.create_job(
            Job(
                job_id=job_id,
                state=State.RECEIVED,
                update_id=event.update_id,
                chat_id=event.chat_id,
                user_id=event.user_id,
                message_id=event.message_id,
                message_thread_id=event.message_thread_id,
                language=texts.language_for(event.language_code),
                times={State.RECEIVED.value: rt.now()},
            )
        )
        return job_id
    if isinstance(event, ChosenInline):
        return _job_of_chosen_inline(event, reason, rt)
    if isinstance(event, PaymentMade | PaymentRefunded):
        # Stars moved: no apology can stand in for the ledger's record of it. Recorded here (once,
        # by the charge id), or this raises and the dead letter comes again.
        log.error("a payment's update ran out of attempts", extra=fields(stage="payment", reason=reason))
        if isinstance(event, PaymentMade):
            credit_payment(event, rt)
        else:
            record_telegram_refund(event, rt, last_try=True)
        return None
    log.error(
        "an update failed for good", extra=fields(stage="failure", update_id=event.update_id, reason=reason)
    )
    if isinstance(event, Button) and refund_press_ran_out(event, rt):
        return None
    rt.bot.send_message(
        AnswerTo.of_event(event), texts.render(texts.language_for(event.language_code), "failed_generic")
    )
    return None


def _job_of_chosen_inline(event: ChosenInline, reason: str, rt: Services) -> str | None:
    """A chosen inline result that failed for good: its job, if one was made, fails as any does
    (its placeholder says so); without one, the placeholder says so itself."""
    job_id = job_id_for_update(event.update_id)
    if rt.jobs.get_job(job_id) is not None:
        return job_id
    log.error(
        "an inline choice failed for good",
        extra=fields(stage="failure", update_id=event.update_id, reason=reason),
    )
    if event.inline_message_id:
        language = texts.language_for(event.language_code)
        rt.bot.edit_inline_text(event.inline_message_id, texts.render(language, "failed_generic"))
    return None
