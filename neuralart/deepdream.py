"""DeepDream (Mordvintsev, Olah & Tyka, 2015): amplify what a network sees by gradient ascent on the image.

The recipe follows the classic Keras listing: the objective is a weighted sum over chosen layers of the mean
squared activation (a 2-pixel border left out); the gradient is normalised by its mean absolute value; the image is
processed at `octaves` scales, smallest first, each `octave_scale` times the previous; after each octave the
detail that shrinking and re-enlarging the original loses is re-injected, so the photo stays sharp.

Beyond that listing: the image is randomly rolled before every step and its gradient is computed tile by tile
(as the TensorFlow DeepDream tutorial does), so images larger than a tile dream without seams and within memory;
randomness comes only from `seed`.

Speed (see bench/speed.py): the backbone computes in bfloat16 where the CPU has bfloat16 instructions, its batch
normalisations are folded into the convolutions and the 1x1 branches of each Inception block run as one convolution
(neuralart.models.inference_model); the objective, the gradient and the image stay float32. One traced call takes
one step: with the network inside a `tf.while_loop`, TF's oneDNN graph pass misses its fast max-pool gradient in
some traces (over 8 fresh traces of a SqueezeNet style step, a median of 54 ms in a loop against 29 ms one step per
call), and several steps per call saved nothing measurable (bench/speed.py, cases dream and loop-traces). The
steps between frames adapt to the machine, so a frame comes about every `FRAME_SECONDS` even when `frame_every`
steps would take much longer.

`dream(image, config)` yields a `Frame` every `frame_every` steps (or sooner, once `FRAME_SECONDS` of work has
passed) and one that closes each octave (`stage_done=True`; the seed saved these as `dream_at_scale_*`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator, Mapping
from types import MappingProxyType

import numpy as np

from . import images, runtime, validation
from .frames import Frame
from .models import BACKBONE_NAMES, Backbone, get_backbone


# `python -m neuralart dream --fast`: SqueezeNet at 512 px, a recognisable dream in seconds on a 2-core CPU
# (bench/speed.py measures it); the other settings stay the defaults.
FAST_PRESET = MappingProxyType({"backbone": "squeezenet", "max_side": 512})

# A frame is shown once this much work has passed since the last one, even before `frame_every` steps, so a
# slow machine or a large image still streams (the app promises a frame at least every 1.5 s).
FRAME_SECONDS = 1.0


@dataclasses.dataclass(frozen=True)
class DreamConfig:
    """Settings of one DeepDream run. Defaults are the classic InceptionV3 listing's."""

    backbone: str = "inception_v3"
    weights: str | None = "imagenet"
    layers: Mapping[str, float] | None = None
    step: float = 0.01
    octaves: int = 3
    octave_scale: float = 1.4
    iterations: int = 20
    max_loss: float | None = 10.0
    max_side: int | None = 800
    tile_size: int = 1024
    roll: bool = True
    frame_every: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        check = validation.check_number
        validation.check_choice("backbone", self.backbone, BACKBONE_NAMES + ("custom",))
        if self.layers is not None:
            layers = validation.check_weights("layers", self.layers, -100.0, 100.0)
            if not any(layers.values()):
                raise ValueError("layers: give at least one layer a non-zero weight")
            object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "step", check("step", self.step, 1e-5, 1.0))
        object.__setattr__(self, "octaves", check("octaves", self.octaves, 1, 8, integer=True))
        object.__setattr__(self, "octave_scale", check("octave_scale", self.octave_scale, 1.05, 3.0))
        object.__setattr__(self, "iterations", check("iterations", self.iterations, 0, 1000, integer=True))
        object.__setattr__(self, "max_loss", validation.check_optional_number("max_loss", self.max_loss, 1e-6, 1e9))
        object.__setattr__(self, "max_side",
                           validation.check_optional_number("max_side", self.max_side, 32, 4096, integer=True))
        object.__setattr__(self, "tile_size", check("tile_size", self.tile_size, 64, 4096, integer=True))
        object.__setattr__(self, "frame_every", check("frame_every", self.frame_every, 1, 1000, integer=True))
        object.__setattr__(self, "seed", check("seed", self.seed, 0, 2**31 - 1, integer=True))
        if not isinstance(self.roll, bool):
            raise ValueError(f"roll must be true or false, got {self.roll!r}")


