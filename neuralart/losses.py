"""Pure tensor -> scalar functions shared by the techniques: objectives to ascend and losses to descend."""

from __future__ import annotations

import tensorflow as tf

DREAM_BORDER = 2


def dream_layer_loss(activation: tf.Tensor, border: int = DREAM_BORDER) -> tf.Tensor:
    """The seed's DeepDream objective for one layer: sum of squared activations away from a `border`-pixel
    frame, divided by the number of elements of the whole activation (so layers of any size weigh alike).

    The border is left out because activations there see the zero padding, not the image.
    """
    activation = tf.cast(activation, tf.float32)
    inner = activation[:, border:-border, border:-border, :] if border else activation
    return tf.reduce_sum(tf.square(inner)) / tf.cast(tf.size(activation), tf.float32)
