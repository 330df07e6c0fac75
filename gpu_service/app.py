"""The HTTP edge: health checks, Pub/Sub push deliveries and Vertex AI predictions of jobs.

    GET  /healthz  200 while the process runs (liveness); cheap, never touches the engine
    GET  /readyz   503 until the engine is loaded and warm, then 200 (startup probe)
    POST /         a push delivery:
                   200 generated | skipped (the output already existed) | rejected (the
                       safety checker flagged the picture) | input_missing (the job's input
                       object is gone): either way the job is rejected and the user told,
                       never worth a retry | cancelled (the user cancelled the job: nothing
                       drawn or written): acknowledged
                   400 not a push envelope, not a job of the contract, a blocked prompt, a
                       picture broken twice, or an input that is no picture (the body says
                       which)
                   503 the engine is not warm yet
                   500 generation or storage failed (this job only: a batch's other jobs
                       are answered on their own)
Pub/Sub acknowledges on 2xx and redelivers on anything else, with backoff, until the
subscription's dead-letter policy moves the message to the dead-letter topic, where the
failure reporter tells the user. So a bad message is answered 400 (after a few redeliveries it
reaches the user as a failure) and a transient failure 500 or 503 (a redelivery may succeed).

On a Vertex AI endpoint (settings.vertex_routes, from AIP_HEALTH_ROUTE and AIP_PREDICT_ROUTE)
the app serves two more routes, beside the ones above (Vertex forwards only its own two, so
the push route is unreachable there, and one image runs on both platforms unchanged):
    GET  AIP_HEALTH_ROUTE   as /readyz: Vertex sends no prediction until it answers 200
    POST AIP_PREDICT_ROUTE  {"instances": [job, ...]} -> 200 {"predictions": [...]} (prediction.py)
                            400 not a prediction request; 503 the engine is not warm yet
Both routes run a job through the same blocklist check, process_job and micro-batcher, and
leave the same output object: delivery cannot tell them apart.

The service is private: Cloud Run checks the push subscription's OIDC token before a request
gets here, so the app does no authentication of its own.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask, Response, request
from google.cloud import firestore, storage

from gpu_service import blocklist, logs, prediction
from gpu_service.batching import BatchEngine, BatchingEngine, BatchPolicy
from gpu_service.clients import CloudClients
from gpu_service.config import Settings
from gpu_service.contract import ContractError, GenerationJob
from gpu_service.images import ImageGenerator
from gpu_service.jobs import JobDocuments
from gpu_service.progress import ProgressReporter, PubSubProgress, SilentProgress
from gpu_service.pubsub import BadEnvelope, parse_push
from gpu_service.readiness import EngineWarmup
from gpu_service.refusals import BlockedPrompt, JobRefused
from gpu_service.service import Outcome, process_job
from gpu_service.storage import OutputBucket
from gpu_service.vocabulary import FLAGGED, INPUT_MISSING

log = logging.getLogger(__name__)

# How long a push waits for a warming engine before it is sent back for redelivery. Short:
# each waiting request holds one of the server's few threads.
READY_TIMEOUT_SECONDS = 10.0
# A job message is well under 1 KiB; a prediction of prediction.MAX_INSTANCES jobs too (Vertex
# itself caps a request at 1.5 MB).
MAX_BODY_BYTES = 256 * 1024


def create_app(
    settings: Settings,
    engine: BatchEngine | None = None,
    *,
    load_engine: Callable[[Settings], BatchEngine] | None = None,
    storage_client: storage.Client | None = None,
    firestore_client: firestore.Client | None = None,
    ready_timeout: float = READY_TIMEOUT_SECONDS,
) -> Flask:
    """The app, with its engine loading (or `engine` warming) in a background thread.

    `engine` hands in a loaded engine (tests share one); `load_engine` replaces the loader.
    Either way, jobs reach the engine through a micro-batcher (settings.batch_*).
    """
    if engine is not None and load_engine is not None:
        raise ValueError("pass an engine or a loader, not both")
    policy = BatchPolicy(settings.batch_max_size, settings.batch_window_ms / 1000)
    loader = load_engine or _load_configured_engine

    def load() -> ImageGenerator:
        return BatchingEngine(engine if engine is not None else loader(settings), policy)

    warmup = EngineWarmup(load)
    warmup.start()
    clients = CloudClients(settings.project, storage_client=storage_client, firestore_client=firestore_client)
    progress: ProgressReporter = (
        PubSubProgress(clients.publisher(), settings.project, settings.progress_topic)
        if settings.progress_topic
        else SilentProgress()
    )

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES

    @app.get("/healthz")
    def healthz() -> Response:
        return _text("ok", 200)

    @app.get("/readyz")
    def readyz() -> Response:
        if warmup.ready:
            return _text("ready", 200)
        if warmup.failure is not None:
            return _text(f"engine failed to load: {warmup.failure}", 503)
        return _text("warming up", 503)

    def traced() -> contextlib.AbstractContextManager[None]:
        """The request's trace id on every log line it writes (Cloud Logging links them)."""
        trace = logs.trace_field(
            request.headers.get("X-Cloud-Trace-Context", ""),
            request.headers.get("traceparent", ""),
            settings.project,
        )
        return logs.context(**{logs.TRACE_FIELD: trace})

    @app.post("/")
    def receive_push() -> Response:
        with traced():
            try:
                message = parse_push(request.get_data(cache=False))
            except BadEnvelope as error:
                return _rejected(str(error), message_id=None)
            with logs.context(message_id=message.message_id, delivery_attempt=message.delivery_attempt):
                try:
                    job = GenerationJob.from_json(message.data)
                except ContractError as error:
                    return _rejected(str(error), message_id=message.message_id)
                with logs.context(job_id=job.job_id):
                    term = blocklist.blocked_term(job.prompt)
                    if term is not None:
                        return _refused(BlockedPrompt(term))
                    return _generate(job)

    def _process(job: GenerationJob, engine: ImageGenerator) -> tuple[Outcome, OutputBucket]:
        outputs = OutputBucket(clients.storage().bucket(settings.images_bucket))
        outcome = process_job(
            job,
            engine=engine,
            outputs=outputs,
            jobs=JobDocuments(clients.firestore(), settings.jobs_collection),
            progress=progress,
        )
        return outcome, outputs

    def _generate(job: GenerationJob) -> Response:
        ready = warmup.wait(ready_timeout)
        if ready is None:
            log.warning("engine not ready; the job goes back to Pub/Sub", extra={"reason": warmup.failure})
            return _text("engine not ready", 503)
        try:
            outcome, _ = _process(job, ready)
        except JobRefused as refusal:
            return _refused(refusal)
        except Exception:
            # Whatever failed (CUDA out of memory, a storage or Firestore error), the process
            # lives on and the message is redelivered: later attempts may succeed.
            log.exception("generation failed; Pub/Sub will redeliver the job")
            return _text("generation failed", 500)
        return _text(outcome.value, 200)

    def predict() -> Response:
        with traced():
            try:
                instances = prediction.parse_request(request.get_data(cache=False))
            except prediction.BadPredictRequest as error:
                log.warning("prediction rejected: %s", error, extra={"reason": str(error)})
                return _json({"error": f"bad request: {error}"}, 400)
            ready = warmup.wait(ready_timeout)
            if ready is None:
                # The whole request: the caller retries it (a retry of a done job is a skip).
                log.warning("engine not ready; prediction refused", extra={"reason": warmup.failure})
                return _json({"error": "engine not ready"}, 503)
            # One thread per instance, so that the instances reach the micro-batcher together
            # and share pipeline calls, as concurrent pushes do. Each thread runs in a copy of
            # this request's log context (a new thread would start with an empty one).
            with ThreadPoolExecutor(max_workers=len(instances), thread_name_prefix="predict") as pool:
                futures = [
                    pool.submit(contextvars.copy_context().run, _predict_one, instance, ready)
                    for instance in instances
                ]
                predictions = [future.result() for future in futures]
            return _json(prediction.response_body(predictions), 200)

    def _predict_one(instance: prediction.Instance, engine: ImageGenerator) -> dict[str, Any]:
        if instance.job is None:
            reason = f"bad request: {instance.problem}"
            log.warning("instance rejected: %s", instance.problem, extra={"reason": instance.problem})
            return prediction.failed(instance.job_id, reason, retryable=False)
        job = instance.job
        with logs.context(job_id=job.job_id):
            try:
                term = blocklist.blocked_term(job.prompt)
                if term is not None:
                    raise BlockedPrompt(term)
                outcome, outputs = _process(job, engine)
                if outcome in (Outcome.REJECTED, Outcome.INPUT_MISSING):
                    # Final and already told: the caller must neither retry it nor tell again.
                    reason = FLAGGED if outcome is Outcome.REJECTED else INPUT_MISSING
                    return prediction.failed(job.job_id, f"refused: {reason}", retryable=False)
                if outcome is Outcome.CANCELLED:
                    # Nothing to draw, nothing to tell: "skipped", with no object.
                    return prediction.done(job.job_id, Outcome.SKIPPED.value, None)
            except JobRefused as refusal:
                _log_refusal(refusal)
                return prediction.failed(job.job_id, f"refused: {refusal.reason}", retryable=False)
            except Exception:
                log.exception("generation failed; the caller may retry the job")
                return prediction.failed(job.job_id, "generation failed", retryable=True)
            # The name (and so the extension) the caller can fetch; one listing, after the work.
            return prediction.done(job.job_id, outcome.value, outputs.existing_output(job.job_id))

    if settings.vertex_routes is not None:
        app.add_url_rule(settings.vertex_routes.health, "vertex_health", readyz, methods=["GET"])
        app.add_url_rule(settings.vertex_routes.predict, "vertex_predict", predict, methods=["POST"])

    return app


