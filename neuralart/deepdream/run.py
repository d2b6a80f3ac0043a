"""The DeepDream run: octave by octave, smallest first, with the lost detail re-injected after each."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .. import images
from ..frames import Frame
from ..loop import Cadence
from ..models import Backbone, get_backbone
from .ascent import ascent_function
from .config import DreamConfig
from .objective import Objective, prepare_objective

# What the stage of an octave says when max_loss ended it before its last iteration.
MAX_LOSS_NOTE = "ended at max_loss"


def octave_shapes(size: tuple[int, int], octaves: int, octave_scale: float,
                  min_side: int = 1) -> list[tuple[int, int]]:
    """The (height, width) of each octave, smallest first, ending at `size`.

    Octaves whose shorter side would fall below `min_side` (too small for the network) are left out.
    """
    shapes = [tuple(int(side / octave_scale ** octave) for side in size) for octave in range(octaves)]
    return [shape for shape in reversed(shapes) if min(shape) >= min_side] or [tuple(size)]


def dream(image, config: DreamConfig = DreamConfig(), backbone: Backbone | None = None, *, guide=None,
          mask=None) -> Iterator[Frame]:
    """Run DeepDream on `image` (a path, PIL image or uint8 array), yielding Frames as it goes.

    guide: an image to dream towards (see neuralart.deepdream.objective); mask: where the dream may act (any image,
    white = dream, or a float array in 0..1; see neuralart.images.load_mask). Without `backbone`, the registry's is
    used in the precision neuralart.runtime picks for this machine; a backbone passed in computes in its own
    precision (`Backbone.with_precision`). Every input is checked before this returns.
    """
    backbone = backbone or get_backbone(config.backbone, config.weights, precision="auto")
    original = images.load_image(image, max_side=config.max_side)
    dream_mask = None if mask is None else images.feather_inwards(images.load_mask(mask, original.shape[:2]),
                                                                  config.mask_feather)
    objective = objective_for(config, backbone, guide, original.shape[:2], masked=dream_mask is not None)
    return dream_frames(original, config, backbone, objective, dream_mask, np.random.default_rng(config.seed))


def objective_for(config: DreamConfig, backbone: Backbone, guide, size: tuple[int, int],
                  masked: bool = False) -> Objective:
    """The config's objective on `backbone`: its layer weights (or the network's own), the guide image (loaded no
    larger than a photo of `size`, so its features are of the same scale) and whether a mask limits the step."""
    guide_image = None if guide is None else images.load_image(guide, max_side=max(size))
    layers = dict(config.layers or backbone.default_layers("dream"))
    return prepare_objective(layers, backbone, guide_image, config.guide_strength, masked)


def dream_frames(original: np.ndarray, config: DreamConfig, backbone: Backbone, objective: Objective,
                 mask: np.ndarray | None, rng: np.random.Generator) -> Iterator[Frame]:
    """The frames of one dream of the uint8 `original`, with a prepared objective, an optional 0..1 mask at its
    size and the run's random generator (zoom animations dream frame after frame this way)."""
    shapes = octave_shapes(original.shape[:2], config.octaves, config.octave_scale, backbone.spec.min_size)
    return _DreamRun(config, backbone, objective, original, shapes, mask, rng).frames()


