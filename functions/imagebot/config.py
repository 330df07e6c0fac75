"""Every setting the functions read, from the environment, in one place.

Secrets (the bot token and the webhook secret) come from Secret Manager in the cloud, mounted as
environment variables, and from the environment locally; they are never logged.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from imagebot.core.photos import PhotoLimits
from imagebot.core.routing import ROUTE_SETTINGS
from imagebot.core.updates import TEXT_MAX_CHARS


class ConfigError(RuntimeError):
    pass


@dataclass(frozen=True)
class Settings:
    project: str
    images_bucket: str
    # Each function is given only the secret it uses (terraform/secrets.tf): the webhook the
    # secret, the others the token. Whoever uses one refuses to run without it.
    bot_token: str = field(default="", repr=False)
    webhook_secret: str = field(default="", repr=False)
    telegram_api_base: str = "https://api.telegram.org"
    prompts_topic: str = "prompts"
    validated_topic: str = "validated"
    generation_topic: str = "generation-jobs"
    prompt_min_chars: int = 2
    prompt_max_chars: int = 500
    rate_burst: int = 3
    rate_refill_seconds: float = 20.0
    daily_quota: int = 50
    telegram_timeout_seconds: float = 15.0
    # The longest 429 retry_after the Bot API client waits out in the call itself; a longer
    # one is raised with its retry_after, and the photo is tried again that much later.
    telegram_max_wait_seconds: float = 30.0
    # A photo that could not be sent (5xx, timeout) is tried again after a doubling backoff from
    # the first figure up to the second (or after a 429's retry_after), by the sweep or Eventarc.
    delivery_retry_initial_seconds: float = 10.0
    delivery_retry_max_seconds: float = 300.0
    bot_username: str = ""  # without "@"; lets the bot see mentions and commands meant for it in groups
    operator_ids: frozenset[int] = frozenset()  # users who may /stats, /pause and /resume
    job_deadline_seconds: float = 900.0  # an admitted job not drawn by then is failed and reported
    # The billing guard (budget_guard): where it reports, and the workflow it starts at 100%.
    ops_chat_id: int | None = None
    support_contact: str = ""  # how buyers reach the operators (/paysupport): "@name" or an address
    region: str = ""
    budget_workflow: str = "budget-guard"
    budget_topic: str = "billing-alerts"  # the guard's topic: budget notifications, /resume requests
    budget_economy_at: float = 0.9
    budget_stop_at: float = 1.0
    workflows_api_endpoint: str = ""  # empty: the Workflows API; set: a local workflows-emulator
    # Prompt translation (translation.py) with Gemini on Vertex AI. Empty model: off, and
    # prompts go to the GPU as the user wrote them.
    translate_model: str = ""
    vertex_region: str = "us-central1"
    vertex_api_endpoint: str = ""  # empty: Vertex AI; set: a local stand-in (tests, the local stack)
    translate_timeout_seconds: float = 3.0
    # The second GPU home (routing.py): the same container on a Vertex AI endpoint.
    gpu_route: str = "cloudrun"  # cloudrun | vertex | auto
    vertex_endpoint: str = ""  # projects/<p>/locations/<region>/endpoints/<id>; needed for vertex and auto
    vertex_jobs_topic: str = "vertex-jobs"  # jobs routed to the endpoint; dispatch_vertex sends them on
    overflow_queue_age_seconds: float = 60.0  # auto: overflow once the oldest Cloud Run job waited this long
    vertex_predict_timeout_seconds: float = 300.0  # one predict call: a cold replica loads three styles
    # A user's photo (core/photos.py): what is downloaded and what is drawn. The reasons behind
    # each default are PhotoLimits'; the file cap is also the download's (getFile's 20 MB).
    photo_max_bytes: int = PhotoLimits.max_file_bytes
    photo_max_pixels: int = PhotoLimits.max_pixels
    photo_min_side: int = PhotoLimits.min_side
    photo_max_aspect: float = PhotoLimits.max_aspect
    # An album (up to ten photos in Telegram) makes one job per photo for its first few only:
    # each is a charged picture, and ten at once would empty a day's quota by surprise.
    album_max_photos: int = 4

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise ConfigError(f"environment variable {name} is required")
            return value

        settings = cls(
            project=env.get("GOOGLE_CLOUD_PROJECT") or required("GCP_PROJECT"),
            bot_token=env.get("TELEGRAM_BOT_TOKEN", "").strip(),
            webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET", "").strip(),
            images_bucket=required("IMAGES_BUCKET"),
            telegram_api_base=env.get("TELEGRAM_API_BASE", cls.telegram_api_base).rstrip("/"),
            prompts_topic=env.get("PROMPTS_TOPIC", cls.prompts_topic),
            validated_topic=env.get("VALIDATED_TOPIC", cls.validated_topic),
            generation_topic=env.get("GENERATION_TOPIC", cls.generation_topic),
            prompt_min_chars=int(env.get("PROMPT_MIN_CHARS", cls.prompt_min_chars)),
            prompt_max_chars=prompt_max_chars(int(env.get("PROMPT_MAX_CHARS", cls.prompt_max_chars))),
            rate_burst=int(env.get("RATE_BURST", cls.rate_burst)),
            rate_refill_seconds=float(env.get("RATE_REFILL_SECONDS", cls.rate_refill_seconds)),
            daily_quota=int(env.get("DAILY_QUOTA", cls.daily_quota)),
            telegram_timeout_seconds=float(env.get("TELEGRAM_TIMEOUT_SECONDS", cls.telegram_timeout_seconds)),
            telegram_max_wait_seconds=float(
                env.get("TELEGRAM_MAX_WAIT_SECONDS", cls.telegram_max_wait_seconds)
            ),
            delivery_retry_initial_seconds=float(
                env.get("DELIVERY_RETRY_INITIAL_SECONDS", cls.delivery_retry_initial_seconds)
            ),
            delivery_retry_max_seconds=float(
                env.get("DELIVERY_RETRY_MAX_SECONDS", cls.delivery_retry_max_seconds)
            ),
            bot_username=env.get("BOT_USERNAME", "").strip().lstrip("@"),
            job_deadline_seconds=float(env.get("JOB_DEADLINE_SECONDS", cls.job_deadline_seconds)),
            operator_ids=frozenset(int(i) for i in env.get("OPERATOR_IDS", "").replace(",", " ").split()),
            ops_chat_id=int(env["OPS_CHAT_ID"]) if env.get("OPS_CHAT_ID", "").strip() else None,
            support_contact=env.get("SUPPORT_CONTACT", "").strip(),
            region=env.get("REGION", cls.region),
            budget_workflow=env.get("BUDGET_WORKFLOW", cls.budget_workflow),
            budget_topic=env.get("BUDGET_TOPIC", cls.budget_topic),
            budget_economy_at=float(env.get("BUDGET_ECONOMY_AT", cls.budget_economy_at)),
            budget_stop_at=float(env.get("BUDGET_STOP_AT", cls.budget_stop_at)),
            workflows_api_endpoint=env.get("WORKFLOWS_API_ENDPOINT", cls.workflows_api_endpoint),
            translate_model=env.get("TRANSLATE_MODEL", cls.translate_model).strip(),
            vertex_region=env.get("VERTEX_REGION", "").strip() or cls.vertex_region,
            vertex_api_endpoint=env.get("VERTEX_API_ENDPOINT", cls.vertex_api_endpoint).strip(),
            translate_timeout_seconds=float(
                env.get("TRANSLATE_TIMEOUT_SECONDS", cls.translate_timeout_seconds)
            ),
            gpu_route=gpu_route(
                env.get("GPU_ROUTE", "").strip() or cls.gpu_route, env.get("VERTEX_ENDPOINT", "").strip()
            ),
            vertex_endpoint=env.get("VERTEX_ENDPOINT", "").strip(),
            vertex_jobs_topic=env.get("VERTEX_JOBS_TOPIC", cls.vertex_jobs_topic),
            overflow_queue_age_seconds=float(
                env.get("OVERFLOW_QUEUE_AGE_SECONDS", cls.overflow_queue_age_seconds)
            ),
            vertex_predict_timeout_seconds=float(
                env.get("VERTEX_PREDICT_TIMEOUT_SECONDS", cls.vertex_predict_timeout_seconds)
            ),
            photo_max_bytes=int(env.get("PHOTO_MAX_BYTES", cls.photo_max_bytes)),
            photo_max_pixels=int(env.get("PHOTO_MAX_PIXELS", cls.photo_max_pixels)),
            photo_min_side=int(env.get("PHOTO_MIN_SIDE", cls.photo_min_side)),
            photo_max_aspect=float(env.get("PHOTO_MAX_ASPECT", cls.photo_max_aspect)),
            album_max_photos=int(env.get("ALBUM_MAX_PHOTOS", cls.album_max_photos)),
        )
        settings.photo_limits  # noqa: B018 -- photo limits out of range fail at start-up, not at the first photo
        return settings

    @property
    def photo_limits(self) -> PhotoLimits:
        """What prepare_photo checks a user's file against; out of range is a ConfigError."""
        try:
            return PhotoLimits(
                max_file_bytes=self.photo_max_bytes,
                max_pixels=self.photo_max_pixels,
                min_side=self.photo_min_side,
                max_aspect=self.photo_max_aspect,
            )
        except ValueError as error:
            raise ConfigError(str(error)) from None

    @property
    def vertex_endpoint_region(self) -> str:
        """The endpoint's own region (its API host), which may differ from Gemini's."""
        found = _ENDPOINT.match(self.vertex_endpoint)
        return found.group("region") if found else ""


_ENDPOINT = re.compile(r"^projects/[^/]+/locations/(?P<region>[a-z0-9-]+)/endpoints/[^/]+$")


def prompt_max_chars(limit: int) -> int:
    """PROMPT_MAX_CHARS within what the webhook lets through, so a prompt under it is never
    refused there (400) instead of drawn."""
    if not 0 < limit <= TEXT_MAX_CHARS:
        raise ConfigError(f"PROMPT_MAX_CHARS must be between 1 and {TEXT_MAX_CHARS}, not {limit}")
    return limit


def gpu_route(route: str, endpoint: str) -> str:
    """GPU_ROUTE, checked against VERTEX_ENDPOINT: a route to nowhere fails at start-up, not
    at the first overflow."""
    if route not in ROUTE_SETTINGS:
        raise ConfigError(f"GPU_ROUTE must be one of {', '.join(ROUTE_SETTINGS)}, not {route!r}")
    if endpoint and not _ENDPOINT.match(endpoint):
        raise ConfigError("VERTEX_ENDPOINT must be projects/<project>/locations/<region>/endpoints/<id>")
    if route != "cloudrun" and not endpoint:
        raise ConfigError(f"GPU_ROUTE={route} needs VERTEX_ENDPOINT")
    return route
