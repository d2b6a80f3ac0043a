"""Feature visualization: images that show what a filter, a unit, a layer or a class of a network responds to.

Two ways to make them, chosen by `FilterConfig.mode`:

- "classic", the chapter's recipe (Erhan et al. 2009, as Chollet's Keras listing "How convolutional neural
  networks see the world" writes it): start from a grey image with a little uniform noise, step up the gradient
  of the filter's mean activation with the gradient normalised to unit RMS (about 20 steps of size 1), skip
  filters whose activation stays at zero, and show each result normalised to mean 0.5 and spread 0.1.
- "quality", the default, as Lucid does it (Olah, Mordvintsev & Schubert 2017, "Feature Visualization";
  Mordvintsev et al. 2018, "Differentiable Image Parameterizations"): the image lives in a Fourier basis scaled
  by 1/f, the spectrum of natural images, so a step changes broad structure more than pixel-level detail; its
  colours are decorrelated as in ImageNet, and a sigmoid keeps pixels in range; Adam optimises it, and the image
  is randomly shifted, scaled and rotated before every step so that only patterns that survive those changes
  are rewarded. A filter silent on the grey start is pushed up before its ReLU until it responds. Results look
  like textures and object parts rather than high-frequency noise.

In both modes many filters are optimised together as one batch (image b ascends filter b's objective), and each
filter's random start and transformations come from its own seed, so a filter looks the same whether it is run
alone or in a grid. Objectives: "channel" (a filter's mean), "neuron" (its centre unit), "layer" (the whole
layer, DeepDream-like) and "class" (a classifier's logit). `negative=True` finds what a filter most dislikes: the
pre-ReLU activation is pushed down, because after a ReLU there is nothing below zero to push.

`visualize(config)` yields a `Frame` holding the grid of tiles every `frame_every` steps, or sooner once
`FRAME_SECONDS` of work has passed (filters in index order, each with the objective its last step reported), and
closes with the kept filters ordered by achieved activation (`stage_done=True`); `Frame.losses` gives each
filter's achieved activation ("filter 3": value), grid order first. Also here: `feature_maps` (what a photo does
to a layer, in one forward pass), `kernel_tiles` (the first layer's learned kernels) and the two measures the
quality benchmark uses, `robust_activation` and `high_frequency_share`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from . import images, validation
from .frames import Frame
from .models import BACKBONE_NAMES, Backbone, get_backbone, inference_model

OBJECTIVES = ("channel", "neuron", "layer", "class")
MODES = ("quality", "classic")
# Each mode's own step count and step size: the chapter's 20 steps of size 1; Lucid's Adam at 0.05, with more
# steps because each one is a small move in Fourier space.
MODE_STEPS = {"classic": 20, "quality": 128}
MODE_LEARNING_RATES = {"classic": 1.0, "quality": 0.05}
MAX_FILTERS = 256
# The chapter's start: uniform noise 0..20 on a grey of 128, in pixel units.
CLASSIC_GREY = 128.0
CLASSIC_NOISE = 20.0
# Lucid's random transformations: scale 0.9..1.1, rotation within 10 degrees, and shifts of a few pixels
# (here 1/16 of the image side), with grey filling whatever the moved image no longer covers.
TRANSFORM_SCALE = (0.9, 1.1)
TRANSFORM_DEGREES = 10.0
TRANSFORM_SHIFT = 1 / 16
FILL_GREY = 0.5
# The square root of ImageNet's RGB colour covariance (as measured for Lucid): column 0 is roughly luminance.
# Optimising in its coordinates lets one step change brightness and colour in natural proportions.
COLOUR_CORRELATION_SQRT = np.array([[0.26, 0.09, 0.02],
                                    [0.27, 0.00, -0.05],
                                    [0.27, -0.09, 0.03]], dtype=np.float32)
COLOUR_BASIS = COLOUR_CORRELATION_SQRT / np.max(np.linalg.norm(COLOUR_CORRELATION_SQRT, axis=0))
SPECTRUM_INIT_STD = 0.01
# Lucid divides the Fourier image by 4 before the sigmoid; it keeps pixels in the sigmoid's steep middle for
# longer, where gradients pass through it almost undiminished.
SPECTRUM_DIVISOR = 4.0
# A frame is handed back once about this much work has passed, even before `frame_every` steps, so a big
# network on a slow machine still streams, and Stop acts within about this long.
FRAME_SECONDS = 1.0
ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-8


# --- configuration -------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class FilterConfig:
    """Settings of one feature-visualization run. Defaults: the chapter's VGG16 layer, filters 0-15, quality
    mode; `steps` and `learning_rate` left as None take the mode's own (classic 20 x 1.0, quality 128 x 0.05).

    filters: "0-15", "3" or "0,4,9-12" (an int works too): the channels of `layer` to visualize.
    layer: None means the backbone's default layer for feature visualization (for "class": its output layer).
    """

    backbone: str = "vgg16"
    weights: str | None = "imagenet"
    layer: str | None = None
    filters: str = "0-15"
    objective: str = "channel"
    class_index: int = 0
    negative: bool = False
    mode: str = "quality"
    steps: int | None = None
    learning_rate: float | None = None
    size: int = 128
    batch_size: int = 16
    frame_every: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        check = validation.check_number
        validation.check_choice("backbone", self.backbone, BACKBONE_NAMES + ("custom",))
        if self.layer is not None and (not isinstance(self.layer, str) or not self.layer.strip()):
            raise ValueError(f"layer must be a layer name or None, got {self.layer!r}")
        if isinstance(self.filters, numbers.Integral) and not isinstance(self.filters, bool):
            object.__setattr__(self, "filters", str(int(self.filters)))
        parse_filters(self.filters)
        validation.check_choice("objective", self.objective, OBJECTIVES)
        object.__setattr__(self, "class_index", check("class_index", self.class_index, 0, 100_000, integer=True))
        validation.check_choice("mode", self.mode, MODES)
        object.__setattr__(self, "steps", validation.check_optional_number("steps", self.steps, 1, 5000,
                                                                           integer=True))
        object.__setattr__(self, "learning_rate", validation.check_optional_number(
            "learning_rate", self.learning_rate, 1e-6, 100.0))
        object.__setattr__(self, "size", check("size", self.size, 32, 512, integer=True))
        object.__setattr__(self, "batch_size", check("batch_size", self.batch_size, 1, 64, integer=True))
        object.__setattr__(self, "frame_every", check("frame_every", self.frame_every, 1, 5000, integer=True))
        object.__setattr__(self, "seed", check("seed", self.seed, 0, 2**31 - 1, integer=True))
        if not isinstance(self.negative, bool):
            raise ValueError(f"negative must be true or false, got {self.negative!r}")

    @property
    def total_steps_per_batch(self) -> int:
        return self.steps if self.steps is not None else MODE_STEPS[self.mode]

    @property
    def step_size(self) -> float:
        return self.learning_rate if self.learning_rate is not None else MODE_LEARNING_RATES[self.mode]

    @property
    def filter_indices(self) -> tuple[int, ...]:
        return parse_filters(self.filters)


def parse_filters(text) -> tuple[int, ...]:
    """'0-15' -> (0, ..., 15); '3' -> (3,); '0,4,9-12' -> (0, 4, 9, 10, 11, 12). Duplicates are dropped."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"filters must be an index or a range like 0-15, got {text!r}")
    indices: list[int] = []
    for part in (piece.strip() for piece in text.split(",")):
        first, dash, last = part.partition("-")
        try:
            low = int(first)
            high = int(last) if dash else low
        except ValueError:
            raise ValueError(f"filters: {part!r} is not an index or a range like 0-15") from None
        if low < 0 or high < low:
            raise ValueError(f"filters: {part!r} must be an index >= 0 or a range low-high with low <= high")
        if high - low >= MAX_FILTERS or len(indices) + high - low >= MAX_FILTERS:
            raise ValueError(f"filters: at most {MAX_FILTERS} filters per run")
        indices.extend(index for index in range(low, high + 1) if index not in indices)
    return tuple(indices)


