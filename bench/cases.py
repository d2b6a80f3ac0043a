"""The benchmark's cases. Each runs in its own process (so its peak memory and thread settings are its own) and
returns a dict: `rows` for the results table, plus `means` (measured variants) and `notes`.

Timing uses random weights (`weights=None`): the work per step does not depend on the weights. Quality-to-time
comparisons use the real SqueezeNet from ../shared/weights and are skipped, with a note, when it is absent.
"""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SQUEEZENET_WEIGHTS = SHARED / "weights" / "squeezenet1_1_notop_tf.h5"
PHOTO = SHARED / "images" / "golden_gate.jpg"
STYLE_IMAGE = SHARED / "images" / "starry_night.jpg"
ASSET_PHOTO = ROOT / "assets" / "chelsea.jpg"
DREAM_SIZE = (533, 799)

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Imported before TensorFlow runs anything, so the project's allocator choice is in force for the whole process
# (the reference shares the process and so the allocator: the comparison stays like for like).
import neuralart.runtime  # noqa: E402,F401


def _photo(size: tuple[int, int]) -> np.ndarray:
    """A photo of exactly `size` (height, width): the shared test photo, or a shipped asset, resized."""
    from neuralart import images

    source = PHOTO if PHOTO.is_file() else ASSET_PHOTO
    return images.resize_uint8(images.load_image(source), size)


def _row(case: str, **values) -> dict:
    row = {"case": case}
    row.update(values)
    if values.get("reference_s") and values.get("project_s"):
        row["ratio"] = round(values["reference_s"] / values["project_s"], 2)
    return row


def _skip(case: str, reason: str) -> dict:
    return {"rows": [], "notes": [f"{case}: skipped, {reason}"]}


# --- peak ----------------------------------------------------------------------------------------------------

def peak(options) -> dict:
    from measure import peaks

    from neuralart import runtime

    result = peaks(options.quick)
    return {"rows": [], "peak": result, "machine": runtime.describe(), "notes": []}


# --- DeepDream -----------------------------------------------------------------------------------------------

def dream(options) -> dict:
    """The chapter's DeepDream at 533x799 on InceptionV3 against the project's default path, both warm."""
    import tensorflow as tf
    from measure import alternate, best_time, peak_rss_megabytes, peaks, step_flops
    from reference import CHAPTER_DREAM_LAYERS, ChapterDream

    from neuralart import images, runtime
    from neuralart import deepdream as dd
    from neuralart.models import get_backbone

    photo = _photo(DREAM_SIZE)
    unit = images.uint8_to_minus1_1(photo)
    reference = ChapterDream(get_backbone("inception_v3", None).model)
    reference.warm_up(DREAM_SIZE)
    config = dd.DreamConfig(weights=None)
    list(dd.dream(photo, dataclasses.replace(config, iterations=1)))  # Traces, and primes every octave's shape.

    def project():
        return list(dd.dream(photo, config))[-1]

    # At least three alternations: a 2-core machine is easily disturbed, and the best of three is steadier.
    timed = alternate({"reference": lambda: reference.run(unit), "project": project}, max(3, options.repeats + 1))
    (reference_s, (_, reference_loss)), (project_s, last_frame) = timed["reference"], timed["project"]
    full = tf.constant(unit)
    reference_step, _ = best_time(lambda: reference.loss_and_gradient(full[None])[1].numpy(), options.repeats + 1)
    flops = step_flops(tf.function(reference.untraced_step), tf.TensorSpec([1, *DREAM_SIZE, 3], tf.float32))
    means = dream_means(full, config, tuple(CHAPTER_DREAM_LAYERS), options)
    project_step = means["default: auto precision, folded BN, merged 1x1 branches, one step per call"]
    peak = peaks(quick=True)
    precision = runtime.resolve_precision()
    row = _row("DeepDream, chapter settings, InceptionV3, 533x799 (3 octaves x 20 steps)",
               reference_s=round(reference_s, 2), project_s=round(project_s, 2),
               reference_loss=round(reference_loss, 4), project_loss=round(last_frame.losses["loss"], 4),
               reference_steps=reference.steps_done, project_steps=last_frame.iteration, precision=precision,
               step_gflops_reference=round(flops / reference_step / 1e9, 1),
               step_gflops_project=round(flops / project_step / 1e9, 1),
               peak_gflops=peak, peak_share=round(flops / project_step / 1e9 / peak[precision], 2),
               step_gflop=round(flops / 1e9, 1), peak_rss_mb=peak_rss_megabytes())
    return {"rows": [row], "means": {"DeepDream seconds per step at 533x799": means}, "notes": []}