def octave_shapes(size: tuple[int, int], octaves: int, octave_scale: float,
                  min_side: int = 1) -> list[tuple[int, int]]:
    """The (height, width) of each octave, smallest first, ending at `size`.

    Octaves whose shorter side would fall below `min_side` (too small for the network) are left out.
    """
    shapes = [tuple(int(side / octave_scale ** octave) for side in size) for octave in range(octaves)]
    return [shape for shape in reversed(shapes) if min(shape) >= min_side] or [tuple(size)]


def dream(image, config: DreamConfig = DreamConfig(), backbone: Backbone | None = None) -> Iterator[Frame]:
    """Run DeepDream on `image` (a path, PIL image or uint8 array), yielding Frames as it goes.

    Without `backbone`, the registry's is used in the precision neuralart.runtime picks for this machine; a
    backbone passed in computes in its own precision (`Backbone.with_precision`).
    """
    backbone = backbone or get_backbone(config.backbone, config.weights, precision="auto")
    layer_weights = dict(config.layers or backbone.default_layers("dream"))
    active = {layer: weight for layer, weight in layer_weights.items() if weight}
    backbone.check_layers(active)
    original = images.uint8_to_unit(images.load_image(image, max_side=config.max_side))
    shapes = octave_shapes(original.shape[:2], config.octaves, config.octave_scale, backbone.spec.min_size)
    run = _DreamRun(config, backbone, active, original, shapes)
    return run.frames()


class _DreamRun:
    """The state of one run: created inside `dream`, never shared between runs or users."""

    def __init__(self, config: DreamConfig, backbone: Backbone, layer_weights: dict[str, float],
                 original: np.ndarray, shapes: list[tuple[int, int]]):
        import tensorflow as tf

        self.config = config
        self.layer_names = tuple(layer_weights)
        self.layer_weights = tf.constant(list(layer_weights.values()), tf.float32)
        self.ascend = ascent_function(backbone, self.layer_names, config.tile_size)
        self.original = tf.constant(original)
        self.shapes = shapes
        self.rng = np.random.default_rng(config.seed)
        self.total_steps = len(shapes) * config.iterations
        self.steps = 0
        self.losses: dict[str, float] = {}
        self.cadence = _Cadence(config.frame_every)

    def frames(self) -> Iterator[Frame]:
        import tensorflow as tf

        config = self.config
        image = self.original
        shrunk_original = images.resize_float(self.original, self.shapes[0])
        for octave, shape in enumerate(self.shapes, start=1):
            stage = f"octave {octave}/{len(self.shapes)} ({shape[1]}x{shape[0]})"
            image = images.resize_float(image, shape)
            octave_end = self.steps + config.iterations
            # All of an octave's rolls are drawn at once, so the result does not depend on how the steps are
            # split into calls (which follows the machine's speed).
            shifts = self._octave_shifts(shape)
            done = 0
            while done < config.iterations:
                chunk = self.cadence.next_chunk(config.iterations - done, shape)
                image, stopped = self._ascend_chunk(image, shifts[done:done + chunk])
                done += chunk
                if stopped or done >= config.iterations:
                    break
                if self.cadence.frame_due():
                    yield self._frame(image, stage)
            self.steps = octave_end
            # Re-inject the detail lost by working on a shrunk copy: (original at this size) minus
            # (shrunk original enlarged to this size), as the seed does after each octave.
            same_size_original = images.resize_float(self.original, shape)
            image = image + same_size_original - images.resize_float(shrunk_original, shape)
            image = tf.clip_by_value(image, -1.0, 1.0)
            shrunk_original = same_size_original
            self.cadence.frame_due(force=True)
            yield self._frame(image, stage, stage_done=True)

    def _octave_shifts(self, shape: tuple[int, int]) -> np.ndarray:
        """One random (row, column) roll per step of an octave; zeros without `roll`."""
        steps = self.config.iterations
        if not self.config.roll:
            return np.zeros((steps, 2), dtype=np.int32)
        return np.stack([self.rng.integers(0, shape[0], steps), self.rng.integers(0, shape[1], steps)],
                        axis=1).astype(np.int32)

    def _ascend_chunk(self, image, shifts: np.ndarray):
        """One traced call per step of `shifts`; stops early once the objective passes `max_loss`."""
        import tensorflow as tf

        max_loss = tf.constant(math.inf if self.config.max_loss is None else self.config.max_loss, tf.float32)
        step = tf.constant(self.config.step, tf.float32)
        self.cadence.start_chunk()
        done, stopped = 0, False
        for shift in shifts:
            stepped, loss, layer_losses, moved = self.ascend(image, tf.constant(shift, tf.int32),
                                                             self.layer_weights, step, max_loss)
            if not bool(moved):  # Reading the flag waits for the step, so the cadence times real work.
                stopped = True
                break
            image, done = stepped, done + 1
        self.cadence.end_chunk(max(done, 1), tuple(image.shape[:2]))
        self.steps += done
        self.losses = {"loss": float(loss), **{name: float(value)
                                               for name, value in zip(self.layer_names, layer_losses.numpy())}}
        return image, stopped

    def _frame(self, image, stage: str, stage_done: bool = False) -> Frame:
        return Frame(image=images.unit_to_uint8(image.numpy()), step=self.steps, total_steps=self.total_steps,
                     losses=dict(self.losses), stage=stage, stage_done=stage_done)


