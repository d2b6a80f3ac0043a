"""Decoding what users upload, safely: sizes checked before pixels are decoded, every mode brought to uint8 RGB,
and a message that says what is wrong and what to do when an image cannot be used."""

from __future__ import annotations

import io
import os
import re
import struct

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .sizes import shrink_to_longest_side

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP")
DEFAULT_MAX_MEGAPIXELS = 40.0
MIN_SIDE = 16
MAX_ASPECT_RATIO = 20.0


class ImageInputError(ValueError):
    """An image a user gave cannot be used; the message says why and what to do."""


def load_image(source, *, max_side: int | None = None,
               max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> np.ndarray:
    """Decode `source` into a uint8 RGB array (height, width, 3), safely.

    source: a path, bytes, a binary file object, a PIL image or a numpy array.
    The size is checked from the header before any pixel is decoded, so a small file that would decode to
    gigabytes is refused cheaply. EXIF orientation is applied, 16-bit images are rescaled rather than clipped,
    transparency is composited on white, CMYK is converted and animated images contribute their first frame.
    With `max_side`, the image is shrunk (never enlarged) so its longest side is at most that.
    """
    if isinstance(source, np.ndarray):
        image = _image_from_array(source)
    elif isinstance(source, Image.Image):
        image = source
    else:
        image = _open_lazily(source)
    _check_dimensions(image.size, max_megapixels)
    _check_shape(image.size[::-1])
    try:
        image.seek(0)
        if max_side is not None:
            # JPEG can decode at 1/2, 1/4 or 1/8 scale directly: a 40-megapixel phone photo then costs a few
            # megabytes and a tenth of a second instead of 120 MB and seconds. The draft stays at least
            # `max_side` on both sides, so the final resize below still only shrinks.
            image.draft(None, (max_side, max_side))
        image.load()
        image = ImageOps.exif_transpose(image)
        pixels = _to_rgb_array(image)
    except (OSError, SyntaxError, ValueError, struct.error, Image.DecompressionBombError) as error:
        raise ImageInputError(_corrupt_message(error)) from error
    _check_shape(pixels.shape)
    if max_side is not None:
        pixels = shrink_to_longest_side(pixels, max_side)
        _check_shape(pixels.shape)
    return pixels


def _open_lazily(source) -> Image.Image:
    """Open the file and read only its header; refuse formats we do not accept."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    elif isinstance(source, (str, os.PathLike)) and not os.path.isfile(source):
        raise ImageInputError(f"No image file at {os.fspath(source)!r}.")
    if _is_empty(source):
        raise ImageInputError("The file is empty (0 bytes). Please upload a JPEG, PNG, WEBP or BMP image.")
    try:
        return Image.open(source, formats=ALLOWED_FORMATS)
    except UnidentifiedImageError as error:
        raise ImageInputError(_unsupported_message(source)) from error
    except Image.DecompressionBombError as error:
        raise ImageInputError(_bomb_message(error)) from error
    except ValueError as error:
        # PIL refuses, among others, text chunks that would inflate past its limit (a metadata bomb).
        if "too large" in str(error).lower():
            raise ImageInputError("The image carries metadata (text) too large to read safely. Please save "
                                  "it again without metadata, as PNG or JPEG.") from error
        raise ImageInputError(_corrupt_message(error)) from error
    except (OSError, SyntaxError, struct.error) as error:
        raise ImageInputError(_corrupt_message(error)) from error


def _is_empty(source) -> bool:
    if isinstance(source, (str, os.PathLike)):
        return os.path.getsize(source) == 0
    if hasattr(source, "seek") and hasattr(source, "tell"):
        position = source.tell()
        end = source.seek(0, io.SEEK_END)
        source.seek(position)
        return end == position == 0
    return False


def _corrupt_message(error: Exception) -> str:
    return (f"The image could not be decoded ({error}); it may be truncated or corrupt. "
            "Try saving it again as PNG or JPEG.")


def _bomb_message(error: Exception) -> str:
    """PIL refuses absurd sizes while reading the header; say so in the same words as `_check_dimensions`."""
    found = re.search(r"\((\d+) pixels\)", str(error))
    size = f" ({int(found.group(1)) / 1e6:,.0f} megapixels)" if found else ""
    return (f"The image is far too large{size}; the limit is {DEFAULT_MAX_MEGAPIXELS:g} megapixels. "
            "Please resize it first.")


# Formats PIL cannot name but students meet: recognised by their first bytes so the message can say what to do.
_SIGNATURES = (
    (re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<svg", re.DOTALL), "an SVG drawing (vector graphics)"),
    (re.compile(rb"^....ftyp(heic|heix|hevc|heim|heis|mif1|msf1)", re.DOTALL),
     "a HEIC photo (the iPhone's default; choose 'Most Compatible' in the camera settings or export as JPEG)"),
    (re.compile(rb"^....ftyp(avif|avis)", re.DOTALL), "an AVIF image"),
    (re.compile(rb"^%PDF-"), "a PDF document"),
)


def _unsupported_message(source) -> str:
    """Name what the file is, if we can tell, so the user knows what to convert."""
    kind = _sniff_kind(source) or "not an image we can read"
    return f"The file is {kind}. Please upload a {', '.join(ALLOWED_FORMATS[:-1])} or {ALLOWED_FORMATS[-1]} image."


def _sniff_kind(source) -> str | None:
    try:
        if hasattr(source, "seek"):
            source.seek(0)
            head = source.read(512)
            source.seek(0)
        else:
            with open(source, "rb") as file:
                head = file.read(512)
    except OSError:
        return None
    for pattern, kind in _SIGNATURES:
        if pattern.match(head):
            return kind
    try:
        with Image.open(source) as probe:
            return f"a {probe.format} image"
    except Exception:  # Any failure here only means we cannot name the format.
        return None


def _image_from_array(array: np.ndarray) -> Image.Image:
    if array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3:
        return Image.fromarray(array, "RGB")
    if array.dtype not in (np.uint8, np.uint16) or array.ndim not in (2, 3):
        raise ImageInputError(f"Expected a uint8 or uint16 image array, got {array.dtype} {array.shape}.")
    if array.ndim == 3 and array.shape[2] not in (1, 3, 4):
        raise ImageInputError(f"Expected 1, 3 or 4 channels, got an array of shape {array.shape}.")
    if array.dtype == np.uint16:
        array = (array.astype(np.float32) / 257.0).round().astype(np.uint8)
    return Image.fromarray(array.squeeze(-1) if array.ndim == 3 and array.shape[2] == 1 else array)


def _check_dimensions(size: tuple[int, int], max_megapixels: float) -> None:
    width, height = size
    megapixels = width * height / 1e6
    if megapixels > max_megapixels:
        raise ImageInputError(f"The image is {width}x{height} ({megapixels:.1f} megapixels); the limit is "
                              f"{max_megapixels:g} megapixels. Please resize it first.")


def _check_shape(shape: tuple[int, ...]) -> None:
    height, width = shape[:2]
    if min(height, width) < MIN_SIDE:
        raise ImageInputError(f"The image is {width}x{height}; each side must be at least {MIN_SIDE} pixels. "
                              "Please upload a larger image.")
    if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        raise ImageInputError(f"The image is {width}x{height}, too long and thin; the longer side may be at "
                              f"most {MAX_ASPECT_RATIO:g} times the shorter. Please crop it first.")


def _to_rgb_array(image: Image.Image) -> np.ndarray:
    """Bring any PIL mode to uint8 RGB without hiding colours or clipping high bit depths."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        grey = np.asarray(image, dtype=np.float32)
        # 16-bit files decode to 'I;16' or 'I'; a plain convert('L') would clip everything above 255.
        top = 65535.0 if mode.startswith("I;16") or grey.max(initial=0) > 255 else 255.0
        if mode == "F":
            top = max(float(grey.max(initial=0)), 1.0)
        grey = np.clip(grey / top * 255.0, 0, 255).round().astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Transparent pixels may hold arbitrary colours: composite on white instead of dropping alpha.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()

