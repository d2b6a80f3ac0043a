"""Masks: where an effect may act, as float 0..1 at an image's size, with edges feathered inwards.

A mask comes as any image (white = act; black or transparent = keep: its luminance times its opacity, so both a
black-and-white file and strokes painted on a transparent layer read as meant) or as a 2-D float array in 0..1.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

from .loading import (DEFAULT_MAX_MEGAPIXELS, ImageInputError, _check_dimensions, _corrupt_message, _open_lazily,
                      _to_rgb_array)

# A mask whose largest value is below this (in 0..1) marks nothing: less than one grey level.
EMPTY_MASK = 0.5 / 255
# Feathering erodes the mask by this many blur widths before blurring it, so the blur's tail stays inside the
# painted area: beyond three widths a Gaussian keeps 0.13% of its weight, a fraction of one grey level.
ERODE_WIDTHS = 3.0


def load_mask(source, size: tuple[int, int], feather: float = 0.0) -> np.ndarray:
    """`source` (a path, bytes, PIL image, uint8 image array or float array in 0..1) as a float32 (height, width)
    mask in 0..1 at `size` (height, width), its edges softened over about `feather` pixels inside the marked area.

    Wherever the given mask is 0 the result is exactly 0. A mask of another size is scaled to `size`; one that
    marks nothing is refused with an ImageInputError.
    """
    mask = mask_values(source)
    if mask.shape != tuple(size):
        resized = Image.fromarray(mask.astype(np.float32), mode="F").resize((size[1], size[0]),
                                                                            Image.Resampling.BILINEAR)
        mask = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
    if float(mask.max(initial=0.0)) < EMPTY_MASK:
        raise ImageInputError("The mask is empty: it marks no pixel. Paint (or make white) where the effect should "
                              "act; black or transparent parts keep the photo.")
    return feather_mask(mask, feather)


def feather_mask(mask: np.ndarray, feather: float) -> np.ndarray:
    """Soften a 0..1 mask's edges over about `feather` pixels, inwards only: the mask is shrunk by the blur's reach
    and then blurred, and never rises above the original, so pixels it leaves out stay left out."""
    if feather <= 0:
        return mask.astype(np.float32)
    from scipy import ndimage

    sigma = feather / 2.0
    reach = int(np.ceil(ERODE_WIDTHS * sigma))
    shrunk = ndimage.minimum_filter(mask, size=2 * reach + 1, mode="nearest")
    soft = ndimage.gaussian_filter(shrunk, sigma, mode="nearest", truncate=ERODE_WIDTHS)
    return np.minimum(soft, mask).astype(np.float32)


def mask_values(source) -> np.ndarray:
    """The mask as float 0..1 (height, width), as given: not scaled, feathered or checked for marks."""
    if isinstance(source, np.ndarray) and source.dtype.kind == "f":
        if source.ndim != 2 or not np.isfinite(source).all():
            raise ImageInputError(f"A mask array must be 2-D and finite, got {source.dtype} {source.shape}.")
        return np.clip(source, 0.0, 1.0).astype(np.float32)
    image = Image.fromarray(source) if isinstance(source, np.ndarray) else (
        source if isinstance(source, Image.Image) else _open_lazily(source))
    _check_dimensions(image.size, DEFAULT_MAX_MEGAPIXELS)
    try:
        image.seek(0)
        image.load()
        image = ImageOps.exif_transpose(image)
        if image.mode == "P" and "transparency" in image.info:
            image = image.convert("RGBA")
        opacity = (np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0 if "A" in image.getbands()
                   else None)
        grey = _to_rgb_array(image.convert("RGBA") if opacity is not None else image).astype(np.float32)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ImageInputError(_corrupt_message(error)) from error
    luminance = grey @ np.asarray([0.299, 0.587, 0.114], np.float32) / 255.0
    return luminance if opacity is None else luminance * opacity