# --- what a run optimises ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Plan:
    """A config resolved against a built backbone: the exact layer, targets and sizes."""

    layer: str
    optimised: str  # which activation the steps push: "output", "pre" (before the nonlinearity) or "revive"
    measured: str  # which activation is reported as achieved: "output" or "pre"
    objective: str
    targets: tuple[int, ...]
    labels: tuple[str, ...]
    view_size: tuple[int, int] | None
    sign: float

    @property
    def key(self) -> tuple:
        """What the traced steps depend on (everything else is a tensor argument)."""
        return (self.layer, self.optimised, self.measured, self.objective, self.view_size is not None)


def backbone_for(config: FilterConfig) -> Backbone:
    """The registry backbone a config names, in the precision neuralart.runtime picks for this machine (as
    DeepDream and style transfer use it); with its classifier head for the class objective."""
    return get_backbone(config.backbone, config.weights, include_top=config.objective == "class", precision="auto")


def plan_for(config: FilterConfig, backbone: Backbone) -> _Plan:
    """Resolve and check the layer and targets against the network, before any work starts."""
    model = backbone.model
    if config.size < backbone.spec.min_size:
        raise ValueError(f"{backbone.name} needs images of at least {backbone.spec.min_size} pixels; "
                         f"size is {config.size}")
    layer = config.layer or _default_layer(config, backbone)
    backbone.check_layers([layer])
    output_rank = len(model.get_layer(layer).output.shape)
    if config.objective == "class":
        if output_rank != 2:
            raise ValueError(f"the class objective needs a classifier output; {layer} of {backbone.name} is a "
                             "feature map (pick a backbone with a classifier head)")
        targets, labels = (config.class_index,), (f"class {config.class_index}",)
    elif output_rank != 4:
        raise ValueError(f"{layer} is not a convolutional feature map; pick one of "
                         f"{', '.join(backbone.spec.feature_layers)}")
    elif config.objective == "layer":
        targets, labels = (0,), (f"layer {layer}",)
    else:
        targets = config.filter_indices
        labels = tuple(f"{'neuron' if config.objective == 'neuron' else 'filter'} {index}" for index in targets)
    _check_targets(targets, int(model.get_layer(layer).output.shape[-1]), layer, config.objective)
    # Class logits are always taken before the softmax, and a filter pushed down before its ReLU; otherwise the
    # layer's output is measured, as the chapter does. The quality mode revives filters that are silent on its
    # grey start (no gradient flows back through a ReLU that outputs zero everywhere) by pushing their
    # pre-activation up until they respond, as Lucid's "redirected ReLU" does.
    measured = "pre" if config.objective == "class" or config.negative else "output"
    optimised = "revive" if measured == "output" and config.mode == "quality" else measured
    fixed = tuple(model.input_shape[1:3])
    view_size = fixed if all(side is not None for side in fixed) else None
    return _Plan(layer, optimised, measured, config.objective, tuple(targets), labels, view_size,
                 -1.0 if config.negative else 1.0)


def _default_layer(config: FilterConfig, backbone: Backbone) -> str:
    if config.objective == "class":
        return backbone.model.layers[-1].name
    defaults = backbone.default_layers("features")
    return next(iter(defaults)) if defaults else backbone.spec.feature_layers[-1]


def _check_targets(targets: Sequence[int], count: int, layer: str, objective: str) -> None:
    if targets and max(targets) >= count:
        what = "classes" if objective == "class" else "filters"
        raise ValueError(f"{layer} has {count} {what}; choose indices within 0-{count - 1}")


# --- the traced steps ----------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Part:
    """One piece of a layer's activation: a symbolic tensor of the backbone, the function that turns it into
    the pre-activation, and the nonlinearity that turns that into the layer's output."""

    tensor: object
    to_pre: object
    activate: object
    convolution: object = None  # the Conv2D whose pre-activation `to_pre` recomputes, if it is one

    @property
    def width(self) -> int:
        """Channels this part contributes to the layer."""
        return int(self.convolution.filters if self.convolution is not None else self.tensor.shape[-1])


def _identity(tensor):
    return tensor


