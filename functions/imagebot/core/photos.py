"""A user's photo, checked and made into the GPU's input: pure, bytes in and bytes out.

A user's file is hostile until Pillow has checked it. The order matters: the size of the file,
then the real format (from its first bytes, whatever its name or mime type claims), then the
pixel count from the header alone, and only then are the pixels decoded. What comes out is a
fresh JPEG of exactly one of SDXL's size buckets, with no metadata at all (EXIF with its GPS
position, XMP, ICC, comments): the picture is rebuilt from its pixels, so nothing else of the
original survives.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from enum import StrEnum

from PIL import Image, ImageCms, ImageOps

from imagebot.core.vocabulary import ASPECTS

# What the bot takes: Telegram sends photos as JPEG, and a document may be any of these. A
# phone's camera JPEG with a second picture inside (depth, a gain map) opens as Pillow's "MPO":
# a JPEG all the same, of which the first picture is drawn.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")

# First bytes of image formats people do send that the bot does not take: these get "send a
# JPEG, PNG or WebP" rather than "this is not an image". They are recognised here, by their
# signature, so that Pillow never parses them (only the allowed plugins open anything).
_OTHER_IMAGE_SIGNATURES = (
    b"GIF87a",
    b"GIF89a",
    b"BM",  # BMP
    b"II*\x00",  # TIFF, little-endian
    b"MM\x00*",  # TIFF, big-endian
    b"\x00\x00\x01\x00",  # ICO
    b"8BPS",  # Photoshop
    b"\xff\x0a",  # JPEG XL codestream
    b"\x00\x00\x00\x0cJXL ",  # JPEG XL container
)
# HEIC/HEIF and AVIF (iPhones send HEIC as a document): an ISO box `ftyp` with one of these brands.
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis")


class PhotoRefusal(StrEnum):
    """Why a file is not drawn; the flow tells the user `texts.render(language, refusal.text_key)`."""

    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TRUNCATED = "truncated"
    TOO_MANY_PIXELS = "too_many_pixels"
    TOO_SMALL = "too_small"
    TOO_NARROW = "too_narrow"
    TOO_BIG_FILE = "too_big_file"

    @property
    def text_key(self) -> str:
        return f"photo_{self.value}"


@dataclass(frozen=True)
class PhotoLimits:
    # The Bot API's getFile serves files up to 20 MB; a bigger one cannot be fetched anyway.
    max_file_bytes: int = 20 * 1024 * 1024
    # Checked from the header, before decoding. 24 MP is a 6000x4000 camera photo (Telegram's
    # own photos are at most 2560 px a side). Decoding one peaks near 40 MB for a JPEG, 200 MB
    # for a PNG and 400 MB for a WebP (measured): what the validation function's 1 GiB allows.
    max_pixels: int = 24_000_000
    # Below 256 px on the short side the bucket (896 px and more) is a 3.5x upscale or worse:
    # too little of a face or a street is left for img2img to keep.
    min_side: int = 256
    # The widest bucket is 9:7; past 2.5:1 the centre crop to it would drop more than half of
    # the picture, and the user would not recognise what comes back.
    max_aspect: float = 2.5
    # The square bucket's side; the others are 7/8 and 9/8 of it, as gpu_service/styles.size_for.
    bucket_size: int = 1024
    jpeg_quality: int = 92

    def __post_init__(self) -> None:
        if self.bucket_size % 16 or self.bucket_size < 64:
            raise ValueError(f"bucket_size must be a multiple of 16 and at least 64, not {self.bucket_size}")
        if self.max_aspect < 1 or self.min_side < 1 or self.max_pixels < 1 or self.max_file_bytes < 1:
            raise ValueError(f"photo limits out of range: {self}")
        if not 1 <= self.jpeg_quality <= 95:
            raise ValueError(f"jpeg_quality must be between 1 and 95, not {self.jpeg_quality}")

    def text_values(self) -> dict[str, object]:
        """The figures a refusal's text names (texts.py "photo_*"), as a user reads them."""
        return {
            "min_side": self.min_side,
            "max_aspect": f"{self.max_aspect:g}",
            "max_megapixels": f"{self.max_pixels / 1_000_000:g}",
            "max_megabytes": f"{self.max_file_bytes / (1024 * 1024):g}",
        }


DEFAULT_LIMITS = PhotoLimits()


@dataclass(frozen=True)
class PreparedPhoto:
    jpeg: bytes  # the GPU's input: exactly width x height, RGB, no metadata
    aspect: str  # one of the contract's ASPECTS
    width: int
    height: int
    source_format: str  # what the file really was (JPEG, PNG, WEBP), for the logs


def bucket_sizes(size: int) -> dict[str, tuple[int, int]]:
    """(width, height) of each aspect: SDXL's buckets 1024x1024, 896x1152 and 1152x896 at 1024."""
    short, long = size * 7 // 8, size * 9 // 8
    return {"square": (size, size), "portrait": (short, long), "landscape": (long, short)}


def nearest_aspect(width: int, height: int, size: int = PhotoLimits.bucket_size) -> str:
    """The aspect whose ratio is nearest the picture's, on a log scale (2:1 is as far from 1:1
    as 1:2)."""
    ratio = math.log(width / height)
    buckets = bucket_sizes(size)
    return min(ASPECTS, key=lambda a: abs(ratio - math.log(buckets[a][0] / buckets[a][1])))


