"""Photos and other media as Telegram describes them: PhotoSize sets, documents, stickers, videos.

Pure of the network; the store keeps the bytes. Telegram keeps several sizes of every photo;
the fake makes real JPEG thumbnails and keeps the uploaded bytes as the largest size.
"""

from __future__ import annotations

import io
import secrets
import warnings
from typing import Any

from PIL import Image, UnidentifiedImageError

from local.fake_telegram._store import Store

# Boxes Telegram scales a photo into (the largest size is the photo itself).
THUMBNAIL_BOXES = (90, 320, 800, 1280)
_PILLOW_FAILURES = (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError)


def open_image(data: bytes) -> Image.Image | None:
    """The image if Pillow can read its header within its pixel limit, else None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except (*_PILLOW_FAILURES, Image.DecompressionBombWarning):
        return None


def photo_sizes(store: Store, data: bytes, image: Image.Image) -> list[dict[str, Any]]:
    """The PhotoSize array, smallest first; thumbnails of a picture that does not decode are left out."""
    width, height = image.size
    sizes: list[dict[str, Any]] = []
    decoded: Image.Image | None = None
    for box in THUMBNAIL_BOXES:
        if max(width, height) <= box:
            break
        try:
            decoded = decoded or image.convert("RGB")  # decoded once for all the sizes
            thumbnail = decoded.copy()
            thumbnail.thumbnail((box, box))
            buffer = io.BytesIO()
            thumbnail.save(buffer, format="JPEG", quality=80)
        except _PILLOW_FAILURES:
            # A truncated file still reaches the bot as a photo: it is the bot's to refuse it.
            sizes.clear()
            break
        sizes.append(_photo_size(store, buffer.getvalue(), "image/jpeg", "jpg", thumbnail.size))
    image_format = (image.format or "JPEG").lower()
    extension = {"jpeg": "jpg"}.get(image_format, image_format)
    content_type = Image.MIME.get(image.format or "", "image/jpeg")
    sizes.append(_photo_size(store, data, content_type, extension, (width, height)))
    store.save_photo_set(sizes)
    return sizes


def _photo_size(
    store: Store, data: bytes, content_type: str, extension: str, size: tuple[int, int]
) -> dict[str, Any]:
    stored = store.store_file(data, kind="photo", content_type=content_type, extension=extension)
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(data),
        "width": size[0],
        "height": size[1],
    }


def document(store: Store, data: bytes, file_name: str, mime_type: str) -> dict[str, Any]:
    extension = file_name.rsplit(".", 1)[-1] if "." in file_name else "bin"
    stored = store.store_file(data, kind="document", content_type=mime_type, extension=extension)
    described = {
        "file_name": file_name,
        "mime_type": mime_type,
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(data),
    }
    with store.lock:
        store.documents[stored.file_id] = described
    return dict(described)


_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))


def sniffed_mime(data: bytes) -> str:
    """The type a Telegram app names for a file it sends: from its first bytes, as they do."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in _SIGNATURES if data.startswith(magic)), "application/octet-stream")


def _stub(store: Store, kind: str, mime_type: str, extension: str) -> dict[str, Any]:
    # Bytes that only stand for the medium: a bot refusing it never needs to decode them.
    data = secrets.token_bytes(64)
    stored = store.store_file(data, kind=kind, content_type=mime_type, extension=extension)
    return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "file_size": len(data)}


def animation(store: Store) -> dict[str, Any]:
    """A GIF as Telegram delivers it: an mp4 animation, with `document` beside it for old clients."""
    described = {
        **_stub(store, "animation", "video/mp4", "mp4"),
        "width": 320,
        "height": 240,
        "duration": 2,
        "file_name": "animation.gif.mp4",
        "mime_type": "video/mp4",
    }
    return {"animation": described, "document": dict(described)}


def video(store: Store) -> dict[str, Any]:
    described = {
        **_stub(store, "video", "video/mp4", "mp4"),
        "width": 640,
        "height": 360,
        "duration": 3,
        "mime_type": "video/mp4",
    }
    return {"video": described}


def video_note(store: Store) -> dict[str, Any]:
    return {"video_note": {**_stub(store, "video_note", "video/mp4", "mp4"), "length": 240, "duration": 3}}


def new_media_group_id() -> str:
    """Telegram's media_group_id: a long decimal string shared by an album's messages."""
    return str(secrets.randbelow(9 * 10**17) + 10**17)
