"""The reads the webhook makes before it answers (flows/telegram_webhook.Lookups), on the
cloud's stores: who asked for a job, an inline query's answer, and the operating mode (a
pre-checkout query is refused while paused)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imagebot.chat import inline
from imagebot.core.ops import Mode
from imagebot.core.updates import InlineQuery
from imagebot.ports import Services


@dataclass(frozen=True)
class WebhookLookups:
    rt: Services

    def requester_of(self, job_id: str) -> int | None:
        job = self.rt.jobs.get_job(job_id)
        return None if job is None else job.user_id

    def inline_answer(self, query: InlineQuery) -> dict[str, Any]:
        return inline.answer_query(query, self.rt)

    def operating_mode(self) -> Mode:
        return self.rt.config.get_ops().mode