def _activation_parts(layer, pre_activation: bool) -> list[_Part]:
    """Pieces whose pre-activations, concatenated along channels, give `layer`'s activation before its final
    nonlinearity (and, activated, its output); with `pre_activation` False, the output itself.

    Keras fuses the ReLU into VGG's and SqueezeNet's convolutions and the softmax into the classifier, so the
    pre-activation is recomputed from the layer's input and weights; Inception's and MobileNet's ReLUs are
    separate layers, whose input is the pre-activation; a concatenation is resolved branch by branch.
    """
    import keras
    from keras.src.layers.convolutional.base_conv import BaseConv

    if not pre_activation:
        return [_Part(layer.output, _identity, _identity)]
    if isinstance(layer, (keras.layers.ReLU, keras.layers.Softmax)):
        return [_Part(layer.input, _identity, layer)]
    if isinstance(layer, keras.layers.Activation):
        return [_Part(layer.input, _identity, layer.activation)]
    linear = getattr(layer, "activation", None) in (None, keras.activations.linear)
    if isinstance(layer, (BaseConv, keras.layers.Dense)) and not linear:
        convolution = layer if type(layer) is keras.layers.Conv2D else None
        return [_Part(layer.input, lambda tensor: _linear_part(layer, tensor), layer.activation, convolution)]
    if isinstance(layer, keras.layers.Concatenate) and layer.axis in (-1, 3):
        parts = []
        for tensor in layer.input:
            parts.extend(_activation_parts(tensor._keras_history.operation, True))
        return parts
    return [_Part(layer.output, _identity, _identity)]


def _linear_part(layer, tensor):
    """A convolution's or dense layer's output without its activation function."""
    import keras

    if isinstance(layer, keras.layers.Dense):
        output = keras.ops.matmul(tensor, layer.kernel)
    else:
        output = layer.convolution_op(tensor, layer.kernel)
    return output + layer.bias if layer.use_bias else output


def _objective_function(backbone: Backbone, plan: _Plan, form: str):
    """images in pixel units (batch, h, w, 3) -> (value to push, value to report), one per image.

    The value pushed is the objective of the layer's output, of its pre-activation, or ("revive") of the output
    where the filter responds and of the pre-activation where it is silent; the value reported is the output's
    for "revive" and the pushed value otherwise."""
    return backbone.cached(("features_objective", plan.layer, form, plan.objective),
                           lambda: _make_objective_function(backbone, plan, form))


def _make_objective_function(backbone: Backbone, plan: _Plan, form: str, *, choose_channel: bool = True):
    import keras
    import tensorflow as tf

    from .losses import FEATURE_OBJECTIVES

    layer = backbone.model.get_layer(plan.layer)
    pre_activation_parts = _activation_parts(layer, True)
    # A filter's or a neuron's objective reads one channel per image: the last linear step then computes only
    # that channel (see `_chosen_channel`), and the network stops at that step's input.
    chosen_only = (choose_channel and plan.objective in ("channel", "neuron")
                   and all(_can_choose(part) for part in pre_activation_parts))
    parts = pre_activation_parts if chosen_only else _activation_parts(layer, form in ("pre", "revive"))
    # Computed in the backbone's precision (bfloat16 where the CPU has it); the pieces are cast back to
    # float32 before the last linear step is redone and before any objective.
    part_model = inference_model(keras.Model(backbone.model.inputs, [part.tensor for part in parts],
                                             name="features_parts"), backbone.precision)
    objective = FEATURE_OBJECTIVES[plan.objective]
    input_space = backbone.input_space

    def concatenated(pieces):
        return tf.concat(pieces, axis=-1) if len(pieces) > 1 else pieces[0]

    def values(pixels, targets, model_input=False):
        # `model_input`: the images are already the network's input (see `make_view`).
        network_input = pixels if model_input else input_space.to_model(pixels)
        outputs = [tf.cast(output, tf.float32)
                   for output in tf.nest.flatten(part_model(network_input, training=False))]
        if chosen_only:
            pre, output = _chosen_channel(parts, outputs, targets)
            targets = tf.zeros_like(targets)
        else:
            pieces = [part.to_pre(output) for part, output in zip(parts, outputs)]
            pre = concatenated(pieces)
            output = None if form == "pre" else concatenated([part.activate(piece)
                                                              for part, piece in zip(parts, pieces)])
        if form == "pre":
            pushed = objective(pre, targets)
            return pushed, pushed
        output_values = objective(output, targets)
        if form == "output":
            return output_values, output_values
        return tf.where(output_values > 0, output_values, objective(pre, targets)), output_values
    return values


def _can_choose(part: _Part) -> bool:
    """Whether `_chosen_channel` can compute this part's chosen channel alone: its pre-activation is a tensor of
    the network or a plain 2-D convolution of one, and its nonlinearity acts on each value by itself."""
    import keras

    activate = part.activate
    if isinstance(activate, keras.layers.Softmax) or activate in (keras.activations.softmax,
                                                                  keras.activations.log_softmax):
        return False
    if part.convolution is None:
        return part.to_pre is _identity and len(part.tensor.shape) == 4 and part.tensor.shape[-1] is not None
    convolution = part.convolution
    return (convolution.groups == 1 and convolution.data_format == "channels_last"
            and convolution.strides[0] == convolution.strides[1]
            and (tuple(convolution.strides) == (1, 1) or tuple(convolution.dilation_rate) == (1, 1)))


def _chosen_channel(parts, outputs, targets):
    """(pre-activation, activation), each (batch, height, width, 1): channel targets[b] of the layer the parts
    make up, for image b. Every part computes its own channel of each image (its index clipped into range), and
    each image takes the one from the part its target lies in."""
    import tensorflow as tf

    starts = np.cumsum([0] + [part.width for part in parts])
    pres = [_chosen_pre(part, output, tf.clip_by_value(targets - int(start), 0, part.width - 1))
            for part, output, start in zip(parts, outputs, starts)]
    activations = [part.activate(pre) for part, pre in zip(parts, pres)]
    if len(parts) == 1:
        return pres[0], activations[0]
    which = tf.searchsorted(tf.constant(starts[1:-1], tf.int32), targets, side="right")

    def pick(maps):
        return tf.gather(tf.stack(maps, axis=1), which, axis=1, batch_dims=1)
    return pick(pres), pick(activations)


def _chosen_pre(part: _Part, tensor, local):
    """Channel local[b] of image b of one part's pre-activation, (batch, height, width, 1)."""
    import tensorflow as tf

    if part.convolution is None:
        return tf.gather(tensor, local, axis=3, batch_dims=1)[..., None]
    return _chosen_convolution(part.convolution, tensor, local)


