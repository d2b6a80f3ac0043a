"""Masks: any image (a file, bytes, a PIL image or an array) read as float weights 0..1 at a given size, with
feathered edges. A painted layer (an image with transparency) counts where it is painted, whatever the colour;
an opaque image counts by its brightness (white: inside, black: outside). Decoding goes through the same safety
checks as photos (neuralart.images.loading)."""

from __future__ import annotations

import math
import struct

import numpy as np
from PIL import Image, ImageOps

from .loading import (DEFAULT_MAX_MEGAPIXELS, ImageInputError, _check_dimensions, _corrupt_message,
                      _open_lazily)

# A mask whose largest weight is below this (half a grey level) has nothing painted in it.
EMPTY_BELOW = 0.5 / 255.0


def load_mask(source, size: tuple[int, int], *, feather: float = 0.0, name: str = "The mask") -> np.ndarray:
    """`source` as float32 weights 0..1 of shape `size` (height, width), scaled to that size whatever its own
    (a mask drawn on a smaller copy of the photo still fits), its edges blurred over `feather` pixels (a
    Gaussian of that standard deviation) so that what it selects fades in and out instead of cutting.

    Raises ImageInputError when `source` is not a readable image and ValueError when nothing is painted in it;
    `name` starts those messages ("The mask of style 2").
    """
    weights = _weights_of(source, name)
    if weights.max(initial=0.0) < EMPTY_BELOW:
        raise ValueError(f"{name} is empty: nothing is painted in it (an opaque mask counts where it is light, "
                         "one with transparency where it is painted). Paint the region the style should cover.")
    height, width = size
    if weights.shape != (height, width):
        weights = np.asarray(Image.fromarray(weights, "F").resize((width, height), Image.Resampling.BILINEAR))
    return np.clip(feathered(weights, feather), 0.0, 1.0).astype(np.float32)


def feathered(weights: np.ndarray, feather: float) -> np.ndarray:
    """`weights` blurred by a Gaussian of `feather` pixels (unchanged for 0), the edges of the image reflected."""
    if feather <= 0:
        return weights
    from scipy import ndimage

    return ndimage.gaussian_filter(weights.astype(np.float32), feather, mode="reflect", truncate=3.0)


def _weights_of(source, name: str) -> np.ndarray:
    if isinstance(source, np.ndarray):
        return _array_weights(source, name)
    image = source if isinstance(source, Image.Image) else _opened(source, name)
    _check_dimensions(image.size, DEFAULT_MAX_MEGAPIXELS)
    try:
        image.seek(0)
        image.load()
        image = ImageOps.exif_transpose(image)
        return _image_weights(image)
    except (OSError, SyntaxError, ValueError, struct.error, Image.DecompressionBombError) as error:
        raise ImageInputError(f"{name}: {_corrupt_message(error)}") from error


def _opened(source, name: str) -> Image.Image:
    try:
        return _open_lazily(source)
    except ImageInputError as error:
        raise ImageInputError(f"{name}: {error}") from error


def _image_weights(image: Image.Image) -> np.ndarray:
    """Transparency where the image has any (a painted layer), else brightness, as float32 0..1."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        alpha = np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0
        if alpha.min() < 1.0:
            return alpha
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit masks keep their precision (a plain convert("L") would clip them).
        grey = np.asarray(image, dtype=np.float32)
        top = 65535.0 if image.mode.startswith("I;16") or grey.max(initial=0) > 255 else 255.0
        return np.clip(grey / top, 0.0, 1.0)
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def _array_weights(array: np.ndarray, name: str) -> np.ndarray:
    """An array mask: float values already 0..1, or a uint8 / uint16 image (greyscale, RGB or RGBA)."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if np.issubdtype(array.dtype, np.floating) and array.ndim == 2:
        if not np.all(np.isfinite(array)) or array.min(initial=0.0) < 0.0 or array.max(initial=0.0) > 1.0:
            raise ImageInputError(f"{name}: a float mask must hold values from 0 to 1.")
        return array.astype(np.float32)
    if array.dtype not in (np.uint8, np.uint16) or array.ndim not in (2, 3) or (
            array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageInputError(f"{name}: expected a greyscale, RGB or RGBA image array or float weights 0..1, got "
                              f"{array.dtype} {array.shape}.")
    if array.dtype == np.uint16:
        array = (array.astype(np.float32) / 257.0).round().astype(np.uint8)
    if min(array.shape[:2]) < 1 or math.prod(array.shape[:2]) > DEFAULT_MAX_MEGAPIXELS * 1e6:
        raise ImageInputError(f"{name}: an array of shape {array.shape} is not a usable mask.")
    return _image_weights(Image.fromarray(array))
