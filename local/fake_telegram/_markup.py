"""Reply markup as Telegram checks it; only inline keyboards are shown on the sent message."""

from __future__ import annotations

from typing import Any

from local.fake_telegram._errors import bad_request

_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_KINDS = ("inline_keyboard", "keyboard", "remove_keyboard", "force_reply")


def reply_markup(value: Any) -> dict[str, Any] | None:
    """The validated markup, or None when absent; raises Telegram's 400 for a bad one."""
    if value is None:
        return None
    if not isinstance(value, dict) or not any(kind in value for kind in _KINDS):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in value:
        _check_inline_keyboard(value["inline_keyboard"])
    return value


def _check_inline_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" must be an Array of Array')
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
            actions = [action for action in _BUTTON_ACTIONS if action in button]
            if len(actions) != 1:
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
            if "callback_data" in button:
                data = button["callback_data"]
                # The 64-byte limit counts UTF-8 bytes: a trap for callback data holding prompts.
                if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                    raise bad_request("BUTTON_DATA_INVALID")
            if "url" in button:
                url = button["url"]
                if not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://")):
                    raise bad_request("BUTTON_URL_INVALID")


def shown_on_message(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    """Telegram echoes only an inline keyboard in the Message it returns."""
    if markup and "inline_keyboard" in markup:
        return {"inline_keyboard": markup["inline_keyboard"]}
    return None


def callback_data(message: dict[str, Any]) -> set[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return {button["callback_data"] for row in rows for button in row if "callback_data" in button}