def _chosen_convolution(layer, tensor, local):
    """Output channel local[b] of `layer` (a Conv2D without its activation) for image b, alone.

    The batch is laid side by side along channels, each image's input channels meet their own kernel's in one
    depthwise convolution, and a sum over input channels finishes each image's one output channel. For a
    16-filter grid on VGG16's block5_conv1 at 128 px, forward and backward: 2 ms against 41 ms for all 512
    channels of every image, as the objective used to compute them and then keep one.
    """
    import tensorflow as tf

    kernel = tf.cast(layer.kernel, tensor.dtype)  # (rows, columns, in, out)
    rows, columns, channels = kernel.shape[0], kernel.shape[1], kernel.shape[2]
    batch, height, width = tf.shape(tensor)[0], tf.shape(tensor)[1], tf.shape(tensor)[2]
    side_by_side = tf.reshape(tf.transpose(tensor, [1, 2, 0, 3]), [1, height, width, batch * channels])
    kernels = tf.reshape(tf.transpose(tf.gather(kernel, local, axis=3), [0, 1, 3, 2]), [rows, columns, -1, 1])
    products = tf.nn.depthwise_conv2d(side_by_side, kernels, strides=[1, *layer.strides, 1],
                                      padding=layer.padding.upper(), dilations=layer.dilation_rate)
    out_height, out_width = tf.shape(products)[1], tf.shape(products)[2]
    summed = tf.reduce_sum(tf.reshape(products, [out_height, out_width, batch, channels]), axis=-1)
    chosen = tf.transpose(summed, [2, 0, 1])[..., None]
    if layer.use_bias:
        chosen += tf.gather(tf.cast(layer.bias, tensor.dtype), local)[:, None, None, None]
    return chosen


def _to_view(pixels, view_size, fixed: bool):
    """A network with a fixed input size (a classifier head) sees the image resized to that size."""
    import tensorflow as tf

    return tf.image.resize(pixels, view_size) if fixed else pixels


def evaluation_function(backbone: Backbone, plan: _Plan):
    """Traced forward pass: (pixels, targets, view size) -> objective per image."""
    return backbone.cached(("features_evaluate",) + plan.key, lambda: _make_evaluation(backbone, plan))


def _make_evaluation(backbone: Backbone, plan: _Plan):
    import tensorflow as tf

    values = _objective_function(backbone, plan, plan.measured)
    fixed = plan.view_size is not None

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32),
                                  tf.TensorSpec([None], tf.int32), tf.TensorSpec([2], tf.int32)])
    def evaluate(pixels, targets, view_size):
        return values(_to_view(pixels, view_size, fixed), targets)[1]
    return evaluate


def classic_function(backbone: Backbone, plan: _Plan):
    """Traced classic step: image += step * gradient / rms(gradient), per image. Returns the images and the
    objective reported at this step (measured before its update, as the chapter prints it). One step per call:
    see the note on speed in neuralart.deepdream."""
    return backbone.cached(("features_classic",) + plan.key, lambda: _make_classic(backbone, plan))


def _make_classic(backbone: Backbone, plan: _Plan):
    import tensorflow as tf

    values = _objective_function(backbone, plan, plan.optimised)
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
            pushed, reported = values(_to_view(pixels, view_size, fixed), targets)
            objective = sign * tf.reduce_sum(pushed)
        gradient = tape.gradient(objective, pixels)
        # The chapter's normalisation, per image so each filter moves as it would alone: a dead filter's zero
        # gradient stays zero, and its image stops changing.
        rms = tf.sqrt(tf.reduce_mean(tf.square(gradient), axis=[1, 2, 3], keepdims=True))
        return pixels + step_size * gradient / (rms + 1e-5), reported
    return ascend


def quality_function(backbone: Backbone, plan: _Plan):
    """Traced quality step: Adam on a Fourier-parameterized, colour-decorrelated image under a random
    transformation; one step per call (see the note on speed in neuralart.deepdream). The Adam state travels in and
    out as tensors, so no variable ties the trace to one image size or batch. Also returns the objective reported
    at this step, as the network saw its transformed image."""
    return backbone.cached(("features_quality",) + plan.key, lambda: _make_quality(backbone, plan))


def _make_quality(backbone: Backbone, plan: _Plan):
    import tensorflow as tf

    values = _objective_function(backbone, plan, plan.optimised)
    view = view_function(backbone)
    adam_ascent = _make_adam_ascent()
    spectrum_spec = tf.TensorSpec([None, 3, None, None, 2], tf.float32)

    @tf.function(input_signature=[
        spectrum_spec, spectrum_spec, spectrum_spec,  # the spectrum and Adam's two moment estimates
        tf.TensorSpec([], tf.float32),  # steps taken so far (Adam's bias correction)
        tf.TensorSpec([None, None], tf.float32),  # per-frequency scale (1/f)
        tf.TensorSpec([2], tf.int32),  # image height and width
        tf.TensorSpec([None, 8], tf.float32),  # this step's random transformation, one per image
        tf.TensorSpec([2], tf.int32),  # the size the network sees
        tf.TensorSpec([None], tf.int32),  # targets
        tf.TensorSpec([], tf.float32),  # learning rate
        tf.TensorSpec([], tf.float32),  # sign
    ])
    def ascend(spectrum, first_moment, second_moment, taken, frequency_scale, image_size, transforms,
               view_size, targets, learning_rate, sign):
        with tf.GradientTape() as tape:
            tape.watch(spectrum)
            # Made in the network's channel order: the warp treats channels alike, so nothing reorders them.
            planes = spectrum_to_planes(spectrum, frequency_scale, image_size, bgr=backbone.input_space.bgr)
            pushed, reported = values(view(planes, transforms, view_size), targets, model_input=True)
            objective = sign * tf.reduce_sum(pushed)
        gradient = tape.gradient(objective, spectrum)
        return (*adam_ascent(spectrum, first_moment, second_moment, gradient, taken + 1.0, learning_rate),
                taken + 1.0, reported)
    return ascend


def _make_adam_ascent():
    """Adam's update (ascending) as one XLA-compiled loop over the spectrum and its moments instead of a dozen
    small ops: a one-filter SqueezeNet step at 128 px 6.3 -> 5.8 ms (16 filters: within the noise)."""
    import tensorflow as tf

    beta1, beta2 = ADAM_BETAS

    @tf.function(jit_compile=True)
    def adam_ascent(parameters, first_moment, second_moment, gradient, taken, learning_rate):
        first_moment = beta1 * first_moment + (1 - beta1) * gradient
        second_moment = beta2 * second_moment + (1 - beta2) * tf.square(gradient)
        corrected_first = first_moment / (1 - beta1 ** taken)
        corrected_second = second_moment / (1 - beta2 ** taken)
        parameters = parameters + learning_rate * corrected_first / (tf.sqrt(corrected_second) + ADAM_EPSILON)
        return parameters, first_moment, second_moment
    return adam_ascent


