"""Neural style transfer (Gatys, Ecker & Bethge, "A Neural Algorithm of Artistic Style", 2015; CVPR 2016).

An image is optimised so that a deep layer of the network sees the *content* photo in it (content loss: mean
squared difference of features), shallower layers see the *style* painting's textures in it (style loss: mean
squared difference of Gram matrices, i.e. channel correlations, which forget where things are), and neighbouring
pixels stay alike (total-variation loss). The three are weighted and summed.

The chapter's algorithm (section 9.3) is `PRESETS["chapter"]`: VGG19, Adam (learning rate 5, beta_1 0.99,
epsilon 0.1) on the image, clipped to valid pixels after every step, starting from the photo, keeping the best image.
(Its listing stores the image *after* the step whose loss was lowest; this keeps the image that loss was measured
on, so the returned image and its reported loss belong together.)
Beyond it, as jcjohnson/neural-style and crowsonkb/style-transfer-pytorch offer:
- L-BFGS (neuralart.lbfgs) as the default optimizer, stepping in a smoothed basis (`StyleConfig.smoothing`: the
  image is its start plus offset + smoothing x a blur of the offset, so broad changes cost fewer iterations;
  with 0, a plain L-BFGS on pixels projected into their range);
- several style images whose Gram matrices are blended with weights, and a style scale;
- initialisation from the photo in the style's palette (its colours' mean and covariance; the default), the photo
  as it is, noise or the (first) style;
- colour preservation: luminance-only transfer (Gatys et al. 2016, "Preserving color in neural artistic style
  transfer") or matching the style's colour histogram to the photo's;
- coarse-to-fine: optimise a small image first, enlarge it and continue, up to the requested size.

The image is optimised in pixels 0..255 with its channels in the order the network reads them (BGR for the
caffe-style backbones offered here), so the traced step turns it into model input with a shift alone: that is the
chapter's preprocessed image up to the shift, which Adam, clipping and the losses do not see. Frames show it as
RGB. Style Gram matrices are computed once per scale, never per step.

`stylize(content, styles, config)` yields a `Frame` every `frame_every` iterations and one closing each scale
(`stage_done=True`); `Frame.losses` holds the weighted terms "content", "style", "tv" and their sum "total". The
last frame is the best (lowest-loss) image of the final scale.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType

import numpy as np

from . import images, runtime, validation
from .frames import Frame
from .lbfgs import MAX_HALVINGS, LbfgsStepper
from .models import BACKBONE_NAMES, REGISTRY, Backbone, get_backbone

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("recolored", "content", "noise", "style")
COLOR_MODES = ("none", "luminance", "histogram")
MAX_SIDE = 1024
# Style images are read at most this large: enough for a style scale of 2 at the largest output.
MAX_STYLE_SIDE = 2048
LOSS_TERMS = ("total", "content", "style", "tv")
ADAM_BETA_2 = 0.999  # The chapter keeps Adam's default.
LBFGS_HISTORY = 5
# L-BFGS's smoothing (see `_SmoothedLbfgsScale`): the width of its Gaussian blur in pixels. With SqueezeNet at
# 384 px and The Starry Night on the bridge, judged as bench/speed.py's style-quality case judges (a first sweep
# ran the same operator in numpy), blurs of 2 and 3 pixels with a smoothing of 2 to 4 reached the chapter's loss
# after 120 to 130 iterations, 1 and 4 pixels after 130 to 165, a smoothing of 8 or more after 150 or more
# (README, "Measured").
SMOOTHING_SIGMA = 2.0
# In bfloat16, L-BFGS halves a step at most this many times (instead of lbfgs.MAX_HALVINGS) before it gives up on
# an iteration: late in a run the loss falls by less per iteration than its bfloat16 rounding noise, and a shorter
# step only falls by less, so the further halvings were wasted evaluations, at least twice before each switch to
# float32. Default runs at 384 px took 9-14% less time (36-70 evaluations fewer of about 360), at 512 px with
# coarse-to-fine 23.0 instead of 28.0 s, their final losses the same or lower (README, "Measured").
BFLOAT16_HALVINGS = 3
# Where the smoothed steps take a pixel out of 0..255, this times the squared distance is added to the value
# L-BFGS minimises (not to the losses reported): the image then stays within a pixel unit of the range
# (the shown image is clipped into it).
RANGE_PENALTY = 1.0

# The chapter's loss weights (content 1e3 and style 1e-2 as in its TensorFlow listing; total variation 1e-4 as
# in the Keras listing its power-1.25 term comes from).
CHAPTER_LOSS_WEIGHTS = MappingProxyType({"content_weight": 1e3, "style_weight": 1e-2, "tv_weight": 1e-4})

# Loss weights per backbone, used when a config leaves them as None. The VGGs take the chapter's; SqueezeNet's
# activations are smaller, so its style weight is larger (tuned on real weights with the shared test images).
BACKBONE_LOSS_WEIGHTS = MappingProxyType({
    "vgg19": CHAPTER_LOSS_WEIGHTS,
    "vgg16": CHAPTER_LOSS_WEIGHTS,
    "squeezenet": MappingProxyType({"content_weight": 1e3, "style_weight": 3.0, "tv_weight": 1e-4}),
})

_VGG19_STYLE_LAYERS = {f"block{block}_conv1": 1.0 for block in range(1, 6)}

PRESETS: Mapping[str, Mapping] = MappingProxyType({
    # Section 9.3 of the chapter, field by field.
    "chapter": MappingProxyType({
        "backbone": "vgg19", "weights": "imagenet",
        "content_layers": {"block5_conv2": 1.0}, "style_layers": _VGG19_STYLE_LAYERS,
        **CHAPTER_LOSS_WEIGHTS, "style_blend": None, "iterations": 1000, "optimizer": "adam",
        "learning_rate": 5.0, "beta_1": 0.99, "epsilon": 0.1, "init": "content", "max_side": 512,
        "style_scale": 1.0, "preserve_colors": "none", "multiscale": False}),
    # A quick preview (`--preset fast` or `--fast`): SqueezeNet, one 384-px scale, 60 L-BFGS iterations, which
    # gave a recognisable picture in about 7 s from a cold start on a 2-core CPU (bench/speed.py measures it).
    "fast": MappingProxyType({"backbone": "squeezenet", "max_side": 384, "iterations": 60, "multiscale": False}),
})


@dataclasses.dataclass(frozen=True)
class StyleConfig:
    """Settings of one style transfer run. Loss weights and layers left as None come from the backbone's preset."""

    backbone: str = "squeezenet"
    weights: str | None = "imagenet"
    content_layers: Mapping[str, float] | None = None
    style_layers: Mapping[str, float] | None = None
    content_weight: float | None = None
    style_weight: float | None = None
    tv_weight: float | None = None
    style_blend: tuple[float, ...] | None = None
    # 300 L-BFGS iterations reach, on the real SqueezeNet at 384 px, a lower loss than the chapter's 500 Adam
    # iterations with The Starry Night on the bridge (463k vs 488k; bench/speed.py, case style-quality) and with
    # Matisse's Woman with a Hat on the shipwreck photo (124k vs 135k), in about 11 s on a 2-core CPU; with the
    # Matisse on the bridge they end 3% above it (171k vs 166k), below Adam's loss after as many iterations (191k).
    iterations: int = 300
    optimizer: str = "lbfgs"
    # L-BFGS steps in a smoothed basis: the image is its start plus (1 + smoothing x a Gaussian blur) applied to
    # what L-BFGS optimises, so broad changes cost it fewer steps than pixel-level ones. 3 took the chapter's loss
    # at 384 px from 160 to 125 iterations with The Starry Night, and from 220 to 140 with the Matisse on the
    # shipwreck; 0 is the plain L-BFGS on pixels, projected into 0..255 (README, "Measured").
    smoothing: float = 3.0
    learning_rate: float = 5.0
    beta_1: float = 0.99
    epsilon: float = 0.1
    # The photo in the style's colours: the style loss's first layers then start near their target, and L-BFGS
    # reaches a given loss in fewer iterations (bench/speed.py, case style-quality; README, "Measured").
    init: str = "recolored"
    max_side: int = 512
    style_scale: float = 1.0
    preserve_colors: str = "none"
    multiscale: bool = True
    # Coarse-to-fine starts no smaller than this: below it, a scale costs time without lowering the full-size loss
    # reached in a given time (SqueezeNet at 384 px, bench/speed.py: scales of 96 and 192 px cost 4 s and gained
    # nothing), so images under 512 px run at one scale.
    multiscale_min_side: int = 256
    frame_every: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        check, optional = validation.check_number, validation.check_optional_number
        validation.check_choice("backbone", self.backbone, BACKBONE_NAMES + ("custom",))
        for name in ("content_layers", "style_layers"):
            self._set(name, _checked_layers(name, getattr(self, name)))
        for name in ("content_weight", "style_weight", "tv_weight"):
            self._set(name, optional(name, getattr(self, name), 0.0, 1e12))
        self._set("style_blend", _checked_blend(self.style_blend))
        self._set("iterations", check("iterations", self.iterations, 0, 5000, integer=True))
        validation.check_choice("optimizer", self.optimizer, OPTIMIZERS)
        self._set("smoothing", check("smoothing", self.smoothing, 0.0, 100.0))
        self._set("learning_rate", check("learning_rate", self.learning_rate, 1e-4, 1e3))
        self._set("beta_1", check("beta_1", self.beta_1, 0.0, 0.9999))
        self._set("epsilon", check("epsilon", self.epsilon, 1e-10, 1e3))
        validation.check_choice("init", self.init, INITS)
        self._set("max_side", check("max_side", self.max_side, 32, MAX_SIDE, integer=True))
        self._set("style_scale", check("style_scale", self.style_scale, 0.1, 4.0))
        validation.check_choice("preserve_colors", self.preserve_colors, COLOR_MODES)
        if not isinstance(self.multiscale, bool):
            raise ValueError(f"multiscale must be true or false, got {self.multiscale!r}")
        self._set("multiscale_min_side", check("multiscale_min_side", self.multiscale_min_side, 16, MAX_SIDE,
                                               integer=True))
        self._set("frame_every", check("frame_every", self.frame_every, 1, 5000, integer=True))
        self._set("seed", check("seed", self.seed, 0, 2**31 - 1, integer=True))

    def _set(self, name: str, value) -> None:
        object.__setattr__(self, name, value)

    def loss_weights(self) -> tuple[float, float, float]:
        """(content, style, total variation) weights: this config's, or its backbone's preset for those left None."""
        preset = BACKBONE_LOSS_WEIGHTS.get(self.backbone, CHAPTER_LOSS_WEIGHTS)
        return tuple(preset[name] if getattr(self, name) is None else getattr(self, name)
                     for name in ("content_weight", "style_weight", "tv_weight"))

    @classmethod
    def preset(cls, name: str, **overrides) -> StyleConfig:
        """A named preset ("chapter"), with any fields overridden."""
        validation.check_choice("preset", name, tuple(PRESETS))
        return cls(**{**PRESETS[name], **overrides})