def _rejected(reason: str, message_id: str | None) -> Response:
    log.warning("push rejected: %s", reason, extra={"reason": reason, "message_id": message_id})
    return _text(f"bad request: {reason}", 400)


def _refused(refusal: JobRefused) -> Response:
    # 400: never worth a retry. Pub/Sub redelivers until the dead-letter policy gives up, and
    # the failure reporter then tells the user.
    _log_refusal(refusal)
    return _text(f"refused: {refusal.reason}", 400)


def _log_refusal(refusal: JobRefused) -> None:
    term = refusal.term if isinstance(refusal, BlockedPrompt) else None
    log.warning("job refused: %s", refusal.reason, extra={"reason": refusal.reason, "term": term})


def _json(body: dict[str, Any], status: int) -> Response:
    return Response(json.dumps(body) + "\n", status=status, mimetype="application/json")


def _text(body: str, status: int) -> Response:
    return Response(body + "\n", status=status, mimetype="text/plain")


def _load_configured_engine(settings: Settings) -> BatchEngine:
    # Imported here, in the loading thread: torch and diffusers take seconds to import, and
    # the server should answer /healthz meanwhile.
    logs.route_library_logs()
    from gpu_service.loading import load_engine
    from gpu_service.styles import STYLES_BY_ID, with_paths

    return load_engine(
        settings.model_dir,
        device=settings.torch_device,
        styles=with_paths(STYLES_BY_ID, dict(settings.style_paths)),
        cache_dir=settings.model_cache_dir,
        compile_unet=settings.torch_compile,
        warm_up_batch=settings.batch_max_size,
        warm_up=settings.warm_up,
        step_progress=settings.step_progress,
        tiny_flag_word=settings.tiny_flag_word,
    )
