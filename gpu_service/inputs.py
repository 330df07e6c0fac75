"""A job's input image (img2img): the stored photo or candidate, opened and fitted. Pure.

The functions' validation checked and re-encoded the user's photo before storing it, but the
bucket is still outside this process: Pillow checks the file again (format, pixel limit) and
anything it cannot open is refused, never drawn from.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps

from gpu_service.refusals import BadInput

# Files the functions store or this service writes; nothing else is opened.
FORMATS = ("JPEG", "PNG", "WEBP")
# A stored input is at most an SDXL bucket (about 1.2 megapixels); a candidate of a pixel-art
# grid at most a few. Far above both, far below a decompression bomb.
MAX_PIXELS = 16 * 1024 * 1024
MAX_BYTES = 20 * 1000 * 1000


def open_input(data: bytes) -> Image.Image:
    """The input as an RGB picture; raises BadInput for a file that is not a sane picture."""
    if len(data) > MAX_BYTES:
        raise BadInput(f"{len(data)} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
            if image.width * image.height > MAX_PIXELS:
                raise BadInput(f"{image.width}x{image.height} pixels")
            image.load()
    except BadInput:
        raise
    except (OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise BadInput(type(error).__name__) from error
    return ImageOps.exif_transpose(image).convert("RGB")


def fit(image: Image.Image, width: int, height: int) -> Image.Image:
    """The picture scaled to cover width x height and cropped to it about its centre: the
    plan's size, whatever the photo's (the pipeline draws at the size of its input)."""
    if image.size == (width, height):
        return image
    return ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS, centering=(0.5, 0.5))
