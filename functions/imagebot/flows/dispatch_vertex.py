"""dispatch_vertex: a job routed to the Vertex AI endpoint (routing.py) is sent there, one predict
call each. The container writes the picture to the images bucket as the Cloud Run service does,
so the finalize event delivers it and nothing downstream knows which home drew it.

What becomes of the job, by the endpoint's answer (gpu_service/prediction.py):
- drawn, or drawn before ("skipped"): nothing more to do here;
- refused for good (a blocked prompt, the safety checker, off contract): failed now, with its
  reason, and the user told, as report_failure would after the dead letter;
- a failed generation the container calls retryable: raised, so Pub/Sub redelivers the message
  and, when its attempts run out, dead-letters it to report_failure;
- no answer at all (down, undeployed, timed out, a reply of the wrong shape): handed back to the
  Cloud Run queue. Drawing twice is harmless (the container skips a job whose picture exists and
  delivery is claimed once per job); losing the job because the overflow is down is not.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from imagebot.core.contract import ContractError, GenerationJob
from imagebot.core.events import BadEvent, PubSubMessage
from imagebot.core.jobs import State
from imagebot.core.routing import GpuRoute
from imagebot.edges.gpu_endpoint import EndpointUnavailable
from imagebot.logs import fields
from imagebot.ports import Services
from imagebot.steps.failure import fail

log = logging.getLogger(__name__)
STILL_TO_DRAW = (State.QUEUED.value, State.GENERATING.value)


class GenerationFailed(RuntimeError):
    """The endpoint tried and failed in a way a later attempt may not: Pub/Sub redelivers."""


class Outcome(StrEnum):
    DRAWN = "drawn"
    REFUSED = "refused"
    RETRY = "retry"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str = ""


def read_prediction(prediction: dict[str, Any], job_id: str) -> Verdict:
    """What the container's prediction says about the job (pure). A prediction for another job,
    or of no known shape, means the endpoint is not the one we think it is."""
    if prediction.get("job_id") != job_id:
        raise EndpointUnavailable(f"prediction for {prediction.get('job_id')!r}, not {job_id!r}")
    if prediction.get("outcome") in ("generated", "skipped"):
        return Verdict(Outcome.DRAWN, prediction["outcome"])
    if "error" in prediction:
        reason = f"vertex endpoint: {prediction['error']}"
        return Verdict(Outcome.RETRY if prediction.get("retryable") else Outcome.REFUSED, reason)
    raise EndpointUnavailable(f"a prediction of no known shape: {sorted(prediction)}")


def handle_message(data: Any, rt: Services) -> None:
    try:
        message = PubSubMessage.from_event(data)
    except BadEvent as error:
        log.error(
            "dropping an undecodable job for the endpoint", extra=fields(stage="dispatch", error=str(error))
        )
        return
    try:
        job = GenerationJob.from_json(message.data)
    except ContractError as error:
        # Unlike other undecodable messages, this one names its job: fail it and tell the user.
        log.error(
            "job for the endpoint breaks the contract", extra=fields(stage="dispatch", error=str(error))
        )
        if message.attributes.get("job_id"):
            fail(message.attributes["job_id"], f"not a generation job: {error}", rt)
        return
    dispatch(job, rt)


def dispatch(job: GenerationJob, rt: Services) -> None:
    context = fields(stage="dispatch", job_id=job.job_id)
    current = rt.jobs.get_job(job.job_id)
    if current is None or current.state not in STILL_TO_DRAW or current.gpu_route == GpuRoute.CLOUD_RUN:
        # Drawn, finished, or handed back by an earlier attempt of this message.
        log.info("job not for the endpoint any more", extra={**context, "reason": current and current.state})
        return
    try:
        if not rt.settings.vertex_endpoint:
            raise EndpointUnavailable("VERTEX_ENDPOINT is not set")
        verdict = read_prediction(rt.gpu_endpoint(asdict(job)), job.job_id)
    except EndpointUnavailable as error:
        hand_back(job, str(error), rt)
        return
    if verdict.outcome == Outcome.DRAWN:
        log.info("drawn on the vertex endpoint", extra={**context, "reason": verdict.reason})
    elif verdict.outcome == Outcome.REFUSED:
        fail(job.job_id, verdict.reason, rt)
    else:
        raise GenerationFailed(verdict.reason)


def hand_back(job: GenerationJob, reason: str, rt: Services) -> None:
    context = fields(stage="dispatch", job_id=job.job_id, reason=reason)
    log.warning("vertex endpoint gave no answer; job handed back to cloud run", extra=context)
    rt.publisher.publish(rt.settings.generation_topic, job.to_json(), job_id=job.job_id)
    rt.jobs.set_job_fields(job.job_id, gpu_route=GpuRoute.CLOUD_RUN.value, handed_back=reason[:500])
    rt.config.note_endpoint_failure(rt.now(), reason)  # auto routing rests the endpoint a while
