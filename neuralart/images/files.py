"""Files: images written in the format their name asks for (PNG, JPEG, WEBP), each carrying the recipe of the run
that made it, and reading that recipe back.

Where the recipe goes: a PNG text chunk (iTXt), a JPEG comment (COM segment) and, in WEBP, an XMP packet with the
recipe as one property. PNG and lossless WEBP keep the pixels exactly; JPEG is lossy (quality 95).
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Mapping
from xml.sax.saxutils import escape, unescape

import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

RECIPE_KEY = "neuralart-recipe"
# File name endings we write, and the format each asks for.
WRITABLE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
JPEG_QUALITY = 95
_XMP = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:neuralart="https://neuralart.invalid/ns/1.0/" neuralart:recipe="{}"/>'
        '</rdf:RDF></x:xmpmeta>')
_XMP_RECIPE = re.compile(rb'neuralart:recipe="([^"]*)"')


def format_for(path: str | os.PathLike) -> str:
    """The image format a file name asks for ("PNG", "JPEG" or "WEBP"); a ValueError naming the ones we write for
    any other ending."""
    ending = os.path.splitext(os.fspath(path))[1].lower()
    if ending not in WRITABLE_FORMATS:
        raise ValueError(f"{os.fspath(path)!r}: the output's name must end in .png, .jpg, .jpeg or .webp "
                         f"(got {ending or 'no ending'})")
    return WRITABLE_FORMATS[ending]


def encode_image(image: np.ndarray, image_format: str = "PNG", recipe: Mapping | None = None) -> bytes:
    """A uint8 image in `image_format`, carrying `recipe` (JSON) where that format keeps text."""
    text = None if recipe is None else json.dumps(recipe, sort_keys=True)
    options: dict = {}
    if image_format == "PNG":
        options["pnginfo"] = PngImagePlugin.PngInfo()
        if text is not None:
            options["pnginfo"].add_itxt(RECIPE_KEY, text)
    elif image_format == "JPEG":
        options.update(quality=JPEG_QUALITY, **({"comment": text} if text is not None else {}))
    elif image_format == "WEBP":
        options.update(lossless=True, **({"xmp": _XMP.format(escape(text, {'"': "&quot;"})).encode()}
                                         if text is not None else {}))
    else:
        raise ValueError(f"cannot write {image_format} images")
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=image_format, **options)
    return buffer.getvalue()


def encode_png(image: np.ndarray, recipe: Mapping | None = None) -> bytes:
    """A lossless PNG of a uint8 image, carrying `recipe` in a text chunk when given."""
    return encode_image(image, "PNG", recipe)


def save_image(path: str | os.PathLike, image: np.ndarray, recipe: Mapping | None = None) -> None:
    """Write `image` in the format its file name asks for (see `format_for`), with `recipe`."""
    data = encode_image(image, format_for(path), recipe)
    with open(path, "wb") as file:
        file.write(data)


def save_png(path: str | os.PathLike, image: np.ndarray, recipe: Mapping | None = None) -> None:
    with open(path, "wb") as file:
        file.write(encode_png(image, recipe))


def read_recipe(source) -> dict | None:
    """The recipe stored in a PNG, JPEG or WEBP written here, or None when it carries none."""
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source,
                        formats=("PNG", "JPEG", "WEBP")) as image:
            text = _recipe_text(image)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        return None
    if text is None:
        return None
    try:
        recipe = json.loads(text)
    except json.JSONDecodeError:
        return None
    return recipe if isinstance(recipe, dict) else None


def _recipe_text(image: Image.Image) -> str | None:
    if image.format == "PNG":
        return getattr(image, "text", {}).get(RECIPE_KEY)
    if image.format == "JPEG":
        comment = image.info.get("comment")
        return comment.decode("utf-8", "replace") if isinstance(comment, bytes) else comment
    found = _XMP_RECIPE.search(image.info.get("xmp") or b"")
    return unescape(found.group(1).decode("utf-8", "replace"), {"&quot;": '"'}) if found else None
