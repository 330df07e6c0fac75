"""What Telegram does to outgoing text: parse `parse_mode`, refuse what it cannot parse, check limits.

Telegram answers `400 Bad Request: can't parse entities: ...` for an unescaped reserved character
in MarkdownV2 or an unknown tag in HTML: the most common way a bot's message silently never
arrives. The fake parses the same grammar (simplified: no custom emoji, no expandable quotes) so
such a bug fails a test here instead of in production. Messages keep the plain text Telegram
would show, with the MessageEntity list Telegram returns beside it for HTML (the bot's mode; the
Markdown modes give plain text only); the raw text stays in the call log.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any, NamedTuple

from local.fake_telegram._errors import BotApiError, bad_request

MAX_TEXT = 4096
MAX_CAPTION = 1024

_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "*": "Bold",
    "_": "Italic",
    "__": "Underline",
    "~": "Strikethrough",
    "||": "Spoiler",
    "[": "TextUrl",
}
_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
    }
)

# The only named entities Telegram resolves.
_HTML_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def utf16_len(text: str) -> int:
    """Telegram counts lengths and entity offsets in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


class Formatted(NamedTuple):
    """What a client shows: the plain text and its MessageEntity list (offsets in UTF-16 units)."""

    text: str
    entities: list[dict[str, Any]]


def message_formatted(text: str, parse_mode: str | None) -> Formatted:
    shown = _stripped(formatted(text, parse_mode))
    if not shown.text:
        raise bad_request("message text is empty")
    if utf16_len(shown.text) > MAX_TEXT:
        raise bad_request("message is too long")
    return shown


def caption_formatted(caption: str | None, parse_mode: str | None) -> Formatted | None:
    if caption is None:
        return None
    shown = _stripped(formatted(caption, parse_mode))
    if utf16_len(shown.text) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    return shown if shown.text else None


def message_text(text: str, parse_mode: str | None) -> str:
    return message_formatted(text, parse_mode).text


def caption_text(caption: str | None, parse_mode: str | None) -> str | None:
    shown = caption_formatted(caption, parse_mode)
    return shown.text if shown else None


def plain_text(text: str, parse_mode: str | None) -> str:
    return formatted(text, parse_mode).text


def formatted(text: str, parse_mode: str | None) -> Formatted:
    mode = (parse_mode or "").strip()
    if not mode:
        return Formatted(text, [])
    if mode == "MarkdownV2":
        return Formatted(_markdown_v2(text), [])
    if mode.lower() == "html":
        return _html(text)
    if mode.lower() == "markdown":
        return Formatted(_markdown_legacy(text), [])
    raise bad_request(f'unsupported parse_mode "{mode}"')


def _stripped(shown: Formatted) -> Formatted:
    """Telegram trims surrounding whitespace and moves or clips the entities to match."""
    text = shown.text.strip()
    lead = utf16_len(shown.text[: len(shown.text) - len(shown.text.lstrip())])
    end = utf16_len(text)
    entities = []
    for entity in shown.entities:
        start = max(entity["offset"] - lead, 0)
        stop = min(entity["offset"] + entity["length"] - lead, end)
        if stop > start:
            entities.append({**entity, "offset": start, "length": stop - start})
    return Formatted(text, entities)


def _entities_error(detail: str) -> BotApiError:
    return bad_request(f"can't parse entities: {detail}")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _find_closing(text: str, start: int, marker: str) -> int:
    """Index of `marker` closing a code span or link target; backslash escapes skip a character."""
    j = start
    while j < len(text):
        if text[j] == "\\":
            j += 2
        elif text.startswith(marker, j):
            return j
        else:
            j += 1
    return -1


