"""A Bot API request's parameters, read the way Telegram reads them.

Telegram merges the query string with a JSON, url-encoded or multipart body; in the last two every
value is a string, so numbers, booleans and JSON-serialised objects (`reply_markup`,
`allowed_updates`, `commands`) are parsed per parameter, not per request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from local.fake_telegram._errors import bad_request


@dataclass(frozen=True)
class Upload:
    """A file sent as a multipart part."""

    field: str
    filename: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def describe(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": len(self.data),
            "sha256": self.sha256,
        }


class Params:
    def __init__(self, values: Mapping[str, Any], uploads: Mapping[str, Upload] | None = None) -> None:
        self.values = dict(values)
        self.uploads = dict(uploads or {})

    def present(self, name: str) -> bool:
        return self.values.get(name) not in (None, "") or name in self.uploads

    def string(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        raise bad_request(f'field "{name}" must be of type String')

    def required_string(self, name: str, empty: str) -> str:
        value = self.string(name)
        if value is None or value == "":
            raise bad_request(empty)
        return value

    def integer(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise bad_request(f'field "{name}" must be of type Integer')
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_request(f"invalid {name} specified") from None

    def required_integer(self, name: str, empty: str) -> int:
        value = self.integer(name)
        if value is None:
            raise bad_request(empty)
        return value

    def boolean(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, bool):
            return value
        if value is None:
            return False
        return str(value).strip().lower() in ("true", "1")

    def json_value(self, name: str, unparsable: str) -> Any:
        """A parameter that is JSON: an object in a JSON body, a JSON string in a form or query."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(unparsable) from None
        return value

    def chat_id(self) -> int:
        value = self.values.get("chat_id")
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        try:
            return int(str(value).strip())
        except ValueError:
            # "@channelusername" is valid in Telegram; this fake has no public channels.
            raise bad_request("chat not found") from None

    def recorded(self) -> dict[str, Any]:
        """The parameters as they appear in the call log (uploads are listed separately)."""
        return {name: value for name, value in self.values.items() if name not in self.uploads}
