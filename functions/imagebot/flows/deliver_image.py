"""deliver_image: an output object was finalized; send its photo once, close the job."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from imagebot.core.contract import ContractError, OutputMetadata, job_id_from_output_name
from imagebot.core.events import BadEvent, StorageObject, storage_object
from imagebot.core.jobs import State
from imagebot.edges.telegram import TelegramError
from imagebot.logs import fields
from imagebot.ports import Services
from imagebot.steps.delivery import DELIVERY_LEASE, remember_quietly, remove_status, send_photo

log = logging.getLogger(__name__)


def handle_event(data: Any, event_id: str, rt: Services) -> None:
    try:
        obj = storage_object(data)
    except BadEvent as error:
        log.error("dropping an undecodable storage event", extra=fields(stage="deliver", error=str(error)))
        return
    deliver(obj, event_id, rt)


def deliver(obj: StorageObject, event_id: str, rt: Services) -> None:
    job_id = job_id_from_output_name(obj.name)
    if job_id is None or obj.bucket != rt.settings.images_bucket:
        log.info("not an output object", extra=fields(stage="deliver", reason=f"{obj.bucket}/{obj.name}"))
        return
    context = fields(stage="deliver", job_id=job_id)
    try:
        OutputMetadata.from_metadata(obj.metadata)
    except ContractError as error:
        # The photo can still go out: the job document knows the chat. Say so loudly.
        log.error("output object breaks the contract", extra={**context, "error": str(error)})

    # A claim per attempt, not per event: Eventarc redelivers an event whose first attempt it
    # believes lost (a timeout) while that attempt may still be sending, and two attempts of one
    # event id must not both send. A failed attempt releases its claim below; only a crashed one
    # holds the photo back, for the lease.
    claimant = f"{event_id}/{uuid.uuid4().hex}"
    job = rt.jobs.claim_delivery(job_id, claimant=claimant, now=rt.now(), lease=DELIVERY_LEASE)
    if job is None:
        log.info("already delivered, failed, in flight or unknown", extra=context)
        return
    try:
        sent = send(job, obj, rt)
    except TelegramError as error:
        if error.user_unreachable:
            rt.jobs.move_job(job_id, State.FAILED, rt.now(), reason="undeliverable", error=str(error))
            log.warning(
                "user unreachable; job closed without a photo", extra={**context, "error": str(error)}
            )
            return
        rt.jobs.release_delivery(job_id)
        raise
    except Exception:
        rt.jobs.release_delivery(job_id)
        raise

    photo_file_id = sent["photo"][-1]["file_id"] if sent.get("photo") else None
    # The GPU stamps `generated` just after the upload; an event that outruns that stamp would
    # close the job without its drawing time. The object's creation time is when it was drawn.
    drawn = (
        {} if "generated" in job.get("times", {}) or obj.created is None else {"times.generated": obj.created}
    )
    delivered = rt.jobs.move_job(
        job_id,
        State.DELIVERED,
        rt.now(),
        photo_file_id=photo_file_id,
        delivered_message_id=sent["message_id"],
        output_name=obj.name,
        **drawn,
    )
    log.info("photo delivered", extra=context)
    remove_status(job, rt)
    if delivered is not None:
        remember_quietly(delivered, rt)


def send(job: dict[str, Any], obj: StorageObject, rt: Services) -> dict[str, Any]:
    photo = rt.download(obj.bucket, obj.name)
    return send_photo(job, rt, photo=(obj.name.rsplit("/", 1)[-1], photo, obj.content_type))
