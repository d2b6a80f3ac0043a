"""Masks: where an effect acts, as float32 weights 0..1 at an image's size.

A mask comes as any image or a float array. An image with transparency (strokes painted on a layer) counts where
it is painted, whatever the colour; an opaque one counts by its brightness (white: inside, black: outside).
Decoding goes through the same safety checks as photos (`loading`). Two ways to soften the edges, because the
techniques need different promises: DeepDream's `feather_inwards` never touches what the mask leaves out, while
style regions' `soften_edges` keeps masks that add up to one (two regions meeting) adding up to one.
"""

from __future__ import annotations

import math
import struct

import numpy as np
from PIL import Image, ImageOps

from .loading import DEFAULT_MAX_MEGAPIXELS, ImageInputError, _check_dimensions, _corrupt_message, _open_lazily

# A mask whose largest weight is below this (half a grey level) has nothing painted in it.
EMPTY_BELOW = 0.5 / 255.0
# A Gaussian cut beyond three widths keeps 0.13% of its weight, a fraction of one grey level.
GAUSSIAN_REACH = 3.0


def load_mask(source, size: tuple[int, int], *, name: str = "The mask") -> np.ndarray:
    """`source` (a path, bytes, PIL image, image array or float array in 0..1) as float32 weights 0..1 of shape
    `size` (height, width), scaled to that size whatever its own (a mask drawn on a smaller copy still fits).

    Raises ImageInputError when `source` is not a usable image or marks nothing; `name` starts the messages
    ("The mask of style 2").
    """
    weights = mask_values(source, name)
    if weights.max(initial=0.0) < EMPTY_BELOW:
        raise ImageInputError(f"{name} is empty: nothing is painted in it (an opaque mask counts where it is light, "
                              "one with transparency where it is painted). Paint where the effect should act.")
    height, width = size
    if weights.shape != (height, width):
        weights = np.asarray(Image.fromarray(weights, "F").resize((width, height), Image.Resampling.BILINEAR))
    return np.clip(weights, 0.0, 1.0).astype(np.float32)


def feather_inwards(mask: np.ndarray, pixels: float) -> np.ndarray:
    """Soften a mask's edges over about `pixels`, inside the marked area only: the mask is shrunk by the blur's
    reach, then blurred, and never rises above the original, so what it leaves out stays left out."""
    if pixels <= 0:
        return mask.astype(np.float32)
    from scipy import ndimage

    sigma = pixels / 2.0
    reach = int(np.ceil(GAUSSIAN_REACH * sigma))
    shrunk = ndimage.minimum_filter(mask, size=2 * reach + 1, mode="nearest")
    soft = ndimage.gaussian_filter(shrunk, sigma, mode="nearest", truncate=GAUSSIAN_REACH)
    return np.minimum(soft, mask).astype(np.float32)


def soften_edges(mask: np.ndarray, sigma: float) -> np.ndarray:
    """`mask` blurred by a Gaussian of `sigma` pixels (unchanged for 0), the image's edges reflected."""
    if sigma <= 0:
        return mask.astype(np.float32)
    from scipy import ndimage

    soft = ndimage.gaussian_filter(mask.astype(np.float32), sigma, mode="reflect", truncate=GAUSSIAN_REACH)
    return np.clip(soft, 0.0, 1.0).astype(np.float32)


def mask_values(source, name: str = "The mask", *, layer: bool = False) -> np.ndarray:
    """The mask as float32 0..1 (height, width), as given: not scaled, softened or checked for marks. A `layer`
    (strokes from a paint editor) counts by its opacity alone, even where the strokes cover all of it."""
    if isinstance(source, np.ndarray):
        return _array_weights(source, name, layer)
    image = source if isinstance(source, Image.Image) else _opened(source, name)
    _check_dimensions(image.size, DEFAULT_MAX_MEGAPIXELS)
    try:
        image.seek(0)
        image.load()
        return _image_weights(ImageOps.exif_transpose(image), layer)
    except (OSError, SyntaxError, ValueError, struct.error, Image.DecompressionBombError) as error:
        raise ImageInputError(f"{name}: {_corrupt_message(error)}") from error


def _opened(source, name: str) -> Image.Image:
    try:
        return _open_lazily(source)
    except ImageInputError as error:
        raise ImageInputError(f"{name}: {error}") from error


def _image_weights(image: Image.Image, layer: bool = False) -> np.ndarray:
    """Transparency where the image has any (or is a paint layer), else brightness."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        alpha = np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0
        if layer or alpha.min() < 1.0:
            return alpha
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit masks keep their precision (a plain convert("L") would clip them).
        grey = np.asarray(image, dtype=np.float32)
        top = 65535.0 if image.mode.startswith("I;16") or grey.max(initial=0) > 255 else 255.0
        return np.clip(grey / top, 0.0, 1.0)
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def _array_weights(array: np.ndarray, name: str, layer: bool = False) -> np.ndarray:
    """An array mask: float weights 0..1, or a uint8 / uint16 image (greyscale, RGB or RGBA)."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if np.issubdtype(array.dtype, np.floating) and array.ndim == 2:
        if not np.all(np.isfinite(array)) or array.min(initial=0.0) < 0.0 or array.max(initial=0.0) > 1.0:
            raise ImageInputError(f"{name}: a float mask must be finite and hold values from 0 to 1.")
        return array.astype(np.float32)
    if array.dtype not in (np.uint8, np.uint16) or array.ndim not in (2, 3) or (
            array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageInputError(f"{name}: expected a greyscale, RGB or RGBA image array or float weights 0..1, got "
                              f"{array.dtype} {array.shape}.")
    if array.dtype == np.uint16:
        array = (array.astype(np.float32) / 257.0).round().astype(np.uint8)
    if min(array.shape[:2]) < 1 or math.prod(array.shape[:2]) > DEFAULT_MAX_MEGAPIXELS * 1e6:
        raise ImageInputError(f"{name}: an array of shape {array.shape} is not a usable mask.")
    return _image_weights(Image.fromarray(array), layer)