class _Cadence:
    """When to hand back a frame, and how many steps to run before looking again.

    A chunk of steps runs at most until the next frame is due: `frame_every` steps since the last frame or
    `FRAME_SECONDS` of work, whichever comes first. Seconds per step are measured on each chunk and scaled by pixel
    count when an octave changes the image size; until a measurement exists a chunk is a single step.
    """

    def __init__(self, frame_every: int, clock=time.perf_counter):
        self.frame_every = frame_every
        self.clock = clock
        self.last_frame = clock()
        self.steps_since_frame = 0
        self.seconds_per_pixel_step: float | None = None
        self.chunk_started = self.last_frame

    def next_chunk(self, remaining: int, shape: tuple[int, int]) -> int:
        limit = min(remaining, self.frame_every - self.steps_since_frame)
        if self.seconds_per_pixel_step is None:
            return 1
        seconds_left = FRAME_SECONDS - (self.clock() - self.last_frame)
        affordable = int(seconds_left / (self.seconds_per_pixel_step * shape[0] * shape[1]))
        return max(1, min(limit, affordable))

    def start_chunk(self) -> None:
        self.chunk_started = self.clock()

    def end_chunk(self, steps: int, shape: tuple[int, int]) -> None:
        self.steps_since_frame += steps
        seconds = self.clock() - self.chunk_started
        self.seconds_per_pixel_step = seconds / (steps * shape[0] * shape[1])

    def frame_due(self, force: bool = False) -> bool:
        due = force or (self.steps_since_frame >= self.frame_every
                        or self.clock() - self.last_frame >= FRAME_SECONDS)
        if due:
            self.last_frame = self.clock()
            self.steps_since_frame = 0
        return due


def ascent_function(backbone: Backbone, layer_names: tuple[str, ...], tile_size: int):
    """The traced gradient-ascent step for these layers, built once per backbone and kept.

    Its input signature leaves height and width free, so octaves and new images reuse one trace; layer weights,
    step and max_loss are arguments, so moving a slider does not retrace either. It computes in the backbone's
    precision (`backbone.precision`); with NEURALART_XLA=1 a float32 one is compiled with XLA.
    """
    jit_compile = runtime.xla_enabled() and backbone.precision == "float32"
    return backbone.cached(("dream_ascent", layer_names, tile_size, jit_compile),
                           lambda: _make_ascent_function(backbone, layer_names, tile_size, jit_compile))


