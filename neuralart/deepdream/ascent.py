"""DeepDream's traced step: the weighted objective (neuralart.deepdream.objective), its gradient (tile by tile on
large images) and one step of normalised gradient ascent, with the random roll that hides tile seams; a mask, when
given, limits the step to where it is painted."""

from __future__ import annotations

from .. import runtime
from ..models import Backbone
from .objective import Layout

# The gradient is divided by its mean absolute value, floored so that an all-zero gradient takes no step. The floor
# sits far below any real gradient: untrained networks' dream gradients are as small as 1e-15, and a larger floor
# left them without a visible step.
GRADIENT_FLOOR = 1e-30


def ascent_function(backbone: Backbone, layer_names: tuple[str, ...], tile_size: int, layout: Layout | None = None):
    """The traced gradient-ascent step for these layers, built once per backbone and kept.

    Its input signature leaves height and width free, so octaves and new images reuse one trace; layer weights,
    step size and max_loss are arguments, so moving a slider does not retrace either. `layout` (default: each layer
    whole, no mask) adds channel terms, guided terms and a mask; such a step takes one more argument, the dict of
    their values (`extras_signature`), so choosing another channel or guide does not retrace. It computes in the
    backbone's precision (`backbone.precision`); with NEURALART_XLA=1 a float32 one is compiled with XLA.
    """
    layout = layout or Layout.plain(tuple(layer_names))
    jit_compile = runtime.xla_enabled() and backbone.precision == "float32"
    key = ("dream_ascent", layout.layers, tile_size, jit_compile) + ((layout,) if layout.has_extras else ())
    return backbone.cached(key, lambda: _make_ascent_function(backbone, layout, tile_size, jit_compile))


def extras_signature(layout: Layout) -> dict:
    """The TensorSpecs of a step's extra arguments: channel per term, guide strength and directions, mask."""
    import tensorflow as tf

    signature = {"channels": tf.TensorSpec([len(layout.terms)], tf.int32),
                 "strength": tf.TensorSpec([], tf.float32),
                 "guides": tuple(tf.TensorSpec([None, None], tf.float32) for _ in range(layout.guided_count))}
    if layout.masked:
        signature["mask"] = tf.TensorSpec([None, None, 1], tf.float32)  # 0..1, at the image's size
    return signature


def _term_losses_function(backbone: Backbone, layout: Layout):
    """(image (h, w, 3) in -1..1, extras) -> each term's DeepDream loss, measured as if every backbone took -1..1
    inputs.

    Caffe-style backbones, fed 0..255 pixels, have activations about 127x larger and squares about 16000x, which
    would make `max_loss` mean something different per backbone; for InceptionV3 the factor is exactly 1.
    """
    import tensorflow as tf

    from ..losses import dream_guided_loss, dream_layer_loss

    feature_model = backbone.layer_model(layout.layers)
    input_space = backbone.input_space
    loss_scale = 1.0 / (127.5 * input_space.scale) ** 2

    def term_loss(activation, kind: str, term: int, guide_index: int, extras):
        if kind == "channel":
            return dream_layer_loss(tf.gather(activation, extras["channels"][term:term + 1], axis=3))
        if kind == "guided":
            strength = extras["strength"]
            return ((1.0 - strength) * dream_layer_loss(activation)
                    + strength * dream_guided_loss(activation, extras["guides"][guide_index]))
        return dream_layer_loss(activation)

    def term_losses_of(tile, extras):
        activations = feature_model(input_space.from_minus1_1(tile)[None], training=False)
        if len(layout.layers) == 1:
            activations = [activations]
        losses, guide_index = [], 0
        for term, (layer_index, kind) in enumerate(layout.terms):
            losses.append(term_loss(activations[layer_index], kind, term, guide_index, extras))
            guide_index += kind == "guided"
        return tf.stack(losses) * loss_scale
    return term_losses_of


