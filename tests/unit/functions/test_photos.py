"""core/photos.py: every bad file is refused with its reason, every good one comes out upright,
bare of metadata and exactly one of SDXL's buckets."""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from imagebot.core import texts
from imagebot.core.photos import (
    DEFAULT_LIMITS,
    PhotoLimits,
    PhotoRefusal,
    PreparedPhoto,
    bucket_sizes,
    nearest_aspect,
    prepare_photo,
)
from imagebot.core.vocabulary import ASPECTS
from PIL import Image, ImageCms

from tests.support import photos

BUCKETS = {"square": (1024, 1024), "portrait": (896, 1152), "landscape": (1152, 896)}


def prepared(data: bytes, limits: PhotoLimits = DEFAULT_LIMITS) -> PreparedPhoto:
    result = prepare_photo(data, limits)
    assert isinstance(result, PreparedPhoto), result
    return result


def opened(photo: PreparedPhoto) -> Image.Image:
    image = Image.open(io.BytesIO(photo.jpeg))
    assert image.format == "JPEG" and image.mode == "RGB"
    assert image.size == (photo.width, photo.height) == BUCKETS[photo.aspect]
    return image


def test_the_buckets_are_the_gpu_services_for_every_aspect():
    assert bucket_sizes(1024) == BUCKETS
    assert tuple(bucket_sizes(512)) == ASPECTS


@pytest.mark.parametrize(
    ("size", "aspect"),
    [
        ((1000, 1000), "square"),
        ((3000, 4000), "portrait"),
        ((4000, 3000), "landscape"),
        ((1920, 1080), "landscape"),
        ((1080, 1920), "portrait"),
        ((1100, 1000), "square"),  # 1.1 is nearer 1 than 9/7 on a log scale
        ((1200, 1000), "landscape"),
    ],
)
def test_a_photo_goes_to_the_bucket_nearest_its_shape(size, aspect):
    photo = prepared(photos.jpeg(*size))
    assert photo.aspect == aspect == nearest_aspect(*size)
    opened(photo)


def test_a_small_photo_is_scaled_up_to_its_bucket_and_a_big_one_down():
    assert opened(prepared(photos.jpeg(300, 300))).size == (1024, 1024)
    assert opened(prepared(photos.jpeg(5600, 4200))).size == (1152, 896)


def test_the_centre_is_kept_when_the_sides_are_cropped():
    image = Image.new("RGB", (2000, 1000), "black")
    image.paste((0, 255, 0), (700, 0, 1300, 1000))  # a green band in the middle
    out = opened(prepared(photos.encoded(image, "PNG")))
    r, g, b = out.getpixel((576, 448))
    assert g > 245 and r < 10 and b < 10
    assert max(out.getpixel((5, 448))) < 20 and max(out.getpixel((1146, 448))) < 20


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", PhotoRefusal.NOT_AN_IMAGE),
        (b"%PDF-1.7\n" + b"x" * 500, PhotoRefusal.NOT_AN_IMAGE),
        (b"hello, this is a text file", PhotoRefusal.NOT_AN_IMAGE),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, PhotoRefusal.NOT_AN_IMAGE),  # a PNG signature, no header
        (photos.truncated_jpeg(), PhotoRefusal.TRUNCATED),
        (photos.encoded(photos.noisy(600, 400), "PNG")[:-3000], PhotoRefusal.TRUNCATED),
        (photos.jpeg(1, 1), PhotoRefusal.TOO_SMALL),
        (photos.jpeg(255, 1000), PhotoRefusal.TOO_SMALL),
        (photos.jpeg(6000, 300), PhotoRefusal.TOO_NARROW),  # a 20:1 panorama
        (photos.jpeg(300, 800), PhotoRefusal.TOO_NARROW),
        (photos.encoded(Image.new("RGB", (600, 600)), "GIF"), PhotoRefusal.UNSUPPORTED_FORMAT),
        (photos.encoded(Image.new("RGB", (600, 600)), "BMP"), PhotoRefusal.UNSUPPORTED_FORMAT),
        (photos.encoded(Image.new("RGB", (600, 600)), "TIFF"), PhotoRefusal.UNSUPPORTED_FORMAT),
        (
            b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 100,
            PhotoRefusal.UNSUPPORTED_FORMAT,
        ),
    ],
    ids=[
        "empty",
        "pdf",
        "text",
        "png-signature-only",
        "truncated-jpeg",
        "truncated-png",
        "1x1",
        "255-px-short-side",
        "panorama-20-to-1",
        "portrait-beyond-2.5",
        "gif",
        "bmp",
        "tiff",
        "heic",
    ],
)
def test_a_bad_file_is_refused_with_its_reason(data, reason):
    assert prepare_photo(data) == reason


