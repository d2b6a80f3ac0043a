"""Rows of images for one objective or between two, optimised as one batch in quality mode:

- diversity: `row_size` images of one objective pushed apart by Lucid's diversity term on their Gram matrices
  (see `composite.gram_similarity`), one row per filter asked for, or one for a combined objective;
- interpolation: a row morphing from objective A to objective B, as in "Feature Visualization" (Olah,
  Mordvintsev & Schubert 2017): image k optimises (1 - t) A + t B with t going from 0 to 1 along the row, and
  the images share part of their parameterization, so that neighbours differ only as much as their objectives
  do. Each image's spectrum is its own part, plus a part shared by the whole row, plus a blend (1 - t, t) of two
  parts; the shared parts are kept to low frequencies (Lucid shares low-resolution tensors), so the row agrees
  on layout and the images differ in detail;
- a combined objective alone: a row of one.

`figure(config)` yields `TiledFrame`s of the rows so far (each under its title), a frame closing each row
(`stage_done`), and the last one when every row is done; `Frame.losses` gives each image's objective and each
diversity row's mean Gram similarity.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np

from .. import images
from ..loop import Cadence
from ..models import Backbone
from .algebra import Combination, Term, parse_expression
from .composite import FigurePlan, evaluation_function, figure_plan, mixed_spectra, quality_function
from .config import FilterConfig
from .objectives import backbone_for, default_layer
from .param import SPECTRUM_INIT_STD, frequency_scale, planes_to_zero1, spectrum_to_planes
from .tiles import TiledFrame, tiled_image, titled_rows, with_value
from .transform import random_transforms

# Frequencies (cycles per pixel) below which the interpolation's shared parts act: the part shared by the whole
# row, and the two parts blended along it (coarser, as Lucid's lower-resolution shared tensors).
SHARED_CUTOFF = 1 / 8
BLENDED_CUTOFF = 1 / 16
FIGURE_STAGES = {"grid": "combined objective"}


@dataclasses.dataclass(frozen=True)
class Row:
    """One row of a figure: `name` prefixes its losses ("filter 7 · "; empty for a figure of one row), `title`
    is drawn above it, image k optimises sum over i of weights[k, i] * terms[i]; `blend` gives each image's share
    of the interpolation's end (None for images optimised independently)."""

    name: str
    title: str
    terms: tuple[Term, ...]
    weights: np.ndarray
    captions: tuple[str, ...]
    blend: tuple[float, ...] | None = None


def figure(config: FilterConfig, backbone: Backbone | None = None) -> Iterator[TiledFrame]:
    """Make the diversity or interpolation rows (or the combined objective) that `config` asks for, yielding
    them as they form; the terms are checked against the network before this returns."""
    backbone = backbone or backbone_for(config)
    return _FigureRun(config, backbone).frames()


def figure_rows(config: FilterConfig, backbone: Backbone) -> list[Row]:
    """The rows `config` asks for, their terms as written (layers are resolved by `figure_plan`)."""
    parsed = config.parsed_expression
    layer = config.layer or default_layer(FilterConfig(objective="channel"), backbone)
    if config.figure == "interpolation":
        if parsed is not None:
            return [interpolation_row(parsed.start, parsed.end, config.row_size)]
        first, second = (single(config.objective, layer, index) for index in config.filter_indices)
        return [interpolation_row(first, second, config.row_size)]
    count = config.row_size if config.figure == "diversity" else 1
    if parsed is not None:
        return [independent_row("", str(parsed.start), parsed.start, count)]
    if config.objective in ("channel", "neuron"):
        targets = config.filter_indices
    else:
        targets = (config.class_index if config.objective == "class" else 0,)
    combinations = [single(config.objective, layer, target) for target in targets]
    named = len(combinations) > 1
    return [independent_row(f"{_noun(config.objective)} {target} · " if named else "", str(combination),
                            combination, count) for target, combination in zip(targets, combinations)]


def _noun(objective: str) -> str:
    return {"neuron": "neuron", "class": "class", "layer": "layer"}.get(objective, "filter")


def single(objective: str, layer: str, index: int) -> Combination:
    """The combination of one term, as the grid's objectives are."""
    return Combination((Term(objective, "" if objective == "class" else layer, index),), (1.0,))


