"""validate_prompt: every update that needs state arrives here from the prompts topic.

Each update is handled to the end once (`updates/<update_id>`); a redelivery after a crash
half-way is handled again, which is safe because each step below is idempotent.
"""

from __future__ import annotations

import logging
from typing import Any

from imagebot import account, creation, operators
from imagebot.events import BadEvent, pubsub_data, pubsub_message_id
from imagebot.logs import fields
from imagebot.runtime import Runtime
from imagebot.updates import Button, Command, MalformedUpdate, Prompt, decode_event

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
    handlers = {
        "style": account.show_style_menu,
        "lang": account.show_language_menu,
        "limits": account.show_limits,
        "history": account.resend_history,
        "enhance": account.toggle_enhance,
        "stats": operators.show_stats,
        "pause": operators.pause,
        "resume": operators.resume,
    }
    handler = handlers.get(command.name)
    if handler is None:
        log.warning("command reached the worker without a handler", extra=fields(reason=command.name))
        return
    handler(command, rt)


def handle_button(button: Button, rt: Runtime) -> None:
    handlers = {
        "style": creation.choose_style,
        "again": creation.draw_again,
        "retry": creation.draw_again,
        "other": creation.draw_again,
        "same": creation.draw_again,
        "file": creation.send_original,
        "drawn": creation.show_drawn_as,
        "default": account.set_default_style,
        "aspect": account.set_aspect,
        "lang": account.set_language,
    }
    handlers[button.action](button, rt)