def view_function(backbone: Backbone):
    """`make_view` for this backbone's input space, built once (its compiled pieces serve every run)."""
    return backbone.cached(("features_view",), lambda: make_view(backbone.input_space))


def make_view(input_space: images.InputSpace):
    """A function view(planes, transforms, view_size): colour planes (batch, 3, h, w), before the sigmoid and in
    the network's channel order, to the network's input for each image seen through its own random affine
    transform (batch, 8, as ImageProjectiveTransform takes them), `view_size` pixels, grey where the image does
    not reach.

    Sigmoid, transpose, the bilinear warp and the input's shift and scale run as one XLA-compiled function
    forward and one backward. The backward warp is the inverse warp of the upstream gradient filled with 0, as
    TensorFlow's own gradient of ImageProjectiveTransformV3 is. The warp alone, 16 images of 128 px, forward and
    backward: 8.7 ms with that op, 3.4 ms compiled; a 16-filter SqueezeNet step at 128 px 42.6 -> 39.5 ms.
    """
    import tensorflow as tf

    def model_view(planes, transforms, view_size):
        seen = sample_bilinear(_unit_image(planes), transforms, view_size, FILL_GREY)
        return input_space.ordered_to_model(images.unit_interval_to_pixels(seen))

    def planes_gradient(planes, transforms, upstream):
        # The shift and scale are affine, so their gradient is the same at any point: taken at the upstream's.
        with tf.GradientTape() as tape:
            tape.watch(upstream)
            shifted = input_space.ordered_to_model(images.unit_interval_to_pixels(upstream))
        seen_gradient = tape.gradient(shifted, upstream, output_gradients=upstream)
        unit_gradient = sample_bilinear(seen_gradient, inverse_affine_transforms(transforms),
                                        tf.shape(planes)[2:4], 0.0)
        with tf.GradientTape() as tape:
            tape.watch(planes)
            unit = _unit_image(planes)
        return tape.gradient(unit, planes, output_gradients=unit_gradient)

    forward = tf.function(model_view, jit_compile=True)
    backward = tf.function(planes_gradient, jit_compile=True)

    def view(planes, transforms, view_size):
        @tf.custom_gradient
        def viewed(planes):
            return forward(planes, transforms, view_size), lambda upstream: backward(planes, transforms, upstream)
        return viewed(planes)
    return view


def _unit_image(planes):
    """Colour planes (batch, 3, h, w) to images (batch, h, w, 3) in 0..1: a sigmoid keeps every pixel within
    range without clipping (which would stop gradients)."""
    import tensorflow as tf

    return tf.sigmoid(tf.transpose(planes, [0, 2, 3, 1]))


# --- the quality mode's image parameterization and transformations ------------------------------------------

def frequency_scale(height: int, width: int) -> np.ndarray:
    """Per-frequency scale of the Fourier parameterization: 1/f, capped at the lowest frequency, times
    sqrt(pixels) so that the inverse FFT is unitary and a step in spectrum space is a step in pixel space.
    Shape (height, width // 2 + 1), matching a real 2-D FFT."""
    vertical = np.fft.fftfreq(height)[:, None]
    horizontal = np.fft.rfftfreq(width)[None, :]
    frequency = np.sqrt(vertical ** 2 + horizontal ** 2)
    scale = 1.0 / np.maximum(frequency, 1.0 / max(height, width))
    return (scale * math.sqrt(height * width)).astype(np.float32)


def spectrum_to_unit_image(spectrum, scale, image_size, bgr: bool = False):
    """Spectra (batch, 3, h, w//2+1, real/imaginary) to images (batch, h, w, 3) in 0..1 (TF ops); with `bgr`,
    the same images with their channels in BGR order, as caffe-style networks read them."""
    return _unit_image(spectrum_to_planes(spectrum, scale, image_size, bgr))


def spectrum_to_planes(spectrum, scale, image_size, bgr: bool = False):
    """Spectra (batch, 3, h, w//2+1, real/imaginary) to colour planes (batch, 3, h, w) before the sigmoid, in
    RGB order or with `bgr` in BGR order (TF ops).

    The spectra are in decorrelated colour coordinates; the colour basis turns them into colours (mixing the
    spectra, which the inverse FFT commutes with, as a batched matrix product).
    """
    import tensorflow as tf

    basis = COLOUR_BASIS[::-1] if bgr else COLOUR_BASIS  # Reordering the basis's rows reorders the channels.
    # Scaled as (real, imaginary) pairs and reinterpreted as complex numbers in place: splitting the pairs and
    # joining them into complex numbers (and the gradients of both) cost ~2 ms of a 39 ms batched step.
    pairs = spectrum * tf.stack([scale, scale], axis=-1)
    shape = tf.shape(pairs)
    mixed = tf.matmul(tf.constant(basis / SPECTRUM_DIVISOR, tf.float32)[None], tf.reshape(pairs, [shape[0], 3, -1]))
    return tf.signal.irfft2d(_pairs_as_complex(tf.reshape(mixed, shape)), fft_length=image_size)


def _pairs_as_complex(pairs):
    """float32 (..., 2) real and imaginary parts -> complex64 (...), the same bytes (TF ops)."""
    import tensorflow as tf

    @tf.custom_gradient
    def reinterpret(pairs):
        # TensorFlow's gradient of a real function of complex z is d/d(real) + i d/d(imaginary): as pairs, the
        # same bytes again.
        return tf.bitcast(pairs, tf.complex64), lambda upstream: tf.bitcast(upstream, tf.float32)
    return reinterpret(pairs)


