"""DeepDream's traced step: the weighted layer objective, its gradient (tile by tile on large images) and one step
of normalised gradient ascent, with the random roll that hides tile seams."""

from __future__ import annotations

from .. import runtime
from ..models import Backbone


def ascent_function(backbone: Backbone, layer_names: tuple[str, ...], tile_size: int):
    """The traced gradient-ascent step for these layers, built once per backbone and kept.

    Its input signature leaves height and width free, so octaves and new images reuse one trace; layer weights,
    step size and max_loss are arguments, so moving a slider does not retrace either. It computes in the
    backbone's precision (`backbone.precision`); with NEURALART_XLA=1 a float32 one is compiled with XLA.
    """
    jit_compile = runtime.xla_enabled() and backbone.precision == "float32"
    return backbone.cached(("dream_ascent", layer_names, tile_size, jit_compile),
                           lambda: _make_ascent_function(backbone, layer_names, tile_size, jit_compile))


def _layer_losses_function(backbone: Backbone, layer_names: tuple[str, ...]):
    """image (h, w, 3) in -1..1 -> each layer's DeepDream loss, measured as if every backbone took -1..1 inputs.

    Caffe-style backbones, fed 0..255 pixels, have activations about 127x larger and squares about 16000x, which
    would make `max_loss` mean something different per backbone; for InceptionV3 the factor is exactly 1.
    """
    import tensorflow as tf

    from ..losses import dream_layer_loss

    feature_model = backbone.layer_model(layer_names)
    input_space = backbone.input_space
    loss_scale = 1.0 / (127.5 * input_space.scale) ** 2

    def layer_losses_of(tile):
        activations = feature_model(input_space.from_minus1_1(tile)[None], training=False)
        if len(layer_names) == 1:
            activations = [activations]
        return tf.stack([dream_layer_loss(activation) for activation in activations]) * loss_scale
    return layer_losses_of


def _gradient_function(layer_losses_of, layer_count: int, tile_size: int, jit_compile: bool):
    """(image, weights) -> (gradient of the weighted objective, each layer's loss), tile by tile when the image
    is larger than a tile, so memory stays bounded."""
    import tensorflow as tf

    def whole_gradient(image, weights):
        with tf.GradientTape() as tape:
            tape.watch(image)
            layer_losses = layer_losses_of(image)
            objective = tf.reduce_sum(weights * layer_losses)
        return tape.gradient(objective, image), layer_losses

    def tiled_gradient(image, weights):
        height, width = tf.shape(image)[0], tf.shape(image)[1]
        rows, columns = (height + tile_size - 1) // tile_size, (width + tile_size - 1) // tile_size
        tile_height, tile_width = (height + rows - 1) // rows, (width + columns - 1) // columns
        gradient, layer_losses = tf.zeros_like(image), tf.zeros([layer_count])
        for tile_index in tf.range(rows * columns):
            top, left = (tile_index // columns) * tile_height, (tile_index % columns) * tile_width
            with tf.GradientTape() as tape:
                # Cut inside the tape, so each tile's gradient lands in place in the whole image's.
                tape.watch(image)
                tile_losses = layer_losses_of(image[top:top + tile_height, left:left + tile_width])
                objective = tf.reduce_sum(weights * tile_losses)
            gradient += tape.gradient(objective, image)
            layer_losses += tile_losses
        return gradient, layer_losses

    def gradient_of(image, weights):
        if jit_compile:  # XLA compiles neither a cond between these nor the tile loop: no tiling under XLA.
            return whole_gradient(image, weights)
        # An image that fits in one tile gets no loop around the network: in a loop, TF's oneDNN graph pass can
        # miss its fast max-pool gradient.
        fits = tf.logical_and(tf.shape(image)[0] <= tile_size, tf.shape(image)[1] <= tile_size)
        return tf.cond(fits, lambda: whole_gradient(image, weights), lambda: tiled_gradient(image, weights))
    return gradient_of


def _make_ascent_function(backbone: Backbone, layer_names: tuple[str, ...], tile_size: int,
                          jit_compile: bool = False):
    import tensorflow as tf

    gradient_of = _gradient_function(_layer_losses_function(backbone, layer_names), len(layer_names), tile_size,
                                     jit_compile)

    def normalised(gradient):
        return gradient / tf.maximum(tf.reduce_mean(tf.abs(gradient)), 1e-7)

    @tf.function(jit_compile=jit_compile, input_signature=[
        tf.TensorSpec([None, None, 3], tf.float32),  # image, -1..1
        tf.TensorSpec([2], tf.int32),  # this iteration's random roll (rows, columns)
        tf.TensorSpec([len(layer_names)], tf.float32),  # layer weights
        tf.TensorSpec([], tf.float32),  # step size
        tf.TensorSpec([], tf.float32),  # max_loss
    ])
    def ascend(image, shift, weights, step_size, max_loss):
        """One iteration: (image after it, objective before it, each layer's loss, whether it moved). Past
        `max_loss` the image is left as it was: the classic listing ends an octave once the objective is this
        high."""
        rolled = tf.roll(image, shift=shift, axis=[0, 1])
        gradient, layer_losses = gradient_of(rolled, weights)
        gradient = tf.roll(gradient, shift=-shift, axis=[0, 1])
        loss = tf.reduce_sum(weights * layer_losses)
        moved = loss <= max_loss
        # A cond, not a select: a select would read both images and write a third, every iteration.
        stepped = tf.cond(moved, lambda: tf.clip_by_value(image + step_size * normalised(gradient), -1.0, 1.0),
                          lambda: image)
        return stepped, loss, layer_losses, moved

    return ascend
