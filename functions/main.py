"""Cloud Functions entry points. Each one unwraps its event and hands it to the package."""

from __future__ import annotations

import functools

import functions_framework
import functions_framework.aio
import imagebot.flows.budget_guard
import imagebot.flows.deliver_image
import imagebot.flows.dispatch_vertex
import imagebot.flows.rate_limit
import imagebot.flows.report_failure
import imagebot.flows.report_progress
import imagebot.flows.sweep_stuck_jobs
import imagebot.flows.telegram_webhook
import imagebot.flows.validate_prompt
from cloudevents.http import CloudEvent
from imagebot import logs
from imagebot.chat.lookups import WebhookLookups
from imagebot.config import Settings
from imagebot.edges.pubsub import publisher_client
from imagebot.runtime import Runtime
from starlette.requests import Request
from starlette.responses import JSONResponse


@functools.cache
def runtime() -> Runtime:
    """One set of clients per instance, made on first use (not at import, for fast cold starts)."""
    logs.configure()
    return Runtime(Settings.from_env())


@functions_framework.aio.http
async def telegram_webhook(request: Request) -> JSONResponse:
    """HTTPS endpoint Telegram posts updates to, on an event loop (served by uvicorn); the flow
    reads the body, within its limit (a refused body is never read)."""
    rt = runtime()
    reply = await imagebot.flows.telegram_webhook.handle_request_async(
        request.stream(),
        request.headers.get("content-length"),
        request.headers.get(imagebot.flows.telegram_webhook.SECRET_HEADER),
        rt.settings,
        publisher_client(),
        rt.users_on_loop.get_user,
        WebhookLookups(rt),
    )
    return JSONResponse(reply.body, reply.status)


@functions_framework.cloud_event
def validate_prompt(event: CloudEvent) -> None:
    """Pub/Sub `prompts` → prompts checked and jobs created (→ Pub/Sub `validated`), commands
    and buttons answered."""
    imagebot.flows.validate_prompt.handle_message(event.data, runtime())


@functions_framework.cloud_event
def rate_limit(event: CloudEvent) -> None:
    """Pub/Sub `validated` → quota charged, user told → Pub/Sub `generation-jobs`."""
    imagebot.flows.rate_limit.handle_message(event.data, runtime())


@functions_framework.cloud_event
def dispatch_vertex(event: CloudEvent) -> None:
    """Pub/Sub `vertex-jobs` (jobs routed to the Vertex AI endpoint) → one predict call each;
    the picture lands in the images bucket, or the job goes back to the Cloud Run queue."""
    imagebot.flows.dispatch_vertex.handle_message(event.data, runtime())


@functions_framework.cloud_event
def report_progress(event: CloudEvent) -> None:
    """Pub/Sub `job-progress` (from the GPU service) → the status message says "drawing"."""
    imagebot.flows.report_progress.handle_message(event.data, runtime())


@functions_framework.cloud_event
def report_failure(event: CloudEvent) -> None:
    """Pub/Sub `*-dead` (dead-letter topics) → job failed, user told, with a retry button."""
    imagebot.flows.report_failure.handle_dead_letter(event.data, runtime())


@functions_framework.cloud_event
def sweep_stuck_jobs(event: CloudEvent) -> None:
    """Pub/Sub `sweep`, published by Cloud Scheduler → jobs stuck past their deadline fail."""
    imagebot.flows.sweep_stuck_jobs.sweep(runtime())


@functions_framework.cloud_event
def deliver_image(event: CloudEvent) -> None:
    """Eventarc `google.cloud.storage.object.v1.finalized` on the images bucket → sendPhoto."""
    imagebot.flows.deliver_image.handle_event(event.data, event["id"], runtime())


@functions_framework.cloud_event
def budget_guard(event: CloudEvent) -> None:
    """Pub/Sub `billing-alerts` (Cloud Billing budget) → tell operators, economy mode, or stop the GPU."""
    imagebot.flows.budget_guard.handle_message(event.data, runtime())
