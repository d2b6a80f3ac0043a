"""Warps: an image magnified about its centre, turned and moved, as the frames of a zoom animation need."""

from __future__ import annotations

import numpy as np

from .ranges import pixels_to_uint8


def zoom_image(image: np.ndarray, zoom: float, rotate: float = 0.0, shift: tuple[float, float] = (0.0, 0.0)) \
        -> np.ndarray:
    """A uint8 image magnified `zoom` times about its centre, turned `rotate` degrees (counter-clockwise) and moved
    by `shift` (x to the right, y down, in pixels), at its own size. Parts that come from outside the image (a
    zoom below 1, a turn) are filled by mirroring its edge, so no black corner enters the animation."""
    from scipy import ndimage

    height, width = image.shape[:2]
    centre = np.array([(height - 1) / 2.0, (width - 1) / 2.0])
    angle = np.deg2rad(rotate)
    # Maps each output position (row, column) to where it is read in the input.
    matrix = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]]) / zoom
    offset = centre - matrix @ (centre + np.array([shift[1], shift[0]]))
    channels = [ndimage.affine_transform(image[..., channel].astype(np.float32), matrix, offset, order=3,
                                         mode="mirror") for channel in range(image.shape[2])]
    return pixels_to_uint8(np.stack(channels, axis=-1))
