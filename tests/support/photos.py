"""Users' files, good and bad, built in code with Pillow (no binary fixtures): what the photo
tests send. Each builder answers the file's bytes."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import ExifTags, Image, PngImagePlugin

# Where the GPS-tagged files claim to have been taken: the tests look for these in the output.
GPS_LATITUDE = (55.0, 45.0, 21.0)
GPS_LONGITUDE = (37.0, 37.0, 4.0)
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>'
    b'<rdf:Description photoshop:City="Moscow"/></rdf:RDF></x:xmpmeta>'
)
COMMENT = b"taken at home, 12 Secret Street"


def noisy(width: int, height: int, seed: int = 1) -> Image.Image:
    """Random pixels: they compress badly, so a cut file really lacks part of the picture."""
    return Image.frombytes("RGB", (width, height), random.Random(seed).randbytes(width * height * 3))


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def jpeg(width: int = 800, height: int = 600, colour: str = "teal", **params: object) -> bytes:
    return encoded(Image.new("RGB", (width, height), colour), "JPEG", **params)


def truncated_jpeg() -> bytes:
    whole = encoded(noisy(800, 600), "JPEG", quality=90)
    return whole[: len(whole) // 2]


def png_bomb(side: int = 30_000) -> bytes:
    """A valid side x side 1-bit greyscale PNG, all black: 112 MB of scanlines at 30,000 that
    zlib squeezes into about 100 KB; decoded as RGB it would be 2.7 GB."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte "none", then the row's bits
    compressed = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", compressed) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def gps_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Phone 15"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = GPS_LATITUDE
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = GPS_LONGITUDE
    return exif


def png_with_gps(width: int = 800, height: int = 600) -> bytes:
    """A PNG with EXIF (camera, GPS position), XMP and a text comment."""
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    info.add_text("Comment", COMMENT.decode())
    return encoded(Image.new("RGB", (width, height), "olive"), "PNG", exif=gps_exif(), pnginfo=info)


def jpeg_with_gps(width: int = 800, height: int = 600) -> bytes:
    return encoded(
        Image.new("RGB", (width, height), "olive"), "JPEG", exif=gps_exif(), comment=COMMENT, xmp=XMP
    )


def rotated_jpeg() -> bytes:
    """Stored landscape 900x600, left half red and right half blue, with EXIF orientation 6
    (rotate 90° clockwise to show): upright it is a 600x900 portrait, red on top."""
    image = Image.new("RGB", (900, 600), "red")
    image.paste((0, 0, 255), (450, 0, 900, 600))
    return encoded(image, "JPEG", exif=gps_exif(orientation=6), quality=95)


def png_with_alpha(width: int = 600, height: int = 600) -> bytes:
    """Fully transparent but for an opaque black square in the middle."""
    image = Image.new("RGBA", (width, height), (255, 0, 0, 0))
    image.paste((0, 0, 0, 255), (width // 4, height // 4, 3 * width // 4, 3 * height // 4))
    return encoded(image, "PNG")
