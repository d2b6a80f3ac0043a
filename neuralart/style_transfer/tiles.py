"""Tiles for images larger than what the network takes in one piece: their layout, and the traced functions
that measure one tile and step it.

A tile is a *core*, the pixels it owns, inside a *window*, the core plus a margin of the pixels around it (up to
TILE_MARGIN on each side, none beyond the image's edges). The cores of a layout partition the image, so statistics
summed over the cores of every tile are the whole image's; the margin gives the features near a core's edge the
context they have in the whole image. Cores start at multiples of the network's largest stride, so a window's
feature positions fall on the whole image's (pooling sees the same blocks), and between passes their boundaries
move at random, so no seam stays in one place.
"""

from __future__ import annotations

import dataclasses
import math

from ..models import Backbone
from ..optim import adam_update
from .regions import coverage, layer_strides, layer_weights, weighted_gram_sums
from .steps import _Losses

# Pixels of context around a tile's core in each step, at most: where the network's receptive field is wider, a
# step's features near the core's edge lack some of their context. What that costs a step's gradient is small
# (most of a feature's dependence is near its centre) and moves with the tiles, while every pixel of margin is
# computed again by the neighbouring tiles. Statistics measured once per scale (the content's features, the
# styles' Gram matrices, the losses reported at the end) take the whole receptive field as their margin.
TILE_MARGIN = 64
# The gradient of a core takes in the features this far beyond it (a share of the margin): far enough to hold what
# the core's pixels change nearby, while those features still see some of their own context.
REACH_SHARE = 0.5
# The cores' boundaries move by up to this many strides each way from pass to pass.
JITTER_STRIDES = 2
# The largest window side when a config leaves `tile_size` unset: what one step of the network takes at once.
# Larger tiles spend less on margins; VGG's early layers are wide at full resolution, so its tiles are smaller,
# to keep a 4096-px run within 5 GB (SqueezeNet's within 3 GB).
DEFAULT_TILE_SIDE = 1280
TILE_SIDES = {"vgg16": 768, "vgg19": 768}
# A box side standing for "to the image's edge" (a core at the edge owns every feature position beyond it).
TO_THE_EDGE = 1 << 30
# The side of the blank input on which receptive fields are measured (wider fields count as this wide).
FIELD_PROBE_SIDE = 384


def tile_side(tile_size: int | None, backbone_name: str) -> int:
    """The largest window side of a run: the config's, else the network's own."""
    return int(tile_size or TILE_SIDES.get(backbone_name, DEFAULT_TILE_SIDE))


@dataclasses.dataclass(frozen=True)
class Tile:
    """(top, left, bottom, right) of a tile's window and core, in the image's pixels."""

    window: tuple[int, int, int, int]
    core: tuple[int, int, int, int]

    def core_box(self, shape: tuple[int, int]) -> list[int]:
        """The core in the window's coordinates; a side on the image's edge reaches TO_THE_EDGE."""
        return self._in_window(self.core, shape, 0)

    def reach_box(self, shape: tuple[int, int], reach: int) -> list[int]:
        """The core grown by `reach` pixels, in the window's coordinates."""
        return self._in_window(self.core, shape, reach)

    def _in_window(self, box, shape, grow: int) -> list[int]:
        top, left = self.window[:2]
        edges = (box[0] <= 0, box[1] <= 0, box[2] >= shape[0], box[3] >= shape[1])
        inside = [max(box[0] - grow - top, 0), max(box[1] - grow - left, 0), box[2] + grow - top,
                  box[3] + grow - left]
        return [(-TO_THE_EDGE if index < 2 else TO_THE_EDGE) if edge else value
                for index, (edge, value) in enumerate(zip(edges, inside))]

    @property
    def core_shape(self) -> tuple[int, int]:
        return self.core[2] - self.core[0], self.core[3] - self.core[1]


def tile_layout(shape: tuple[int, int], side: int, align: int, margin: int, rng=None) -> list[Tile]:
    """The tiles of an image of `shape`: windows at most `side` pixels a side, `margin` pixels of context around
    each core (less at the image's edges), cores starting at multiples of `align`; with `rng`, the cores'
    boundaries moved at random (by multiples of `align`)."""
    rows = _axis(shape[0], side, margin, align, rng)
    columns = _axis(shape[1], side, margin, align, rng)
    return [Tile((row[2], column[2], row[3], column[3]), (row[0], column[0], row[1], column[1]))
            for row in rows for column in columns]


def _axis(length: int, side: int, margin: int, align: int, rng) -> list[tuple[int, int, int, int]]:
    """(core start, core end, window start, window end) along one axis."""
    if length <= side:
        return [(0, length, 0, length)]
    core = side - 2 * margin
    # Room for each boundary to move `jitter` strides either way and for rounding it to `align` (at most half
    # a core: small tiles' boundaries stay put rather than multiply).
    jitter = JITTER_STRIDES if rng is not None and core >= 2 * (2 * JITTER_STRIDES + 1) * align else 0
    count = math.ceil(length / (core - (2 * jitter + 1) * align))
    inner = [align * round(index * length / count / align) for index in range(1, count)]
    if jitter:
        inner = [boundary + align * int(rng.integers(-jitter, jitter + 1)) for boundary in inner]
    bounds = [0, *inner, length]
    return [(start, end, max(start - margin, 0), min(end + margin, length)) for start, end in zip(bounds, bounds[1:])]