def sample_bilinear(images, transforms, output_size, fill: float):
    """Output pixel (x, y) of image i is images[i] sampled bilinearly at (t0 x + t1 y + t2, t3 x + t4 y + t5),
    with `fill` outside the image (TF ops; the gather compiles well under XLA, the same op eagerly is slow)."""
    import tensorflow as tf

    shape = tf.shape(images)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    # A 2-pixel border of `fill`, and each pixel stored with its right, lower and lower-right neighbours, so one
    # gather fetches all four corners. Coordinates are clamped onto the border, where every corner is `fill`.
    padded = tf.pad(images, [[0, 0], [2, 2], [2, 2], [0, 0]], constant_values=fill)
    quads = tf.concat([padded[:, :-1, :-1], padded[:, :-1, 1:], padded[:, 1:, :-1], padded[:, 1:, 1:]], axis=-1)
    quad_width = width + 3
    columns = tf.cast(tf.range(output_size[1]), tf.float32)[None, None, :]
    rows = tf.cast(tf.range(output_size[0]), tf.float32)[None, :, None]
    t = transforms[:, :, None, None]
    x = tf.clip_by_value(t[:, 0] * columns + t[:, 1] * rows + t[:, 2] + 2.0, 0.0, tf.cast(width + 2, tf.float32))
    y = tf.clip_by_value(t[:, 3] * columns + t[:, 4] * rows + t[:, 5] + 2.0, 0.0, tf.cast(height + 2, tf.float32))
    left, top = tf.floor(x), tf.floor(y)
    right_share, lower_share = x - left, y - top
    index = (tf.range(batch)[:, None, None] * ((height + 3) * quad_width)
             + tf.cast(top, tf.int32) * quad_width + tf.cast(left, tf.int32))
    corners = tf.gather(tf.reshape(quads, [-1, 4 * channels]), index)
    corners = tf.reshape(corners, tf.concat([tf.shape(index), [4, channels]], axis=0))
    weights = tf.stack([(1 - right_share) * (1 - lower_share), right_share * (1 - lower_share),
                        (1 - right_share) * lower_share, right_share * lower_share], axis=-1)
    return tf.reduce_sum(corners * weights[..., None], axis=3)


def inverse_affine_transforms(transforms):
    """The inverse of each affine transform (batch, 8) in the same form (TF ops)."""
    import tensorflow as tf

    a, b, shift_x, c, d, shift_y = (transforms[:, index] for index in range(6))
    determinant = a * d - b * c
    inverse_a, inverse_b, inverse_c, inverse_d = d / determinant, -b / determinant, -c / determinant, a / determinant
    zero = tf.zeros_like(a)
    return tf.stack([inverse_a, inverse_b, -(inverse_a * shift_x + inverse_b * shift_y),
                     inverse_c, inverse_d, -(inverse_c * shift_x + inverse_d * shift_y), zero, zero], axis=1)


def random_transforms(rng: np.random.Generator, count: int, image_size: tuple[int, int],
                      view_size: tuple[int, int] | None = None) -> np.ndarray:
    """`count` random shift/scale/rotation transforms (count, 8) for `sample_bilinear` and `make_view`, drawn
    from `rng`.

    Each maps a pixel of the output (the view, `view_size`, by default the image's own size) to the point of the
    image it samples: rotate and scale about the centre, then shift. Scales are drawn log-uniformly so zooming
    in and out are equally likely.
    """
    height, width = image_size
    view_height, view_width = view_size or image_size
    # Four numbers per transform, drawn transform by transform, so drawing 8 then 8 gives the same sequence as
    # drawing 16 at once: a run's result does not depend on how its steps are split into chunks.
    draws = rng.random((count, 4))
    low, high = np.log(TRANSFORM_SCALE[0]), np.log(TRANSFORM_SCALE[1])
    scales = np.exp(low + (high - low) * draws[:, 0])
    angles = np.deg2rad(TRANSFORM_DEGREES * (2 * draws[:, 1] - 1))
    reach = max(1.0, TRANSFORM_SHIFT * min(height, width))
    shifts = reach * (2 * draws[:, 2:] - 1)
    return np.stack([_view_to_image(scale, angle, shift, (height, width), (view_height, view_width))
                     for scale, angle, shift in zip(scales, angles, shifts)]).astype(np.float32)


def _view_to_image(scale: float, angle: float, shift, image_size, view_size) -> np.ndarray:
    """The 8 transform parameters for one view: x_image = A @ x_view + b, as ImageProjectiveTransform wants."""
    (height, width), (view_height, view_width) = image_size, view_size
    cosine, sine = math.cos(angle), math.sin(angle)
    ratio_x, ratio_y = width / view_width, height / view_height
    # Columns: how one view pixel to the right / down moves in the image (rotated, scaled, resized).
    a = np.array([[cosine * ratio_x, -sine * ratio_y], [sine * ratio_x, cosine * ratio_y]]) / scale
    view_centre = np.array([(view_width - 1) / 2, (view_height - 1) / 2])
    image_centre = np.array([(width - 1) / 2, (height - 1) / 2])
    b = image_centre + np.asarray(shift) - a @ view_centre
    return np.array([a[0, 0], a[0, 1], b[0], a[1, 0], a[1, 1], b[1], 0.0, 0.0])


def _target_rng(seed: int, target: int) -> np.random.Generator:
    """Each target's own random stream, so a filter's result does not depend on which others share its batch."""
    return np.random.default_rng([seed, target])


# --- the two modes, one batch at a time ----------------------------------------------------------------------

class _ClassicBatch:
    """The chapter's recipe for a batch of targets: state is the images themselves, in pixel units."""

    def __init__(self, config: FilterConfig, backbone: Backbone, plan: _Plan, targets: tuple[int, ...]):
        import tensorflow as tf

        self.plan = plan
        self.ascend = classic_function(backbone, plan).get_concrete_function()  # See _QualityBatch.
        self.evaluate = evaluation_function(backbone, plan)
        self.pixels = tf.constant(np.stack([grey_noise_start(config.size, _target_rng(config.seed, target))
                                            for target in targets]))
        self.targets = tf.constant(targets, tf.int32)
        self.step_size = tf.constant(config.step_size, tf.float32)
        self.view_size = tf.constant(plan.view_size or (config.size, config.size), tf.int32)

    def advance(self, steps: int) -> np.ndarray:
        """Take `steps` steps; the objective reported at the last one."""
        import tensorflow as tf

        sign = tf.constant(self.plan.sign, tf.float32)
        for _ in range(steps):
            self.pixels, reported = self.ascend(self.pixels, self.targets, self.step_size, sign, self.view_size)
        return reported.numpy()

    def achieved(self) -> np.ndarray:
        """The objective of the current images, exactly (one forward pass)."""
        return self.evaluate(self.pixels, self.targets, self.view_size).numpy()

    def tiles(self) -> list[np.ndarray]:
        # The chapter's deprocessing, each filter's image on its own.
        return [images.normalize_for_display(image) for image in self.pixels.numpy()]