class _DreamRun:
    """The state of one run: created inside `dream`, never shared between runs or users."""

    def __init__(self, config: DreamConfig, backbone: Backbone, objective: Objective, original: np.ndarray,
                 shapes: list[tuple[int, int]], mask: np.ndarray | None, rng: np.random.Generator):
        import tensorflow as tf

        self.config = config
        self.term_names = objective.names
        self.layer_weights = tf.constant(objective.weights, tf.float32)
        self.ascend = ascent_function(backbone, objective.layout.layers, config.tile_size, objective.layout)
        self.extras = dict(objective.extras)
        self.photo = original
        self.original = tf.constant(images.uint8_to_minus1_1(original))
        self.mask = mask
        self.shapes = shapes
        self.rng = rng
        self.total_iterations = len(shapes) * config.iterations
        self.iterations = 0
        self.losses: dict[str, float] = {}
        self.cadence = Cadence(config.frame_every)

    def frames(self) -> Iterator[Frame]:
        image = self.original
        shrunk_original = images.resize_float(self.original, self.shapes[0])
        for octave, shape in enumerate(self.shapes, start=1):
            stage = f"octave {octave} of {len(self.shapes)} ({shape[1]}×{shape[0]})"
            image = images.resize_float(image, shape)
            octave_start = self.iterations
            self._set_mask(shape)
            yield from self._octave(image, shape, stage)
            image = self.image
            stage = self._note_early_end(stage, self.iterations - octave_start)
            image, shrunk_original = self._reinject_detail(image, shape, shrunk_original)
            self.cadence.frame_due(force=True)
            yield self._frame(image, stage, stage_done=True)

    def _note_early_end(self, stage: str, done: int) -> str:
        """An octave that max_loss ended early gives up its remaining iterations, so the counts stay honest, and
        its stage says so."""
        skipped = self.config.iterations - done
        if not skipped:
            return stage
        self.total_iterations -= skipped
        return f"{stage} · {MAX_LOSS_NOTE} after {done} of {self.config.iterations} iterations"

    def _set_mask(self, shape: tuple[int, int]) -> None:
        if self.mask is not None:
            import tensorflow as tf

            self.extras["mask"] = tf.constant(self._mask_at(shape)[..., None])

    def _mask_at(self, shape: tuple[int, int]) -> np.ndarray:
        if tuple(shape) == self.mask.shape:
            return self.mask
        return np.asarray(images.resize_float(self.mask[..., None], shape))[..., 0].clip(0.0, 1.0)

    def _octave(self, image, shape: tuple[int, int], stage: str) -> Iterator[Frame]:
        """The iterations of one octave, a chunk at a time; the image they reach is left in `self.image`."""
        iterations = self.config.iterations
        # All of an octave's rolls are drawn at once, so the result does not depend on how the iterations are
        # split into calls (which follows the machine's speed).
        shifts = self._octave_shifts(shape)
        done = 0
        while done < iterations:
            chunk = self.cadence.next_chunk(iterations - done, shape[0] * shape[1])
            image, stopped = self._ascend_chunk(image, shifts[done:done + chunk], shape)
            done += chunk
            if stopped or done >= iterations:
                break
            if self.cadence.frame_due():
                yield self._frame(image, stage)
        self.image = image

    def _reinject_detail(self, image, shape: tuple[int, int], shrunk_original):
        """Add back the detail lost by working on a shrunk copy: (original at this size) minus (shrunk original
        enlarged to this size), as the classic listing does after each octave."""
        import tensorflow as tf

        same_size_original = images.resize_float(self.original, shape)
        image = image + same_size_original - images.resize_float(shrunk_original, shape)
        return tf.clip_by_value(image, -1.0, 1.0), same_size_original

    def _octave_shifts(self, shape: tuple[int, int]) -> np.ndarray:
        """One random (row, column) roll per iteration of an octave; zeros without `roll`."""
        iterations = self.config.iterations
        if not self.config.roll:
            return np.zeros((iterations, 2), dtype=np.int32)
        return np.stack([self.rng.integers(0, shape[0], iterations), self.rng.integers(0, shape[1], iterations)],
                        axis=1).astype(np.int32)

    def _ascend_chunk(self, image, shifts: np.ndarray, shape: tuple[int, int]):
        """One traced call per iteration of `shifts`; stops early once the objective passes `max_loss`."""
        import tensorflow as tf

        max_loss = tf.constant(np.inf if self.config.max_loss is None else self.config.max_loss, tf.float32)
        step_size = tf.constant(self.config.step_size, tf.float32)
        extras = (self.extras,) if self.extras else ()
        self.cadence.start_chunk()
        done, stopped = 0, False
        for shift in shifts:
            stepped, loss, term_losses, moved = self.ascend(image, tf.constant(shift, tf.int32), self.layer_weights,
                                                            step_size, max_loss, *extras)
            if not bool(moved):  # Reading the flag waits for the step, so the cadence times real work.
                stopped = True
                break
            image, done = stepped, done + 1
        self.cadence.end_chunk(max(done, 1), shape[0] * shape[1])
        self.iterations += done
        self.losses = {"loss": float(loss), **{name: float(value)
                                               for name, value in zip(self.term_names, term_losses.numpy())}}
        return image, stopped

    def _frame(self, image, stage: str, stage_done: bool = False) -> Frame:
        return Frame(image=self._composed(image.numpy()), iteration=self.iterations,
                     total_iterations=self.total_iterations, losses=dict(self.losses), stage=stage,
                     stage_done=stage_done)

    def _composed(self, image: np.ndarray) -> np.ndarray:
        """The dream as uint8; with a mask, laid over the photo by it, so that where the mask is 0 every pixel is
        exactly the photo's."""
        if self.mask is None:
            return images.minus1_1_to_uint8(image)
        shape = image.shape[:2]
        photo = images.resize_uint8(self.photo, shape).astype(np.float32)
        weight = self._mask_at(shape)[..., None]
        return images.pixels_to_uint8(weight * images.minus1_1_to_pixels(image) + (1.0 - weight) * photo)
