"""Every command and every button action the bot knows, each declared once. Pure.

As in aiogram's routers or python-telegram-bot's handlers, one declaration says what a command
or a button is and who answers it; the webhook, the worker (validate_prompt), the keyboards,
the command menu and `deploy/telegram_setup.py` all read these tables. Adding a command is one
`Cmd(...)` line here, its handler, and its texts (`cmd_<name>` is its menu line).

A handler is named as "module.function" inside the package and imported when first used: this
module stays free of I/O, so the deploy step can read the menu without the functions' libraries.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from imagebot.core import texts
from imagebot.core.payments import PACKS
from imagebot.core.styles import label
from imagebot.core.vocabulary import ASPECTS, CANDIDATE_COUNTS, GRID_SIZE, STYLES

LANGUAGES = tuple(texts.CATALOGUE)
CANDIDATE_NUMBERS = tuple(str(n) for n in range(1, GRID_SIZE + 1))  # ⬆n and 🔀n of a grid
COUNTS = tuple(str(count) for count in CANDIDATE_COUNTS)  # /style: one or four at a time
PACK_IDS = tuple(pack.pack_id for pack in PACKS)  # /buy's buttons


class AnsweredBy(Enum):
    WEBHOOK = "webhook"  # in the webhook response itself (Telegram's reply-in-response): no state
    WORKER = "worker"  # published to the prompts topic, answered by validate_prompt


@dataclass(frozen=True)
class Cmd:
    name: str
    handler: str  # webhook: (Command, Settings, Asker) -> reply; worker: (Command, Runtime) -> None
    answered_by: AnsweredBy
    operator_only: bool = False  # others are told it is unknown; the worker checks again
    in_menu: bool = True  # shown in Telegram's menu, with the text `cmd_<name>` of each language


@dataclass(frozen=True)
class Action:
    """A button: its callback data is `name:arg:arg`, each arg one of `args[i]`, or a job id (None)."""

    name: str
    args: tuple[tuple[str, ...] | None, ...]
    toast: Callable[[str, tuple[str, ...]], str]  # (language, args): shown at once by the webhook
    handler: str  # (Button, Runtime) -> None; requester-only: (Button, job, Runtime) -> None
    # The last argument is a job id and only the job's user may press it: the worker loads the
    # job, says "no longer works" to anyone else (or when it is gone) and hands the job over.
    requester_only: bool = False


def _say(key: str, **values: Callable[[str, tuple[str, ...]], str]) -> Callable[[str, tuple[str, ...]], str]:
    return lambda language, args: texts.render(
        language, key, **{k: v(language, args) for k, v in values.items()}
    )


def _style(language: str, args: tuple[str, ...]) -> str:
    return label(args[0])


def _first(language: str, args: tuple[str, ...]) -> str:
    return args[0]


W, H = AnsweredBy.WORKER, AnsweredBy.WEBHOOK
COMMANDS: tuple[Cmd, ...] = (  # in menu order
    Cmd("start", "flows.telegram_webhook.start_reply", H),
    Cmd("help", "flows.telegram_webhook.help_reply", H),
    *(Cmd(style, "flows.telegram_webhook.shortcut_usage", H) for style in STYLES),  # with a prompt: a Prompt
    Cmd("all", "chat.triptych.draw_all", W),  # the same prompt and seed in every style
    Cmd("style", "chat.account.show_style_menu", W),
    Cmd("limits", "chat.account.show_limits", W),
    # -- Telegram Stars (chat/payments.py): Telegram requires /paysupport and terms of bots that sell
    Cmd("buy", "chat.payments.show_packs", W),
    Cmd("paysupport", "flows.telegram_webhook.paysupport_reply", H),
    Cmd("terms", "flows.telegram_webhook.terms_reply", H, in_menu=False),
    # a user's refundable packs; an operator's `/refund <charge id>` refunds any payment
    Cmd("refund", "chat.payments.refund_command", W, in_menu=False),
    Cmd("history", "chat.account.resend_history", W),
    Cmd("enhance", "chat.account.toggle_enhance", W),
    Cmd("lang", "chat.account.show_language_menu", W),
    Cmd("stats", "chat.operators.show_stats", W, operator_only=True, in_menu=False),
    Cmd("pause", "chat.operators.pause", W, operator_only=True, in_menu=False),
    Cmd("resume", "chat.operators.resume", W, operator_only=True, in_menu=False),
)

ACTIONS: tuple[Action, ...] = (
    # the style for a prompt waiting for one
    Action("style", (STYLES, None), _say("answer_style", style=_style), "chat.creation.choose_style", True),
    # same prompt and style, new seed
    Action("again", (None,), _say("answer_again"), "chat.creation.draw_again", requester_only=True),
    # same prompt, another style, new seed
    Action("other", (STYLES, None), _say("answer_restyle", style=_style), "chat.creation.draw_again", True),
    # same prompt and seed, another style
    Action("same", (STYLES, None), _say("answer_restyle", style=_style), "chat.creation.draw_again", True),
    # the original file as a document
    Action("file", (None,), _say("answer_file"), "chat.creation.send_original", requester_only=True),
    # the English the model drew from, shown in the caption
    Action("drawn", (None,), _say("answer_drawn"), "chat.creation.show_drawn_as", requester_only=True),
    # a failed job, once more
    Action("retry", (None,), _say("answer_again"), "chat.creation.draw_again", requester_only=True),
    # under the status message while the job waits or draws: the job ends cancelled
    Action("cancel", (None,), _say("answer_cancel"), "chat.cancel.cancel", requester_only=True),
    Action("default", (STYLES,), _say("answer_default", style=_style), "chat.account.set_default_style"),
    Action(
        "aspect",
        (ASPECTS,),
        _say("answer_aspect", aspect=lambda language, args: texts.render(language, f"aspect_{args[0]}")),
        "chat.account.set_aspect",
    ),
    # said in the language just chosen
    Action(
        "lang",
        (LANGUAGES,),
        lambda _, args: texts.render(args[0], "language_name") + " ✓",
        "chat.account.set_language",
    ),
    # -- more than one picture (issue 16) --
    # /style: one picture or a 2x2 grid at a time
    Action(
        "count",
        (COUNTS,),
        _say("answer_count", count=lambda language, args: texts.render(language, f"count_{args[0]}")),
        "chat.account.set_candidates",
    ),
    # under a photo: four of the same prompt and style (a grid, new seeds)
    Action("grid", (None,), _say("answer_grid"), "chat.grid.draw_grid", requester_only=True),
    # under a grid: candidate n alone, at full size, from the bucket (no GPU, no charge)
    Action("up", (CANDIDATE_NUMBERS, None), _say("answer_up", n=_first), "chat.grid.send_candidate", True),
    # under a grid: four variations of candidate n (img2img from it at a low strength)
    Action(
        "vary", (CANDIDATE_NUMBERS, None), _say("answer_vary", n=_first), "chat.grid.draw_variations", True
    ),
    # under a photo: the same prompt and seed in all three styles, one album
    Action("all", (None,), _say("answer_all"), "chat.triptych.draw_all_styles", requester_only=True),
    # -- Telegram Stars (chat/payments.py) --
    # /buy: an invoice for that pack
    Action("buy", (PACK_IDS,), _say("answer_buy"), "chat.payments.send_pack_invoice"),
    # /refund: that payment (its checkout.short_id) refunded; the worker checks it is the presser's
    Action("refund", (None,), _say("answer_refund"), "chat.payments.refund_pressed"),
)

_COMMANDS = {command.name: command for command in COMMANDS}
_ACTIONS = {action.name: action for action in ACTIONS}


def command(name: str) -> Cmd | None:
    return _COMMANDS.get(name)


def action(name: str) -> Action | None:
    return _ACTIONS.get(name)


@functools.cache
def handler(dotted: str) -> Callable[..., Any]:
    module, function = dotted.rsplit(".", 1)
    found: Callable[..., Any] = getattr(importlib.import_module(f"imagebot.{module}"), function)
    return found


def menu(language: str) -> list[dict[str, str]]:
    """The setMyCommands list for one language."""
    return [
        {"command": c.name, "description": texts.render(language, f"cmd_{c.name}")}
        for c in COMMANDS
        if c.in_menu
    ]


def menu_calls() -> list[dict[str, Any]]:
    """setMyCommands parameters: the default menu (in the default language), then one per
    catalogue language for users of that language."""
    calls: list[dict[str, Any]] = [{"commands": menu(texts.DEFAULT_LANGUAGE)}]
    calls += [{"commands": menu(language), "language_code": language} for language in LANGUAGES]
    return calls
