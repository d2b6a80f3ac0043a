"""The smoothed basis L-BFGS steps in: the image is its start plus S(offset), S = 1 + smoothing x a Gaussian blur,
so broad changes cost L-BFGS fewer iterations than pixel-level ones (style transfer's default). Also the range
penalty that keeps the smoothed image near 0..255, where a box constraint no longer applies."""

from __future__ import annotations

import math

import numpy as np

# The width of the smoothing blur in pixels: of the widths tried, 2 and 3 pixels reached the chapter's loss in the
# fewest iterations (docs/performance.md).
SMOOTHING_SIGMA = 2.0
# Where the smoothed steps take a pixel out of 0..255, this times the squared distance is added to the value
# L-BFGS minimises (not to the losses reported): the image then stays within a pixel unit of the range
# (the shown image is clipped into it).
RANGE_PENALTY = 1.0


def smoothed(offset, smoothing):
    """offset + smoothing x its Gaussian blur (SMOOTHING_SIGMA pixels, zero beyond the edges) for a (height,
    width, 3) tensor (TF ops). The blur is symmetric (its own transpose), so this is too."""
    return offset + smoothing * _swap_axes(_blur_vertically(_swap_axes(_blur_vertically(offset))))


def _swap_axes(image):
    import tensorflow as tf

    return tf.transpose(image, [1, 0, 2])


def _blur_vertically(image):
    """`image` (height, width, 3) blurred down its columns (TF ops), as a depthwise convolution of a one-pixel-wide
    image with width x 3 channels: on 3 channels, oneDNN's depthwise convolution leaves most of its vector lanes
    idle, and shifted sums compiled by XLA were slower still."""
    import tensorflow as tf

    taps = _gaussian_taps(SMOOTHING_SIGMA)
    shape = tf.shape(image)
    columns = tf.reshape(image, [1, shape[0], 1, -1])
    kernel = tf.tile(tf.constant(taps)[:, None, None, None], [1, 1, shape[1] * shape[2], 1])
    return tf.reshape(tf.nn.depthwise_conv2d(columns, kernel, [1, 1, 1, 1], "SAME"), shape)


def _gaussian_taps(sigma: float) -> np.ndarray:
    """A normalised 1-D Gaussian, cut at 3 sigma on each side (where 0.3% of its weight lies beyond)."""
    radius = int(math.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return (taps / taps.sum()).astype(np.float32)


def squared_distance_outside(values, low: float, high: float):
    """Sum of squared distances of the values outside low..high (TF ops), with its gradient written out as
    2 x the distance, which is shorter than the gradient automatic differentiation makes of the clip."""
    import tensorflow as tf

    @tf.custom_gradient
    def squared_distance(values):
        outside = values - tf.clip_by_value(values, low, high)
        return tf.reduce_sum(tf.square(outside)), lambda upstream: (2.0 * upstream) * outside
    return squared_distance(values)