def grey_noise_start(size: int, rng: np.random.Generator) -> np.ndarray:
    """The chapter's starting image: grey 128 plus uniform noise 0..20, float pixels (size, size, 3)."""
    return (rng.random((size, size, 3)) * CLASSIC_NOISE + CLASSIC_GREY).astype(np.float32)


class _QualityBatch:
    """Lucid's recipe for a batch of targets: state is the spectra plus Adam's moments."""

    def __init__(self, config: FilterConfig, backbone: Backbone, plan: _Plan, targets: tuple[int, ...]):
        import tensorflow as tf

        size = config.size
        self.plan = plan
        # Called through its one concrete function: a polymorphic call binds 11 arguments to the signature every
        # step (one-filter SqueezeNet step at 128 px: 6.6 -> 5.9 ms).
        self.ascend = quality_function(backbone, plan).get_concrete_function()
        self.evaluate = evaluation_function(backbone, plan)
        self.rngs = [_target_rng(config.seed, target) for target in targets]
        shape = (3, size, size // 2 + 1, 2)
        self.spectrum = tf.constant(np.stack([rng.normal(0.0, SPECTRUM_INIT_STD, shape) for rng in self.rngs]),
                                    tf.float32)
        self.first_moment = tf.zeros_like(self.spectrum)
        self.second_moment = tf.zeros_like(self.spectrum)
        self.taken = tf.constant(0.0)
        self.scale = tf.constant(frequency_scale(size, size))
        self.image_size = tf.constant((size, size), tf.int32)
        self.view_size = plan.view_size or (size, size)
        self.targets = tf.constant(targets, tf.int32)
        self.learning_rate = tf.constant(config.step_size, tf.float32)

    def advance(self, steps: int) -> np.ndarray:
        """Take `steps` steps; the objective reported at the last one (on its transformed image)."""
        import tensorflow as tf

        size = tuple(int(side) for side in self.image_size.numpy())
        per_target = [random_transforms(rng, steps, size, self.view_size) for rng in self.rngs]
        transforms = np.stack(per_target, axis=1)  # (steps, batch, 8)
        view_size, sign = tf.constant(self.view_size, tf.int32), tf.constant(self.plan.sign, tf.float32)
        for step_transforms in transforms:
            self.spectrum, self.first_moment, self.second_moment, self.taken, reported = self.ascend(
                self.spectrum, self.first_moment, self.second_moment, self.taken, self.scale, self.image_size,
                tf.constant(step_transforms), view_size, self.targets, self.learning_rate, sign)
        return reported.numpy()

    def unit_images(self):
        return spectrum_to_unit_image(self.spectrum, self.scale, self.image_size)

    def achieved(self) -> np.ndarray:
        """The objective of the current images, untransformed (one forward pass)."""
        import tensorflow as tf

        return self.evaluate(images.unit_interval_to_pixels(self.unit_images()), self.targets,
                             tf.constant(self.view_size, tf.int32)).numpy()

    def tiles(self) -> list[np.ndarray]:
        return [images.unit_interval_to_uint8(image) for image in self.unit_images().numpy()]


_BATCH_CLASSES = {"classic": _ClassicBatch, "quality": _QualityBatch}


# --- the run -------------------------------------------------------------------------------------------------

def visualize(config: FilterConfig = FilterConfig(), backbone: Backbone | None = None) -> Iterator[Frame]:
    """Visualize the configured filters (or unit, layer, class), yielding the grid as it forms.

    The layer and filters are checked against the network before this returns, so mistakes surface at once.
    """
    backbone = backbone or backbone_for(config)
    return _FilterRun(config, backbone, plan_for(config, backbone)).frames()


@dataclasses.dataclass(frozen=True)
class Rendering:
    """A finished run, tile by tile: each target's image and achieved activation, and the kept ones in grid
    order (achieved activation, best first; dead filters left out)."""

    tiles: Mapping[int, np.ndarray]
    values: Mapping[int, float]
    kept: tuple[int, ...]


def render(config: FilterConfig, backbone: Backbone | None = None) -> Rendering:
    """Run `visualize` to the end and return the tiles one by one (the benchmark and tests compare them)."""
    backbone = backbone or backbone_for(config)
    run = _FilterRun(config, backbone, plan_for(config, backbone))
    for _ in run.frames():
        pass
    return Rendering(tiles=dict(run.tiles), values=dict(run.values), kept=run.kept())


class _FilterRun:
    """The state of one run, created inside `visualize` and never shared."""

    def __init__(self, config: FilterConfig, backbone: Backbone, plan: _Plan):
        self.config = config
        self.backbone = backbone
        self.plan = plan
        self.labels = dict(zip(plan.targets, plan.labels))
        size = config.batch_size
        self.batches = [plan.targets[start:start + size] for start in range(0, len(plan.targets), size)]
        self.steps_per_batch = config.total_steps_per_batch
        self.total_steps = self.steps_per_batch * len(self.batches)
        self.steps = 0
        self.tiles: dict[int, np.ndarray] = {}
        self.values: dict[int, float] = {}
        self.seconds_per_step: float | None = None

    def frames(self) -> Iterator[Frame]:
        batch_class = _BATCH_CLASSES[self.config.mode]
        for number, targets in enumerate(self.batches, start=1):
            batch = batch_class(self.config, self.backbone, self.plan, targets)
            remaining = self.steps_per_batch
            while remaining > 0:
                chunk = self._next_chunk(remaining)
                started = time.perf_counter()
                reported = batch.advance(chunk)  # Reading the result waits for the call: real work is timed.
                self.seconds_per_step = (time.perf_counter() - started) / chunk
                remaining -= chunk
                self.steps += chunk
                self.tiles.update(zip(targets, batch.tiles()))
                # While optimising, the value reported by the last step; at the end, the exact one.
                values = reported if remaining else batch.achieved()
                self.values.update(zip(targets, (float(value) for value in values)))
                if self.steps < self.total_steps:
                    yield self._progress_frame(number)
        yield self._final_frame()

    def _next_chunk(self, remaining: int) -> int:
        """Steps before the next frame: up to `frame_every`, but no more than fit in `FRAME_SECONDS` at the
        speed measured so far (a single step until there is a measurement), so slow networks still stream."""
        limit = min(remaining, self.config.frame_every)
        if self.seconds_per_step is None:
            return 1
        return max(1, min(limit, int(FRAME_SECONDS / max(self.seconds_per_step, 1e-9))))

    def kept(self) -> tuple[int, ...]:
        """The chapter's kept filters: those whose (signed) objective rose above zero, best first."""
        sign = self.plan.sign
        alive = [target for target in self.tiles if sign * self.values[target] > 0]
        return tuple(sorted(alive, key=lambda target: sign * self.values[target], reverse=True))

    def _progress_frame(self, batch_number: int) -> Frame:
        targets = [target for target in self.plan.targets if target in self.tiles]
        stage = f"{self.plan.layer} · batch {batch_number}/{len(self.batches)}"
        return Frame(image=images.image_grid([self.tiles[target] for target in targets]), step=self.steps,
                     total_steps=self.total_steps, losses=self._losses(targets), stage=stage)

    def _final_frame(self) -> Frame:
        kept = self.kept()
        # When nothing responded, show every tile anyway: a blank result would explain nothing.
        shown = kept or self.plan.targets
        rest = [target for target in self.plan.targets if target not in kept]
        stage = f"{self.plan.layer} · kept {len(kept)} of {len(self.plan.targets)}"
        return Frame(image=images.image_grid([self.tiles[target] for target in shown]), step=self.total_steps,
                     total_steps=self.total_steps, losses=self._losses(list(kept) + rest), stage=stage,
                     stage_done=True)

    def _losses(self, targets) -> dict[str, float]:
        return {self.labels[target]: self.values[target] for target in targets}


# --- measures of quality (the benchmark's and the tests') ---------------------------------------------------

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
                               images.unit_interval_to_pixels(FILL_GREY))
        values = evaluate(seen, tf.constant([target] * count, tf.int32), view_size)
        results.append(float(tf.reduce_mean(values)))
    return np.asarray(results)


