"""Cloud Functions entry points. Each one unwraps its event and hands it to the package."""

from __future__ import annotations

import functools

import flask
import functions_framework
from cloudevents.http import CloudEvent

from imagebot import admit, deliver, logs, validate, webhook
from imagebot.config import Settings
from imagebot.runtime import Runtime


@functools.cache
def runtime() -> Runtime:
    """One set of clients per instance, made on first use (not at import, for fast cold starts)."""
    logs.configure()
    return Runtime(Settings.from_env())


@functions_framework.http
def telegram_webhook(request: flask.Request) -> tuple[flask.Response, int]:
    """HTTPS endpoint Telegram posts updates to."""
    rt = runtime()
    reply = webhook.handle_webhook(
        request.get_data(), request.headers.get(webhook.SECRET_HEADER), rt.settings, rt.publisher
    )
    return flask.jsonify(reply.body), reply.status


@functions_framework.cloud_event
def validate_prompt(event: CloudEvent) -> None:
    """Pub/Sub `prompts` → checked prompt, job created → Pub/Sub `validated`."""
    validate.handle_message(event.data, runtime())


@functions_framework.cloud_event
def rate_limit(event: CloudEvent) -> None:
    """Pub/Sub `validated` → quota charged, user told → Pub/Sub `generation-jobs`."""
    admit.handle_message(event.data, runtime())


@functions_framework.cloud_event
def deliver_image(event: CloudEvent) -> None:
    """Eventarc `google.cloud.storage.object.v1.finalized` on the images bucket → sendPhoto."""
    deliver.handle_event(event.data, event["id"], runtime())
