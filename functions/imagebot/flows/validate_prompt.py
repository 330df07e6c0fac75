"""validate_prompt: every update that needs state arrives here from the prompts topic.

Each update is handled to the end once (`updates/<update_id>`); a redelivery after a crash
half-way is handled again, which is safe because each step below is idempotent.
"""

from __future__ import annotations

import logging
from typing import Any

from imagebot.chat import creation
from imagebot.core import registry
from imagebot.core.events import BadEvent, pubsub_data, pubsub_message_id
from imagebot.core.registry import AnsweredBy
from imagebot.core.updates import Button, Command, MalformedUpdate, Prompt, decode_event
from imagebot.logs import fields
from imagebot.runtime import Runtime

log = logging.getLogger(__name__)


def handle_message(data: Any, rt: Runtime) -> None:
    """Entry from a Pub/Sub CloudEvent. Undecodable messages are logged and acknowledged:
    no retry can mend them. Anything else that fails raises, and Pub/Sub redelivers."""
    try:
        event = decode_event(pubsub_data(data))
    except (BadEvent, MalformedUpdate) as error:
        log.error("dropping an undecodable inbound message", extra=fields(stage="validate", error=str(error)))
        return
    if not rt.store.begin_update(event.update_id, rt.now(), pubsub_message_id(data)):
        log.info("duplicate update", extra=fields(stage="validate", update_id=event.update_id))
        return
    match event:
        case Prompt():
            creation.handle_prompt(event, rt)
        case Command():
            handle_command(event, rt)
        case Button():
            handle_button(event, rt)
    rt.store.finish_update(event.update_id)


def handle_command(command: Command, rt: Runtime) -> None:
    declared = registry.command(command.name)
    if declared is None or declared.answered_by is not AnsweredBy.WORKER:
        log.warning("command reached the worker without a handler", extra=fields(reason=command.name))
        return
    registry.handler(declared.handler)(command, rt)


def handle_button(button: Button, rt: Runtime) -> None:
    declared = registry.action(button.action)
    if declared is None:  # parse_update only lets declared actions through
        log.warning("button reached the worker without a handler", extra=fields(reason=button.action))
        return
    if not declared.requester_only:
        registry.handler(declared.handler)(button, rt)
        return
    job = rt.store.get_job(button.args[-1])
    if job is None or job.get("user_id") != button.user_id:
        creation.stale(button, rt)
        return
    registry.handler(declared.handler)(button, job, rt)