def dream_means(full, config, layer_names, options) -> dict[str, float]:
    """Seconds per step at full size of the project's step with each means switched on or off."""
    import tensorflow as tf
    from measure import alternate

    import keras

    from neuralart import models
    from neuralart import deepdream as dd

    float32 = models.get_backbone("inception_v3", None)
    features = keras.Model(float32.model.input, [float32.model.get_layer(name).output for name in layer_names])
    def bfloat16_backbone(**switches):
        backbone = models.Backbone(float32.spec, float32.model, None, "bfloat16")
        backbone.cached(("layer_model", layer_names), lambda: models.inference_model(features, "bfloat16", **switches))
        return backbone

    unfolded_float32 = models.Backbone(float32.spec, float32.model, None, "float32")
    unfolded_float32.cached(("layer_model", layer_names), lambda: features)
    weights = tf.constant([float32.default_layers("dream")[name] for name in layer_names], tf.float32)

    def per_step_runner(backbone, looped: bool):
        """A function running 5 steps at full size, traced and warmed already: one traced call per step (the
        project's way), or all 5 inside one traced call in a tf.range loop (the alternative it dropped)."""
        ascend = dd.ascent_function(backbone, layer_names, config.tile_size)
        arguments = (weights, tf.constant(config.step_size), tf.constant(math.inf))
        shifts = tf.zeros([5, 2], tf.int32)
        steps = looped_steps(ascend) if looped else lambda image, *rest: python_steps(ascend, image, *rest)
        steps(full, shifts, *arguments).numpy()
        return lambda: steps(full, shifts, *arguments).numpy()

    auto = models.get_backbone("inception_v3", None, precision="auto")
    variants = {  # label: (backbone, steps in a traced loop)
        "default: auto precision, folded BN, merged 1x1 branches, one step per call": (auto, False),
        "auto precision, folded BN, merged 1x1 branches, 5 steps per call in a traced loop": (auto, True),
        "float32, folded BN, merged 1x1 branches, one step per call": (float32, False),
        "bfloat16, folded BN, 1x1 branches not merged, one step per call":
            (bfloat16_backbone(merge_pointwise=False), False),
        "bfloat16, BN not folded, 1x1 branches not merged, one step per call":
            (bfloat16_backbone(fold_batch_norms=False, merge_pointwise=False), False),
        "float32, BN not folded, 1x1 branches not merged, one step per call": (unfolded_float32, False),
    }
    runners = {label: per_step_runner(*variant) for label, variant in variants.items()}
    # Interleaved, so a burst of outside load slows every variant alike; at least five rounds, because some
    # variants differ by only 2-3%, less than one round's noise on a shared 2-core machine.
    timed = alternate(runners, max(5, options.repeats + 1))
    return {label: round(timed[label][0] / 5, 4) for label in variants}


def python_steps(ascend, image, shifts, *arguments):
    """The project's DeepDream steps, one traced call each, as neuralart.deepdream runs them."""
    import tensorflow as tf

    for shift in shifts:
        image = ascend(image, shift, *arguments)[0]
    return tf.convert_to_tensor(image)


def looped_steps(ascend):
    """The same steps inside one traced call, in a tf.range loop."""
    import tensorflow as tf

    @tf.function
    def run(image, shifts, *arguments):
        for index in tf.range(tf.shape(shifts)[0]):
            image = tf.ensure_shape(ascend(image, shifts[index], *arguments)[0], image.shape)
        return image
    return run