def prepare_photo(data: bytes, limits: PhotoLimits = DEFAULT_LIMITS) -> PreparedPhoto | PhotoRefusal:
    """The GPU's input made from a user's file, or why there is none. Never raises for a bad file."""
    if len(data) > limits.max_file_bytes:
        return PhotoRefusal.TOO_BIG_FILE
    if _looks_like_another_image(data):
        return PhotoRefusal.UNSUPPORTED_FORMAT
    opened = _open(data, limits)
    if isinstance(opened, PhotoRefusal):
        return opened
    # The shorter side and the ratio do not change when the picture is turned upright, so
    # they are checked on the header too, before any decoding.
    short, long = sorted(opened.size)
    if short < limits.min_side:
        return PhotoRefusal.TOO_SMALL
    if long / short > limits.max_aspect:
        return PhotoRefusal.TOO_NARROW
    source_format = str(opened.format)
    profile = opened.info.get("icc_profile")
    image = _decode(opened, limits)
    if isinstance(image, PhotoRefusal):
        return image
    # After the EXIF orientation: a phone's portrait is upright, and a portrait, now.
    width, height = image.size
    aspect = nearest_aspect(width, height, limits.bucket_size)
    target = bucket_sizes(limits.bucket_size)[aspect]
    # Small pictures are scaled up to the bucket too: the GPU draws at the bucket's size, and
    # one exact shape per aspect keeps its input simple; img2img redraws the softness anyway.
    fitted = ImageOps.fit(image, target, method=Image.Resampling.LANCZOS)
    return PreparedPhoto(
        jpeg=_bare_jpeg(_to_srgb(fitted, profile), limits.jpeg_quality),
        aspect=aspect,
        width=target[0],
        height=target[1],
        source_format=source_format,
    )


def _looks_like_another_image(data: bytes) -> bool:
    if data.startswith(_OTHER_IMAGE_SIGNATURES):
        return True
    return data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


def _open(data: bytes, limits: PhotoLimits) -> Image.Image | PhotoRefusal:
    """Pillow reads the header only here; the pixel count is checked before anything decodes."""
    # Pillow's own bomb check stays on as a second line: past Image.MAX_IMAGE_PIXELS (89 MP) it
    # warns, past twice that it raises DecompressionBombError, a refusal too. Its warning is left
    # alone: warnings.catch_warnings is not thread-safe, and a function serves several requests.
    try:
        image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # (a warning made an error)
        return PhotoRefusal.TOO_MANY_PIXELS
    except Exception:  # a hostile header may make a parser fail in any way: it is not an image
        return PhotoRefusal.NOT_AN_IMAGE
    if image.format not in (*ALLOWED_FORMATS, "MPO"):
        return PhotoRefusal.UNSUPPORTED_FORMAT
    width, height = image.size
    if width < 1 or height < 1:
        return PhotoRefusal.NOT_AN_IMAGE
    if width * height > limits.max_pixels:
        return PhotoRefusal.TOO_MANY_PIXELS
    return image


def _decode(image: Image.Image, limits: PhotoLimits) -> Image.Image | PhotoRefusal:
    """The pixels, upright, in RGB on white; a file that ends early or is corrupt is refused.

    A big picture is cut down early, to a size still covering the largest bucket: the function's
    memory holds one full decode at a time, not the three copies that orienting, flattening and
    cropping it would make."""
    long_side = bucket_sizes(limits.bucket_size)["landscape"][0]
    try:
        # A JPEG decodes at 1/2, 1/4 or 1/8 scale where the result still covers the largest
        # bucket in both directions: a 24 MP photo costs a quarter of its memory or less.
        image.draft("RGB", (long_side, long_side))
        image.load()
        factor = min(image.size) // long_side
        smaller = image.reduce(factor) if factor >= 2 and image.mode in _REDUCIBLE else image
        upright = ImageOps.exif_transpose(smaller)  # a new image: the decode can go
        image.close()
        return _flattened(upright)
    except Exception:  # truncated data, a broken chunk, a bad EXIF block: all a broken file
        return PhotoRefusal.TRUNCATED


# The modes Image.reduce takes (palette and 1-bit images are a byte a pixel anyway).
_REDUCIBLE = ("L", "LA", "La", "RGB", "RGBA", "RGBa", "I", "CMYK", "PA")


def _flattened(image: Image.Image) -> Image.Image:
    """RGB; transparency becomes white, as a transparent PNG looks in Telegram's light theme."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        white.alpha_composite(rgba)
        image = white
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: convert("RGB") would clip everything above 255 to white.
        image = image.point(lambda value: value / 256).convert("L")
    return image.convert("RGB")


def _to_srgb(image: Image.Image, profile: bytes | None) -> Image.Image:
    """Colours as the model saw them in training: an embedded RGB profile (Display P3, Adobe RGB)
    is converted to sRGB; one that does not parse or fit is ignored, the pixels taken as sRGB."""
    if not profile:
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
    except Exception:
        return image
    return converted if converted is not None else image


def _bare_jpeg(image: Image.Image, quality: int) -> bytes:
    # A new image from the pixels alone: Pillow's resize and convert carry `info` (a JPEG's
    # comment is written back from it), so the original's metadata would otherwise follow.
    bare = Image.frombytes("RGB", image.size, image.convert("RGB").tobytes())
    out = io.BytesIO()
    bare.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()
