"""A corpus of hostile and malformed uploads, made here from scratch (nothing is fetched).

Each `Hostile` is the bytes of one upload, the file name it arrives under, and what the loader must do with it:
refuse it with a message matching `message` (a regular expression naming the problem and what to do), or accept
it and hand back pixels that pass `check`. The corpus covers what a classroom actually uploads: decompression
bombs, truncated and mislabelled files, vector and document formats, degenerate sizes, every awkward PIL mode
(16-bit, CMYK, palette with transparency, LA), animations and EXIF-rotated phone photos.

Used by tests/test_images.py (the loader) and tests/test_app.py (the same files uploaded to a running server).
"""

from __future__ import annotations

import dataclasses
import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

NOT_AN_IMAGE = r"not an image we can read.*upload a JPEG, PNG, WEBP or BMP"
TOO_MANY_PIXELS = r"megapixels\)?; the limit is \d+ megapixels\. Please resize it"
TOO_SMALL = r"each side must be at least \d+ pixels"
TOO_THIN = r"too long and thin"
CORRUPT = r"could not be decoded.*(truncated|corrupt).*saving it again"
EMPTY = r"empty \(0 bytes\).*upload a JPEG"


@dataclasses.dataclass(frozen=True)
class Hostile:
    """One upload. `message` set: it must be refused with a matching message; else `check` judges the pixels."""

    name: str
    filename: str
    data: bytes
    message: str | None = None
    check: Callable[[np.ndarray], None] | None = None

    @property
    def refused(self) -> bool:
        return self.message is not None

    def write(self, folder: Path) -> Path:
        folder = Path(folder) / self.name  # One folder per case, so every file keeps its own upload name.
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self.filename
        path.write_bytes(self.data)
        return path


# --- building blocks -----------------------------------------------------------------------------------------