def test_a_png_bomb_is_refused_from_its_header_without_decoding_it():
    bomb = photos.png_bomb(30_000)
    assert len(bomb) < 200_000 and struct.unpack(">II", bomb[16:24]) == (30_000, 30_000)  # IHDR
    allocated = Image.core.get_stats()["new_count"]  # Pillow's count of pixel buffers made
    assert prepare_photo(bomb) == PhotoRefusal.TOO_MANY_PIXELS
    assert Image.core.get_stats()["new_count"] == allocated  # not one: 900 MP were never decoded
    prepared(photos.jpeg(800, 600))
    assert Image.core.get_stats()["new_count"] > allocated  # (the count does see a real decode)


@pytest.mark.parametrize(
    ("size", "reason"), [((6000, 300), PhotoRefusal.TOO_NARROW), ((1, 1), PhotoRefusal.TOO_SMALL)]
)
def test_sides_and_ratio_are_refused_from_the_header_too(size, reason):
    data = photos.jpeg(*size)
    allocated = Image.core.get_stats()["new_count"]
    assert prepare_photo(data) == reason
    assert Image.core.get_stats()["new_count"] == allocated


def test_a_bomb_is_too_many_pixels_whichever_of_pillows_checks_it_crosses():
    with pytest.warns(Image.DecompressionBombWarning):  # 100 MP: past Pillow's warning only
        assert prepare_photo(photos.png_bomb(10_000)) == PhotoRefusal.TOO_MANY_PIXELS
    assert prepare_photo(photos.png_bomb(14_000)) == PhotoRefusal.TOO_MANY_PIXELS  # past its error


def test_a_picture_past_our_pixel_limit_but_within_pillows_is_refused_too():
    limits = PhotoLimits(max_pixels=1_000_000)
    assert prepare_photo(photos.jpeg(1001, 1000), limits) == PhotoRefusal.TOO_MANY_PIXELS
    assert prepared(photos.jpeg(1000, 1000), limits).aspect == "square"


def test_a_file_over_the_byte_limit_is_refused_before_it_is_read():
    data = photos.jpeg(800, 600)
    assert prepare_photo(data, PhotoLimits(max_file_bytes=len(data) - 1)) == PhotoRefusal.TOO_BIG_FILE
    assert prepared(data, PhotoLimits(max_file_bytes=len(data)))


@pytest.mark.parametrize("builder", [photos.png_with_gps, photos.jpeg_with_gps])
def test_no_metadata_survives(builder):
    data = builder()
    assert b"GPS" in data or Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)
    photo = prepared(data)
    image = opened(photo)
    assert not image.getexif() and not image.getexif().get_ifd(0x8825)
    assert not {"exif", "xmp", "icc_profile", "comment", "dpi"} & set(image.info)
    for trace in (b"Exif", b"GPS", b"PhoneMaker", b"xmpmeta", b"Moscow", b"Secret Street", b"ICC_PROFILE"):
        assert trace not in photo.jpeg, trace


def test_an_icc_profile_is_applied_and_not_kept():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    photo = prepared(photos.jpeg(800, 800, colour="orange", icc_profile=srgb))
    assert b"ICC_PROFILE" not in photo.jpeg
    r, g, b = opened(photo).getpixel((400, 400))
    assert r > 240 and 150 < g < 180 and b < 20  # still orange (255, 165, 0)


def test_a_broken_icc_profile_is_ignored():
    photo = prepared(photos.jpeg(800, 800, colour="orange", icc_profile=b"not a profile" * 10))
    assert opened(photo).getpixel((400, 400))[0] > 240


def test_the_exif_orientation_is_applied():
    photo = prepared(photos.rotated_jpeg())
    assert photo.aspect == "portrait"
    image = opened(photo)
    top, bottom = image.getpixel((448, 50)), image.getpixel((448, 1100))
    assert top[0] > 200 and top[2] < 50, top  # red on top, as the phone showed it
    assert bottom[2] > 200 and bottom[0] < 50, bottom


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "JPEG"])
def test_a_big_picture_is_cut_down_early_and_still_turned_upright(fmt):
    image = Image.new("RGB", (6000, 4000), "red")
    image.paste((0, 0, 255), (3000, 0, 6000, 4000))
    photo = prepared(photos.encoded(image, fmt, exif=photos.gps_exif(orientation=6)))
    out = opened(photo)
    assert photo.aspect == "portrait"
    assert out.getpixel((448, 50))[0] > 200 and out.getpixel((448, 1100))[2] > 200


def test_transparency_becomes_white():
    image = opened(prepared(photos.png_with_alpha()))
    assert image.getpixel((10, 10)) == (255, 255, 255)
    assert max(image.getpixel((512, 512))) < 10