# --- what a photo does to a layer, and the first layer's kernels --------------------------------------------

MAX_FEATURE_MAPS = 512
TILE_SIDE = 64


@dataclasses.dataclass(frozen=True)
class FeatureMaps:
    """A photo's activation at one layer, shown as a grid of grey tiles (each channel stretched on its own),
    ranked by mean activation, strongest first.

    grid: uint8 (height, width, 3); shape: the layer's output (height, width, channels);
    channels: the channels shown, in grid order; means: their mean activations.
    """

    grid: np.ndarray
    layer: str
    shape: tuple[int, int, int]
    channels: tuple[int, ...]
    means: tuple[float, ...]


def feature_maps(image, backbone: Backbone, layer: str | None = None, *, count: int = 64,
                 max_side: int = 512, tile_side: int = TILE_SIDE) -> FeatureMaps:
    """One forward pass of `image` (a path, PIL image or uint8 array) to `layer` (default: the backbone's usual
    layer for feature visualization); the `count` most active channels as a grid."""
    count = validation.check_number("count", count, 1, MAX_FEATURE_MAPS, integer=True)
    max_side = validation.check_number("max_side", max_side, 32, 4096, integer=True)
    layer = layer or _default_layer(FilterConfig(objective="channel"), backbone)
    backbone.check_layers([layer])
    if len(backbone.model.get_layer(layer).output.shape) != 4:
        raise ValueError(f"{layer} is not a convolutional feature map")
    pixels = images.uint8_to_pixels(images.load_image(image, max_side=max_side))
    pixels = _fit_fixed_input(pixels, backbone)
    activation = _forward_function(backbone, layer)(pixels[None]).numpy()[0]
    means = activation.mean(axis=(0, 1))
    ranked = np.argsort(-means, kind="stable")[:count]
    stretched = images.normalize_channels(activation[..., ranked])
    tiles = [images.enlarge_nearest(stretched[..., index], tile_side) for index in range(len(ranked))]
    return FeatureMaps(grid=images.image_grid(tiles), layer=layer, shape=tuple(int(side) for side in activation.shape),
                       channels=tuple(int(channel) for channel in ranked),
                       means=tuple(float(means[channel]) for channel in ranked))


def _fit_fixed_input(pixels: np.ndarray, backbone: Backbone) -> np.ndarray:
    """Networks built for one input size (MobileNet with ImageNet weights) see the photo resized to it."""
    fixed = tuple(backbone.model.input_shape[1:3])
    if all(side is not None for side in fixed) and pixels.shape[:2] != fixed:
        return images.uint8_to_pixels(images.resize_uint8(images.pixels_to_uint8(pixels), fixed))
    return pixels


def _forward_function(backbone: Backbone, layer: str):
    """Traced forward pass from pixels (batch, h, w, 3) to one layer's output, cached per backbone."""
    def build():
        import tensorflow as tf

        model = backbone.layer_model((layer,))
        input_space = backbone.input_space

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        def forward(pixels):
            return model(input_space.to_model(pixels), training=False)
        return forward
    return backbone.cached(("features_forward", layer), build)


@dataclasses.dataclass(frozen=True)
class KernelTiles:
    """The first convolution's kernels as colour tiles (each stretched on its own to 0..255, in RGB order).

    grid: uint8 image; layer: the convolution's name; shape: its kernel's (height, width, 3, filters)."""

    grid: np.ndarray
    layer: str
    shape: tuple[int, int, int, int]


def kernel_tiles(backbone: Backbone, tile_side: int = 32) -> KernelTiles:
    """Read the first layer's learned kernels with `get_weights()`, as the chapter does, and tile them."""
    layer = first_colour_convolution(backbone)
    kernel = np.asarray(layer.get_weights()[0], dtype=np.float32)
    if backbone.input_space.bgr:
        kernel = kernel[:, :, ::-1, :]  # The kernel's input channels follow the network's (BGR) order.
    tiles = [images.enlarge_nearest(images.stretch_to_uint8(kernel[..., index]), tile_side)
             for index in range(kernel.shape[-1])]
    return KernelTiles(grid=images.image_grid(tiles), layer=layer.name, shape=tuple(kernel.shape))


def first_colour_convolution(backbone: Backbone):
    """The first layer with a 2-D convolution kernel over the 3 colour channels."""
    for layer in backbone.model.layers:
        weights = layer.weights
        if weights and len(weights[0].shape) == 4 and weights[0].shape[2] == 3:
            return layer
    raise ValueError(f"{backbone.name} has no convolution over the colour channels")
