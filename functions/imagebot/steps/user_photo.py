"""A user's photo, from Telegram to the GPU's input: getFile, the download (capped), Pillow's
checks (core/photos.py), and the prepared JPEG stored as the job's input (edges/inputs.py).

The file's URL holds the bot token: only the BotApi client ever sees it, and its errors name
the file's path alone, so nothing here can log, raise or store the URL.
"""

from __future__ import annotations

import threading

from imagebot.core.photos import PhotoRefusal, PreparedPhoto, prepare_photo
from imagebot.edges.telegram import FileTooBig
from imagebot.ports import Services

# One decode at a time per instance: validate_prompt serves several requests at once, and a
# near-limit WebP takes about 600 MB to decode (core/photos.py), in a function of 1 GiB.
_DECODING = threading.Lock()


def fetch_photo(file_id: str, rt: Services) -> PreparedPhoto | PhotoRefusal:
    """The GPU's input made from the user's file, or why there is none. Telegram's errors
    (edges/telegram.TelegramError) are raised: a transient one is tried again by Pub/Sub's
    redelivery, like any Bot API call's."""
    limits = rt.settings.photo_limits
    try:
        described = rt.bot.get_file(file_id)
        path = described.get("file_path")
        if not isinstance(path, str) or not path:  # getFile leaves it out past its 20 MB
            return PhotoRefusal.TOO_BIG_FILE
        data = rt.bot.download_file(path, max_bytes=limits.max_file_bytes)
    except FileTooBig:
        return PhotoRefusal.TOO_BIG_FILE
    with _DECODING:
        return prepare_photo(data, limits)