def test_a_palette_png_with_a_transparent_colour_becomes_white():
    image = Image.new("P", (600, 600), 1)
    image.putpalette([0, 0, 0, 255, 0, 0])
    data = photos.encoded(image, "PNG", transparency=1)
    assert opened(prepared(data)).getpixel((300, 300)) == (255, 255, 255)


@pytest.mark.parametrize(
    ("image", "fmt", "expected"),
    [
        (Image.new("L", (600, 600), 128), "PNG", (128, 128, 128)),
        (Image.new("I;16", (600, 600), 65535), "PNG", (255, 255, 255)),
        (Image.new("CMYK", (600, 600), (0, 0, 0, 0)), "JPEG", (255, 255, 255)),
        (Image.new("RGB", (600, 600), (10, 200, 30)), "WEBP", (10, 200, 30)),
    ],
    ids=["grey", "16-bit-grey", "cmyk-jpeg", "webp"],
)
def test_other_modes_come_out_rgb(image, fmt, expected):
    photo = prepared(photos.encoded(image, fmt, quality=100) if fmt != "PNG" else photos.encoded(image, fmt))
    got = opened(photo).getpixel((300, 300))
    assert all(abs(a - b) <= 4 for a, b in zip(got, expected, strict=True)), got


def test_a_camera_jpeg_with_a_second_picture_inside_is_a_jpeg():
    first, second = Image.new("RGB", (800, 600), "red"), Image.new("RGB", (800, 600), "blue")
    data = photos.encoded(first, "MPO", save_all=True, append_images=[second])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    r, _, b = opened(prepared(data)).getpixel((500, 400))
    assert r > 240 and b < 20  # the first picture


def test_the_real_format_counts_not_the_name_it_came_with():
    # prepare_photo takes no name or mime type at all: a JPEG sent as "cat.png" is a JPEG,
    # and a GIF sent as "cat.jpg" is refused as a GIF.
    assert prepared(photos.jpeg(800, 600)).source_format == "JPEG"
    assert prepared(photos.png_with_gps()).source_format == "PNG"
    gif = photos.encoded(Image.new("RGB", (600, 600)), "GIF")
    assert prepare_photo(gif) == PhotoRefusal.UNSUPPORTED_FORMAT


def test_every_refusal_has_a_text_in_every_language_naming_the_limits():
    limits = PhotoLimits(min_side=300, max_aspect=2.0, max_pixels=12_000_000, max_file_bytes=10 * 1024 * 1024)
    for language in texts.CATALOGUE:
        told = {
            reason: texts.render(language, reason.text_key, **limits.text_values()) for reason in PhotoRefusal
        }
        assert "300" in told[PhotoRefusal.TOO_SMALL]
        assert "2:1" in told[PhotoRefusal.TOO_NARROW]
        assert "12" in told[PhotoRefusal.TOO_MANY_PIXELS]
        assert "10" in told[PhotoRefusal.TOO_BIG_FILE]
        assert "JPEG, PNG" in told[PhotoRefusal.UNSUPPORTED_FORMAT]
        assert len(set(told.values())) == len(PhotoRefusal), language


@pytest.mark.parametrize(
    "bad", [{"bucket_size": 1000}, {"max_aspect": 0.5}, {"min_side": 0}, {"jpeg_quality": 100}]
)
def test_limits_out_of_range_are_refused(bad):
    with pytest.raises(ValueError):
        PhotoLimits(**bad)


# -- fuzzing: whatever arrives, the answer is a refusal or a photo, never an exception ----------

SMALL = PhotoLimits(min_side=8, bucket_size=64)  # small buckets keep each example fast
SEEDS = [
    photos.encoded(photos.noisy(40, 30), "PNG"),
    photos.encoded(photos.noisy(40, 30), "JPEG"),
    photos.encoded(photos.noisy(40, 30), "WEBP"),
    photos.png_with_gps(40, 30),
    photos.jpeg_with_gps(40, 30),
]


def answered(data: bytes) -> None:
    result = prepare_photo(data, SMALL)
    assert isinstance(result, PhotoRefusal | PreparedPhoto)
    if isinstance(result, PreparedPhoto):
        assert Image.open(io.BytesIO(result.jpeg)).size == bucket_sizes(64)[result.aspect]


@given(st.binary(max_size=4096))
def test_random_bytes_are_answered(data):
    answered(data)


@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=12),
    st.integers(min_value=0),
)
def test_damaged_images_are_answered(seed, flips, cut):
    data = bytearray(seed)
    for position, value in flips:
        data[position % len(data)] = value
    answered(bytes(data[: max(1, cut % (len(data) + 1))]))
