"""Feature visualization's traced steps: a forward evaluation, the chapter's normalised-gradient step and the
quality mode's Adam step on a Fourier-parameterized image seen through a random transformation. One step per call
(as DeepDream, see neuralart.deepdream); every size is an argument, so nothing retraces."""

from __future__ import annotations

from ..models import Backbone
from ..optim import adam_update
from .objectives import Plan, objective_function
from .param import spectrum_to_planes
from .transform import view_function


def to_view(pixels, view_size, fixed: bool):
    """A network with a fixed input size (a classifier head) sees the image resized to that size."""
    import tensorflow as tf

    return tf.image.resize(pixels, view_size) if fixed else pixels


def evaluation_function(backbone: Backbone, plan: Plan):
    """Traced forward pass: (pixels, targets, view size) -> objective per image."""
    return backbone.cached(("features_evaluate",) + plan.key, lambda: _make_evaluation(backbone, plan))


def _make_evaluation(backbone: Backbone, plan: Plan):
    import tensorflow as tf

    values = objective_function(backbone, plan, plan.measured)
    fixed = plan.view_size is not None

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32),
                                  tf.TensorSpec([None], tf.int32), tf.TensorSpec([2], tf.int32)])
    def evaluate(pixels, targets, view_size):
        return values(to_view(pixels, view_size, fixed), targets)[1]
    return evaluate


def classic_function(backbone: Backbone, plan: Plan):
    """Traced classic step: image += step size * gradient / rms(gradient), per image. Returns the images and the
    objective reported at this step (measured before its update, as the chapter prints it)."""
    return backbone.cached(("features_classic",) + plan.key, lambda: _make_classic(backbone, plan))


def _make_classic(backbone: Backbone, plan: Plan):
    import tensorflow as tf

    values = objective_function(backbone, plan, plan.optimised)
    fixed = plan.view_size is not None

    @tf.function(input_signature=[
        tf.TensorSpec([None, None, None, 3], tf.float32),  # images in pixel units, one per target
        tf.TensorSpec([None], tf.int32),  # targets (filter or class index per image)
        tf.TensorSpec([], tf.float32),  # step size
        tf.TensorSpec([], tf.float32),  # sign: +1 ascends, -1 descends
        tf.TensorSpec([2], tf.int32),  # the network's input size when it is fixed
    ])
    def ascend(pixels, targets, step_size, sign, view_size):
        with tf.GradientTape() as tape:
            tape.watch(pixels)
            pushed, reported = values(to_view(pixels, view_size, fixed), targets)
            objective = sign * tf.reduce_sum(pushed)
        gradient = tape.gradient(objective, pixels)
        # The chapter's normalisation, per image so each filter moves as it would alone: a dead filter's zero
        # gradient stays zero, and its image stops changing.
        rms = tf.sqrt(tf.reduce_mean(tf.square(gradient), axis=[1, 2, 3], keepdims=True))
        return pixels + step_size * gradient / (rms + 1e-5), reported
    return ascend


def quality_function(backbone: Backbone, plan: Plan):
    """Traced quality step: Adam on a Fourier-parameterized, colour-decorrelated image under a random
    transformation. The Adam state travels in and out as tensors, so no variable ties the trace to one image size
    or batch. Also returns the objective reported at this step, as the network saw its transformed image."""
    return backbone.cached(("features_quality",) + plan.key, lambda: _make_quality(backbone, plan))


def _make_quality(backbone: Backbone, plan: Plan):
    import tensorflow as tf

    values = objective_function(backbone, plan, plan.optimised)
    view = view_function(backbone)
    adam_ascent = make_adam_ascent()
    spectrum_spec = tf.TensorSpec([None, 3, None, None, 2], tf.float32)

    @tf.function(input_signature=[
        spectrum_spec, spectrum_spec, spectrum_spec,  # the spectrum and Adam's two moment estimates
        tf.TensorSpec([], tf.float32),  # iterations taken so far (Adam's bias correction)
        tf.TensorSpec([None, None], tf.float32),  # per-frequency scale (1/f)
        tf.TensorSpec([2], tf.int32),  # image height and width
        tf.TensorSpec([None, 8], tf.float32),  # this step's random transformation, one per image
        tf.TensorSpec([2], tf.int32),  # the size the network sees
        tf.TensorSpec([None], tf.int32),  # targets
        tf.TensorSpec([], tf.float32),  # step size (Adam's learning rate)
        tf.TensorSpec([], tf.float32),  # sign
    ])
    def ascend(spectrum, first_moment, second_moment, taken, frequency_scale, image_size, transforms,
               view_size, targets, step_size, sign):
        with tf.GradientTape() as tape:
            tape.watch(spectrum)
            # Made in the network's channel order: the warp treats channels alike, so nothing reorders them.
            planes = spectrum_to_planes(spectrum, frequency_scale, image_size, bgr=backbone.input_space.bgr)
            pushed, reported = values(view(planes, transforms, view_size), targets, model_input=True)
            objective = sign * tf.reduce_sum(pushed)
        gradient = tape.gradient(objective, spectrum)
        return (*adam_ascent(spectrum, first_moment, second_moment, gradient, taken + 1.0, step_size),
                taken + 1.0, reported)
    return ascend


def make_adam_ascent():
    """Adam's update, ascending, as one XLA-compiled loop over the spectrum and its moments instead of a dozen
    small ops."""
    import tensorflow as tf

    @tf.function(jit_compile=True)
    def adam_ascent(parameters, first_moment, second_moment, gradient, taken, learning_rate):
        return adam_update(parameters, -gradient, first_moment, second_moment, taken, learning_rate)
    return adam_ascent
