"""Where the bot answers: the chat, the forum topic and the message it replies to. Pure.

Every message the bot sends goes to an `AnswerTo`, built once from the update (`of_event`) or
from the job (`of_job`); edges/telegram.BotApi's send_* and the webhook's reply-in-response
take it and turn it into the Bot API's fields (`params`). So a prompt sent in a forum topic
gets its status, photo, refusals and apologies in that topic, not in the General one, and a
new flow that sends through it is right in topics without knowing about them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol, Self


class _Addressed(Protocol):
    """What an inbound event (core/updates: Prompt, Command, Button) says about where it came from."""

    @property
    def chat_id(self) -> int: ...
    @property
    def message_id(self) -> int: ...
    @property
    def message_thread_id(self) -> int | None: ...


class _JobAddress(Protocol):
    """What a job (core/jobs.Job) keeps of its prompt's place."""

    @property
    def chat_id(self) -> int: ...
    @property
    def message_id(self) -> int | None: ...
    @property
    def message_thread_id(self) -> int | None: ...


@dataclass(frozen=True)
class AnswerTo:
    chat_id: int
    message_thread_id: int | None = None  # the forum topic; None: the chat itself (or General)
    reply_to: int | None = None  # the message quoted; None: no quote

    @classmethod
    def of_event(cls, event: _Addressed) -> Self:
        """An answer to an update (a command, a button press): in its topic, and, where several
        people talk (a group: Telegram's group ids are negative), quoting the message it answers,
        so the asker sees it is theirs. A private chat has one person and gets no quote."""
        reply_to = event.message_id if event.chat_id < 0 else None
        return cls(event.chat_id, event.message_thread_id, reply_to)

    @classmethod
    def of_job(cls, job: _JobAddress) -> Self:
        """An answer about a job (its status, photo, refusal, apology): in the prompt's topic,
        quoting the prompt."""
        return cls(job.chat_id, job.message_thread_id, job.message_id)

    def quoting(self, message_id: int | None) -> Self:
        """The same place, quoting another message (the photo, say), or none."""
        return replace(self, reply_to=message_id)

    def params(self, *, quote: bool = True) -> dict[str, Any]:
        """The Bot API's fields for it (sendMessage, sendPhoto, sendDocument; sendChatAction
        with `quote=False`). A quoted message deleted meanwhile must not cost the answer."""
        fields: dict[str, Any] = {"chat_id": self.chat_id}
        if self.message_thread_id is not None:
            fields["message_thread_id"] = self.message_thread_id
        if quote and self.reply_to is not None:
            fields["reply_parameters"] = {"message_id": self.reply_to, "allow_sending_without_reply": True}
        return fields
