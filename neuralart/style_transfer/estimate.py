"""How long a style transfer run will take and how much memory it will need on this machine, said before it
starts: the network's time and memory per pixel are measured by a short probe (a few evaluations at two small
sizes, kept per network), and the run's own arrays are counted from its sizes. A size that would need more memory
than the machine has available is refused, naming the largest size that fits.

The probe reads TensorFlow's allocator statistics (the peak bytes of one evaluation) and this process's resident
memory before and after; where the allocator cannot say, the growth of resident memory stands in.
"""

from __future__ import annotations

import dataclasses
import time

from .. import images
from .config import StyleConfig
from .inputs import MAX_STYLE_SIDE, scale_shapes
from .tiles import tile_layout, tile_side

# The two square sides the probe evaluates at: large enough that per-pixel costs dominate, small enough to be quick.
PROBE_SIDES = (192, 384)
# Resident memory grows by more than the allocator's peak (its pool grows in doubling regions and fragments):
# the probe measures the ratio where memory grows while it runs, else this is assumed.
POOL_OVERHEAD = 1.35
# L-BFGS evaluates the losses about this often per iteration (a step halved now and then).
LBFGS_EVALUATIONS_PER_ITERATION = 1.15
# A scale's fixed work, in evaluations' worth: its targets, and for tiled scales the measuring passes (forward only).
SCALE_SETUP_EVALUATIONS = 2.0
# Float images (height x width x 3 x 4 bytes) a scale keeps besides the network's work: the image and the
# optimizer's state (L-BFGS: its history pairs and a few more), the content, frames and temporaries.
LBFGS_IMAGES = 2 * 5 + 8
ADAM_IMAGES = 8
TILED_IMAGES = 9
# Of the memory available, a run may plan to use this share (the rest for the system and the unforeseen).
MEMORY_SHARE = 0.9
SIDE_STEP = 32


@dataclasses.dataclass(frozen=True)
class Probe:
    """What one evaluation (the network forwards and backwards) costs here: seconds and allocator bytes as a
    fixed part plus a part per pixel; the pool's overhead on resident memory; this process's memory then."""

    seconds_fixed: float
    seconds_per_pixel: float
    bytes_fixed: float
    bytes_per_pixel: float
    pool_overhead: float

    def seconds(self, pixels: float) -> float:
        return self.seconds_fixed + self.seconds_per_pixel * pixels

    def network_bytes(self, pixels: float) -> float:
        return self.pool_overhead * (self.bytes_fixed + self.bytes_per_pixel * pixels)


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A run's expected duration and peak memory, the memory available, and whether it fits."""

    side: int
    seconds: float
    peak_bytes: float
    available_bytes: float
    largest_side: int | None

    @property
    def fits(self) -> bool:
        return self.peak_bytes <= MEMORY_SHARE * self.available_bytes

    def summary(self) -> str:
        text = (f"A {self.side}-px result: about {duration_text(self.seconds)} and {gigabytes(self.peak_bytes)} of "
                f"memory ({gigabytes(self.available_bytes)} available).")
        if self.fits:
            return text
        return f"{text} That needs more memory than this machine has available: {self.largest()}."

    def largest(self) -> str:
        return (f"the largest size that fits is {self.largest_side} px" if self.largest_side
                else "no size fits with this network; close other programs or pick a smaller network")

    def check(self) -> None:
        """Raise ValueError (with the largest size that fits) when the run would not fit in memory."""
        if not self.fits:
            raise ValueError(f"A {self.side}-px result needs about {gigabytes(self.peak_bytes)} of memory and "
                             f"{gigabytes(self.available_bytes)} is available: {self.largest()}.")


