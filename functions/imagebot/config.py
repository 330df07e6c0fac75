"""Every setting the functions read, from the environment, in one place.

Secrets (the bot token and the webhook secret) come from Secret Manager in the cloud, mounted as
environment variables, and from the environment locally; they are never logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field


class ConfigError(RuntimeError):
    pass


@dataclass(frozen=True)
class Settings:
    project: str
    bot_token: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    images_bucket: str
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

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise ConfigError(f"environment variable {name} is required")
            return value

        return cls(
            project=env.get("GOOGLE_CLOUD_PROJECT") or required("GCP_PROJECT"),
            bot_token=required("TELEGRAM_BOT_TOKEN"),
            webhook_secret=required("TELEGRAM_WEBHOOK_SECRET"),
            images_bucket=required("IMAGES_BUCKET"),
            telegram_api_base=env.get("TELEGRAM_API_BASE", cls.telegram_api_base).rstrip("/"),
            prompts_topic=env.get("PROMPTS_TOPIC", cls.prompts_topic),
            validated_topic=env.get("VALIDATED_TOPIC", cls.validated_topic),
            generation_topic=env.get("GENERATION_TOPIC", cls.generation_topic),
            prompt_min_chars=int(env.get("PROMPT_MIN_CHARS", cls.prompt_min_chars)),
            prompt_max_chars=int(env.get("PROMPT_MAX_CHARS", cls.prompt_max_chars)),
            rate_burst=int(env.get("RATE_BURST", cls.rate_burst)),
            rate_refill_seconds=float(env.get("RATE_REFILL_SECONDS", cls.rate_refill_seconds)),
            daily_quota=int(env.get("DAILY_QUOTA", cls.daily_quota)),
            telegram_timeout_seconds=float(env.get("TELEGRAM_TIMEOUT_SECONDS", cls.telegram_timeout_seconds)),
        )
