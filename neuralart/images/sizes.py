"""Sizes: shrinking and resizing uint8 images, float tensors, whole-factor enlargement and grids of tiles."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image


def shrink_to_longest_side(image: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink a uint8 image so its longest side is at most `max_side` (never enlarges)."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image
    return resize_uint8(image, (max(1, round(height * scale)), max(1, round(width * scale))))


def resize_uint8(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a uint8 image to (height, width) with a high-quality filter."""
    height, width = size
    if image.shape[:2] == (height, width):
        return image
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS))


def scaled_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """(height, width) multiplied by `scale` and rounded, at least 1 pixel each."""
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def resize_float(image, size):
    """Resize a float image tensor (height, width, 3) bilinearly, anti-aliased when shrinking (TF op)."""
    import tensorflow as tf

    return tf.image.resize(image, size, method="bilinear", antialias=True)


def resize_to_longest_side(image: np.ndarray, side: int) -> np.ndarray:
    """Resize a uint8 image (enlarging or shrinking) so its longest side is `side`, keeping its aspect ratio."""
    height, width = image.shape[:2]
    scale = side / max(height, width)
    return resize_uint8(image, (max(1, round(height * scale)), max(1, round(width * scale))))


def enlarge_nearest(image: np.ndarray, min_side: int) -> np.ndarray:
    """Enlarge a small uint8 image by a whole factor, pixel by pixel (no blur), until its shorter side reaches
    `min_side`; feature maps and 3x3 kernels stay readable cell by cell. Larger images are returned unchanged."""
    factor = max(1, -(-min_side // min(image.shape[:2])))
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1) if factor > 1 else image


def image_grid(images: Sequence[np.ndarray], columns: int | None = None, padding: int = 2,
               background: int = 255) -> np.ndarray:
    """Stitch equally sized uint8 images into one grid image, row by row."""
    if not images:
        raise ValueError("image_grid needs at least one image")
    count = len(images)
    columns = columns or int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    height, width = images[0].shape[:2]
    grid = np.full((rows * (height + padding) + padding, columns * (width + padding) + padding, 3),
                   background, dtype=np.uint8)
    for index, image in enumerate(images):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        grid[top:top + height, left:left + width] = image if image.ndim == 3 else image[:, :, None]
    return grid

