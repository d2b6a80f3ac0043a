"""Input spaces: how each backbone wants its pixels (channel order, mean, scale), on numpy arrays and tensors."""

from __future__ import annotations

import dataclasses

import numpy as np

from .ranges import minus1_1_to_pixels


@dataclasses.dataclass(frozen=True)
class InputSpace:
    """How a backbone wants its pixels: model_input = (pixels[channel_order] - mean) * scale.

    `mean` is given in the model's channel order. Works on numpy arrays and TF tensors alike.
    """

    bgr: bool
    mean: tuple[float, float, float]
    scale: float = 1.0

    def to_model(self, pixels):
        if self.bgr and not isinstance(pixels, np.ndarray):
            return self._scaled(_reversed_and_shifted(pixels, -np.asarray(self.mean, dtype=np.float32)))
        return self.ordered_to_model(self.in_network_order(pixels))

    def in_network_order(self, pixels):
        """RGB pixels with their channels in the order the network reads (BGR for caffe-style spaces); applied
        again, it gives RGB back."""
        return _reverse_channels(pixels) if self.bgr else pixels

    def ordered_to_model(self, ordered):
        """Model input from pixels already in the network's channel order: a shift, and a scale where it is not 1.
        An image optimised in this order spares every traced step the channel flip."""
        offset = -np.asarray(self.mean, dtype=np.float32)
        if isinstance(ordered, np.ndarray):
            centred = ordered + offset
        else:
            import tensorflow as tf

            centred = tf.nn.bias_add(ordered, tf.constant(offset))  # Broadcasts much faster than a subtraction.
        return self._scaled(centred)

    def _scaled(self, centred):
        # Multiplying by one changes nothing but costs a pass over the image (caffe-style spaces have scale 1).
        return centred if self.scale == 1.0 else centred * np.float32(self.scale)

    def to_pixels(self, model_input):
        pixels = model_input / np.float32(self.scale) + np.asarray(self.mean, dtype=np.float32)
        return _reverse_channels(pixels) if self.bgr else pixels

    def from_minus1_1(self, values):
        """Model input from values in -1..1 (DeepDream's image)."""
        if self.bgr or len(set(self.mean)) > 1:
            return self.to_model(minus1_1_to_pixels(values))
        # One mean for all channels: a scalar affine map, and none at all for InceptionV3, whose input is -1..1
        # itself. Subtracting a per-channel vector broadcasts slowly on CPU.
        factor, offset = 127.5 * self.scale, (127.5 - self.mean[0]) * self.scale
        scaled = values if factor == 1.0 else values * np.float32(factor)
        return scaled if offset == 0.0 else scaled + np.float32(offset)

    @property
    def pixel_range(self) -> tuple[float, float]:
        """The smallest and largest model-input value a valid pixel maps to (for clipping)."""
        means = np.asarray(self.mean, dtype=np.float32)
        return float(((0 - means) * self.scale).min()), float(((255 - means) * self.scale).max())


def _reversed_and_shifted(pixels, offset: np.ndarray):
    """pixels[..., ::-1] + offset for a float32 tensor (..., 3), as one product with the channel-reversing
    permutation matrix and a bias add: bit for bit the same values (each output is one input times one, plus
    zeros), and forward and backward faster on CPU than tf.reverse and a subtraction."""
    import tensorflow as tf

    rows = tf.reshape(pixels, [-1, 3])
    reversed_rows = tf.matmul(rows, tf.constant(np.eye(3, dtype=np.float32)[::-1]))
    return tf.reshape(tf.nn.bias_add(reversed_rows, tf.constant(offset)), tf.shape(pixels))


def _reverse_channels(pixels):
    """RGB <-> BGR. A tensor is flipped with tf.reverse: the gradient of the strided slice `[..., ::-1]` costs
    several times as much on CPU."""
    if isinstance(pixels, np.ndarray):
        return pixels[..., ::-1]
    import tensorflow as tf

    return tf.reverse(pixels, axis=[-1])


CAFFE = InputSpace(bgr=True, mean=(103.939, 116.779, 123.68))
INCEPTION = InputSpace(bgr=False, mean=(127.5, 127.5, 127.5), scale=1 / 127.5)
