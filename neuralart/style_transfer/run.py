"""The style transfer run: scale by scale, coarse to fine, each scale optimised a chunk at a time."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from .. import images
from ..frames import Frame
from ..loop import Cadence
from ..models import REGISTRY, Backbone, get_backbone
from .config import LOSS_TERMS, StyleConfig
from .inputs import StyleInputs, load_content, style_read_side
from .regions import StyleMasks, region_loss_weights
from .scales import scale_class
from .steps import style_steps
from .tiled import TiledScale, enlarged, tiled_grams
from .tiles import tile_side, tile_steps

REFINED_NOTE = "finishing this scale in float32: in bfloat16, rounding noise had stalled L-BFGS"


def stylize(content, styles, config: StyleConfig = StyleConfig(), backbone: Backbone | None = None,
            style_masks=None) -> Iterator[Frame]:
    """Paint `content` in the style of `styles` (one image or a list), yielding Frames as it goes.

    Images may be paths, PIL images or uint8 arrays. `style_masks`, one per style in the same order (any image;
    neuralart.images.load_mask), gives each style a region of the photo; where no mask reaches, the photo stays.
    Everything is loaded and checked before this returns, so bad input raises here rather than mid-run. Without
    `backbone`, the registry's is used in the precision neuralart.runtime picks for this machine (the losses and
    the image stay float32 either way).
    """
    style_list = _as_list(styles)
    if not style_list:
        raise ValueError("Give at least one style image.")
    blend = _blend_weights(config.style_blend, len(style_list))
    backbone = backbone or get_backbone(config.backbone, config.weights, precision="auto")
    content_layers, style_layers = run_layers(config, backbone)
    content_image = load_content(content, config)
    read_side = style_read_side(max(content_image.shape[:2]), config.style_scale)
    style_images = [images.load_image(style, max_side=read_side) for style in style_list]
    masks = None
    if style_masks is not None:
        masks = StyleMasks(_as_list(style_masks), len(style_list), content_image.shape[:2], config.mask_feather)
    inputs = StyleInputs(config, backbone.input_space, backbone.spec.min_size, content_image, style_images, blend,
                         masks)
    return _StyleRun(config, backbone, content_layers, style_layers, inputs).frames()


def run_layers(config: StyleConfig, backbone: Backbone) -> tuple[dict[str, float], dict[str, float]]:
    """The content and style layers a run of `config` uses, with their normalised weights (checked)."""
    content_layers = _active_layers(_layers_or_preset(config.content_layers, backbone, "style_content"), "content")
    style_layers = _active_layers(_layers_or_preset(config.style_layers, backbone, "style"), "style")
    backbone.check_layers(tuple(content_layers) + tuple(style_layers))
    return content_layers, style_layers


def _as_list(images_given) -> list:
    return list(images_given) if isinstance(images_given, (list, tuple)) else [images_given]


def _blend_weights(blend: tuple[float, ...] | None, count: int) -> list[float]:
    if blend is None:
        return [1.0 / count] * count
    if len(blend) != count:
        raise ValueError(f"style_blend has {len(blend)} weights but {count} style images were given.")
    total = sum(blend)
    return [weight / total for weight in blend]


def _layers_or_preset(layers: Mapping[str, float] | None, backbone: Backbone, preset: str) -> Mapping[str, float]:
    """The layers a config names, else the backbone's own; a clear error where it has none."""
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


