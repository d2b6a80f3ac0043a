"""The feature-visualization run: targets in batches, each batch optimised by its mode a chunk at a time, the
grid streamed as it forms and closed with the kept filters ordered by achieved activation."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping

import numpy as np

from .. import images
from ..frames import Frame
from ..loop import Cadence
from ..models import Backbone
from .config import FilterConfig
from .objectives import Plan, backbone_for, plan_for
from .param import SPECTRUM_INIT_STD, frequency_scale, grey_noise_start, spectrum_to_zero1_image
from .steps import classic_function, evaluation_function, quality_function
from .tiles import TiledFrame, target_caption, tiled_image, with_value
from .transform import random_transforms


def target_rng(seed: int, target: int) -> np.random.Generator:
    """Each target's own random stream, so a filter's result does not depend on which others share its batch."""
    return np.random.default_rng([seed, target])


class _ClassicBatch:
    """The chapter's recipe for a batch of targets: state is the images themselves, in pixel units."""

    def __init__(self, config: FilterConfig, backbone: Backbone, plan: Plan, targets: tuple[int, ...]):
        import tensorflow as tf

        self.plan = plan
        self.ascend = classic_function(backbone, plan).get_concrete_function()  # See _QualityBatch.
        self.evaluate = evaluation_function(backbone, plan)
        self.pixels = tf.constant(np.stack([grey_noise_start(config.size, target_rng(config.seed, target))
                                            for target in targets]))
        self.targets = tf.constant(targets, tf.int32)
        self.step_size = tf.constant(config.resolved_step_size, tf.float32)
        self.view_size = tf.constant(plan.view_size or (config.size, config.size), tf.int32)

    def advance(self, iterations: int) -> np.ndarray:
        """Take `iterations` steps; the objective reported at the last one."""
        import tensorflow as tf

        sign = tf.constant(self.plan.sign, tf.float32)
        for _ in range(iterations):
            self.pixels, reported = self.ascend(self.pixels, self.targets, self.step_size, sign, self.view_size)
        return reported.numpy()

    def achieved(self) -> np.ndarray:
        """The objective of the current images, exactly (one forward pass)."""
        return self.evaluate(self.pixels, self.targets, self.view_size).numpy()

    def tiles(self) -> list[np.ndarray]:
        # The chapter's deprocessing, each filter's image on its own.
        return [images.normalize_for_display(image) for image in self.pixels.numpy()]


class _QualityBatch:
    """Lucid's recipe for a batch of targets: state is the spectra plus Adam's moments."""

    def __init__(self, config: FilterConfig, backbone: Backbone, plan: Plan, targets: tuple[int, ...]):
        import tensorflow as tf

        size = config.size
        self.plan = plan
        # Called through its one concrete function: a polymorphic call binds 11 arguments to the signature every
        # iteration, a measurable share of a small network's step.
        self.ascend = quality_function(backbone, plan).get_concrete_function()
        self.evaluate = evaluation_function(backbone, plan)
        self.rngs = [target_rng(config.seed, target) for target in targets]
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
        self.step_size = tf.constant(config.resolved_step_size, tf.float32)

    def advance(self, iterations: int) -> np.ndarray:
        """Take `iterations` steps; the objective reported at the last one (on its transformed image)."""
        import tensorflow as tf

        size = tuple(int(side) for side in self.image_size.numpy())
        per_target = [random_transforms(rng, iterations, size, self.view_size) for rng in self.rngs]
        transforms = np.stack(per_target, axis=1)  # (iterations, batch, 8)
        view_size, sign = tf.constant(self.view_size, tf.int32), tf.constant(self.plan.sign, tf.float32)
        for step_transforms in transforms:
            self.spectrum, self.first_moment, self.second_moment, self.taken, reported = self.ascend(
                self.spectrum, self.first_moment, self.second_moment, self.taken, self.scale, self.image_size,
                tf.constant(step_transforms), view_size, self.targets, self.step_size, sign)
        return reported.numpy()

    def zero1_images(self):
        return spectrum_to_zero1_image(self.spectrum, self.scale, self.image_size)

    def achieved(self) -> np.ndarray:
        """The objective of the current images, untransformed (one forward pass)."""
        import tensorflow as tf

        return self.evaluate(images.zero1_to_pixels(self.zero1_images()), self.targets,
                             tf.constant(self.view_size, tf.int32)).numpy()

    def tiles(self) -> list[np.ndarray]:
        return [images.zero1_to_uint8(image) for image in self.zero1_images().numpy()]


BATCH_CLASSES = {"classic": _ClassicBatch, "quality": _QualityBatch}
# How a status line names one target and several, per objective.
TARGET_WORDS = {"channel": ("filter", "filters"), "neuron": ("unit", "units"), "layer": ("layer", "layers"),
                "class": ("class", "classes")}


