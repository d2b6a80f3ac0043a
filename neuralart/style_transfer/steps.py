"""Style transfer's traced steps for one backbone and one choice of layers: the features of an image, the weighted
losses with their gradient (on pixels or on the smoothed basis), and one Adam step keeping the best image seen.

Pixels are float 0..255 in the network's channel order (`InputSpace.in_network_order`). Every step takes images of
any size without retracing; style Gram matrices are computed once per scale and passed in, never per step.

Steps built for styles by region (`regions` > 0, neuralart.style_transfer.regions) take each style layer's target
as one Gram matrix per region, and two more arguments after the weights: the masks (height, width, regions) and
each region's style weight; every change they make to the image is multiplied by the masks' coverage.
"""

from __future__ import annotations

import dataclasses

from .. import runtime
from ..models import Backbone
from ..optim import adam_update
from .regions import coverage, layer_strides, region_style_loss
from .smoothing import RANGE_PENALTY, smoothed, squared_distance_outside

ADAM_BETA_2 = 0.999  # The chapter keeps Adam's default.


@dataclasses.dataclass(frozen=True)
class StyleSteps:
    """The traced functions of style transfer for one backbone and one choice of layers.

    features(pixels) -> (content features, style Gram matrices);
    value_and_gradient(pixels, targets..., weights...) -> ([total, content, style, tv] weighted, gradient);
    smoothed_value_and_gradient(offset, start, smoothing, targets..., weights...) -> (value L-BFGS minimises,
    the terms, gradient of the offset) at the image smoothed_image(offset, start, smoothing) before its clip;
    adam_step(...) takes one Adam step and keeps the best image seen.
    """

    features: object
    value_and_gradient: object
    smoothed_value_and_gradient: object
    smoothed_image: object
    adam_step: object


def style_steps(backbone: Backbone, content_layers: tuple[str, ...], style_layers: tuple[str, ...],
                regions: int = 0) -> StyleSteps:
    """The traced steps for these layers (and this many style regions; 0: no masks), built once per backbone (and
    precision) and kept; compiled with XLA when NEURALART_XLA=1."""
    jit_compile = runtime.xla_enabled()
    key = ("style_steps", content_layers, style_layers, jit_compile) + ((regions,) if regions else ())
    return backbone.cached(key, lambda: _make_style_steps(backbone, content_layers, style_layers, jit_compile,
                                                          regions))


class _Losses:
    """The weighted losses of an image against content features and style Gram matrices (TF ops)."""

    def __init__(self, backbone: Backbone, content_layers: tuple[str, ...], style_layers: tuple[str, ...],
                 regions: int = 0):
        import tensorflow as tf

        self.regions = regions
        self.layer_names = tuple(dict.fromkeys(content_layers + style_layers))
        self.feature_model = backbone.layer_model(self.layer_names)
        self.input_space = backbone.input_space
        channels = {name: int(backbone.model.get_layer(name).output.shape[-1]) for name in self.layer_names}
        self.content_index = [self.layer_names.index(name) for name in content_layers]
        self.style_index = [self.layer_names.index(name) for name in style_layers]
        self.pixels_spec = tf.TensorSpec([None, None, 3], tf.float32)
        self.target_specs = [[tf.TensorSpec([None, None, channels[name]], tf.float32) for name in content_layers],
                             [tf.TensorSpec([channels[name], channels[name]], tf.float32) for name in style_layers]]
        self.weight_specs = [tf.TensorSpec([len(content_layers)], tf.float32),
                             tf.TensorSpec([len(style_layers)], tf.float32), tf.TensorSpec([3], tf.float32)]
        self.region_specs = []
        if regions:
            strides = layer_strides(backbone, style_layers)
            self.style_strides = [strides[name] for name in style_layers]
            self.target_specs[1] = [tf.TensorSpec([regions, channels[name], channels[name]], tf.float32)
                                    for name in style_layers]
            self.region_specs = [tf.TensorSpec([None, None, regions], tf.float32),
                                 tf.TensorSpec([regions], tf.float32)]

    def activations_of(self, model_input):
        outputs = self.feature_model(model_input[None], training=False)
        # A bfloat16 backbone returns bfloat16 activations, left so: every loss is measured in float32, and
        # the Gram matrices take bfloat16 gradients back (neuralart.losses.gram_matrix).
        return [outputs] if len(self.layer_names) == 1 else list(outputs)

    def features(self, pixels):
        import tensorflow as tf

        from .. import losses

        outputs = self.activations_of(self.input_space.ordered_to_model(pixels))
        return ([tf.cast(outputs[index][0], tf.float32) for index in self.content_index],
                [losses.gram_matrix(outputs[index]) for index in self.style_index])

    def terms(self, pixels, content_targets, style_targets, content_layer_weights, style_layer_weights,
              loss_weights, *regions):
        """[total, content, style, tv], each weighted; `regions`: (masks, region weights) for styles by region."""
        import tensorflow as tf

        from .. import losses

        model_input = self.input_space.ordered_to_model(pixels)
        outputs = self.activations_of(model_input)
        content = tf.add_n([weight * losses.content_loss(outputs[index][0], target) for weight, index, target
                            in zip(tf.unstack(content_layer_weights), self.content_index, content_targets)])
        if self.regions:
            masks, region_weights = regions
            style = tf.add_n([weight * region_style_loss(outputs[index], target, masks, region_weights, stride,
                                                         self.regions)
                              for weight, index, target, stride in zip(tf.unstack(style_layer_weights),
                                                                       self.style_index, style_targets,
                                                                       self.style_strides)])
        else:
            style = tf.add_n([weight * losses.style_loss(outputs[index], target) for weight, index, target
                              in zip(tf.unstack(style_layer_weights), self.style_index, style_targets)])
        # The chapter measures total variation on the preprocessed image.
        weighted = loss_weights * tf.stack([content, style, losses.total_variation_loss(model_input)])
        return tf.concat([[tf.reduce_sum(weighted)], weighted], axis=0)

    def covered(self, change, arguments):
        """`change` of the image as the masks let it through (all of it without regions); `arguments` end with
        the region arguments."""
        return change * coverage(arguments[-2]) if self.regions else change

    def terms_and_gradient(self, pixels, *arguments):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(pixels)
            terms = self.terms(pixels, *arguments)
            total = terms[0]  # Indexed inside the tape, or the tape would not see the total.
        return terms, tape.gradient(total, pixels)


