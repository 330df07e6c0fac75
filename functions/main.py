"""Cloud Functions entry points. Each one unwraps its event and hands it to the package."""

from __future__ import annotations

import functools
import json

import flask
import functions_framework
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
from imagebot.config import Settings
from imagebot.runtime import Runtime


@functools.cache
def runtime() -> Runtime:
    """One set of clients per instance, made on first use (not at import, for fast cold starts)."""
    logs.configure()
    return Runtime(Settings.from_env())


@functions_framework.http
def telegram_webhook(request: flask.Request) -> flask.Response | tuple[flask.Response, int]:
    """HTTPS endpoint Telegram posts updates to; the flow reads the body, within its limit."""
    rt = runtime()
    reply = imagebot.flows.telegram_webhook.handle_request(
        request.stream.read,
        request.content_length,
        request.headers.get(imagebot.flows.telegram_webhook.SECRET_HEADER),
        rt.settings,
        rt.publisher,
        rt.users.chosen_language,
    )
    if not reply.body_read:
        # functions-framework reads whatever body is left before answering (its read_request
        # hook) unless the answer streams: a refused body stays unread here (gunicorn 27 then
        # discards at most 64 KiB of it and closes the connection).
        return flask.Response(iter([json.dumps(reply.body)]), reply.status, mimetype="application/json")
    return flask.jsonify(reply.body), reply.status


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