def dream_switch(options) -> dict:
    """Seconds per step at 533x799 of the project's default step under this process's environment switches
    (run with NEURALART_XLA=1 or with thread settings applied)."""
    import tensorflow as tf
    from measure import best_time

    from neuralart import images, models, runtime
    from neuralart import deepdream as dd

    config = dd.DreamConfig(weights=None)
    backbone = models.get_backbone("inception_v3", None, precision="auto")
    layer_names = tuple(backbone.default_layers("dream"))
    ascend = dd.ascent_function(backbone, layer_names, config.tile_size)
    full = tf.constant(images.uint8_to_minus1_1(_photo(DREAM_SIZE)))
    arguments = (tf.zeros([5, 2], tf.int32), tf.constant(list(backbone.default_layers("dream").values())),
                 tf.constant(config.step_size), tf.constant(math.inf))
    start = time.perf_counter()
    python_steps(ascend, full, arguments[0][:1], *arguments[1:]).numpy()
    first_call = time.perf_counter() - start
    seconds, _ = best_time(lambda: python_steps(ascend, full, *arguments).numpy(), options.repeats)
    threads = (tf.config.threading.get_intra_op_parallelism_threads(),
               tf.config.threading.get_inter_op_parallelism_threads())
    label = f"precision={backbone.precision} xla={runtime.xla_enabled()} threads(intra,inter)={threads}"
    return {"rows": [], "means": {"DeepDream seconds per step at 533x799": {label: round(seconds / 5, 4)},
                                  "first call (trace/compile) seconds": {label: round(first_call, 2)}},
            "notes": []}


def loop_traces(options) -> dict:
    """Why one step per traced call: seconds per SqueezeNet style step (384x288, random weights) over several fresh
    traces, with the network called once per traced call and inside a tf.range loop of one call. Inside a loop,
    TF's oneDNN graph pass misses its fast max-pool gradient in some traces, which shows as slow outliers."""
    import tensorflow as tf
    from measure import best_time

    from neuralart import images
    from neuralart.style_transfer import StyleConfig
    from neuralart.style_transfer.steps import _make_style_steps
    from neuralart.models import get_backbone

    backbone = get_backbone("squeezenet", None, precision="auto")
    content_layers = tuple(backbone.default_layers("style_content"))
    style_layers = tuple(backbone.default_layers("style"))
    pixels = tf.constant(images.uint8_to_pixels(_photo((288, 384))))
    traces = 3 if options.quick else 8
    seconds = {"one step per call": [], "steps in a traced loop": []}
    for _ in range(traces):
        steps = _make_style_steps(backbone, content_layers, style_layers)  # A fresh trace each time.
        content_targets, grams = steps.features(pixels)
        arguments = (list(content_targets), list(grams), tf.ones([len(content_layers)]),
                     tf.ones([len(style_layers)]), tf.constant(StyleConfig(backbone="squeezenet").loss_weights()))

        @tf.function
        def looped(image, count):
            for _ in tf.range(count):
                # The step's own Python function, traced into the loop as the project's loops once were.
                image = image - 1e-3 * steps.value_and_gradient.python_function(image, *arguments)[1]
            return image

        for label, run in (("one step per call", lambda: steps.value_and_gradient(pixels, *arguments)[1].numpy()),
                           ("steps in a traced loop", lambda: looped(pixels, tf.constant(1)).numpy())):
            run()
            seconds[label].append(best_time(run, 3)[0])
    return {"rows": [], "means": {f"Style step seconds, SqueezeNet 384x288, over {traces} fresh traces": {
        f"{label}: fastest, median, slowest": [round(min(values), 4), round(float(np.median(values)), 4),
                                               round(max(values), 4)] for label, values in seconds.items()}},
        "notes": []}