def field_radius(backbone: Backbone, layer_names: tuple[str, ...]) -> int:
    """How far (in pixels) the widest-seeing of these layers sees around a position: half its receptive field,
    measured once per backbone as the extent of the input gradient of each layer's central feature (summed, so
    the widest shows) on a random input."""
    def measure() -> int:
        import numpy as np
        import tensorflow as tf

        model = backbone.layer_model(layer_names)
        side = FIELD_PROBE_SIDE
        pixels = tf.constant(np.random.default_rng(0).uniform(-100.0, 100.0, (1, side, side, 3)), tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(pixels)
            outputs = model(pixels, training=False)
            outputs = [outputs] if len(layer_names) == 1 else outputs
            value = tf.add_n([tf.reduce_sum(tf.cast(output[0, output.shape[1] // 2, output.shape[2] // 2],
                                                    tf.float32)) for output in outputs])
        rows = np.nonzero(np.abs(tape.gradient(value, pixels).numpy()[0]).sum(axis=(1, 2)))[0]
        extent = side if rows.size == 0 else rows[-1] - rows[0] + 1
        return int(extent) // 2 + 1
    return backbone.cached(("receptive_field_radius", tuple(layer_names)), measure)


def tile_steps(backbone: Backbone, content_layers: tuple[str, ...], style_layers: tuple[str, ...],
               regions: int) -> "TileSteps":
    """The traced tile functions for these layers and this many regions (at least 1), built once per backbone."""
    return backbone.cached(("style_tile_steps", content_layers, style_layers, regions),
                           lambda: TileSteps(backbone, content_layers, style_layers, regions))


class TileSteps:
    """statistics(window, masks, core box) -> (window content features, core Gram sums per style layer, core
    mask sums per style layer, core total variation), the parts of the whole image's losses a core owns;
    step(window, masks, core box, reach box, content targets, style upstreams, content scales, content layer
    weights, loss weights, core Adam moments, step count, Adam settings) -> (stepped core, its Adam moments, the
    core's content sums, Gram sums, mask sums and total variation before the step)."""

    def __init__(self, backbone: Backbone, content_layers: tuple[str, ...], style_layers: tuple[str, ...],
                 regions: int):
        import tensorflow as tf

        self.graph = _Losses(backbone, content_layers, style_layers)
        self.regions = regions
        self.strides = layer_strides(backbone, self.graph.layer_names)
        self.align = max(16, *self.strides.values())
        self.field_radius = field_radius(backbone, self.graph.layer_names)
        self.content_strides = [self.strides[name] for name in content_layers]
        self.style_strides = [self.strides[name] for name in style_layers]
        graph, vector = self.graph, tf.TensorSpec([None], tf.float32)
        pixels, masks = graph.pixels_spec, tf.TensorSpec([None, None, regions], tf.float32)
        box = tf.TensorSpec([4], tf.int32)
        grams = [tf.TensorSpec([regions, spec.shape[0], spec.shape[1]], tf.float32) for spec in graph.target_specs[1]]
        self.statistics = tf.function(self._statistics, input_signature=[pixels, masks, box])
        self.step = tf.function(self._step, input_signature=[
            pixels, masks, box, box, graph.target_specs[0], grams, vector, vector, tf.TensorSpec([3], tf.float32),
            pixels, pixels, tf.TensorSpec([], tf.float32), tf.TensorSpec([4], tf.float32)])

    def margins(self, side: int) -> tuple[int, int]:
        """(a step's margin, a measurement's margin) for windows of `side`, in multiples of the stride and at most
        a quarter of the side. A measurement's features are exact with the receptive field's radius around them;
        a step's gradient is exact with twice that (the features its core's pixels reach, and their context),
        or TILE_MARGIN if less."""
        def rounded(pixels: int) -> int:
            return max(self.align, min(-(-pixels // self.align) * self.align, side // 4 // self.align * self.align))
        return min(rounded(TILE_MARGIN), rounded(2 * self.field_radius)), rounded(self.field_radius)

    def _gram_sums(self, outputs, masks, core_box):
        """Per style layer, the Gram sums and mask sums of the feature positions within the core (weighted by a
        0/1 map rather than cut out: a cut costs a copy of the features and of their gradient)."""
        import tensorflow as tf

        grams, sums = [], []
        for index, stride in zip(self.graph.style_index, self.style_strides):
            weights = layer_weights(masks, outputs[index], stride) * _box_weights(outputs[index], core_box, stride)
            grams.append(weighted_gram_sums(outputs[index], weights, self.regions))
            sums.append(tf.reduce_sum(weights, axis=[0, 1]))
        return grams, sums

    def _content_sums(self, outputs, content_targets, box):
        """Per content layer, the sum of squared differences from the targets at the positions within `box`."""
        import tensorflow as tf

        sums = []
        for index, stride, target in zip(self.graph.content_index, self.content_strides, content_targets):
            features = tf.cast(outputs[index][0], tf.float32)
            target = target[:tf.shape(features)[0], :tf.shape(features)[1]]
            sums.append(tf.reduce_sum(_box_weights(features, box, stride) * tf.square(features - target)))
        return tf.stack(sums)

    def _statistics(self, pixels, masks, core_box):
        import tensorflow as tf

        model_input = self.graph.input_space.ordered_to_model(pixels)
        outputs = self.graph.activations_of(model_input)
        grams, sums = self._gram_sums(outputs, masks, core_box)
        content = [tf.cast(outputs[index][0], tf.float32) for index in self.graph.content_index]
        return content, grams, sums, _total_variation(model_input, core_box)

    def _objective(self, outputs, model_input, reach_box, grams, content_targets, upstreams, content_scales,
                   content_layer_weights, loss_weights):
        """The part of the whole image's loss that a step descends: content and total variation of the features
        and pixels within the reach, as they are; style as the core's Gram sums (`grams`) weighted by the whole
        image's upstream gradient (held constant), which has the style loss's gradient. The style term takes the
        core's own features only: a Gram matrix sums so many positions that the few beyond the core that its
        edge pixels also feed change the gradient little, and the boundaries move between passes."""
        import tensorflow as tf

        content = tf.reduce_sum(content_layer_weights * content_scales
                                * self._content_sums(outputs, content_targets, reach_box))
        style = tf.add_n([tf.reduce_sum(upstream * gram) for upstream, gram in zip(upstreams, grams)])
        variation = _total_variation(model_input, reach_box)
        return loss_weights[0] * content + loss_weights[1] * style + loss_weights[2] * variation

    def _step(self, pixels, masks, core_box, reach_box, content_targets, upstreams, content_scales,
              content_layer_weights, loss_weights, first_moment, second_moment, step_count, hyper):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(pixels)
            model_input = self.graph.input_space.ordered_to_model(pixels)
            outputs = self.graph.activations_of(model_input)
            grams, sums = self._gram_sums(outputs, masks, core_box)
            objective = self._objective(outputs, model_input, reach_box, grams, content_targets, upstreams,
                                        content_scales, content_layer_weights, loss_weights)
        gradient = tape.gradient(objective, pixels)
        # What the core owns of the whole image's losses (its Gram sums above), measured before its step.
        content = self._content_sums(outputs, content_targets, core_box)
        variation = _total_variation(model_input, core_box)
        core, core_gradient, core_masks = (_box_slice(tensor, core_box, grow=0)
                                           for tensor in (pixels, gradient, masks))
        step_size, beta_1, beta_2, epsilon = tf.unstack(hyper)
        stepped, first_moment, second_moment = adam_update(core, core_gradient, first_moment, second_moment,
                                                           step_count, step_size, beta_1, beta_2, epsilon,
                                                           epsilon_hat=True)
        stepped = tf.clip_by_value(core + coverage(core_masks) * (stepped - core), 0.0, 255.0)
        return stepped, first_moment, second_moment, content, grams, sums, variation


def _feature_range(box, axis: int, stride: int, size):
    """[start, end) of the feature positions along `axis` (0: rows, 1: columns) whose pixels start within
    `box`, clipped to the `size` positions there are."""
    import tensorflow as tf

    start, end = box[axis], box[axis + 2]
    return (tf.clip_by_value((start + stride - 1) // stride, 0, size),
            tf.clip_by_value((end + stride - 1) // stride, 0, size))


def _box_weights(features, box, stride: int):
    """1 at the feature positions ([1,] h, w, channels) whose pixels start inside `box`, else 0: (h, w, 1)."""
    import tensorflow as tf

    shape = tf.shape(features)
    rows, columns = tf.range(shape[-3]) * stride, tf.range(shape[-2]) * stride
    inside_rows = tf.logical_and(rows >= box[0], rows < box[2])
    inside_columns = tf.logical_and(columns >= box[1], columns < box[3])
    return tf.cast(tf.logical_and(inside_rows[:, None], inside_columns[None, :]), tf.float32)[:, :, None]


def _total_variation(model_input, box):
    """The total variation the pixels of `box` owe: each with its neighbours below and to the right."""
    from .. import losses

    return losses.total_variation_loss(_box_slice(model_input, box))


def _box_slice(image, box, grow: int = 1):
    """`image` (h, w, channels) within `box`, clipped to the image, with `grow` more rows and columns after it
    (the neighbours its total variation compares the box's last pixels with)."""
    import tensorflow as tf

    shape = tf.shape(image)
    top, left = tf.maximum(box[0], 0), tf.maximum(box[1], 0)
    bottom, right = tf.minimum(box[2] + grow, shape[0]), tf.minimum(box[3] + grow, shape[1])
    return image[top:bottom, left:right]
