"""deliver_image: an output object was finalized; send its photo once, close the job."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from imagebot.core.contract import ContractError, OutputMetadata, job_id_from_output_name
from imagebot.core.events import BadEvent, StorageObject, storage_object
from imagebot.core.jobs import DeliveryPending
from imagebot.logs import fields
from imagebot.ports import Services
from imagebot.steps.delivery import deliver_output

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
    # event id must not both send. A failed attempt releases its claim; a crashed one holds the
    # photo back for the lease, and the attempts meanwhile raise, so Eventarc tries again later.
    claimant = f"{event_id}/{uuid.uuid4().hex}"
    try:
        deliver_output(job_id, obj, claimant, rt, context=context)
    except DeliveryPending as pending:
        log.info("delivery not now; retried later", extra={**context, "reason": str(pending)})
        raise