def dream_precision(options) -> dict:
    """Real SqueezeNet: the final DeepDream objective in bfloat16 against float32, same seed and settings."""
    if not SQUEEZENET_WEIGHTS.is_file():
        return _skip("dream precision", f"real SqueezeNet weights not found at {SQUEEZENET_WEIGHTS}")
    from neuralart import images
    from neuralart.deepdream import DreamConfig, dream
    from neuralart.models import get_backbone

    photo = images.load_image(PHOTO if PHOTO.is_file() else ASSET_PHOTO, max_side=512)
    config = DreamConfig(backbone="squeezenet", weights=str(SQUEEZENET_WEIGHTS), max_loss=None)
    results = {}
    for precision in ("float32", "bfloat16"):
        backbone = get_backbone("squeezenet", str(SQUEEZENET_WEIGHTS), precision=precision)
        list(dream(photo, dataclasses.replace(config, iterations=1), backbone))
        start = time.perf_counter()
        last = list(dream(photo, config, backbone))[-1]
        results[precision] = (time.perf_counter() - start, last)
    (time32, frame32), (time16, frame16) = results["float32"], results["bfloat16"]
    difference = np.abs(frame32.image.astype(float) - frame16.image.astype(float)).mean()
    row = _row("DeepDream, real SqueezeNet 512 px: float32 (reference) vs bfloat16 (project)",
               reference_s=round(time32, 2), project_s=round(time16, 2),
               reference_loss=round(frame32.losses["loss"], 4), project_loss=round(frame16.losses["loss"], 4),
               loss_difference=round(abs(frame16.losses["loss"] / frame32.losses["loss"] - 1), 4),
               mean_pixel_difference=round(difference, 2))
    return {"rows": [row], "notes": []}


# --- style transfer ------------------------------------------------------------------------------------------

def _style_module():
    try:
        from neuralart import style_transfer
    except ImportError:
        return None
    return style_transfer


def _chapter_style_for(backbone, config, style_transfer):
    from reference import ChapterStyle

    content_layers = dict(config.content_layers or backbone.default_layers("style_content"))
    style_layers = dict(config.style_layers or backbone.default_layers("style"))
    space = backbone.input_space
    return ChapterStyle(backbone.model, content_layers, style_layers, *config.loss_weights(),
                        preprocess=lambda pixels: np.asarray(space.to_model(np.asarray(pixels, np.float32))),
                        deprocess=lambda model_input: np.asarray(space.to_pixels(model_input)))


def style_quality(options) -> dict:
    """Real SqueezeNet at 384 px: the chapter's Adam for 500 iterations against the project's default settings;
    both judged by the same loss; the project's time is the time its first full-size frame reached the chapter's
    final loss."""
    style_transfer = _style_module()
    if style_transfer is None:
        return _skip("style quality", "neuralart.style_transfer is not there yet")
    if not (SQUEEZENET_WEIGHTS.is_file() and PHOTO.is_file() and STYLE_IMAGE.is_file()):
        return _skip("style quality", f"real SqueezeNet weights or shared images not found under {SHARED}")
    from measure import peak_rss_megabytes

    from neuralart import images
    from neuralart.models import get_backbone

    iterations = 100 if options.quick else 500
    config = style_transfer.StyleConfig(weights=str(SQUEEZENET_WEIGHTS), max_side=384)
    backbone = get_backbone("squeezenet", str(SQUEEZENET_WEIGHTS))
    content = images.load_image(PHOTO, max_side=384)
    style = images.resize_to_longest_side(images.load_image(STYLE_IMAGE), max(content.shape[:2]))
    reference = _chapter_style_for(backbone, config, style_transfer)
    targets = reference.targets(images.uint8_to_pixels(content), images.uint8_to_pixels(style))
    reference.warm_up(images.uint8_to_pixels(content), targets)
    reference_s, goal, reached = _style_rounds(style_transfer, content, config, reference, targets, iterations,
                                               rounds=max(2, options.repeats))

    adam_config = dataclasses.replace(config, optimizer="adam", multiscale=False, iterations=iterations,
                                      frame_every=iterations)
    list(style_transfer.stylize(content, [style], dataclasses.replace(adam_config, iterations=2)))  # Warm.
    start = time.perf_counter()
    adam_frame = list(style_transfer.stylize(content, [style], adam_config))[-1]
    adam_s = time.perf_counter() - start
    adam_row = _row(f"Style, real SqueezeNet 384 px: chapter Adam x{iterations}, reference loop vs the project's "
                    "Adam (same algorithm, steps traced together)", reference_s=round(reference_s, 2),
                    project_s=round(adam_s, 2), reference_loss=round(goal, 1),
                    project_loss=round(reference.loss_of(adam_frame.image, *targets), 1))
    rows, notes = [], []
    plain = _time_to_loss(style_transfer, content, dataclasses.replace(config, smoothing=0.0), reference, targets,
                          goal)
    for label, (reached_s, total_s, best_loss) in (("project default", reached),
                                                    ("project L-BFGS without smoothing", plain)):
        rows.append(_row(f"Style, real SqueezeNet 384 px: chapter Adam x{iterations} vs {label}, time to the "
                         "chapter's loss", reference_s=round(reference_s, 2),
                         project_s=round(reached_s, 2) if reached_s is not None else None,
                         project_total_s=round(total_s, 2), reference_loss=round(goal, 1),
                         project_loss=round(best_loss, 1) if best_loss is not None else None,
                         peak_rss_mb=peak_rss_megabytes()))
        if reached_s is None:
            notes.append(f"style quality: the {label} never reached the chapter's loss")
    return {"rows": [*rows, adam_row], "notes": notes}