def _checked_layers(name: str, layers):
    if layers is None:
        return None
    layers = validation.check_weights(name, layers, 0.0, 1e6)
    if not any(layers.values()):
        raise ValueError(f"{name}: give at least one layer a positive weight")
    return layers


def _checked_blend(blend):
    if blend is None:
        return None
    if isinstance(blend, (str, bytes)) or not isinstance(blend, Sequence):
        raise ValueError(f"style_blend must be a list of numbers, one per style image; got {blend!r}")
    blend = tuple(validation.check_number("style_blend", weight, 0.0, 1e6) for weight in blend)
    if not blend or not any(blend):
        raise ValueError("style_blend: give at least one style a positive weight")
    return blend


# --- the run ---------------------------------------------------------------------------------------------------

def stylize(content, styles, config: StyleConfig = StyleConfig(),
            backbone: Backbone | None = None) -> Iterator[Frame]:
    """Paint `content` in the style of `styles` (one image or a list), yielding Frames as it goes.

    Images may be paths, PIL images or uint8 arrays. Everything is loaded and checked before this returns, so bad
    input raises here rather than mid-run. Without `backbone`, the registry's is used in the precision
    neuralart.runtime picks for this machine (the losses and the image stay float32 either way).
    """
    style_list = list(styles) if isinstance(styles, (list, tuple)) else [styles]
    if not style_list:
        raise ValueError("Give at least one style image.")
    blend = _blend_weights(config.style_blend, len(style_list))
    backbone = backbone or get_backbone(config.backbone, config.weights, precision="auto")
    content_layers = _active_layers(_layers_or_preset(config.content_layers, backbone, "style_content"), "content")
    style_layers = _active_layers(_layers_or_preset(config.style_layers, backbone, "style"), "style")
    backbone.check_layers(tuple(content_layers) + tuple(style_layers))
    content_image = images.load_image(content, max_side=config.max_side)
    style_images = [images.load_image(style, max_side=MAX_STYLE_SIDE) for style in style_list]
    run = _StyleRun(config, backbone, content_layers, style_layers, blend)
    run.prepare_images(content_image, style_images)
    return run.frames()


