"""core/albums.py: the first few photos of an album are drawn; one photo past them tells."""

from imagebot.core.albums import Album, Seat, seat


def test_the_first_photos_are_taken_and_the_first_one_past_the_limit_tells():
    album, seats = Album(), []
    for update_id in (11, 12, 13, 14, 15):
        found, album = seat(album, update_id, limit=2)
        seats.append(found)
    assert seats == [Seat.TAKEN, Seat.TAKEN, Seat.TELL, Seat.QUIET, Seat.QUIET]
    assert album == Album(taken=(11, 12), told_by=13)


def test_a_redelivered_photo_finds_its_own_seat_again():
    album = Album(taken=(11, 12), told_by=13)
    assert seat(album, 12, limit=2) == (Seat.TAKEN, album)
    assert seat(album, 13, limit=2) == (Seat.TELL, album)  # the teller's send may have crashed
    assert seat(album, 14, limit=2) == (Seat.QUIET, album)
