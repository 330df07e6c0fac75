"""validate_prompt: every update that needs state arrives here from the prompts topic.

Each update is handled to the end once (`updates/<update_id>`); a redelivery after a crash
half-way is handled again, which is safe because each step below is idempotent. (A refund whose
refundStarPayment failed for now raises, so its redelivery carries it on: chat/payments.py.)
"""

from __future__ import annotations

import logging

from imagebot.chat import creation, inline, payments
from imagebot.core import registry
from imagebot.core.events import PubSubMessage
from imagebot.core.jobs import job_id_for_update
from imagebot.core.registry import AnsweredBy
from imagebot.core.updates import (
    Button,
    ChosenInline,
    Command,
    PaymentMade,
    PaymentRefunded,
    Photo,
    Prompt,
    Published,
    decode_event,
)
from imagebot.logs import fields
from imagebot.ports import Services
from imagebot.steps.decoding import decode_or_drop

log = logging.getLogger(__name__)


@decode_or_drop(
    lambda message: decode_event(message.data),
    stage="validate",
    what="inbound message",
    # A prompt's or photo's job, if it was made before the 403; a button's job is the user's to retry.
    job_of=lambda event, message: (
        job_id_for_update(event.update_id) if isinstance(event, Prompt | Photo | ChosenInline) else None
    ),
)
def handle_message(event: Published, message: PubSubMessage, rt: Services) -> None:
    """Entry from a Pub/Sub CloudEvent (`handle_message(event.data, rt)`)."""
    if not rt.jobs.begin_update(event.update_id, rt.now(), message.message_id):
        log.info("duplicate update", extra=fields(stage="validate", update_id=event.update_id))
        return
    # Each update's first line: the webhook, on the hot path, writes none of its own.
    log.info("update taken", extra=fields(stage="validate", update_id=event.update_id, reason=event.kind))
    match event:
        case Prompt():
            creation.handle_prompt(event, rt)
        case Photo():
            creation.handle_photo(event, rt)
        case Command():
            handle_command(event, rt)
        case Button():
            handle_button(event, rt)
        case ChosenInline():
            inline.start_job(event, rt)
        case PaymentMade():
            payments.credit_payment(event, rt)
        case PaymentRefunded():
            payments.record_telegram_refund(event, rt)
    rt.jobs.finish_update(event.update_id)


def handle_command(command: Command, rt: Services) -> None:
    declared = registry.command(command.name)
    if declared is None or declared.answered_by is not AnsweredBy.WORKER:
        log.warning("command reached the worker without a handler", extra=fields(reason=command.name))
        return
    registry.handler(declared.handler)(command, rt)


def handle_button(button: Button, rt: Services) -> None:
    declared = registry.action(button.action)
    if declared is None:  # parse_update only lets declared actions through
        log.warning("button reached the worker without a handler", extra=fields(reason=button.action))
        return
    if not declared.requester_only:
        registry.handler(declared.handler)(button, rt)
        return
    job = rt.jobs.get_job(button.args[-1])
    if job is None:
        creation.stale(button, rt)
        return
    if job.user_id != button.user_id:
        # Someone else's picture (in a group): the webhook's toast told them; nothing happens.
        log.info(
            "button of another user's job", extra=fields(update_id=button.update_id, reason=button.action)
        )
        return
    registry.handler(declared.handler)(button, job, rt)