def _make_ascent_function(backbone: Backbone, layer_names: tuple[str, ...], tile_size: int,
                          jit_compile: bool = False):
    import tensorflow as tf

    from .losses import dream_layer_loss

    feature_model = backbone.layer_model(layer_names)
    input_space = backbone.input_space
    # Measure the objective as if every backbone took inputs in -1..1 (InceptionV3 does): activations of
    # caffe-style backbones, fed 0..255 pixels, are ~127x larger and their squares ~16000x, which would make
    # `max_loss` mean something different per backbone. For InceptionV3 the factor is exactly 1.
    loss_scale = 1.0 / (127.5 * input_space.scale) ** 2

    def layer_losses_of(tile):
        activations = feature_model(input_space.from_unit(tile)[None], training=False)
        if len(layer_names) == 1:
            activations = [activations]
        return tf.stack([dream_layer_loss(activation) for activation in activations]) * loss_scale

    def whole_gradient(image, weights):
        """Gradient of the weighted objective over the whole image, and each layer's loss."""
        with tf.GradientTape() as tape:
            tape.watch(image)
            layer_losses = layer_losses_of(image)
            objective = tf.reduce_sum(weights * layer_losses)
        return tape.gradient(objective, image), layer_losses

    def tiled_gradient(image, weights):
        """The same, computed on roughly equal tiles of at most tile_size, so memory stays bounded."""
        height, width = tf.shape(image)[0], tf.shape(image)[1]
        rows = (height + tile_size - 1) // tile_size
        columns = (width + tile_size - 1) // tile_size
        tile_height = (height + rows - 1) // rows
        tile_width = (width + columns - 1) // columns
        gradient = tf.zeros_like(image)
        layer_losses = tf.zeros([len(layer_names)])
        for tile_index in tf.range(rows * columns):
            top, left = (tile_index // columns) * tile_height, (tile_index % columns) * tile_width
            with tf.GradientTape() as tape:
                # Cut inside the tape, so each tile's gradient lands in place in the whole image's. (This loop
                # around the network can meet the slow max-pool gradient; it runs only for images over a tile.)
                tape.watch(image)
                tile_losses = layer_losses_of(image[top:top + tile_height, left:left + tile_width])
                objective = tf.reduce_sum(weights * tile_losses)
            gradient += tape.gradient(objective, image)
            layer_losses += tile_losses
        return gradient, layer_losses

    def gradient_of(image, weights):
        if jit_compile:  # XLA compiles neither a cond between these nor the tile loop: no tiling under XLA.
            return whole_gradient(image, weights)
        # An image that fits in one tile gets no loop around the network (see the module's note on speed).
        fits = tf.logical_and(tf.shape(image)[0] <= tile_size, tf.shape(image)[1] <= tile_size)
        return tf.cond(fits, lambda: whole_gradient(image, weights), lambda: tiled_gradient(image, weights))

    def normalised(gradient):
        return gradient / tf.maximum(tf.reduce_mean(tf.abs(gradient)), 1e-7)

    @tf.function(jit_compile=jit_compile, input_signature=[
        tf.TensorSpec([None, None, 3], tf.float32),  # image, unit range
        tf.TensorSpec([2], tf.int32),  # this step's random roll (rows, columns)
        tf.TensorSpec([len(layer_names)], tf.float32),  # layer weights
        tf.TensorSpec([], tf.float32),  # step size
        tf.TensorSpec([], tf.float32),  # max_loss
    ])
    def ascend(image, shift, weights, step, max_loss):
        """One step: (image after it, objective before it, each layer's loss, whether it moved). Past
        `max_loss` the image is left as it was: the seed stops an octave early once the objective is this high."""
        rolled = tf.roll(image, shift=shift, axis=[0, 1])
        gradient, layer_losses = gradient_of(rolled, weights)
        gradient = tf.roll(gradient, shift=-shift, axis=[0, 1])
        loss = tf.reduce_sum(weights * layer_losses)
        moved = loss <= max_loss
        # A cond, not a select: a select would read both images and write a third, every step (~1% of one).
        stepped = tf.cond(moved, lambda: tf.clip_by_value(image + step * normalised(gradient), -1.0, 1.0),
                          lambda: image)
        return stepped, loss, layer_losses, moved

    return ascend
