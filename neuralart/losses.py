"""Pure tensor -> scalar functions shared by the techniques: objectives to ascend and losses to descend."""

from __future__ import annotations

import tensorflow as tf

DREAM_BORDER = 2


def dream_layer_loss(activation: tf.Tensor, border: int = DREAM_BORDER) -> tf.Tensor:
    """The seed's DeepDream objective for one layer: sum of squared activations away from a `border`-pixel
    frame, divided by the number of elements of the whole activation (so layers of any size weigh alike).

    The border is left out because activations there see the zero padding, not the image. It is cut with
    tf.slice, whose gradient (a pad) costs a fraction of a strided slice's on CPU. The cut is made before the cast
    to float32, so fewer elements are cast.
    """
    size = tf.cast(tf.size(activation), tf.float32)
    return tf.reduce_sum(tf.square(tf.cast(_without_border(activation, border), tf.float32))) / size


def _without_border(activation: tf.Tensor, border: int) -> tf.Tensor:
    """The activation less a `border`-pixel frame, clamped like a strided slice: a map of 2 * border pixels or
    fewer leaves nothing."""
    if not border:
        return activation
    height, width = tf.shape(activation)[1], tf.shape(activation)[2]
    begin = [0, tf.minimum(border, height), tf.minimum(border, width), 0]
    return tf.slice(activation, begin, [-1, tf.maximum(height - 2 * border, 0), tf.maximum(width - 2 * border, 0), -1])


def dream_guided_loss(activation: tf.Tensor, guide: tf.Tensor, border: int = DREAM_BORDER) -> tf.Tensor:
    """The guided DeepDream objective for one layer: each position's feature vector is matched to the most similar
    of the guide image's feature directions (`guide`: (n, channels), unit vectors), and the energy of the feature
    along that direction is summed, divided like `dream_layer_loss`.

    Google's notebook matches by raw dot product, which mostly picks the guide's few largest vectors whatever the
    position shows; unit guide directions match by angle instead. Summing squared projections makes this the plain
    objective restricted to the guide's directions, in the same units, so the two blend by a strength. The match
    itself is not differentiated: the gradient is the one of the projection onto the chosen direction.
    """
    size = tf.cast(tf.size(activation), tf.float32)
    inner = tf.cast(_without_border(activation, border), tf.float32)
    features = tf.reshape(inner, [-1, tf.shape(inner)[-1]])
    best = tf.argmax(tf.matmul(tf.stop_gradient(features), guide, transpose_b=True), axis=1)
    projection = tf.nn.relu(tf.reduce_sum(features * tf.gather(guide, best), axis=1))
    return tf.reduce_sum(tf.square(projection)) / size


# --- style transfer losses
# The forms of the chapter's section 9.3 (Gatys, Ecker & Bethge 2015, as the TensorFlow blog listing writes them,
# with the total-variation term of the Keras listing): each is a plain function of tensors, so tests can check the
# traced step against them and the benchmark's reference loop can reuse them.

TV_POWER = 1.25


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """Channel correlations of a feature map ([1,] height, width, channels), divided by the number of positions,
    so images of different sizes give comparable Gram matrices. Always float32, whatever the features' type."""
    channels = tf.shape(features)[-1]
    return _gram_of_rows(tf.reshape(features, [-1, channels]))


@tf.custom_gradient
def _gram_of_rows(flat: tf.Tensor):
    """flat^T flat / rows as float32, with a gradient of one matrix product where automatic differentiation spends
    two (one per factor): for G = F^T F / n, dF = F (dG + dG^T) / n. These products are a large share of a style
    step on a small network.

    Bfloat16 features (from a bfloat16 backbone) are multiplied in bfloat16, both ways: where the CPU has bfloat16
    instructions the products are summed in float32 inside the matrix product and only the result is rounded (to
    3 significant digits), which is faster and left the losses reached the same (docs/performance.md).
    """
    positions = tf.cast(tf.shape(flat)[0], tf.float32)
    gram = tf.cast(tf.matmul(flat, flat, transpose_a=True), tf.float32) / positions

    def gradient(upstream):
        symmetric = (upstream + tf.transpose(upstream)) / positions
        return tf.matmul(flat, tf.cast(symmetric, flat.dtype))
    return gram, gradient


