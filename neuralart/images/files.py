"""Files: lossless PNGs that carry the recipe of the run that made them, and reading that recipe back."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping

import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

RECIPE_KEY = "neuralart-recipe"


def encode_png(image: np.ndarray, recipe: Mapping | None = None) -> bytes:
    """A lossless PNG of a uint8 image, carrying `recipe` (JSON) in a text chunk when given."""
    info = PngImagePlugin.PngInfo()
    if recipe is not None:
        info.add_itxt(RECIPE_KEY, json.dumps(recipe, sort_keys=True))
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def save_png(path: str | os.PathLike, image: np.ndarray, recipe: Mapping | None = None) -> None:
    with open(path, "wb") as file:
        file.write(encode_png(image, recipe))


def read_recipe(source) -> dict | None:
    """The recipe stored in a PNG written by `save_png`, or None when it carries none."""
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source, formats=("PNG",)) as image:
            text = image.text.get(RECIPE_KEY) if hasattr(image, "text") else None
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        return None
    if text is None:
        return None
    try:
        recipe = json.loads(text)
    except json.JSONDecodeError:
        return None
    return recipe if isinstance(recipe, dict) else None