def _blend_weights(blend: tuple[float, ...] | None, count: int) -> list[float]:
    if blend is None:
        return [1.0 / count] * count
    if len(blend) != count:
        raise ValueError(f"style_blend has {len(blend)} weights but {count} style images were given.")
    total = sum(blend)
    return [weight / total for weight in blend]


def _layers_or_preset(layers: Mapping[str, float] | None, backbone: Backbone, preset: str) -> Mapping[str, float]:
    """The layers a config names, else the backbone's preset for them; a clear error where it has none."""
    if layers:
        return layers
    layers = backbone.default_layers(preset)
    if not layers:
        with_presets = [name for name, spec in REGISTRY.items() if "style" in spec.defaults]
        raise ValueError(f"{backbone.name} has no preset layers for style transfer: choose one of "
                         f"{', '.join(with_presets)}, or name the content and style layers yourself.")
    return layers


def _active_layers(layers: Mapping[str, float], kind: str) -> dict[str, float]:
    """Layers with a positive weight, their weights normalised to sum to 1 (so equal weights are the chapter's
    1/number-of-layers, and the overall strength is the loss weight alone)."""
    active = {layer: float(weight) for layer, weight in layers.items() if weight > 0}
    if not active:
        raise ValueError(f"No {kind} layers with a positive weight.")
    total = sum(active.values())
    return {layer: weight / total for layer, weight in active.items()}