def duration_text(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def gigabytes(count: float) -> str:
    return f"{count / 1e9:.1f} GB"


def probe(backbone, content_layers: tuple[str, ...], style_layers: tuple[str, ...], regions: int = 0) -> Probe:
    """The probe of these layers (and this many style regions; 0: none) on this backbone, measured once and kept
    with the backbone (its traced steps are the run's own, so the probe's tracing is not lost)."""
    return backbone.cached(("style_probe", content_layers, style_layers, regions),
                           lambda: _measure(backbone, content_layers, style_layers, regions))


def _measure(backbone, content_layers, style_layers, regions: int) -> Probe:
    timings, peaks, growth = [], [], 0.0
    for side in PROBE_SIDES:
        evaluate = _evaluation(backbone, content_layers, style_layers, regions, side)
        memory_before, peak_before = resident_bytes(), _reset_allocator_peak()
        evaluate()
        peak = _allocator_peak()
        growth += max(resident_bytes() - memory_before, 0.0)
        peaks.append(peak if peak is not None and peak_before is not None else growth)
        timings.append(_seconds(evaluate))
    areas = [side * side for side in PROBE_SIDES]
    seconds_per_pixel = max((timings[1] - timings[0]) / (areas[1] - areas[0]), timings[1] / areas[1] / 4)
    bytes_per_pixel = max((peaks[1] - peaks[0]) / (areas[1] - areas[0]), 0.0)
    overhead = POOL_OVERHEAD
    if peaks[1] > 0 and growth > 0.5 * peaks[1]:  # The pool grew while probing: its overhead is measured.
        overhead = min(max(growth / peaks[1], 1.0), 2.0)
    return Probe(max(timings[1] - seconds_per_pixel * areas[1], 0.0), seconds_per_pixel,
                 max(peaks[1] - bytes_per_pixel * areas[1], 0.0), bytes_per_pixel, overhead)


def _evaluation(backbone, content_layers, style_layers, regions: int, side: int):
    """One evaluation of the losses and their gradient on a random square image of `side`, as a function to call
    (and time)."""
    import numpy as np
    import tensorflow as tf

    from .steps import style_steps

    steps = style_steps(backbone, content_layers, style_layers, regions)
    rng = np.random.default_rng(side)
    pixels = tf.constant(rng.uniform(0.0, 255.0, (side, side, 3)), tf.float32)
    content, grams = steps.features(pixels)
    weights = [tf.ones([len(content_layers)]) / len(content_layers), tf.ones([len(style_layers)]) / len(style_layers),
               tf.ones([3])]
    if regions:  # Each region a share of the picture, with the whole picture's Gram matrix as its target.
        grams = [tf.repeat(gram[None], regions, axis=0) for gram in grams]
        shares = tf.constant(rng.uniform(0.0, 1.0, (side, side, regions)), tf.float32)
        weights += [shares / tf.reduce_sum(shares, axis=-1, keepdims=True), tf.ones([regions])]
    arguments = (pixels, list(content), list(grams), *weights)
    return lambda: steps.value_and_gradient(*arguments)[0].numpy()


def _seconds(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def tile_step_ratio(backbone, content_layers: tuple[str, ...], style_layers: tuple[str, ...],
                    regions: int = 0) -> float:
    """How much longer a tile's step takes than the probe's evaluation of a window of the same size (the tile step
    also weighs its features by the core and the masks, sums the core's statistics and steps Adam), measured once
    per backbone, and only for runs that tile (it traces the tile step, which only they use)."""
    return backbone.cached(("style_tile_ratio", content_layers, style_layers, regions),
                           lambda: _measure_tile_ratio(backbone, content_layers, style_layers, regions))


def _measure_tile_ratio(backbone, content_layers, style_layers, regions: int) -> float:
    import numpy as np
    import tensorflow as tf

    from .steps import ADAM_BETA_2
    from .tiled import REFINING_ADAM
    from .tiles import tile_steps

    step_size, beta_1, epsilon = REFINING_ADAM
    side = PROBE_SIDES[-1]
    steps = tile_steps(backbone, content_layers, style_layers, max(regions, 1))
    pixels = tf.constant(np.random.default_rng(side).uniform(0.0, 255.0, (side, side, 3)), tf.float32)
    masks = tf.ones([side, side, max(regions, 1)]) / max(regions, 1)
    box = tf.constant([0, 0, side, side], tf.int32)
    content, grams, _, _ = steps.statistics(pixels, masks, box)
    moment = tf.zeros_like(pixels)
    arguments = (pixels, masks, box, box, list(content), list(grams), tf.ones([len(content_layers)]),
                 tf.ones([len(content_layers)]), tf.ones([3]), moment, moment, tf.constant(1.0),
                 tf.constant([step_size, beta_1, ADAM_BETA_2, epsilon], tf.float32))
    step = lambda: steps.step(*arguments)[0].numpy()  # noqa: E731
    evaluate = _evaluation(backbone, content_layers, style_layers, regions, side)
    step()  # Traces it.
    # Alternated, so that other work on the machine slows both alike; the least disturbed timing of each.
    timings = [(_seconds(step), _seconds(evaluate)) for _ in range(3)]
    return max(min(pair[0] for pair in timings) / min(pair[1] for pair in timings), 1.0)


def _reset_allocator_peak():
    """Reset TensorFlow's CPU allocator peak; None where it keeps no statistics (not its BFC allocator)."""
    import tensorflow as tf

    try:
        tf.config.experimental.reset_memory_stats("CPU:0")
        return 0
    except (ValueError, RuntimeError):
        return None


def _allocator_peak():
    import tensorflow as tf

    try:
        return float(tf.config.experimental.get_memory_info("CPU:0")["peak"])
    except (ValueError, RuntimeError):
        return None


def resident_bytes() -> float:
    """This process's resident memory now."""
    import psutil

    return float(psutil.Process().memory_info().rss)


def available_bytes() -> float:
    """Memory the system can give a new run now (without swapping)."""
    import psutil

    return float(psutil.virtual_memory().available)


def estimate_run(config: StyleConfig, shape: tuple[int, int], backbone=None, *, regions: int = 0,
                 available: float | None = None) -> Estimate:
    """The estimate of a run of `config` whose result is `shape` (height, width), with `regions` style masks;
    `backbone` defaults to the config's (as `stylize` takes it), `available` to the memory available now."""
    from ..models import get_backbone
    from .run import run_layers
    from .tiles import tile_steps

    backbone = backbone or get_backbone(config.backbone, config.weights, precision="auto")
    content_layers, style_layers = (tuple(layers) for layers in run_layers(config, backbone))
    measured = probe(backbone, content_layers, style_layers, regions)
    side = tile_side(config.tile_size, backbone.name)
    steps = tile_steps(backbone, content_layers, style_layers, 1)
    tile_ratio = tile_step_ratio(backbone, content_layers, style_layers, regions) if max(shape) > side else 1.0
    plan = _Plan(config, side, steps.align, steps.margins(side)[0], measured, backbone.spec.min_size,
                 content_maps_bytes(backbone, content_layers) + 4.0 * regions, tile_ratio)
    available = available_bytes() if available is None else available
    baseline = resident_bytes()
    seconds, needed = plan.cost(shape)
    largest = None
    if baseline + needed > MEMORY_SHARE * available:
        largest = _largest_side(lambda longest: baseline + plan.cost(images.scaled_size(shape, longest / max(shape)))[1]
                                <= MEMORY_SHARE * available, max(shape))
    return Estimate(max(shape), seconds, baseline + needed, available, largest)


def _largest_side(fits, side: int) -> int | None:
    """The largest multiple of SIDE_STEP below `side` for which `fits(side)`, by bisection (cost grows with size)."""
    low, high = 0, side // SIDE_STEP
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle * SIDE_STEP):
            low = middle
        else:
            high = middle - 1
    return low * SIDE_STEP or None


@dataclasses.dataclass(frozen=True)
class _Plan:
    """What a run's cost depends on besides its size."""

    config: StyleConfig
    side: int
    align: int
    margin: int
    measured: Probe
    network_min_side: int
    extra_bytes_per_pixel: float  # Content feature maps and masks.
    tile_ratio: float  # A tile step's seconds over the probe's evaluation of a window as large.

    def cost(self, shape: tuple[int, int]) -> tuple[float, float]:
        """(seconds, bytes beyond this process's memory now) of a run whose result is `shape`."""
        config, measured = self.config, self.measured
        seconds, needed = 0.0, 0.0
        style_side = min(MAX_STYLE_SIDE, max(shape) * config.style_scale)
        for scale in scale_shapes(shape, config.multiscale, config.multiscale_min_side, self.network_min_side):
            pixels = scale[0] * scale[1]
            style_pixels = min(style_side * max(scale) / max(shape), self.side) ** 2
            if max(scale) <= self.side:
                lbfgs = config.optimizer == "lbfgs"
                evaluations = config.iterations * (LBFGS_EVALUATIONS_PER_ITERATION if lbfgs else 1.0)
                seconds += (evaluations + SCALE_SETUP_EVALUATIONS) * measured.seconds(pixels)
                kept, network = (LBFGS_IMAGES if lbfgs else ADAM_IMAGES), max(pixels, style_pixels)
            else:
                windows = [(tile.window[2] - tile.window[0]) * (tile.window[3] - tile.window[1])
                           for tile in tile_layout(scale, self.side, self.align, self.margin, _Layouts())]
                pass_seconds = sum(measured.seconds(window) for window in windows)
                seconds += (config.iterations * self.tile_ratio + SCALE_SETUP_EVALUATIONS) * pass_seconds
                kept, network = TILED_IMAGES, max(max(windows), style_pixels)
            arrays = pixels * (kept * 12.0 + self.extra_bytes_per_pixel)
            needed = max(needed, measured.network_bytes(network) + arrays)
        return seconds, needed


class _Layouts:
    """Stands in for a run's random generator when counting a layout's tiles: boundaries at their middle."""

    @staticmethod
    def integers(low: int, high: int) -> int:
        return (low + high - 1) // 2


def content_maps_bytes(backbone, content_layers: tuple[str, ...]) -> float:
    """Bytes per result pixel of the content feature maps a tiled scale keeps (float32, channels over the
    stride squared)."""
    from .regions import layer_strides

    strides = layer_strides(backbone, content_layers)
    return sum(4.0 * int(backbone.model.get_layer(name).output.shape[-1]) / strides[name] ** 2
               for name in content_layers)