def visualize(config: FilterConfig = FilterConfig(), backbone: Backbone | None = None) -> Iterator[Frame]:
    """Visualize the configured filters (or unit, layer, class), yielding the grid as it forms.

    The layer and filters are checked against the network before this returns, so mistakes surface at once. The
    config's figure decides what is made: a grid (here), diversity or interpolation rows or a combined objective
    (neuralart.features.figures), or an atlas of several layers (neuralart.features.atlas).
    """
    if config.figure == "atlas":
        from .atlas import atlas

        return atlas(config, backbone)
    if config.expression or config.figure != "grid":
        from .figures import figure

        return figure(config, backbone)
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

    def __init__(self, config: FilterConfig, backbone: Backbone, plan: Plan):
        self.config = config
        self.backbone = backbone
        self.plan = plan
        self.labels = dict(zip(plan.targets, plan.labels))
        size = config.batch_size
        self.batches = [plan.targets[start:start + size] for start in range(0, len(plan.targets), size)]
        self.iterations_per_batch = config.resolved_iterations
        self.total_iterations = self.iterations_per_batch * len(self.batches)
        self.iterations = 0
        self.tiles: dict[int, np.ndarray] = {}
        self.values: dict[int, float] = {}
        self.cadence = Cadence(config.frame_every)
        classes = int(backbone.model.get_layer(plan.layer).output.shape[-1])
        self.captions = {target: target_caption(plan.objective, plan.layer, target, classes)
                         for target in plan.targets}

    def frames(self) -> Iterator[Frame]:
        for number in self.advance():
            if self.iterations < self.total_iterations and self.cadence.frame_due():
                yield self._progress_frame(number)
        yield self._final_frame()

    def advance(self) -> Iterator[int]:
        """Optimise every batch a chunk at a time, yielding the batch's number after each chunk."""
        batch_class = BATCH_CLASSES[self.config.mode]
        for number, targets in enumerate(self.batches, start=1):
            batch = batch_class(self.config, self.backbone, self.plan, targets)
            remaining = self.iterations_per_batch
            while remaining > 0:
                chunk = self.cadence.next_chunk(remaining)
                self.cadence.start_chunk()
                reported = batch.advance(chunk)  # Reading the result waits for the call: real work is timed.
                self.cadence.end_chunk(chunk)
                remaining -= chunk
                self.iterations += chunk
                self.tiles.update(zip(targets, batch.tiles()))
                # While optimising, the value reported by the last iteration; at the end, the exact one.
                values = reported if remaining else batch.achieved()
                self.values.update(zip(targets, (float(value) for value in values)))
                yield number

    def kept(self) -> tuple[int, ...]:
        """The chapter's kept filters: those whose (signed) objective rose above zero, best first."""
        sign = self.plan.sign
        alive = [target for target in self.tiles if sign * self.values[target] > 0]
        return tuple(sorted(alive, key=lambda target: sign * self.values[target], reverse=True))

    def _progress_frame(self, batch_number: int) -> Frame:
        targets = self.started()
        stage = f"{self.plan.layer}: {self._target_words(self.batches[batch_number - 1])}"
        return TiledFrame(image=self.grid(targets), iteration=self.iterations, total_iterations=self.total_iterations,
                          losses=self._losses(targets), stage=stage, tiles=self.captioned(targets))

    def _final_frame(self) -> Frame:
        kept = self.kept()
        # When nothing responded, show every tile anyway: a blank result would explain nothing.
        shown = kept or self.plan.targets
        rest = [target for target in self.plan.targets if target not in kept]
        count, many = len(self.plan.targets), TARGET_WORDS[self.plan.objective][1]
        stage = (f"{self.plan.layer}: {len(kept)} of {count} {many} responded (the silent ones are left out)"
                 if len(kept) < count else f"{self.plan.layer}: {self._target_words(self.plan.targets)}")
        return TiledFrame(image=self.grid(shown), iteration=self.total_iterations,
                          total_iterations=self.total_iterations, losses=self._losses(list(kept) + rest),
                          stage=stage, stage_done=True, tiles=self.captioned(shown))

    def started(self) -> list[int]:
        """The targets that have a tile so far, in the order asked for."""
        return [target for target in self.plan.targets if target in self.tiles]

    def grid(self, targets, columns: int | None = None) -> np.ndarray:
        """The tiles of `targets`, captioned as the config says."""
        return tiled_image([self.tiles[target] for target in targets],
                           [caption for _, caption in self.captioned(targets)], self.config.captions, columns)

    def captioned(self, targets) -> tuple[tuple[np.ndarray, str], ...]:
        """(tile, caption) of each target; a grid drawn without captions still names its tiles here."""
        shown = "index" if self.config.captions == "none" else self.config.captions
        return tuple((self.tiles[target], with_value(self.captions[target], self.values[target], shown))
                     for target in targets)

    def _target_words(self, targets: tuple[int, ...]) -> str:
        """'filters 0–15', 'filter 3', 'class 11' or 'the whole layer', for a status line."""
        one, many = TARGET_WORDS[self.plan.objective]
        if self.plan.objective == "layer":
            return "the whole layer"
        if len(targets) == 1:
            return f"{one} {targets[0]}"
        in_a_row = tuple(targets) == tuple(range(targets[0], targets[0] + len(targets)))
        return f"{many} {targets[0]}–{targets[-1]}" if in_a_row else f"{len(targets)} {many}"

    def _losses(self, targets) -> dict[str, float]:
        return {self.labels[target]: self.values[target] for target in targets}