def independent_row(name: str, title: str, combination: Combination, count: int) -> Row:
    weights = np.tile(np.asarray(combination.weights, np.float32), (count, 1))
    captions = tuple(str(number) for number in range(1, count + 1)) if count > 1 else (title,)
    return Row(name, title, combination.terms, weights, captions)


def interpolation_row(start: Combination, end: Combination, count: int) -> Row:
    """Image k optimises (1 - t_k) start + t_k end, t_k = k / (count - 1)."""
    terms = tuple(dict.fromkeys(start.terms + end.terms))
    blend = tuple(float(share) for share in np.linspace(0.0, 1.0, count))

    def weights_of(combination: Combination) -> np.ndarray:
        weights = dict(zip(combination.terms, combination.weights))
        return np.asarray([weights.get(term, 0.0) for term in terms], np.float32)

    weights = np.stack([(1 - share) * weights_of(start) + share * weights_of(end) for share in blend])
    captions = tuple("A" if share == 0 else "B" if share == 1 else f"{share:.0%} B" for share in blend)
    return Row("", f"A: {start}  ->  B: {end}", terms, weights.astype(np.float32), captions, blend)


def parameterization(row: Row, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(mixing, masks) of a row's parameters: images by parameters, and each parameter's frequency mask.
    Independent images own one parameter each; an interpolation's also share one part, and blend two more."""
    count = len(row.captions)
    width = size // 2 + 1
    if row.blend is None:
        return np.eye(count, dtype=np.float32), np.ones((count, size, width), np.float32)
    shares = np.asarray(row.blend, np.float32)[:, None]
    mixing = np.concatenate([np.eye(count), np.ones((count, 1)), 1 - shares, shares], axis=1)
    frequency = np.sqrt(np.fft.fftfreq(size)[:, None] ** 2 + np.fft.rfftfreq(size)[None, :] ** 2)
    low = [(frequency <= cutoff).astype(np.float32) for cutoff in (SHARED_CUTOFF, BLENDED_CUTOFF, BLENDED_CUTOFF)]
    masks = np.concatenate([np.ones((count, size, width), np.float32), np.stack(low)])
    return mixing.astype(np.float32), masks


class _RowBatch:
    """One row's optimisation state: its parameters and Adam's moments."""

    def __init__(self, config: FilterConfig, backbone: Backbone, plan: FigurePlan, row: Row, row_number: int):
        import tensorflow as tf

        size = config.size
        self.step = quality_function(backbone, plan).get_concrete_function()
        self.evaluate = evaluation_function(backbone, plan)
        mixing, masks = parameterization(row, size)
        starts = [np.random.default_rng([config.seed, row_number, part]) for part in range(mixing.shape[1])]
        self.parameters = tf.constant(np.stack([rng.normal(0.0, SPECTRUM_INIT_STD, (3, size, size // 2 + 1, 2))
                                                for rng in starts]), tf.float32)
        self.first_moment = tf.zeros_like(self.parameters)
        self.second_moment = tf.zeros_like(self.parameters)
        self.taken = tf.constant(0.0)
        self.rngs = [np.random.default_rng([config.seed, row_number, image, 1]) for image in range(len(mixing))]
        self.view_size = plan.view_size or (size, size)
        constant = tf.constant
        self.fixed = dict(frequency_scale=constant(frequency_scale(size, size)),
                          image_size=constant((size, size), tf.int32), mixing=constant(mixing),
                          masks=constant(masks), view_size=constant(self.view_size, tf.int32),
                          weights=constant(row.weights, tf.float32), indices=constant(plan.indices, tf.int32),
                          diversity_weight=constant(float(config.diversity_weight)),
                          step_size=constant(config.resolved_step_size, tf.float32))

    def advance(self, iterations: int) -> tuple[np.ndarray, float]:
        """Take `iterations` steps; each image's objective and the diversity term at the last one."""
        import tensorflow as tf

        size = tuple(int(side) for side in self.fixed["image_size"].numpy())
        transforms = np.stack([random_transforms(rng, iterations, size, self.view_size) for rng in self.rngs], 1)
        for step_transforms in transforms:
            (self.parameters, self.first_moment, self.second_moment, self.taken, reported,
             similarity) = self.step(self.parameters, self.first_moment, self.second_moment, self.taken,
                                     transforms=tf.constant(step_transforms), **self.fixed)
        return reported.numpy(), float(similarity)

    def zero1_images(self):
        fixed = self.fixed
        spectra = mixed_spectra(self.parameters, fixed["mixing"], fixed["masks"])
        return planes_to_zero1(spectrum_to_planes(spectra, fixed["frequency_scale"], fixed["image_size"]))

    def achieved(self) -> tuple[np.ndarray, float]:
        """Each image's objective and the diversity term, untransformed (one forward pass)."""
        reported, similarity = self.evaluate(images.zero1_to_pixels(self.zero1_images()), self.fixed["weights"],
                                             self.fixed["indices"], self.fixed["view_size"])
        return reported.numpy(), float(similarity)

    def tiles(self) -> list[np.ndarray]:
        return [images.zero1_to_uint8(image) for image in self.zero1_images().numpy()]


class _FigureRun:
    """The state of one figure run, created inside `figure` and never shared."""

    def __init__(self, config: FilterConfig, backbone: Backbone):
        self.config = config
        self.backbone = backbone
        self.rows = figure_rows(config, backbone)
        diversity = config.figure == "diversity"
        self.plans = [figure_plan(row.terms, backbone, negative=config.negative, diversity=diversity)
                      for row in self.rows]
        self.total_iterations = config.resolved_iterations * len(self.rows)
        self.iterations = 0
        self.results: list[tuple[list[np.ndarray], np.ndarray, float]] = []
        self.cadence = Cadence(config.frame_every)

    def frames(self) -> Iterator[TiledFrame]:
        for number, (row, plan) in enumerate(zip(self.rows, self.plans)):
            batch = _RowBatch(self.config, self.backbone, plan, row, number)
            remaining = self.config.resolved_iterations
            self.results.append(([], np.zeros(len(row.captions)), 0.0))
            while remaining > 0:
                chunk = self.cadence.next_chunk(remaining)
                self.cadence.start_chunk()
                reported, similarity = batch.advance(chunk)
                self.cadence.end_chunk(chunk)
                remaining -= chunk
                self.iterations += chunk
                if remaining == 0:
                    reported, similarity = batch.achieved()
                self.results[number] = (batch.tiles(), reported, similarity)
                if self.cadence.frame_due(force=remaining == 0):
                    yield self._frame(number, remaining == 0)

    def _frame(self, number: int, row_done: bool) -> TiledFrame:
        mode = self.config.captions
        shown, tiles, losses = [], [], {}
        for row, (row_tiles, values, similarity) in zip(self.rows, self.results):
            captions = [with_value(caption, float(value), mode) for caption, value in zip(row.captions, values)]
            image = tiled_image(row_tiles, captions, mode, columns=len(row.captions))
            shown.append((row.title, image))
            tiles.extend((tile, row.name + with_value(caption, float(value), "index" if mode == "none" else mode))
                         for tile, caption, value in zip(row_tiles, row.captions, values))
            losses.update({f"{row.name}image {index}": float(value) for index, value in enumerate(values, 1)})
            if self.config.figure == "diversity":
                losses[f"{row.name}gram similarity"] = similarity / max(len(row.captions) - 1, 1)
        image = images.stack_rows([image for _, image in shown], padding=6) if mode == "none" else titled_rows(shown)
        return TiledFrame(image=image, iteration=self.iterations, total_iterations=self.total_iterations,
                          losses=losses, stage=f"{FIGURE_STAGES.get(self.config.figure, self.config.figure)} · "
                                               f"row {number + 1} of {len(self.rows)}",
                          stage_done=row_done, tiles=tuple(tiles))


def objective_values(tiles, expression: str | Combination, backbone: Backbone, negative: bool = False) -> np.ndarray:
    """Each uint8 tile's value of an objective (an expression's text, or a combination), untransformed: how the
    tests and the benchmark score a figure's images on each of its objectives."""
    import tensorflow as tf

    combination = parse_expression(expression).start if isinstance(expression, str) else expression
    plan = figure_plan(combination.terms, backbone, negative=negative)
    pixels = np.stack([images.uint8_to_pixels(tile) for tile in tiles])
    view_size = plan.view_size or pixels.shape[1:3]
    weights = np.tile(np.asarray(combination.weights, np.float32), (len(tiles), 1))
    reported, _ = evaluation_function(backbone, plan)(tf.constant(pixels), tf.constant(weights),
                                                      tf.constant(plan.indices, tf.int32),
                                                      tf.constant(view_size, tf.int32))
    return reported.numpy()