def smooth_photo(width: int = 64, height: int = 48, seed: int = 0) -> Image.Image:
    """A smooth colourful RGB picture, like a photo at low resolution."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)


def encoded(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming_size(width: int, height: int) -> bytes:
    """A small valid PNG whose header claims another size: the pixels are never there to decode."""
    data = encoded(Image.new("L", (16, 16), 128), "PNG")
    header = struct.pack(">II", width, height) + data[24:29]  # Keep bit depth, colour type and the rest.
    return data[:8] + png_chunk(b"IHDR", header) + data[33:]


def jpeg_claiming_size(width: int, height: int) -> bytes:
    """A small JPEG whose frame header (SOF0) claims another size."""
    data = bytearray(encoded(Image.new("RGB", (16, 16), (90, 120, 150)), "JPEG", quality=90))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def bmp_claiming_size(width: int, height: int) -> bytes:
    data = bytearray(encoded(Image.new("RGB", (16, 16), (10, 200, 30)), "BMP"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def webp_claiming_size(width: int, height: int) -> bytes:
    """An extended (VP8X) WebP whose canvas claims another size; the 24-bit fields allow 16 million pixels a side."""
    data = bytearray(encoded(Image.new("RGBA", (16, 16), (200, 30, 30, 128)), "WEBP", quality=80))
    if data[12:16] != b"VP8X":
        raise AssertionError("expected an extended WebP with an alpha channel")
    data[24:27] = (width - 1).to_bytes(3, "little")
    data[27:30] = (height - 1).to_bytes(3, "little")
    return bytes(data)


def bilevel_bomb(side: int = 10_000) -> bytes:
    """A real decompression bomb: a blank 1-bit PNG of side x side compresses to a few kilobytes but would decode
    to side*side*3 bytes of RGB (300 MB for 10000)."""
    return encoded(Image.new("1", (side, side), 0), "PNG", optimize=False)


def exif_rotated_jpeg() -> bytes:
    """A landscape photo stored sideways, as phones do: red on the left, to be shown on top after rotation."""
    pixels = np.zeros((40, 80, 3), np.uint8)
    pixels[:, :40] = (220, 20, 20)
    pixels[:, 40:] = (20, 20, 220)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation 6: the viewer must rotate 90 degrees clockwise.
    return encoded(Image.fromarray(pixels), "JPEG", quality=95, exif=exif.tobytes())


def broken_exif_jpeg() -> bytes:
    """A JPEG whose EXIF block is garbage after a valid signature."""
    data = encoded(smooth_photo(), "JPEG", quality=90)
    garbage = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff" + bytes(range(256)) * 2
    app1 = b"\xff\xe1" + struct.pack(">H", len(garbage) + 2) + garbage
    return data[:2] + app1 + data[2:]


def sixteen_bit_grey() -> bytes:
    """A 16-bit greyscale ramp over the full 0..65535 range (a plain convert('RGB') would clip most of it)."""
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    return encoded(Image.fromarray(ramp), "PNG")


def palette_with_transparency() -> bytes:
    """A palette PNG whose transparent entry hides pure green: it must come out white, not green."""
    indices = np.zeros((32, 32), np.uint8)
    indices[:, 16:] = 1
    image = Image.fromarray(indices, "P")
    image.putpalette([0, 255, 0, 200, 40, 40] + [0] * (254 * 3))
    return encoded(image, "PNG", transparency=0)


def grey_with_alpha() -> bytes:
    """An LA PNG: left half fully transparent black, right half opaque mid-grey."""
    grey = np.full((32, 32), 128, np.uint8)
    grey[:, :16] = 0
    alpha = np.full((32, 32), 255, np.uint8)
    alpha[:, :16] = 0
    return encoded(Image.fromarray(np.dstack([grey, alpha]), "LA"), "PNG")


def rgba_hiding_colour() -> bytes:
    pixels = np.zeros((32, 32, 4), np.uint8)
    pixels[..., 1] = 255  # Pure green everywhere, but fully transparent.
    pixels[:, 16:] = (40, 40, 200, 255)
    return encoded(Image.fromarray(pixels, "RGBA"), "PNG")


def animation_frames() -> list[Image.Image]:
    return [Image.new("RGB", (32, 32), colour) for colour in ((220, 20, 20), (20, 20, 220), (20, 220, 20))]


def animated(image_format: str, **options) -> bytes:
    first, *rest = animation_frames()
    return encoded(first, image_format, save_all=True, append_images=rest, duration=100, loop=0, **options)


def text_chunk_bomb() -> bytes:
    """A valid PNG with a compressed text chunk that inflates to 64 MB (PIL refuses to inflate it)."""
    data = encoded(smooth_photo(), "PNG")
    payload = b"comment\x00\x00" + zlib.compress(b"A" * (64 << 20), 9)
    return data[:33] + png_chunk(b"zTXt", payload) + data[33:]


def bad_crc_png() -> bytes:
    data = bytearray(encoded(smooth_photo(), "PNG"))
    start = data.index(b"IDAT")
    data[start + 10:start + 30] = bytes(20)  # Zero part of the compressed pixels: the CRC no longer matches.
    return bytes(data)


def recipe_png_with_garbage_recipe() -> bytes:
    """A fine PNG whose recipe chunk is not JSON: the image still loads."""
    info = PngImagePlugin.PngInfo()
    info.add_itxt("neuralart-recipe", "{not json")
    return encoded(smooth_photo(), "PNG", pnginfo=info)


def svg_document() -> bytes:
    return (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="4000" height="4000">'
            b'<script>alert(1)</script><rect width="100%" height="100%" fill="red"/></svg>\n')


def pdf_document() -> bytes:
    return (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
            b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


def zip_archive() -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photo.jpg", b"not really")
    return buffer.getvalue()


def heic_like() -> bytes:
    """The start of an iPhone HEIC file: an ISO box 'ftyp' with brand heic."""
    return struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic" + bytes(64)


# --- checks for images that must be accepted -----------------------------------------------------------------

def shape_is(height: int, width: int) -> Callable[[np.ndarray], None]:
    def check(pixels: np.ndarray) -> None:
        assert pixels.shape == (height, width, 3), pixels.shape
    return check


def colour_near(expected, where=(slice(None), slice(None)), tolerance: int = 40) -> Callable[[np.ndarray], None]:
    def check(pixels: np.ndarray) -> None:
        mean = pixels[where].reshape(-1, 3).mean(axis=0)
        assert np.all(np.abs(mean - np.asarray(expected)) <= tolerance), (mean, expected)
    return check


def all_of(*checks: Callable[[np.ndarray], None]) -> Callable[[np.ndarray], None]:
    def check(pixels: np.ndarray) -> None:
        assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
        for each in checks:
            each(pixels)
    return check


def ramp_not_clipped(pixels: np.ndarray) -> None:
    grey = pixels[..., 0].astype(int).ravel()
    assert np.all(np.diff(grey) >= 0), "the 16-bit ramp must stay monotonic"
    assert grey.min() <= 2 and grey.max() >= 253, (grey.min(), grey.max())
    assert np.mean(grey == 255) < 0.05, "most of a 16-bit ramp was clipped to white"


LEFT, RIGHT = (slice(None), slice(0, 14)), (slice(None), slice(18, None))
TOP = (slice(0, 35), slice(None))


# --- the corpus ----------------------------------------------------------------------------------------------

def corpus() -> list[Hostile]:
    """Every hostile input, freshly generated (about a second)."""
    photo = smooth_photo()
    jpeg = encoded(photo, "JPEG", quality=90)
    png = encoded(photo, "PNG")
    return [
        # Sizes checked before decoding.
        Hostile("decompression_bomb", "bomb.png", bilevel_bomb(), TOO_MANY_PIXELS),
        Hostile("huge_png_header", "huge.png", png_claiming_size(65_535, 65_535), TOO_MANY_PIXELS),
        Hostile("huge_jpeg_header", "huge.jpg", jpeg_claiming_size(65_500, 65_500), TOO_MANY_PIXELS),
        Hostile("huge_bmp_header", "huge.bmp", bmp_claiming_size(30_000, 30_000), TOO_MANY_PIXELS),
        Hostile("huge_webp_canvas", "huge.webp", webp_claiming_size(16_000, 16_000),
                f"({TOO_MANY_PIXELS})|({CORRUPT})"),
        Hostile("one_by_one", "dot.png", encoded(Image.new("RGB", (1, 1), (255, 0, 0)), "PNG"), TOO_SMALL),
        Hostile("one_by_ten_thousand", "line.png", encoded(Image.new("RGB", (1, 10_000), (9, 9, 9)), "PNG"),
                TOO_SMALL),
        Hostile("long_and_thin", "strip.png", encoded(smooth_photo(1000, 20), "PNG"), TOO_THIN),
        # Broken or mislabelled files.
        Hostile("zero_bytes", "empty.png", b"", EMPTY),
        Hostile("truncated_jpeg", "cut.jpg", jpeg[:len(jpeg) // 2], CORRUPT),
        Hostile("truncated_png", "cut.png", png[:len(png) // 2], CORRUPT),
        Hostile("png_signature_only", "stub.png", png[:12], NOT_AN_IMAGE),
        Hostile("bad_crc_png", "crc.png", bad_crc_png(), CORRUPT),
        Hostile("text_renamed_png", "notes.png", b"just some notes, not pixels\n" * 20, NOT_AN_IMAGE),
        Hostile("html_renamed_png", "page.png", b"<html><script>alert('x')</script></html>", NOT_AN_IMAGE),
        Hostile("svg", "vector.svg", svg_document(), r"SVG drawing.*upload a JPEG, PNG, WEBP or BMP"),
        Hostile("pdf", "homework.pdf", pdf_document(), r"PDF document.*upload a JPEG, PNG, WEBP or BMP"),
        Hostile("zip_renamed_jpg", "archive.jpg", zip_archive(), NOT_AN_IMAGE),
        Hostile("heic_phone_photo", "IMG_0001.heic", heic_like(), r"HEIC photo.*upload a JPEG, PNG, WEBP or BMP"),
        Hostile("tiff", "scan.tif", encoded(photo, "TIFF"), r"TIFF image.*upload a JPEG, PNG, WEBP or BMP"),
        Hostile("animated_gif", "loop.gif", animated("GIF"), r"GIF image.*upload a JPEG, PNG, WEBP or BMP"),
        Hostile("png_text_bomb", "chatty.png", text_chunk_bomb(), r"(metadata|text).*too large"),
        # Awkward but legitimate images: accepted, converted faithfully.
        Hostile("sixteen_bit_grey", "ramp16.png", sixteen_bit_grey(), check=all_of(ramp_not_clipped)),
        Hostile("cmyk_jpeg", "print.jpg", encoded(Image.new("CMYK", (32, 32), (255, 0, 0, 0)), "JPEG"),
                check=all_of(colour_near((0, 255, 255)))),
        Hostile("palette_transparency", "icon.png", palette_with_transparency(),
                check=all_of(colour_near((255, 255, 255), LEFT, 2), colour_near((200, 40, 40), RIGHT, 2))),
        Hostile("grey_alpha_la", "la.png", grey_with_alpha(),
                check=all_of(colour_near((255, 255, 255), LEFT, 2), colour_near((128, 128, 128), RIGHT, 2))),
        Hostile("rgba_hidden_colour", "rgba.png", rgba_hiding_colour(),
                check=all_of(colour_near((255, 255, 255), LEFT, 2), colour_near((40, 40, 200), RIGHT, 2))),
        Hostile("animated_webp", "loop.webp", animated("WEBP", lossless=True),
                check=all_of(shape_is(32, 32), colour_near((220, 20, 20), tolerance=3))),
        Hostile("animated_png", "loop.png", animated("PNG"),
                check=all_of(shape_is(32, 32), colour_near((220, 20, 20), tolerance=3))),
        Hostile("exif_rotated", "phone.jpg", exif_rotated_jpeg(),
                check=all_of(shape_is(80, 40), colour_near((220, 20, 20), TOP))),
        Hostile("broken_exif", "odd.jpg", broken_exif_jpeg(), check=all_of(shape_is(48, 64))),
        Hostile("garbage_recipe_chunk", "recipe.png", recipe_png_with_garbage_recipe(), check=all_of(shape_is(48, 64))),
        Hostile("bitmap", "paint.bmp", encoded(photo, "BMP"), check=all_of(shape_is(48, 64))),
        Hostile("greyscale_jpeg", "grey.jpg", encoded(photo.convert("L"), "JPEG"), check=all_of(shape_is(48, 64))),
        Hostile("one_bit", "fax.png", encoded(Image.new("1", (40, 40), 1), "PNG"),
                check=all_of(colour_near((255, 255, 255), tolerance=0))),
    ]


def refused() -> list[Hostile]:
    return [case for case in corpus() if case.refused]


def accepted() -> list[Hostile]:
    return [case for case in corpus() if not case.refused]