def _style_rounds(style_transfer, content, config, reference, targets, iterations: int, rounds: int):
    """The chapter's Adam and the project's default, alternately, `rounds` times each (a burst of outside load
    then slows one round of each, not one side's only run): (the reference's best seconds, the loss its first
    run ends at, which is the goal, and the project's best `_time_to_loss` against that goal)."""
    from neuralart import images

    content_pixels = images.uint8_to_pixels(content)
    reference_s, goal, reached = math.inf, None, None
    for _ in range(rounds):
        start = time.perf_counter()
        reference_image, _ = reference.run(content_pixels, targets, iterations)
        reference_s = min(reference_s, time.perf_counter() - start)
        if goal is None:
            goal = reference.loss_of(images.pixels_to_uint8(reference_image), *targets)
        attempt = _time_to_loss(style_transfer, content, config, reference, targets, goal)
        if reached is None or (attempt[0] or math.inf) < (reached[0] or math.inf):
            reached = attempt
    return reference_s, goal, reached


def _time_to_loss(style_transfer, content, config, reference, targets, goal: float):
    """(seconds until the first full-size frame judged at or below `goal`, or None; seconds for the whole run;
    the lowest judged loss) of one warm run. Judging is not the project's work: its time is left out."""
    list(style_transfer.stylize(content, [STYLE_IMAGE], dataclasses.replace(config, iterations=2)))  # Warm.
    start, reached_s, judged, paused = time.perf_counter(), None, [], 0.0
    for frame in style_transfer.stylize(content, [STYLE_IMAGE], config):
        if frame.image.shape[:2] != content.shape[:2]:
            continue
        judge_start = time.perf_counter()
        elapsed = judge_start - start - paused
        loss = reference.loss_of(frame.image, *targets)
        paused += time.perf_counter() - judge_start
        judged.append(loss)
        if reached_s is None and loss <= goal:
            reached_s = elapsed
    return reached_s, time.perf_counter() - start - paused, min(judged) if judged else None


