"""Small pictures for tests that send or store one."""

from __future__ import annotations

import io

from PIL import Image


def png(width: int = 64, height: int = 64, colour: str = "teal") -> bytes:
    """A plain-coloured PNG file."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()
