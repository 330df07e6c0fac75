"""Inline mode: the rules of answerInlineQuery's results, and what choosing one puts in a chat."""

from __future__ import annotations

import copy
from typing import Any

from local.fake_telegram import _formatting, _markup
from local.fake_telegram._errors import bad_request
from local.fake_telegram._store import Store

QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
MAX_RESULTS = 50
MAX_RESULT_ID_BYTES = 64
MAX_OFFSET_BYTES = 64
# Result types the fake checks and can place; Telegram has more (gif, video, ...), the bot uses these.
_KNOWN_TYPES = ("article", "photo")


def checked_results(store: Store, results: Any) -> list[dict[str, Any]]:
    """The results as Telegram validates them; raises its 400 for the first bad one."""
    if not isinstance(results, list):
        raise bad_request("can't parse inline query results JSON object")
    if len(results) > MAX_RESULTS:
        raise bad_request("RESULTS_TOO_MUCH")
    seen: set[str] = set()
    for result in results:
        if not isinstance(result, dict):
            raise bad_request("can't parse inline query result")
        if "id" not in result:
            raise bad_request("can't parse inline query result: Can't find field \"id\"")
        result_id = result["id"]
        if not isinstance(result_id, str) or not 1 <= len(result_id.encode()) <= MAX_RESULT_ID_BYTES:
            raise bad_request("RESULT_ID_INVALID")
        if result_id in seen:
            raise bad_request("RESULT_ID_DUPLICATE")
        seen.add(result_id)
        _check_result(store, result)
    return copy.deepcopy(results)


def _check_result(store: Store, result: dict[str, Any]) -> None:
    kind = result.get("type")
    if kind not in _KNOWN_TYPES:
        raise bad_request(f"the fake Bot API checks inline results of types {_KNOWN_TYPES}, not {kind!r}")
    if "reply_markup" in result:
        markup = _markup.reply_markup(result["reply_markup"])
        if markup is None or "inline_keyboard" not in markup:
            raise bad_request("can't parse inline query result: reply_markup must be an inline keyboard")
    if kind == "article":
        if not isinstance(result.get("title"), str) or not result["title"]:
            raise bad_request("can't parse inline query result: Can't find field \"title\"")
        content = result.get("input_message_content")
        if not isinstance(content, dict):
            raise bad_request("can't parse inline query result: Can't find field \"input_message_content\"")
        text = content.get("message_text")
        if not isinstance(text, str) or not text.strip():
            raise bad_request("MESSAGE_EMPTY")
        _formatting.message_formatted(text, content.get("parse_mode"))
        return
    if "photo_file_id" in result:  # InlineQueryResultCachedPhoto
        if store.photo_set(str(result["photo_file_id"])) is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
    else:
        for field in ("photo_url", "thumbnail_url"):
            url = result.get(field)
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise bad_request(f"can't parse inline query result: Can't find field \"{field}\"")
    _formatting.caption_formatted(result.get("caption"), result.get("parse_mode"))


def find_result(answer: list[dict[str, Any]] | None, result_id: str) -> dict[str, Any] | None:
    return next((result for result in answer or [] if result["id"] == result_id), None)


def text_content(result: dict[str, Any]) -> dict[str, Any]:
    """The message an article result (or any result's input_message_content) sends."""
    content = result["input_message_content"]
    shown = _formatting.message_formatted(content["message_text"], content.get("parse_mode"))
    message: dict[str, Any] = {"text": shown.text}
    if shown.entities:
        message["entities"] = shown.entities
    return message


def caption_content(result: dict[str, Any]) -> dict[str, Any]:
    caption = _formatting.caption_formatted(result.get("caption"), result.get("parse_mode"))
    if not caption:
        return {}
    message: dict[str, Any] = {"caption": caption.text}
    if caption.entities:
        message["caption_entities"] = caption.entities
    return message
