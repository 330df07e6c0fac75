"""Albums: the first few photos of a media group are drawn, and the user is told once that the
rest are not. Pure: the decision on the album's record (`albums/<media_group_id>`), which
edges/store.AlbumStore reads and writes in one transaction.

Telegram sends an album as one update per photo, sharing a media_group_id, which different
function instances handle at once, in any order: "the first" are the first to arrive. A record
names the photos taken (by update id) and the one that told, so a redelivered update finds its
own seat again: it is drawn again if it was taken, and tells again only if it was the teller
(whose first try may have crashed before the message went out).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class Seat(StrEnum):
    TAKEN = "taken"  # one of the first photos: drawn
    TELL = "tell"  # past the limit, and this photo tells the user so
    QUIET = "quiet"  # past the limit, told already by another photo


@dataclass(frozen=True)
class Album:
    taken: tuple[int, ...] = ()  # update ids of the photos drawn
    told_by: int | None = None  # the update id of the photo that told the user about the rest


def seat(album: Album, update_id: int, limit: int) -> tuple[Seat, Album]:
    """This photo's seat in the album, and the record as it is after it."""
    if update_id in album.taken:
        return Seat.TAKEN, album
    if len(album.taken) < limit:
        return Seat.TAKEN, replace(album, taken=(*album.taken, update_id))
    if album.told_by in (None, update_id):
        return Seat.TELL, replace(album, told_by=update_id)
    return Seat.QUIET, album
