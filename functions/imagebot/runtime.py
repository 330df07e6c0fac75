"""The clients one function instance uses, created lazily once and shared by its requests.

Tests build a Runtime from Settings with the emulator variables set, so the same code talks to
the emulators and the fake Bot API that in the cloud talks to Google and Telegram.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property

from google.cloud import firestore, pubsub_v1, storage

from imagebot.config import ConfigError, Settings
from imagebot.core.pacing import Pacer, PacingPolicy
from imagebot.core.quota import QuotaPolicy
from imagebot.edges.gpu_endpoint import Predict, vertex_predict
from imagebot.edges.inputs import InputStore
from imagebot.edges.pubsub import Publisher
from imagebot.edges.store import (
    AlbumStore,
    CacheStats,
    ConfigStore,
    JobStore,
    PacingStore,
    PaymentStore,
    UserReadsOnLoop,
    UserStore,
)
from imagebot.edges.telegram import BotApi
from imagebot.edges.translation import Translator, vertex_generate


def utc_now() -> datetime:
    return datetime.now(UTC)


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @staticmethod
    def now() -> datetime:
        return utc_now()

    @cached_property
    def db(self) -> firestore.Client:
        return firestore.Client(project=self.settings.project)

    @cached_property
    def jobs(self) -> JobStore:
        return JobStore(self.db)

    @cached_property
    def users(self) -> UserStore:
        return UserStore(self.db)

    @cached_property
    def users_on_loop(self) -> UserReadsOnLoop:
        """For the ASGI webhook: users' settings read without blocking its event loop."""
        return UserReadsOnLoop(self.db)

    @cached_property
    def cache(self) -> CacheStats:
        return CacheStats(self.db)

    @cached_property
    def pacing(self) -> PacingStore:
        return PacingStore(self.db)

    @cached_property
    def config(self) -> ConfigStore:
        return ConfigStore(self.db)

    @cached_property
    def publisher(self) -> Publisher:
        return Publisher(pubsub_v1.PublisherClient(), self.settings.project)

    @cached_property
    def bot(self) -> BotApi:
        if not self.settings.bot_token:
            raise ConfigError("environment variable TELEGRAM_BOT_TOKEN is required to call the Bot API")
        return BotApi(
            self.settings.bot_token,
            self.settings.telegram_api_base,
            timeout=self.settings.telegram_timeout_seconds,
            max_retry_after=self.settings.telegram_max_wait_seconds,
            # One wait limit: a slot further off than a 429 we would wait out is refused alike.
            pace=Pacer(
                self.pacing.reserve_slot,
                PacingPolicy(max_wait=self.settings.telegram_max_wait_seconds),
            ),
        )

    @cached_property
    def translator(self) -> Translator | None:
        """None when TRANSLATE_MODEL is unset: prompts are drawn as written."""
        s = self.settings
        if not s.translate_model:
            return None
        return Translator(
            vertex_generate(
                s.project,
                s.vertex_region,
                s.translate_model,
                s.translate_timeout_seconds,
                s.vertex_api_endpoint,
            ),
            model=s.translate_model,
            cached=lambda key: self.cache.cached_translation(key, self.now()),
            remember=lambda key, english: self.cache.remember_translation(key, english, self.now()),
            count=self.cache.count_translation,
        )

    @cached_property
    def gpu_endpoint(self) -> Predict:
        """The Vertex AI endpoint's predict, for jobs routed there (flows/dispatch_vertex.py)."""
        s = self.settings
        return vertex_predict(
            s.vertex_endpoint,
            s.vertex_endpoint_region,
            s.vertex_predict_timeout_seconds,
            s.vertex_api_endpoint,
        )

    @cached_property
    def storage(self) -> storage.Client:
        return storage.Client(project=self.settings.project)

    @cached_property
    def inputs(self) -> InputStore:
        """Users' prepared photos, inputs/<job_id>.jpg in the images bucket."""
        return InputStore(self.storage.bucket(self.settings.images_bucket))

    @cached_property
    def albums(self) -> AlbumStore:
        return AlbumStore(self.db)

    @cached_property
    def payments(self) -> PaymentStore:
        return PaymentStore(self.db)

    @property
    def quota_policy(self) -> QuotaPolicy:
        s = self.settings
        return QuotaPolicy(
            burst=s.rate_burst, refill_seconds=s.rate_refill_seconds, daily_limit=s.daily_quota
        )

    def download(self, bucket: str, name: str) -> bytes:
        data: bytes = self.storage.bucket(bucket).blob(name).download_as_bytes(timeout=30)
        return data