def style_speed(options) -> dict:
    """VGG19 at 512 px (random weights): seconds per iteration of the chapter's Adam step and of the project's
    default optimizer, both in steady state, without coarse-to-fine so every iteration is at 512 px."""
    style_transfer = _style_module()
    if style_transfer is None:
        return _skip("style speed", "neuralart.style_transfer is not there yet")
    import tensorflow as tf
    from measure import peak_rss_megabytes, peaks, step_flops

    from neuralart import images, runtime
    from neuralart.models import get_backbone

    side = 512
    iterations = 5 if options.quick else 12
    content = _photo((side * 3 // 4, side))
    style = _photo((side, side * 3 // 4))
    backbone = get_backbone("vgg19", None)
    config = style_transfer.StyleConfig(backbone="vgg19", weights=None, max_side=side, multiscale=False,
                                        iterations=iterations, frame_every=iterations)
    reference = _chapter_style_for(backbone, config, style_transfer)
    targets = reference.targets(images.uint8_to_pixels(content), images.uint8_to_pixels(style))
    reference.warm_up(images.uint8_to_pixels(content), targets)
    start = time.perf_counter()
    reference.run(images.uint8_to_pixels(content), targets, iterations)
    reference_per_iteration = (time.perf_counter() - start) / iterations

    list(style_transfer.stylize(content, [style], dataclasses.replace(config, iterations=1)))  # Warm.
    # Per iteration in steady state, as the reference's loop is timed (its targets are computed before its
    # clock starts): from the first frame, one per iteration, to the last. The whole run per iteration, which
    # also counts the targets and the first evaluation, is reported beside it.
    start, stamps = time.perf_counter(), []
    for frame in style_transfer.stylize(content, [style], dataclasses.replace(config, frame_every=1)):
        stamps.append((time.perf_counter() - start, frame.iteration))
    (first_s, first_step), (last_s, last_step) = stamps[0], stamps[-1]
    project_per_iteration = (last_s - first_s) / max(1, last_step - first_step)
    image_spec = tf.TensorSpec([1, *content.shape[:2], 3], tf.float32)
    flops = step_flops(tf.function(reference._loss_and_gradient), image_spec, *targets)
    peak = peaks(quick=True)
    precision = runtime.resolve_precision()
    row = _row(f"Style, VGG19 {side} px: seconds per iteration (chapter Adam vs project default optimizer)",
               reference_s=round(reference_per_iteration, 3), project_s=round(project_per_iteration, 3),
               precision=precision, step_gflop=round(flops / 1e9, 1),
               step_gflops_reference=round(flops / reference_per_iteration / 1e9, 1),
               step_gflops_project=round(flops / project_per_iteration / 1e9, 1), peak_gflops=peak,
               peak_share=round(flops / project_per_iteration / 1e9 / peak[precision], 2),
               project_whole_run_per_iteration_s=round(last_s / max(1, last_step), 3),
               peak_rss_mb=peak_rss_megabytes())
    return {"rows": [row], "notes": []}


def style_memory(options) -> dict:
    """Peak resident memory of the project's default style transfer at one size (its own process)."""
    style_transfer = _style_module()
    if style_transfer is None:
        return _skip("style memory", "neuralart.style_transfer is not there yet")
    from measure import peak_rss_megabytes

    side = options.size
    content = _photo((side * 3 // 4, side))
    style = _photo((side, side * 3 // 4))
    config = style_transfer.StyleConfig(backbone=options.backbone, weights=None, max_side=side,
                                        iterations=options.iterations, frame_every=options.iterations)
    start = time.perf_counter()
    list(style_transfer.stylize(content, [style], config))
    row = _row(f"Style memory, {options.backbone} {side} px ({options.iterations} iterations per scale)",
               project_s=round(time.perf_counter() - start, 2), peak_rss_mb=peak_rss_megabytes())
    return {"rows": [row], "notes": []}


# --- feature visualization -----------------------------------------------------------------------------------

def filters(options) -> dict:
    """VGG16, 16 filters of the default layer: the chapter's loop (one filter at a time, 20 steps at 150 px)
    against the project's classic mode (same recipe, batched) and its default mode."""
    try:
        from neuralart import features
    except ImportError:
        return _skip("filters", "neuralart.features is not there yet")
    from measure import alternate, peak_rss_megabytes
    from reference import ChapterFilters

    from neuralart.models import get_backbone

    backbone = get_backbone("vgg16", None)
    config = features.FilterConfig(weights=None)
    layer = config.layer or backbone.default_layers("features").popitem()[0]
    count = len(config.filter_indices)
    reference = ChapterFilters(backbone.model, layer, size=config.size)
    reference.warm_up()
    classic = dataclasses.replace(config, mode="classic")
    for warm in (classic, config):
        list(features.visualize(dataclasses.replace(warm, iterations=1), backbone=None))
    rng = np.random.default_rng(0)

    def chapter():
        return [reference.pattern(index, rng) for index in config.filter_indices]

    # One repetition: the default (quality) mode alone takes over a minute.
    timed = alternate({"reference": chapter, "classic": lambda: list(features.visualize(classic)),
                       "default": lambda: list(features.visualize(config))}, 1)
    rows = [
        _row(f"Filters, VGG16 {layer}, {count} filters x 20 steps at {config.size} px: chapter loop vs project "
             "classic mode", reference_s=round(timed["reference"][0], 2), project_s=round(timed["classic"][0], 2),
             peak_rss_mb=peak_rss_megabytes()),
        _row(f"Filters, VGG16 {layer}, {count} filters: project default (quality mode, "
             f"{config.resolved_iterations} steps)", project_s=round(timed["default"][0], 2)),
    ]
    return {"rows": rows, "notes": []}


# --- the app's cadence ---------------------------------------------------------------------------------------

def app_cadence(options) -> dict:
    """Warm runs of each tab's default settings, driving the generators as the app does: seconds to the first
    frame and the longest gap between frames."""
    from neuralart.deepdream import DreamConfig, dream

    rows = []
    photo_path = str(ASSET_PHOTO)

    notes = []

    def measure(label: str, make_frames) -> None:
        try:
            list(make_frames())  # Warm: built and traced.
            start = time.perf_counter()
            stamps = [0.0] + [time.perf_counter() - start for _ in make_frames()]
        except Exception as error:  # A technique still being written must not sink the other measurements.
            notes.append(f"app cadence, {label}: failed ({type(error).__name__}: {str(error)[:200]})")
            return
        gaps = [later - earlier for earlier, later in zip(stamps, stamps[1:])]
        rows.append(_row(f"App cadence, {label}", first_frame_s=round(gaps[0], 2),
                         longest_gap_s=round(max(gaps), 2), frames=len(gaps), project_s=round(stamps[-1], 2)))

    measure("DeepDream defaults (InceptionV3, random weights)", lambda: dream(photo_path, DreamConfig(weights=None)))
    style_transfer = _style_module()
    if style_transfer is not None and SQUEEZENET_WEIGHTS.is_file() and STYLE_IMAGE.is_file():
        config = style_transfer.StyleConfig(weights=str(SQUEEZENET_WEIGHTS))
        measure("style defaults (real SqueezeNet)",
                lambda: style_transfer.stylize(photo_path, [str(STYLE_IMAGE)], config))
    try:
        from neuralart import features
    except ImportError:
        features = None
    if features is not None:
        measure("filters defaults (VGG16, random weights)",
                lambda: features.visualize(features.FilterConfig(weights=None)))
    return {"rows": rows, "notes": notes}


# --- the --fast CLI path -------------------------------------------------------------------------------------

def fast_cli(options) -> dict:
    """`python -m neuralart dream --fast` and `style --fast` from a cold start (new process: imports, model build,
    run), each writing its PNG next to the results."""
    if not SQUEEZENET_WEIGHTS.is_file():
        return _skip("--fast", f"real SqueezeNet weights not found at {SQUEEZENET_WEIGHTS}")
    commands = {
        "dream": ["dream", str(ASSET_PHOTO)],
        "style": ["style", str(ROOT / "assets" / "coffee.jpg"), str(ROOT / "assets" / "styles" / "mosaic.jpg")],
    }
    rows = []
    for technique, arguments in commands.items():
        output = Path(options.out) / f"{technique}-fast.png"
        command = [sys.executable, "-m", "neuralart", *arguments, "-o", str(output), "--fast",
                   "--weights", str(SQUEEZENET_WEIGHTS), "--quiet"]
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        rows.append(_row(f"`python -m neuralart {technique} --fast` (real SqueezeNet), cold start to PNG",
                         project_s=round(time.perf_counter() - start, 2), output=str(output.name)))
    return {"rows": rows, "notes": []}


CASES = {
    "peak": peak, "dream": dream, "dream-switch": dream_switch, "dream-precision": dream_precision,
    "loop-traces": loop_traces,
    "style-quality": style_quality, "style-speed": style_speed, "style-memory": style_memory,
    "filters": filters, "app": app_cadence, "fast": fast_cli,
}