def content_loss(features: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """Mean squared difference between the result's features and the content image's, at one layer."""
    return tf.reduce_mean(tf.square(tf.cast(features, tf.float32) - tf.cast(target, tf.float32)))


def style_loss(features: tf.Tensor, target_gram: tf.Tensor) -> tf.Tensor:
    """Mean squared difference between the result's Gram matrix and the style's, at one layer."""
    return tf.reduce_mean(tf.square(gram_matrix(features) - target_gram))


def total_variation_loss(image: tf.Tensor, power: float = TV_POWER) -> tf.Tensor:
    """Sum over pixels and channels of (down difference² + right difference²) ** power, on a ([1,] height,
    width, channels) image. The power 1.25 penalises a few sharp edges less than many small wiggles."""
    image = tf.cast(image, tf.float32)
    corner = _shifted(image, 0, 0)
    down = tf.square(corner - _shifted(image, 1, 0))
    right = tf.square(corner - _shifted(image, 0, 1))
    return tf.reduce_sum(_power(down + right, power))


def _power(values: tf.Tensor, power: float) -> tf.Tensor:
    """values ** power for values >= 0; the default 1.25 as values * fourth root, which costs a fraction of a
    general power (exp and log per element) forwards and backwards."""
    if power != 1.25:
        return tf.pow(values, power)
    return _power_five_quarters(values)


@tf.custom_gradient
def _power_five_quarters(values: tf.Tensor):
    fourth_root = tf.sqrt(tf.sqrt(values))

    def gradient(upstream):
        # d/dx x^1.25 = 1.25 x^0.25: finite at 0, where the product rule through sqrt would give 0 * inf.
        return upstream * 1.25 * fourth_root
    return values * fourth_root, gradient


def _shifted(image: tf.Tensor, row: int, column: int) -> tf.Tensor:
    """`image[..., row:row + height - 1, column:column + width - 1, :]`, written with tf.slice: its gradient is a
    pad, which on CPU costs half what a strided slice's gradient does."""
    height, width = tf.shape(image)[-3], tf.shape(image)[-2]
    leading = image.shape.rank - 3
    return tf.slice(image, [0] * leading + [row, column, 0], [-1] * leading + [height - 1, width - 1, -1])


# --- feature visualization objectives
# Each maps a batch of activations to one value per image, so many filters can be optimised as one batch (image b
# ascends its own objective; summing the values keeps every image's gradient independent of the others). The
# forms are those of Olah, Mordvintsev & Schubert (2017), "Feature Visualization", Distill.

def channel_objective(activation: tf.Tensor, channels: tf.Tensor) -> tf.Tensor:
    """Mean activation of channel `channels[b]` of image b: what one filter responds to, anywhere in the image.
    activation: (batch, height, width, channels); channels: (batch,) int32."""
    activation = tf.cast(activation, tf.float32)
    chosen = tf.gather(activation, channels, axis=3, batch_dims=1)
    return tf.reduce_mean(chosen, axis=[1, 2])


def neuron_objective(activation: tf.Tensor, channels: tf.Tensor) -> tf.Tensor:
    """Activation of channel `channels[b]` at the centre position only: what one unit responds to, within its
    receptive field."""
    activation = tf.cast(activation, tf.float32)
    centre = activation[:, tf.shape(activation)[1] // 2, tf.shape(activation)[2] // 2, :]
    return tf.gather(centre, channels, axis=1, batch_dims=1)


def layer_objective(activation: tf.Tensor, channels: tf.Tensor | None = None) -> tf.Tensor:
    """Mean squared activation of the whole layer (the DeepDream objective, per image); `channels` is ignored."""
    activation = tf.cast(activation, tf.float32)
    return tf.reduce_mean(tf.square(activation), axis=tf.range(1, tf.rank(activation)))


def class_objective(logits: tf.Tensor, classes: tf.Tensor) -> tf.Tensor:
    """The logit (pre-softmax score) of class `classes[b]` for image b; logits: (batch, classes)."""
    return tf.gather(tf.cast(logits, tf.float32), classes, axis=1, batch_dims=1)


FEATURE_OBJECTIVES = {"channel": channel_objective, "neuron": neuron_objective, "layer": layer_objective,
                      "class": class_objective}
