"""Measures of a visualization's quality, used by the benchmark and the tests: how much of an image is
high-frequency noise, and how well it still excites its target when seen shifted, scaled and rotated."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import images
from ..models import Backbone
from .config import FilterConfig
from .objectives import plan_for
from .steps import evaluation_function
from .transform import FILL_GREY, random_transforms, sample_bilinear


def high_frequency_share(image: np.ndarray) -> float:
    """Share of an image's spectral power (mean removed, summed over colour channels) at radial frequencies
    above half the Nyquist frequency (0.25 cycles per pixel): near 0.6 for white noise, a few percent for
    photographs."""
    values = np.asarray(image, dtype=np.float64)
    values = values - values.mean(axis=(0, 1), keepdims=True)
    power = np.abs(np.fft.fft2(values, axes=(0, 1))) ** 2
    vertical = np.fft.fftfreq(values.shape[0])[:, None]
    horizontal = np.fft.fftfreq(values.shape[1])[None, :]
    high = np.sqrt(vertical ** 2 + horizontal ** 2) > 0.25
    total = power.sum()
    return float(power[high].sum() / total) if total > 0 else 0.0


def robust_activation(tiles: Sequence[np.ndarray], targets: Sequence[int], config: FilterConfig,
                      backbone: Backbone, count: int = 16, seed: int = 12345) -> np.ndarray:
    """Each uint8 tile's objective (for its target, as `config` defines it) averaged over `count` random
    shift/scale/rotation versions of it: how well a visualization holds up when it is not seen exactly as it was
    optimised. Draws its own transformations from `seed`, independent of the run's."""
    import tensorflow as tf

    plan = plan_for(config, backbone)
    evaluate = evaluation_function(backbone, plan)
    results = []
    for tile, target in zip(tiles, targets):
        size = tile.shape[:2]
        view = plan.view_size or size
        transforms = random_transforms(np.random.default_rng([seed, target]), count, size, view)
        pixels = np.repeat(images.uint8_to_pixels(tile)[None], count, axis=0)
        view_size = tf.constant(view, tf.int32)
        # Warped in pixel units (bilinear sampling is linear), with the grey the optimisation sees.
        seen = sample_bilinear(tf.constant(pixels), tf.constant(transforms), view_size,
                               images.zero1_to_pixels(FILL_GREY))
        values = evaluate(seen, tf.constant([target] * count, tf.int32), view_size)
        results.append(float(tf.reduce_mean(values)))
    return np.asarray(results)



def gram_distances(tiles: Sequence[np.ndarray], layer: str, backbone: Backbone) -> np.ndarray:
    """The distance between each pair of uint8 tiles' Gram matrices of `layer` (channels by channels, each
    scaled to unit Frobenius norm, so 0 for images alike in style and at most 2): how far apart a diversity row
    is, in the terms its diversity term pushes. The upper triangle, pair (0, 1) first."""
    pixels = np.stack([images.uint8_to_pixels(tile) for tile in tiles])
    activation = np.asarray(backbone.layer_model((layer,))(backbone.input_space.to_model(pixels)), np.float64)
    flat = activation.reshape(len(tiles), -1, activation.shape[-1])
    grams = np.einsum("bpi,bpj->bij", flat, flat)
    grams /= np.maximum(np.linalg.norm(grams, axis=(1, 2), keepdims=True), 1e-12)
    first, second = np.triu_indices(len(tiles), k=1)
    return np.linalg.norm(grams[first] - grams[second], axis=(1, 2))