class _StyleRun:
    """The state of one run: created inside `stylize`, never shared between runs or users."""

    def __init__(self, config: StyleConfig, backbone: Backbone, content_layers: dict[str, float],
                 style_layers: dict[str, float], inputs: StyleInputs):
        import tensorflow as tf

        self.config, self.backbone, self.inputs = config, backbone, inputs
        self.layer_names = (tuple(content_layers), tuple(style_layers))
        self.blend = inputs.blend
        self.tile_side = tile_side(config.tile_size, backbone.name)
        self.regions = 0 if inputs.masks is None else inputs.masks.count
        self.region_arguments = []  # Each scale's masks and region weights, for steps built for regions.
        self.steps_function = None  # Each scale's traced steps, chosen when the scale starts (see `_scale`),
        self.precision = backbone.precision  # and the precision they compute in.
        self.content_layer_weights = tf.constant(list(content_layers.values()), tf.float32)
        self.style_layer_weights = tf.constant(list(style_layers.values()), tf.float32)
        self.loss_weights = tf.constant(config.loss_weights(), tf.float32)
        self.rng = np.random.default_rng(config.seed)
        self.total_iterations = len(inputs.shapes) * config.iterations
        self.iterations = 0
        self.cadence = Cadence(config.frame_every)
        self.note = ""

    def frames(self) -> Iterator[Frame]:
        import tensorflow as tf

        pixels = None
        for index, shape in enumerate(self.inputs.shapes, start=1):
            stage = f"scale {index} of {len(self.inputs.shapes)} ({shape[1]}×{shape[0]})"
            self.note = ""
            if max(shape) > self.tile_side:
                # The tiled scale makes its own start: an image this size kept out of TensorFlow's memory pool.
                pixels, terms = yield from self._tiled_scale(pixels, shape, stage)
            else:
                if pixels is None:
                    pixels = self.inputs.initial_pixels(shape, self.rng)
                else:
                    pixels = tf.clip_by_value(images.resize_float(pixels, shape), 0.0, 255.0).numpy()
                self.steps_function = style_steps(self.backbone, *self.layer_names, self.regions)
                self.precision = self.backbone.precision
                self._set_region_arguments(shape)
                pixels, terms = yield from self._scale(pixels, shape, stage)
            self.cadence.frame_due(force=True)
            yield self._frame(pixels, terms, shape, stage, stage_done=True)

    def _scale(self, pixels: np.ndarray, shape: tuple[int, int], stage: str):
        """One scale's iterations, a chunk at a time; returns its best (pixels, terms)."""
        optimizer = scale_class(self.config)
        scale = optimizer(self, pixels, *self._targets(shape))
        scale_end = self.iterations + self.config.iterations
        while self.iterations < scale_end:
            self.cadence.start_chunk()
            done, finished = scale.run(self.cadence.next_chunk(scale_end - self.iterations))
            self.cadence.end_chunk(done)
            if finished and self.iterations + done < scale_end and self._refine_in_float32():
                # L-BFGS found no lower value along its direction, twice: in bfloat16 that is usually the rounding
                # noise of the loss, not a minimum. Finish this scale in float32.
                self.note = REFINED_NOTE
                self.iterations += done
                pixels, terms = scale.best()
                # A frame now: finding the stall took several evaluations, and the float32 scale's targets and
                # first chunk take about as long again.
                self.cadence.frame_due(force=True)
                yield self._frame(pixels, terms, shape, stage)
                scale = optimizer(self, pixels, *self._targets(shape))
                continue
            self.iterations = scale_end if finished else self.iterations + done
            if self.iterations < scale_end and self.cadence.frame_due():
                yield self._frame(scale.current, scale.current_terms, shape, stage)
        return scale.best()

    def _tiled_scale(self, previous: np.ndarray | None, shape: tuple[int, int], stage: str):
        """A scale larger than a tile, refined a tile at a time (neuralart.style_transfer.tiled), from the
        previous scale's image enlarged (or the run's start); a frame comes between tiles, so the whole picture
        is seen improving tile by tile."""
        start_image = self.inputs.initial_pixels(shape, self.rng) if previous is None else enlarged(previous, shape)
        masks = None if self.inputs.masks is None else self.inputs.masks.at(shape)
        content = images.resize_uint8(self.inputs.seen_content, shape)
        scale = TiledScale(self, start_image, shape, self.inputs.style_targets(shape, self._gram_of), content, masks)
        del start_image, content  # The scale holds its image, and the content's features rather than its pixels.
        start, scale_end = self.iterations, self.iterations + self.config.iterations
        self.cadence.start_chunk()
        for tile, tiles in scale.refine(self.config.iterations):
            self.iterations = start + scale.passes_done
            if tile == tiles:
                self.cadence.end_chunk(1)
                self.cadence.start_chunk()
            if self.iterations < scale_end and self.cadence.frame_due():
                yield self._frame(scale.pixels, scale.terms, shape, f"{stage}, tile {tile} of {tiles}")
        self.iterations = scale_end
        return scale.best()

    def _gram_of(self, pixels: np.ndarray) -> list:
        """An image's Gram matrices per style layer: in one piece when it fits a tile, else tile by tile."""
        import tensorflow as tf

        if max(pixels.shape[:2]) <= self.tile_side:
            return style_steps(self.backbone, *self.layer_names).features(tf.constant(pixels))[1]
        return tiled_grams(tile_steps(self.backbone, *self.layer_names, 1), pixels, self.tile_side)

    def _targets(self, shape: tuple[int, int]):
        return self.inputs.targets(self.steps_function.features, shape, self._gram_of)

    def _set_region_arguments(self, shape: tuple[int, int]) -> None:
        import tensorflow as tf

        if self.regions:
            self.region_arguments = [tf.constant(self.inputs.masks.at(shape)),
                                     tf.constant(region_loss_weights(self.blend), tf.float32)]

    def _refine_in_float32(self) -> bool:
        """Switch this scale's steps to float32 if they compute in bfloat16; whether it switched. (The next scale
        starts in the run's own precision again: its first steps move far more than bfloat16's noise.)"""
        current = self.steps_function
        refined = style_steps(self.backbone.with_precision("float32"), *self.layer_names, self.regions)
        self.steps_function, self.precision = refined, "float32"
        return refined is not current

    def _frame(self, pixels, terms, shape, stage: str, stage_done: bool = False) -> Frame:
        losses = {name: float(value) for name, value in zip(LOSS_TERMS, np.asarray(terms))}
        return Frame(image=self.inputs.display(pixels, shape), iteration=self.iterations,
                     total_iterations=self.total_iterations, losses=losses, stage=stage, stage_done=stage_done,
                     note=self.note)

    def evaluate(self, pixels, content_targets, style_targets):
        """(terms [total, content, style, tv], gradient) of a float32 pixel array."""
        import tensorflow as tf

        return self.steps_function.value_and_gradient(
            tf.constant(pixels, tf.float32), content_targets, style_targets, *self.weights_and_regions)

    @property
    def weights_and_regions(self) -> list:
        """The arguments every step takes after the targets: the layer and loss weights (and the region
        arguments, for steps built for regions)."""
        return [self.content_layer_weights, self.style_layer_weights, self.loss_weights, *self.region_arguments]