def _gradient_function(term_losses_of, term_count: int, tile_size: int, jit_compile: bool):
    """(image, weights, extras) -> (gradient of the weighted objective, each term's loss), tile by tile when the
    image is larger than a tile, so memory stays bounded."""
    import tensorflow as tf

    def whole_gradient(image, weights, extras):
        with tf.GradientTape() as tape:
            tape.watch(image)
            term_losses = term_losses_of(image, extras)
            objective = tf.reduce_sum(weights * term_losses)
        return tape.gradient(objective, image), term_losses

    def tiled_gradient(image, weights, extras):
        height, width = tf.shape(image)[0], tf.shape(image)[1]
        rows, columns = (height + tile_size - 1) // tile_size, (width + tile_size - 1) // tile_size
        tile_height, tile_width = (height + rows - 1) // rows, (width + columns - 1) // columns
        gradient, term_losses = tf.zeros_like(image), tf.zeros([term_count])
        for tile_index in tf.range(rows * columns):
            top, left = (tile_index // columns) * tile_height, (tile_index % columns) * tile_width
            with tf.GradientTape() as tape:
                # Cut inside the tape, so each tile's gradient lands in place in the whole image's.
                tape.watch(image)
                tile_losses = term_losses_of(image[top:top + tile_height, left:left + tile_width], extras)
                objective = tf.reduce_sum(weights * tile_losses)
            gradient += tape.gradient(objective, image)
            term_losses += tile_losses
        return gradient, term_losses

    def gradient_of(image, weights, extras):
        if jit_compile:  # XLA compiles neither a cond between these nor the tile loop: no tiling under XLA.
            return whole_gradient(image, weights, extras)
        # An image that fits in one tile gets no loop around the network: in a loop, TF's oneDNN graph pass can
        # miss its fast max-pool gradient.
        fits = tf.logical_and(tf.shape(image)[0] <= tile_size, tf.shape(image)[1] <= tile_size)
        return tf.cond(fits, lambda: whole_gradient(image, weights, extras),
                       lambda: tiled_gradient(image, weights, extras))
    return gradient_of


def _make_ascent_function(backbone: Backbone, layout: Layout, tile_size: int, jit_compile: bool = False):
    import tensorflow as tf

    gradient_of = _gradient_function(_term_losses_function(backbone, layout), len(layout.terms), tile_size,
                                     jit_compile)

    def normalised(gradient, extras):
        if "mask" not in extras:
            return gradient / tf.maximum(tf.reduce_mean(tf.abs(gradient)), GRADIENT_FLOOR)
        # Masked: the step stops where the mask is 0 and is as large as a plain dream's where it is 1, however
        # little of the image the mask covers.
        mask = extras["mask"]
        gradient = gradient * mask
        mean = tf.reduce_sum(tf.abs(gradient)) / tf.maximum(3.0 * tf.reduce_sum(mask), 1.0)
        return gradient / tf.maximum(mean, GRADIENT_FLOOR)

    def ascend(image, shift, weights, step_size, max_loss, extras):
        """One iteration: (image after it, objective before it, each term's loss, whether it moved). Past
        `max_loss` the image is left as it was: the classic listing ends an octave once the objective is this
        high."""
        rolled = tf.roll(image, shift=shift, axis=[0, 1])
        gradient, term_losses = gradient_of(rolled, weights, extras)
        gradient = tf.roll(gradient, shift=-shift, axis=[0, 1])
        loss = tf.reduce_sum(weights * term_losses)
        moved = loss <= max_loss
        # A cond, not a select: a select would read both images and write a third, every iteration.
        stepped = tf.cond(moved, lambda: tf.clip_by_value(image + step_size * normalised(gradient, extras),
                                                          -1.0, 1.0), lambda: image)
        return stepped, loss, term_losses, moved

    signature = [
        tf.TensorSpec([None, None, 3], tf.float32),  # image, -1..1
        tf.TensorSpec([2], tf.int32),  # this iteration's random roll (rows, columns)
        tf.TensorSpec([len(layout.terms)], tf.float32),  # term weights
        tf.TensorSpec([], tf.float32),  # step size
        tf.TensorSpec([], tf.float32),  # max_loss
    ]
    if layout.has_extras:
        return tf.function(ascend, jit_compile=jit_compile, input_signature=signature + [extras_signature(layout)])
    return tf.function(lambda image, shift, weights, step_size, max_loss: ascend(image, shift, weights, step_size,
                                                                                  max_loss, {}),
                       jit_compile=jit_compile, input_signature=signature)