def _make_style_steps(backbone: Backbone, content_layers: tuple[str, ...], style_layers: tuple[str, ...],
                      jit_compile: bool = False, regions: int = 0) -> StyleSteps:
    import tensorflow as tf

    graph = _Losses(backbone, content_layers, style_layers, regions)
    pixels_spec, weight_specs = graph.pixels_spec, graph.weight_specs
    targets_and_weights = [*graph.target_specs, *weight_specs, *graph.region_specs]
    smoothing_specs = [pixels_spec, pixels_spec, tf.TensorSpec([], tf.float32)]  # offset, start, smoothing

    def traced(*signature):
        return tf.function(jit_compile=jit_compile, input_signature=list(signature))

    value_and_gradient = traced(pixels_spec, *targets_and_weights)(graph.terms_and_gradient)

    @traced(*smoothing_specs, *targets_and_weights)
    def smoothed_value_and_gradient(offset, start, smoothing, *arguments):
        with tf.GradientTape() as tape:
            tape.watch(offset)
            pixels = start + graph.covered(smoothed(offset, smoothing), arguments)
            terms = graph.terms(pixels, *arguments)
            value = terms[0] + RANGE_PENALTY * squared_distance_outside(pixels, 0.0, 255.0)
        return value, terms, tape.gradient(value, offset)

    # With regions, the masks follow (and a placeholder for the region weights, so `covered` finds them).
    @traced(*smoothing_specs, *graph.region_specs[:1])
    def smoothed_image(offset, start, smoothing, *masks):
        return tf.clip_by_value(start + graph.covered(smoothed(offset, smoothing), (*masks, None)), 0.0, 255.0)

    return StyleSteps(traced(pixels_spec)(graph.features), value_and_gradient, smoothed_value_and_gradient,
                      smoothed_image, _make_adam_step(graph, traced))


def _make_adam_step(graph: _Losses, traced):
    import tensorflow as tf

    pixels_spec, scalar = graph.pixels_spec, tf.TensorSpec([], tf.float32)
    signature = [pixels_spec, pixels_spec, pixels_spec,  # image, first and second moments
                 scalar, tf.TensorSpec([4], tf.float32),  # steps so far; step size, beta_1, beta_2, epsilon
                 pixels_spec, scalar, tf.TensorSpec([4], tf.float32),  # best image, its loss and its terms so far
                 *graph.target_specs, *graph.weight_specs, *graph.region_specs]

    @traced(*signature)
    def adam_step(pixels, first_moment, second_moment, step_count, hyper, best_pixels, best_loss, best_terms,
                  *targets_and_weights):
        step_size, beta_1, beta_2, epsilon = tf.unstack(hyper)
        terms, gradient = graph.terms_and_gradient(pixels, *targets_and_weights)
        # Keep the image whose loss was just measured if it is the best so far.
        better = terms[0] < best_loss
        best_pixels = tf.where(better, pixels, best_pixels)
        best_terms = tf.where(better, terms, best_terms)
        best_loss = tf.minimum(terms[0], best_loss)
        step_count += 1.0
        stepped, first_moment, second_moment = adam_update(pixels, gradient, first_moment, second_moment,
                                                           step_count, step_size, beta_1, beta_2, epsilon,
                                                           epsilon_hat=True)
        if graph.regions:
            stepped = pixels + graph.covered(stepped - pixels, targets_and_weights)
        pixels = tf.clip_by_value(stepped, 0.0, 255.0)
        return pixels, first_moment, second_moment, step_count, best_pixels, best_loss, best_terms, terms
    return adam_step