def scale_shapes(size: tuple[int, int], multiscale: bool, min_side: int,
                 network_min_side: int = 1) -> list[tuple[int, int]]:
    """(height, width) of each scale, smallest first, ending at `size`: halving from `size` while the longest side
    stays at least `min_side` and the shortest at least what the network needs."""
    shapes = [tuple(size)]
    while multiscale:
        smaller = images.scaled_size(shapes[0], 0.5)
        if max(smaller) < min_side or min(smaller) < network_min_side:
            break
        shapes.insert(0, smaller)
    return shapes


class _StyleRun:
    """The state of one run: created inside `stylize`, never shared between runs or users."""

    def __init__(self, config: StyleConfig, backbone: Backbone, content_layers: dict[str, float],
                 style_layers: dict[str, float], blend: list[float]):
        import tensorflow as tf

        self.config = config
        self.backbone = backbone
        self.layer_names = (tuple(content_layers), tuple(style_layers))
        self.steps_function = None  # Each scale's traced steps, chosen when the scale starts (see `frames`),
        self.precision = backbone.precision  # and the precision they compute in.
        self.content_layer_weights = tf.constant(list(content_layers.values()), tf.float32)
        self.style_layer_weights = tf.constant(list(style_layers.values()), tf.float32)
        self.loss_weights = tf.constant(config.loss_weights(), tf.float32)
        self.blend = blend
        self.network_min_side = backbone.spec.min_size
        self.input_space = backbone.input_space
        self.rng = np.random.default_rng(config.seed)
        self.steps = 0

    # -- images -----------------------------------------------------------------------------------------------

    def prepare_images(self, content: np.ndarray, styles: list[np.ndarray]) -> None:
        """The photo, the style images and the images the network sees, after colour preservation."""
        mode = self.config.preserve_colors
        if mode == "histogram":
            styles = [images.match_color_histogram(style, content) for style in styles]
        self.content = content
        if mode == "luminance":
            self.seen_content = images.luminance_image(content)
            self.seen_styles = [images.luminance_image(style, like=content) for style in styles]
        else:
            self.seen_content, self.seen_styles = content, styles
        height, width = content.shape[:2]
        if min(height, width) < self.network_min_side:
            raise ValueError(f"The photo is {width}x{height}; this network needs at least {self.network_min_side} "
                             "pixels on each side. Please use a larger photo or image size.")
        self.shapes = scale_shapes((height, width), self.config.multiscale, self.config.multiscale_min_side,
                                   self.network_min_side)
        if self.config.init == "recolored":
            self.recolored_content = images.match_color_statistics(self.seen_content, self.seen_styles, self.blend)
        self.total_steps = len(self.shapes) * self.config.iterations

    def _ordered(self, image: np.ndarray) -> np.ndarray:
        """A uint8 or float RGB image as float pixels in the network's channel order, the form optimised."""
        return self.input_space.in_network_order(np.asarray(image, dtype=np.float32))

    def _initial_pixels(self, shape: tuple[int, int]) -> np.ndarray:
        init = self.config.init
        if init == "recolored":
            return self._ordered(images.resize_uint8(self.recolored_content, shape))
        if init == "content":
            return self._ordered(images.resize_uint8(self.seen_content, shape))
        if init == "style":
            return self._ordered(images.resize_uint8(self.seen_styles[0], shape))
        # Grey with mild noise: the structure then comes from the losses alone, as in Gatys et al.'s noise start.
        noise = np.clip(127.5 + 25.0 * self.rng.standard_normal((*shape, 3)), 0, 255)
        if self.config.preserve_colors == "luminance":
            noise = np.repeat(noise.mean(axis=2, keepdims=True), 3, axis=2)
        return self._ordered(noise)

    def _targets(self, shape: tuple[int, int]):
        """Content features and blended style Gram matrices at this scale (computed once per scale)."""
        import tensorflow as tf

        features = self.steps_function.features
        content_targets, _ = features(tf.constant(self._ordered(images.resize_uint8(self.seen_content, shape))))
        blended = None
        for weight, style in zip(self.blend, self.seen_styles):
            if weight == 0:
                continue
            _, grams = features(tf.constant(self._ordered(self._style_at(style, shape))))
            weighted = [weight * gram for gram in grams]
            blended = weighted if blended is None else [total + gram for total, gram in zip(blended, weighted)]
        return list(content_targets), blended

    def _style_at(self, style: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """The style image as the network sees it at this scale: its longest side `style_scale` times the
        result's (at most MAX_STYLE_SIDE), but never so small that the network cannot take it."""
        height, width = style.shape[:2]
        side = min(MAX_STYLE_SIDE, max(shape) * self.config.style_scale)
        factor = max(side / max(height, width), self.network_min_side / min(height, width))
        return images.resize_uint8(style, images.scaled_size((height, width), factor))

    def _display(self, pixels, shape: tuple[int, int]) -> np.ndarray:
        pixels = self._ordered(pixels)  # Back to RGB: the reordering is its own inverse.
        if self.config.preserve_colors == "luminance":
            return images.with_chroma_of(pixels, images.resize_uint8(self.content, shape))
        return images.pixels_to_uint8(pixels)

    # -- the loop ---------------------------------------------------------------------------------------------

    def frames(self) -> Iterator[Frame]:
        import tensorflow as tf

        pixels = None
        for index, shape in enumerate(self.shapes, start=1):
            stage = f"scale {index}/{len(self.shapes)} ({shape[1]}x{shape[0]})"
            if pixels is None:
                pixels = self._initial_pixels(shape)
            else:
                pixels = tf.clip_by_value(images.resize_float(pixels, shape), 0.0, 255.0).numpy()
            optimizer = self._scale_class()
            self.steps_function = style_steps(self.backbone, *self.layer_names)
            self.precision = self.backbone.precision
            scale = optimizer(self, pixels, *self._targets(shape))
            scale_end = self.steps + self.config.iterations
            while self.steps < scale_end:
                done, finished = scale.run(min(self.config.frame_every, scale_end - self.steps))
                if finished and self.steps + done < scale_end and self._refine_in_float32():
                    # L-BFGS found no lower value along its direction, twice: in bfloat16 that is usually the
                    # rounding noise of the loss, not a minimum (a Matisse style at 384 px stopped at 177k after
                    # 335 iterations, where a float32 run reaches 167k in 500). Finish this scale in float32.
                    stage += ", refined in float32"
                    self.steps += done
                    pixels, terms = scale.best()
                    # A frame now: finding the stall took up to 2 x (BFLOAT16_HALVINGS + 1) evaluations, and the
                    # float32 scale's targets and first chunk take about as long again (together 1.2 s at 451x300,
                    # with more halvings, before this frame was added).
                    yield self._frame(pixels, terms, shape, stage)
                    scale = optimizer(self, pixels, *self._targets(shape))
                    continue
                self.steps = scale_end if finished else self.steps + done
                if self.steps < scale_end:
                    yield self._frame(scale.current, scale.current_terms, shape, stage)
            pixels, terms = scale.best()
            yield self._frame(pixels, terms, shape, stage, stage_done=True)

    def _scale_class(self):
        if self.config.optimizer == "adam":
            return _AdamScale
        return _SmoothedLbfgsScale if self.config.smoothing > 0 else _LbfgsScale

    def _refine_in_float32(self) -> bool:
        """Switch this scale's steps to float32 if they compute in bfloat16; whether it switched. (The next scale
        starts in the run's own precision again: its first steps move far more than bfloat16's noise.)"""
        current = self.steps_function
        refined = style_steps(self.backbone.with_precision("float32"), *self.layer_names)
        self.steps_function, self.precision = refined, "float32"
        return refined is not current

    def _frame(self, pixels, terms, shape, stage: str, stage_done: bool = False) -> Frame:
        losses = {name: float(value) for name, value in zip(LOSS_TERMS, np.asarray(terms))}
        return Frame(image=self._display(pixels, shape), step=self.steps, total_steps=self.total_steps,
                     losses=losses, stage=stage, stage_done=stage_done)

    def evaluate(self, pixels, content_targets, style_targets):
        """(terms [total, content, style, tv], gradient) of a float32 pixel array."""
        import tensorflow as tf

        return self.steps_function.value_and_gradient(
            tf.constant(pixels, tf.float32), content_targets, style_targets, self.content_layer_weights,
            self.style_layer_weights, self.loss_weights)


class _Best:
    """The lowest-loss point seen so far at one scale, the image or what stands for it (the chapter returns its
    best image, not its last)."""

    def __init__(self):
        self.loss = math.inf
        self.point = None
        self.terms = None

    def offer(self, loss: float, point, terms) -> None:
        if loss < self.loss or self.point is None:
            self.loss, self.point, self.terms = loss, np.array(point, dtype=np.float32), np.asarray(terms)


class _LbfgsScale:
    """L-BFGS at one scale, kept within the pixel range (neuralart.lbfgs), advanced a chunk at a time."""

    def __init__(self, run: _StyleRun, pixels: np.ndarray, content_targets, style_targets):
        self.run_state, self.content_targets, self.style_targets = run, content_targets, style_targets
        self.shape = pixels.shape
        self.best_seen = _Best()
        self.optimizer = self._optimizer(pixels)
        if run.config.iterations == 0:
            self._value_and_gradient(self.optimizer.x)

    def _optimizer(self, pixels: np.ndarray) -> LbfgsStepper:
        return LbfgsStepper(pixels, 0.0, 255.0, LBFGS_HISTORY, max_halvings=self._max_halvings())

    def _max_halvings(self) -> int:
        return BFLOAT16_HALVINGS if self.run_state.precision == "bfloat16" else MAX_HALVINGS

    def _value_and_gradient(self, flat: np.ndarray):
        pixels = flat.reshape(self.shape)
        terms, gradient = self.run_state.evaluate(pixels, self.content_targets, self.style_targets)
        terms = terms.numpy()
        self.best_seen.offer(float(terms[0]), pixels, terms)
        return float(terms[0]), gradient.numpy()

    def _image(self, optimised: np.ndarray) -> np.ndarray:
        """The image that a point of the optimised variables stands for."""
        return optimised

    @property
    def current(self) -> np.ndarray:
        return self._image(self.best_seen.point)

    @property
    def current_terms(self) -> np.ndarray:
        return self.best_seen.terms

    def run(self, iterations: int) -> tuple[int, bool]:
        done = self.optimizer.iterate(self._value_and_gradient, iterations)
        return done, self.optimizer.finished

    def best(self):
        return self._image(self.best_seen.point), self.best_seen.terms


class _SmoothedLbfgsScale(_LbfgsScale):
    """L-BFGS at one scale in a smoothed basis (`StyleConfig.smoothing` > 0): the image is the scale's start plus
    S(offset), S = 1 + smoothing x a Gaussian blur of SMOOTHING_SIGMA pixels, and L-BFGS optimises the offset from
    zero, seeing the gradient S^T(image gradient) (S is symmetric, and invertible, so every image is reachable).

    Why: the total-variation and style losses curve steeply for pixel-level changes and gently for broad ones, and
    a history of five steps cannot learn so many curvatures; S lengthens broad steps against fine ones, as a
    preconditioner would, at the cost of two small blurs inside the traced evaluation (no work in numpy). The
    pixel bounds are no longer a box in the offset, so instead of projecting, RANGE_PENALTY holds the image near
    0..255.
    """

    def __init__(self, run: _StyleRun, pixels: np.ndarray, content_targets, style_targets):
        import tensorflow as tf

        self.start = tf.constant(pixels, tf.float32)
        self.smoothing = tf.constant(run.config.smoothing, tf.float32)
        super().__init__(run, pixels, content_targets, style_targets)

    def _optimizer(self, pixels: np.ndarray) -> LbfgsStepper:
        return LbfgsStepper(np.zeros(pixels.size, np.float32), None, None, LBFGS_HISTORY,
                            max_halvings=self._max_halvings())

    def _value_and_gradient(self, flat: np.ndarray):
        import tensorflow as tf

        steps, run = self.run_state.steps_function, self.run_state
        objective, terms, gradient = steps.smoothed_value_and_gradient(
            tf.constant(flat.reshape(self.shape)), self.start, self.smoothing, self.content_targets,
            self.style_targets, run.content_layer_weights, run.style_layer_weights, run.loss_weights)
        objective = float(objective)
        self.best_seen.offer(objective, flat, terms.numpy())
        return objective, gradient.numpy()

    def _image(self, optimised: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        return self.run_state.steps_function.smoothed_image(
            tf.constant(optimised.reshape(self.shape)), self.start, self.smoothing).numpy()


class _AdamScale:
    """Adam at one scale, exactly as the chapter steps it."""

    def __init__(self, run: _StyleRun, pixels: np.ndarray, content_targets, style_targets):
        import tensorflow as tf

        self.run_state, self.content_targets, self.style_targets = run, content_targets, style_targets
        config = run.config
        self.hyper = tf.constant([config.learning_rate, config.beta_1, ADAM_BETA_2, config.epsilon], tf.float32)
        self.pixels = tf.constant(pixels, tf.float32)
        self.first_moment = tf.zeros_like(self.pixels)
        self.second_moment = tf.zeros_like(self.pixels)
        self.step_count = tf.constant(0.0)
        self.best_pixels, self.best_loss = self.pixels, tf.constant(math.inf)
        self.best_terms = tf.zeros([len(LOSS_TERMS)])
        self.current_terms = None
        if config.iterations == 0:  # No step will measure the start: measure it here.
            self.best_terms, _ = run.evaluate(pixels, content_targets, style_targets)
            self.current_terms = self.best_terms.numpy()

    @property
    def current(self):
        return self.pixels.numpy()

    def run(self, iterations: int) -> tuple[int, bool]:
        run = self.run_state
        for _ in range(iterations):  # One traced call per step (see the note on speed in neuralart.deepdream).
            (self.pixels, self.first_moment, self.second_moment, self.step_count, self.best_pixels, self.best_loss,
             self.best_terms, last_terms) = run.steps_function.adam_step(
                self.pixels, self.first_moment, self.second_moment, self.step_count, self.hyper, self.best_pixels,
                self.best_loss, self.best_terms, self.content_targets, self.style_targets,
                run.content_layer_weights, run.style_layer_weights, run.loss_weights)
        self.current_terms = last_terms.numpy()
        return iterations, False

    def best(self):
        return self.best_pixels.numpy(), self.best_terms.numpy()


# --- traced steps ----------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class StyleSteps:
    """The traced functions of style transfer for one backbone and one choice of layers.

    features(pixels) -> (content features, style Gram matrices);
    value_and_gradient(pixels, targets..., weights...) -> ([total, content, style, tv] weighted, gradient);
    smoothed_value_and_gradient(offset, start, smoothing, targets..., weights...) -> (value L-BFGS minimises,
    the terms, gradient of the offset) at the image smoothed_image(offset, start, smoothing) before its clip;
    adam_step(...) takes one Adam step and keeps the best image seen.
    Pixels are float 0..255 in the network's channel order (`InputSpace.in_network_order`). All take images of
    any size without retracing.
    """

    features: object
    value_and_gradient: object
    smoothed_value_and_gradient: object
    smoothed_image: object
    adam_step: object


def style_steps(backbone: Backbone, content_layers: tuple[str, ...], style_layers: tuple[str, ...]) -> StyleSteps:
    """The traced steps for these layers, built once per backbone (and precision) and kept; compiled with XLA
    when NEURALART_XLA=1."""
    jit_compile = runtime.xla_enabled()
    return backbone.cached(("style_steps", content_layers, style_layers, jit_compile),
                           lambda: _make_style_steps(backbone, content_layers, style_layers, jit_compile))


def _make_style_steps(backbone: Backbone, content_layers: tuple[str, ...], style_layers: tuple[str, ...],
                      jit_compile: bool = False) -> StyleSteps:
    import tensorflow as tf

    from . import losses

    layer_names = tuple(dict.fromkeys(content_layers + style_layers))
    feature_model = backbone.layer_model(layer_names)
    input_space = backbone.input_space
    channels = {name: int(backbone.model.get_layer(name).output.shape[-1]) for name in layer_names}
    content_index = [layer_names.index(name) for name in content_layers]
    style_index = [layer_names.index(name) for name in style_layers]
    pixels_spec = tf.TensorSpec([None, None, 3], tf.float32)
    content_specs = [tf.TensorSpec([None, None, channels[name]], tf.float32) for name in content_layers]
    style_specs = [tf.TensorSpec([channels[name], channels[name]], tf.float32) for name in style_layers]
    weight_specs = [tf.TensorSpec([len(content_layers)], tf.float32), tf.TensorSpec([len(style_layers)], tf.float32),
                    tf.TensorSpec([3], tf.float32)]

    def activations_of(model_input):
        outputs = feature_model(model_input[None], training=False)
        # A bfloat16 backbone returns bfloat16 activations, left so: every loss is measured in float32, and
        # the Gram matrices take bfloat16 gradients back (neuralart.losses.gram_matrix).
        return [outputs] if len(layer_names) == 1 else list(outputs)

    @tf.function(jit_compile=jit_compile, input_signature=[pixels_spec])
    def features(pixels):
        outputs = activations_of(input_space.ordered_to_model(pixels))
        return ([tf.cast(outputs[index][0], tf.float32) for index in content_index],
                [losses.gram_matrix(outputs[index]) for index in style_index])

    def terms_of(pixels, content_targets, style_targets, content_layer_weights, style_layer_weights, loss_weights):
        model_input = input_space.ordered_to_model(pixels)
        outputs = activations_of(model_input)
        content = tf.add_n([weight * losses.content_loss(outputs[index][0], target) for weight, index, target
                            in zip(tf.unstack(content_layer_weights), content_index, content_targets)])
        style = tf.add_n([weight * losses.style_loss(outputs[index], target) for weight, index, target
                          in zip(tf.unstack(style_layer_weights), style_index, style_targets)])
        # The chapter measures total variation on the preprocessed image.
        weighted = loss_weights * tf.stack([content, style, losses.total_variation_loss(model_input)])
        return tf.concat([[tf.reduce_sum(weighted)], weighted], axis=0)

    def gradient_of(pixels, *arguments):
        with tf.GradientTape() as tape:
            tape.watch(pixels)
            terms = terms_of(pixels, *arguments)
            total = terms[0]  # Indexed inside the tape, or the tape would not see the total.
        return terms, tape.gradient(total, pixels)

    @tf.function(jit_compile=jit_compile, input_signature=[pixels_spec, content_specs, style_specs, *weight_specs])
    def value_and_gradient(pixels, content_targets, style_targets, content_layer_weights, style_layer_weights,
                           loss_weights):
        return gradient_of(pixels, content_targets, style_targets, content_layer_weights, style_layer_weights,
                           loss_weights)

    smoothing_specs = [pixels_spec, pixels_spec, tf.TensorSpec([], tf.float32)]  # offset, start, smoothing

    @tf.function(jit_compile=jit_compile, input_signature=[*smoothing_specs, content_specs, style_specs,
                                                           *weight_specs])
    def smoothed_value_and_gradient(offset, start, smoothing, *arguments):
        with tf.GradientTape() as tape:
            tape.watch(offset)
            pixels = start + smoothed(offset, smoothing)
            terms = terms_of(pixels, *arguments)
            value = terms[0] + RANGE_PENALTY * _squared_distance_outside(pixels, 0.0, 255.0)
        return value, terms, tape.gradient(value, offset)

    @tf.function(jit_compile=jit_compile, input_signature=smoothing_specs)
    def smoothed_image(offset, start, smoothing):
        return tf.clip_by_value(start + smoothed(offset, smoothing), 0.0, 255.0)

    adam_signature = [pixels_spec, pixels_spec, pixels_spec,  # image, first and second moments
                      tf.TensorSpec([], tf.float32),  # steps so far
                      tf.TensorSpec([4], tf.float32),  # learning rate, beta_1, beta_2, epsilon
                      pixels_spec, tf.TensorSpec([], tf.float32), tf.TensorSpec([4], tf.float32),  # best image,
                      # its loss and its terms so far
                      content_specs, style_specs, *weight_specs]

    @tf.function(jit_compile=jit_compile, input_signature=adam_signature)
    def adam_step(pixels, first_moment, second_moment, step_count, hyper, best_pixels, best_loss, best_terms,
                  content_targets, style_targets, content_layer_weights, style_layer_weights, loss_weights):
        learning_rate, beta_1, beta_2, epsilon = tf.unstack(hyper)
        terms, gradient = gradient_of(pixels, content_targets, style_targets, content_layer_weights,
                                      style_layer_weights, loss_weights)
        # Keep the image whose loss was just measured if it is the best so far.
        better = terms[0] < best_loss
        best_pixels = tf.where(better, pixels, best_pixels)
        best_terms = tf.where(better, terms, best_terms)
        best_loss = tf.minimum(terms[0], best_loss)
        # Adam as Keras and TF1's AdamOptimizer apply it: epsilon added to the uncorrected sqrt(v).
        step_count += 1.0
        first_moment = beta_1 * first_moment + (1.0 - beta_1) * gradient
        second_moment = beta_2 * second_moment + (1.0 - beta_2) * tf.square(gradient)
        rate = learning_rate * tf.sqrt(1.0 - tf.pow(beta_2, step_count)) / (1.0 - tf.pow(beta_1, step_count))
        pixels = tf.clip_by_value(pixels - rate * first_moment / (tf.sqrt(second_moment) + epsilon), 0.0, 255.0)
        return pixels, first_moment, second_moment, step_count, best_pixels, best_loss, best_terms, terms

    return StyleSteps(features, value_and_gradient, smoothed_value_and_gradient, smoothed_image, adam_step)


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
    idle (the blur both ways, forward and backward, 0.9 against 1.7 ms at 384x288 as two 3-channel convolutions,
    and 6.4 ms as shifted sums compiled by XLA)."""
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


def _squared_distance_outside(values, low: float, high: float):
    """Sum of squared distances of the values outside low..high (TF ops), with its gradient written out as
    2 x the distance, which is shorter than the gradient automatic differentiation makes of the clip."""
    import tensorflow as tf

    @tf.custom_gradient
    def squared_distance(values):
        outside = values - tf.clip_by_value(values, low, high)
        return tf.reduce_sum(tf.square(outside)), lambda upstream: (2.0 * upstream) * outside
    return squared_distance(values)
