"""Value ranges. Float forms are named by their range: `pixels` are RGB 0..255 (the form images load into),
`minus1_1` is -1..1 (pixels / 127.5 - 1, the space DeepDream ascends in) and `zero1` is 0..1 (a sigmoid's output,
feature visualization's images). Also the display forms that stretch or normalise values into uint8."""

from __future__ import annotations

import numpy as np


def uint8_to_pixels(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32)


def pixels_to_uint8(pixels) -> np.ndarray:
    """Float 0..255 (numpy or tensor) to uint8, rounding and clipping."""
    return np.clip(np.rint(np.asarray(pixels, dtype=np.float32)), 0, 255).astype(np.uint8)


def uint8_to_minus1_1(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / 127.5 - 1.0


def minus1_1_to_uint8(values) -> np.ndarray:
    return pixels_to_uint8((np.asarray(values, dtype=np.float32) + 1.0) * 127.5)


def minus1_1_to_pixels(values):
    return (values + 1.0) * 127.5


def normalize_for_display(image, mean: float = 0.5, std: float = 0.1) -> np.ndarray:
    """The chapter's deprocess for feature visualizations: centre on `mean`, spread `std`, clip, to uint8.

    A visualization's absolute values mean nothing, only its contrasts; this shows them at a fixed contrast.
    """
    image = np.asarray(image, dtype=np.float32)
    image = (image - image.mean()) / (image.std() + 1e-5) * std + mean
    return pixels_to_uint8(np.clip(image, 0, 1) * 255.0)


def normalize_channels(maps: np.ndarray) -> np.ndarray:
    """Feature maps (height, width, channels) to uint8, each channel stretched to its own 0..255 range."""
    maps = np.asarray(maps, dtype=np.float32)
    low = maps.min(axis=(0, 1), keepdims=True)
    high = maps.max(axis=(0, 1), keepdims=True)
    return pixels_to_uint8((maps - low) / np.maximum(high - low, 1e-8) * 255.0)


def zero1_to_pixels(values):
    """Float 0..1 (numpy or tensor) to float pixels 0..255."""
    return values * np.float32(255.0)


def zero1_to_uint8(values) -> np.ndarray:
    """Float 0..1 (numpy or tensor; e.g. a sigmoid's output) to uint8 0..255."""
    return pixels_to_uint8(zero1_to_pixels(np.asarray(values, dtype=np.float32)))


def stretch_to_uint8(values) -> np.ndarray:
    """Any float array stretched as a whole to 0..255 (its minimum to 0, its maximum to 255), keeping the
    proportions between its channels: how a learned colour kernel is shown."""
    values = np.asarray(values, dtype=np.float32)
    low, high = float(values.min()), float(values.max())
    return pixels_to_uint8((values - low) / max(high - low, 1e-8) * 255.0)