def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _markdown_v2(text: str) -> str:
    out: list[str] = []
    stack: list[tuple[str, int]] = []
    i = 0
    while i < len(text):
        c = text[i]
        line_start = not out or out[-1].endswith("\n")
        if c == "\\":
            if i + 1 < len(text) and 1 <= ord(text[i + 1]) <= 126:
                out.append(text[i + 1])
                i += 2
                continue
            raise _entities_error("Character '\\' is reserved and must be escaped with the preceding '\\'")
        if c == "`":
            marker = "```" if text.startswith("```", i) else "`"
            end = _find_closing(text, i + len(marker), marker)
            if end < 0:
                name = "Pre" if marker == "```" else "Code"
                raise _entities_error(
                    f"Can't find end of {name} entity at byte offset {_byte_offset(text, i)}"
                )
            body = text[i + len(marker) : end]
            if marker == "```":
                language, newline, rest = body.partition("\n")
                if newline and language and not any(ch.isspace() for ch in language):
                    body = rest
            out.append(_unescape(body))
            i = end + len(marker)
            continue
        marker = next((m for m in ("||", "__") if text.startswith(m, i)), c if c in "*_~" else "")
        if marker:
            if stack and stack[-1][0] == marker:
                stack.pop()
            elif any(open_marker == marker for open_marker, _ in stack):
                inner, at = stack[-1]
                raise _entities_error(
                    f"Can't find end of {_MDV2_NAMES[inner]} entity at byte offset {_byte_offset(text, at)}"
                )
            else:
                stack.append((marker, i))
            i += len(marker)
            continue
        if c == "[":
            stack.append(("[", i))
            i += 1
            continue
        if c == "]" and stack and stack[-1][0] == "[" and text.startswith("](", i):
            end = _find_closing(text, i + 2, ")")
            if end < 0:
                raise _entities_error(f"Can't find end of a URL at byte offset {_byte_offset(text, i + 2)}")
            stack.pop()
            i = end + 1
            continue
        if c == ">" and line_start:
            i += 1
            continue
        if c in _MDV2_RESERVED:
            raise _entities_error(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
        out.append(c)
        i += 1
    if stack:
        marker, at = stack[-1]
        raise _entities_error(
            f"Can't find end of {_MDV2_NAMES[marker]} entity at byte offset {_byte_offset(text, at)}"
        )
    return "".join(out)


def _markdown_legacy(text: str) -> str:
    """Telegram's legacy Markdown: *bold*, _italic_, `code`, ```pre```, [text](url); no nesting."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "_*`[":
            out.append(text[i + 1])
            i += 2
            continue
        if c in "*_`":
            marker = "```" if text.startswith("```", i) else c
            end = text.find(marker, i + len(marker))
            if end < 0:
                raise _entities_error(
                    f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}"
                )
            out.append(text[i + len(marker) : end])
            i = end + len(marker)
            continue
        if c == "[":
            close = text.find("](", i)
            end = text.find(")", close + 2) if close >= 0 else -1
            if end < 0:
                raise _entities_error(
                    f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}"
                )
            out.append(text[i + 1 : close])
            i = end + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


# HTML tags and the MessageEntity type each makes.
_HTML_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


class _TelegramHtml(HTMLParser):
    def __init__(self, source: str) -> None:
        # Character references are resolved by hand, so a raw "<" in data can be told apart from &lt;.
        super().__init__(convert_charrefs=False)
        self.source = source
        self.lines = source.splitlines(keepends=True)
        self.out: list[str] = []
        self.stack: list[str] = []
        self.position = 0  # of the next output character, in UTF-16 units as entities count
        # Entities in the order their tags open: sorted by offset, an outer one before an inner one.
        self.entities: list[dict[str, Any]] = []
        self.open: list[dict[str, Any] | None] = []  # per open tag: its entity, None for none

    def _emit(self, text: str) -> None:
        self.out.append(text)
        self.position += utf16_len(text)

    def _entity(self, tag: str, attrs: dict[str, str | None]) -> dict[str, Any] | None:
        kind = _HTML_ENTITY_TYPES[tag]
        entity: dict[str, Any] = {"offset": self.position, "length": 0, "type": kind}
        if kind == "text_link":
            entity["url"] = attrs.get("href") or ""
        elif kind == "custom_emoji":
            entity["custom_emoji_id"] = attrs.get("emoji-id") or ""
        elif kind == "code" and self.open and self.open[-1] and self.open[-1]["type"] == "pre":
            # <pre><code class="language-x"> is one pre entity with a language, as in Telegram.
            language = (attrs.get("class") or "").removeprefix("language-")
            if language:
                self.open[-1]["language"] = language
            return None
        return entity

    def _offset(self) -> int:
        line, column = self.getpos()
        index = sum(len(part) for part in self.lines[: line - 1]) + column
        return _byte_offset(self.source, index)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_TAGS or (tag == "span" and ("class", "tg-spoiler") not in attrs):
            raise _entities_error(f'Unsupported start tag "{tag}" at byte offset {self._offset()}')
        self.stack.append(tag)
        entity = self._entity(tag, dict(attrs))
        self.open.append(entity)
        if entity is not None:
            self.entities.append(entity)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise _entities_error(f'Unsupported start tag "{tag}" at byte offset {self._offset()}')

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise _entities_error(f"Unexpected end tag at byte offset {self._offset()}")
        self.stack.pop()
        entity = self.open.pop()
        if entity is not None:
            entity["length"] = self.position - entity["offset"]

    def handle_data(self, data: str) -> None:
        if "<" in data:
            # Telegram wants a literal "<" written as &lt;; the HTML parser lets it through.
            after = data.split("<", 1)[1].split(" ", 1)[0]
            raise _entities_error(f'Unsupported start tag "{after}" at byte offset {self._offset()}')
        self._emit(data)

    def handle_entityref(self, name: str) -> None:
        self._emit(_HTML_ENTITIES.get(name, f"&{name};"))

    def handle_charref(self, name: str) -> None:
        try:
            self._emit(chr(int(name[1:], 16) if name[:1] in "xX" else int(name)))
        except (ValueError, OverflowError):
            self._emit(f"&#{name};")


def _html(text: str) -> Formatted:
    parser = _TelegramHtml(text)
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise _entities_error(f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"')
    # Telegram drops entities that cover no text (an empty <b></b>).
    return Formatted("".join(parser.out), [e for e in parser.entities if e["length"] > 0])
