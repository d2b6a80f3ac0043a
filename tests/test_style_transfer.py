"""Style transfer: property checks on a tiny random backbone, the chapter's formulas checked independently, the
CLI, and real-weights checks on SqueezeNet with the shared Golden Gate photo and The Starry Night."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from neuralart import cli, images
from neuralart.style_transfer import PRESETS, StyleConfig, scale_shapes, style_steps, stylize
from tests.conftest import shared_image

TINY_LAYERS = dict(content_layers={"conv3": 1.0}, style_layers={"conv1": 1.0, "conv2": 1.0, "conv3": 1.0})
# On the tiny random network total variation would dwarf the style term at the presets' weights.
FAST = dict(backbone="custom", weights=None, iterations=10, frame_every=5, multiscale=False, max_side=128,
            style_weight=0.1, tv_weight=1e-5, **TINY_LAYERS)


@pytest.fixture
def painting(rng):
    """A stripy, bluish 'painting' (uint8 48x56x3), unlike the smooth photo."""
    rows, columns = np.mgrid[0:48, 0:56]
    stripes = np.sin(columns / 2.0 + rows / 5.0)[..., None] * np.array([90, -60, 40]) + np.array([90, 120, 190])
    return np.clip(stripes + rng.normal(0, 10, (48, 56, 3)), 0, 255).astype(np.uint8)


def run(content, styles, backbone, **overrides):
    return list(stylize(content, styles, StyleConfig(**{**FAST, **overrides}), backbone))


def initial_total(content, styles, backbone, **overrides):
    """The total loss of the starting image (a run of zero iterations measures it)."""
    return run(content, styles, backbone, **{**overrides, "iterations": 0})[-1].losses["total"]


# --- the optimisation ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("optimizer, smoothing, iterations, fraction", [
    ("lbfgs", 3.0, 20, 0.75), ("lbfgs", 0.0, 20, 0.75), ("adam", 0.0, 40, 0.95)])
def test_total_loss_decreases(photo, painting, tiny_backbone, optimizer, smoothing, iterations, fraction):
    frames = run(photo, painting, tiny_backbone, optimizer=optimizer, smoothing=smoothing, iterations=iterations)
    start = initial_total(photo, painting, tiny_backbone, optimizer=optimizer, smoothing=smoothing)
    totals = [frame.losses["total"] for frame in frames]
    assert totals[-1] < fraction * start
    assert totals[-1] == min(totals), "the last frame must be the best image"


def test_smoothing_adds_a_gaussian_blur_and_is_its_own_transpose(rng):
    """S = 1 + smoothing x a Gaussian blur of SMOOTHING_SIGMA pixels, zero beyond the edges (as SciPy blurs with
    mode "constant"); symmetric, so the gradient of the offset is S applied to the image's gradient."""
    import tensorflow as tf
    from scipy import ndimage

    from neuralart.style_transfer import SMOOTHING_SIGMA, smoothed

    first, second = (rng.normal(size=(30, 41, 3)).astype(np.float32) for _ in range(2))
    result = smoothed(tf.constant(first), 3.0).numpy()
    blurred = ndimage.gaussian_filter(first, (SMOOTHING_SIGMA, SMOOTHING_SIGMA, 0), mode="constant", truncate=3.0)
    np.testing.assert_allclose(result, first + 3.0 * blurred, atol=1e-5)
    assert np.sum(result * second) == pytest.approx(np.sum(first * smoothed(tf.constant(second), 3.0).numpy()),
                                                    rel=1e-5)


def test_smoothed_steps_measure_the_smoothed_image_and_hold_it_in_range(photo, painting, tiny_backbone, rng):
    """The smoothed evaluation measures the losses of start + S(offset), adds the range penalty for the pixels
    beyond 0..255, and returns the offset's gradient S(image gradient + penalty gradient); the image it stands
    for is that image clipped."""
    import tensorflow as tf

    from neuralart.style_transfer import RANGE_PENALTY, smoothed

    steps = style_steps(tiny_backbone, ("conv3",), ("conv1", "conv2", "conv3"))
    content_targets, _ = steps.features(tf.constant(photo, tf.float32))
    _, style_targets = steps.features(tf.constant(painting, tf.float32))
    weights = [tf.constant([1.0]), tf.constant([1.0, 1.0, 1.0]) / 3.0, tf.constant([1.0, 0.1, 1e-5])]
    start = tf.constant(photo, tf.float32)
    offset = rng.normal(0.0, 5.0, photo.shape).astype(np.float32)
    offset[10, 10] = [400.0, -300.0, 0.0]  # Out of range on both sides after smoothing.
    offset = tf.constant(offset)
    value, terms, gradient = steps.smoothed_value_and_gradient(
        offset, start, tf.constant(3.0), list(content_targets), list(style_targets), *weights)
    image = start + smoothed(offset, 3.0)
    expected_terms, image_gradient = steps.value_and_gradient(image, list(content_targets), list(style_targets),
                                                              *weights)
    outside = (image - tf.clip_by_value(image, 0.0, 255.0)).numpy()
    assert np.abs(outside).max() > 50
    np.testing.assert_allclose(terms.numpy(), expected_terms.numpy(), rtol=1e-5)
    assert float(value) == pytest.approx(float(terms[0]) + RANGE_PENALTY * np.sum(outside ** 2), rel=1e-5)
    expected_gradient = smoothed(image_gradient + 2.0 * RANGE_PENALTY * outside, 3.0).numpy()
    np.testing.assert_allclose(gradient.numpy(), expected_gradient, rtol=1e-4,
                               atol=1e-5 * np.abs(expected_gradient).max())
    np.testing.assert_allclose(steps.smoothed_image(offset, start, tf.constant(3.0)).numpy(),
                               np.clip(image.numpy(), 0.0, 255.0), atol=1e-4)


@pytest.mark.parametrize("smoothing", [0.0, 3.0])
def test_lbfgs_optimises_pixels_within_bounds_or_a_smoothed_offset_from_zero(photo, painting, tiny_backbone,
                                                                              monkeypatch, smoothing):
    import neuralart.style_transfer.scales as style_module

    steppers = []

    class Recorded(style_module.LbfgsStepper):
        def __init__(self, *arguments, **keywords):
            super().__init__(*arguments, **keywords)
            steppers.append(self)

    monkeypatch.setattr(style_module, "LbfgsStepper", Recorded)
    frames = run(photo, painting, tiny_backbone, init="content", smoothing=smoothing, iterations=10)
    stepper = steppers[0]
    if smoothing:
        assert stepper.low is None and stepper.high is None and stepper.evaluations > 1
    else:
        assert float(stepper.low) == 0.0 and float(stepper.high) == 255.0
    assert frames[-1].losses["total"] < initial_total(photo, painting, tiny_backbone, init="content")


def test_large_content_weight_keeps_the_content(photo, painting, tiny_backbone):
    def change(**overrides):
        result = run(photo, painting, tiny_backbone, iterations=20, init="content", **overrides)[-1].image
        return np.abs(result.astype(float) - photo.astype(float)).mean()

    anchored = change(content_weight=1e9)
    free = change(content_weight=1e-3)
    assert anchored < 2.0, f"mean change {anchored:.2f} of 255 with a huge content weight"
    assert free > 4 * anchored


def test_blend_one_zero_equals_a_single_style(photo, painting, tiny_backbone, rng):
    other = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    single = run(photo, [painting], tiny_backbone)[-1]
    blended = run(photo, [painting, other], tiny_backbone, style_blend=(1.0, 0.0))[-1]
    np.testing.assert_array_equal(single.image, blended.image)
    assert single.losses == blended.losses
    mixed = run(photo, [painting, other], tiny_backbone, style_blend=(1.0, 1.0))[-1]
    assert np.abs(mixed.image.astype(int) - single.image.astype(int)).max() > 0


def test_luminance_transfer_keeps_the_content_chroma(photo, painting, tiny_backbone):
    def chroma_change(mode):
        result = run(photo, painting, tiny_backbone, iterations=20, preserve_colors=mode)[-1].image
        return np.abs(images.rgb_to_yiq(result)[..., 1:] - images.rgb_to_yiq(photo)[..., 1:]).mean()

    kept, changed = chroma_change("luminance"), chroma_change("none")
    assert kept < 1.0, f"I/Q moved by {kept:.2f} on average"
    assert changed > 5 * kept


def test_histogram_matching_gives_the_style_the_content_colours(photo, painting):
    matched = images.match_color_histogram(painting, photo)
    assert matched.dtype == np.uint8 and matched.shape == painting.shape
    photo_means = photo.reshape(-1, 3).mean(axis=0)
    assert np.abs(matched.reshape(-1, 3).mean(axis=0) - photo_means).max() < 4
    assert np.abs(painting.reshape(-1, 3).mean(axis=0) - photo_means).max() > 10


def test_histogram_mode_runs_and_differs(photo, painting, tiny_backbone):
    plain = run(photo, painting, tiny_backbone)[-1].image
    matched = run(photo, painting, tiny_backbone, preserve_colors="histogram")[-1].image
    assert np.abs(plain.astype(int) - matched.astype(int)).max() > 0


@pytest.mark.parametrize("init", ["noise", "style"])
def test_other_initialisations_start_elsewhere(photo, painting, tiny_backbone, init):
    start = run(photo, painting, tiny_backbone, iterations=0, init=init)[-1].image
    assert np.abs(start.astype(float) - photo.astype(float)).mean() > 10


def test_the_default_start_is_the_photo_in_the_styles_colours(photo, painting, tiny_backbone):
    """The default start keeps the photo's layout and takes the painting's colour mean and covariance."""
    assert StyleConfig().init == "recolored"
    start = run(photo, painting, tiny_backbone, iterations=0)[-1].image.astype(float)
    pixels, reference = start.reshape(-1, 3), painting.reshape(-1, 3).astype(float)
    np.testing.assert_allclose(pixels.mean(axis=0), reference.mean(axis=0), atol=3.0)
    # Covariances come close, not equal: mapped values beyond 0..255 are clipped.
    before = np.linalg.norm(np.cov(photo.reshape(-1, 3).T) - np.cov(reference.T))
    assert np.linalg.norm(np.cov(pixels.T) - np.cov(reference.T)) < 0.25 * before
    # The layout stays: each pixel's new colour is an affine function of its old one (up to clipping).
    design = np.column_stack([photo.reshape(-1, 3).astype(float), np.ones(len(pixels))])
    residual = pixels - design @ np.linalg.lstsq(design, pixels, rcond=None)[0]
    assert residual.var() < 0.1 * pixels.var(axis=0).mean()
    plain = run(photo, painting, tiny_backbone, iterations=0, init="content")[-1].image
    np.testing.assert_array_equal(plain, photo)


def test_fixed_seed_reproduces_and_other_seed_differs(photo, painting, tiny_backbone):
    first = run(photo, painting, tiny_backbone, init="noise", seed=3)[-1].image
    again = run(photo, painting, tiny_backbone, init="noise", seed=3)[-1].image
    other = run(photo, painting, tiny_backbone, init="noise", seed=4)[-1].image
    np.testing.assert_array_equal(first, again)
    assert np.abs(first.astype(int) - other.astype(int)).max() > 0


# --- the chapter's algorithm, checked independently -------------------------------------------------------------

def test_chapter_preset_is_section_9_3():
    config = StyleConfig.preset("chapter")
    assert (config.backbone, config.optimizer, config.init) == ("vgg19", "adam", "content")
    assert (config.step_size, config.beta_1, config.epsilon) == (5.0, 0.99, 0.1)
    assert dict(config.content_layers) == {"block5_conv2": 1.0}
    assert dict(config.style_layers) == {f"block{block}_conv1": 1.0 for block in range(1, 6)}
    assert config.loss_weights() == (1e3, 1e-2, 1e-4)
    assert not config.multiscale and config.preserve_colors == "none" and config.style_scale == 1.0


def numpy_chapter_terms(image, content, style, backbone, content_layer, style_layers):
    """The chapter's formulas in numpy on the network's activations: content = mean squared feature difference;
    style = mean over layers of the mean squared Gram difference (Gram / positions); total variation = sum of
    (down² + right²) ** 1.25 on the preprocessed image; weights 1e3, 1e-2, 1e-4."""
    names = (content_layer, *style_layers)
    model = backbone.layer_model(names)

    def activations(pixels):
        return [output.numpy()[0].astype(np.float64)
                for output in model(backbone.input_space.to_model(pixels.astype(np.float32))[None])]

    def gram(features):
        flat = features.reshape(-1, features.shape[-1])
        return flat.T @ flat / flat.shape[0]

    result, target, styled = activations(image), activations(content), activations(style)
    content_term = np.mean((result[0] - target[0]) ** 2)
    style_term = np.mean([np.mean((gram(mine) - gram(theirs)) ** 2) for mine, theirs in zip(result[1:], styled[1:])])
    preprocessed = backbone.input_space.to_model(image.astype(np.float64))
    down = (preprocessed[:-1, :-1] - preprocessed[1:, :-1]) ** 2
    right = (preprocessed[:-1, :-1] - preprocessed[:-1, 1:]) ** 2
    tv_term = np.sum((down + right) ** 1.25)
    return {"content": 1e3 * content_term, "style": 1e-2 * style_term, "tv": 1e-4 * tv_term}


def test_chapter_loss_equals_an_independent_computation(photo, painting, tiny_backbone):
    """The chapter preset (on the tiny network's layers) measures the chapter's formulas: starting from the style
    image and doing no step, the reported losses are those of that image."""
    config = StyleConfig.preset("chapter", backbone="custom", weights=None, iterations=0, init="style",
                                **TINY_LAYERS)
    frame = list(stylize(photo, painting, config, tiny_backbone))[-1]
    style_seen = images.resize_to_longest_side(painting, max(photo.shape[:2]))
    expected = numpy_chapter_terms(frame.image, photo, style_seen, tiny_backbone, "conv3", ("conv1", "conv2", "conv3"))
    for name, value in expected.items():
        assert frame.losses[name] == pytest.approx(value, rel=2e-4), name
    assert frame.losses["total"] == pytest.approx(sum(expected.values()), rel=2e-4)


def test_hand_written_loss_gradients_equal_automatic_ones(rng):
    """The Gram matrix's one-product gradient and the 1.25 power's gradient equal what automatic differentiation
    of the textbook forms gives; the power's stays finite where neighbouring pixels are equal."""
    import tensorflow as tf

    from neuralart import losses

    features = tf.constant(rng.normal(size=(1, 9, 11, 6)), tf.float32)
    target = tf.constant(rng.normal(size=(6, 6)), tf.float32)
    image = tf.constant(np.concatenate([np.full((1, 4, 12, 3), 50.0), rng.uniform(0, 255, (1, 6, 12, 3))], 1),
                        tf.float32)

    def textbook_style(tensor):
        flat = tf.reshape(tensor, [-1, 6])
        return tf.reduce_mean(tf.square(tf.matmul(flat, flat, transpose_a=True) / 99.0 - target))

    def textbook_variation(tensor):
        corner = tensor[:, :-1, :-1, :]
        return tf.reduce_sum(tf.pow(tf.square(corner - tensor[:, 1:, :-1, :])
                                    + tf.square(corner - tensor[:, :-1, 1:, :]), 1.25))

    for ours, textbook, tensor in ((lambda t: losses.style_loss(t, target), textbook_style, features),
                                   (losses.total_variation_loss, textbook_variation, image)):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(tensor)
            value, expected_value = ours(tensor), textbook(tensor)
        gradient, expected = tape.gradient(value, tensor).numpy(), tape.gradient(expected_value, tensor).numpy()
        assert float(value) == pytest.approx(float(expected_value), rel=1e-5)
        assert np.isfinite(gradient).all()
        np.testing.assert_allclose(gradient, expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())


def test_gram_matrix_of_bfloat16_features_is_float32_with_a_bfloat16_gradient(rng):
    """Features from a bfloat16 backbone: the Gram matrix comes back as float32, off the exact one by no more than
    rounding its entries to bfloat16 (the product sums in float32), and the gradient comes back in bfloat16,
    close to float32 automatic differentiation's. The float32 sums are oneDNN's bfloat16 kernels', which TensorFlow
    uses only where the CPU has bfloat16 instructions; elsewhere bfloat16 is emulated, and the precision choice
    never picks it (neuralart.runtime)."""
    import tensorflow as tf

    from neuralart import losses, runtime

    if not runtime.supports_bfloat16():
        pytest.skip("this CPU has no bfloat16 instructions: TensorFlow emulates bfloat16 products without float32 "
                    "sums, and the project computes in float32 here")
    features = tf.cast(tf.constant(np.maximum(rng.normal(size=(1, 40, 30, 16)), 0), tf.float32), tf.bfloat16)
    exact = tf.cast(features, tf.float32)  # the same values, in float32
    target = tf.constant(rng.normal(0.2, 0.1, size=(16, 16)), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([features, exact])
        gram, value = losses.gram_matrix(features), losses.style_loss(features, target)
        expected = tf.reduce_mean(tf.square(tf.matmul(tf.reshape(exact, [-1, 16]), tf.reshape(exact, [-1, 16]),
                                                      transpose_a=True) / 1200.0 - target))
    assert gram.dtype == tf.float32
    exact_gram = (tf.matmul(tf.reshape(exact, [-1, 16]), tf.reshape(exact, [-1, 16]), transpose_a=True) / 1200.0)
    bound = 2.0 ** -8 * np.abs(exact_gram.numpy()) + 1e-6
    np.testing.assert_array_less(np.abs(gram.numpy() - exact_gram.numpy()), bound)
    assert float(value) == pytest.approx(float(expected), rel=1e-2)
    gradient = tape.gradient(value, features)
    assert gradient.dtype == tf.bfloat16
    expected_gradient = tape.gradient(expected, exact).numpy()
    error = np.abs(gradient.numpy().astype(np.float32) - expected_gradient).max()
    assert error <= 0.02 * np.abs(expected_gradient).max()


def test_adam_step_matches_keras_adam_with_clipping(photo, painting, tiny_backbone):
    """Three traced Adam steps equal Keras's Adam (lr 5, beta_1 0.99, epsilon 0.1) clipped to 0..255 each step."""
    import keras
    import tensorflow as tf

    steps = style_steps(tiny_backbone, ("conv3",), ("conv1", "conv2", "conv3"))
    content_targets, _ = steps.features(tf.constant(images.uint8_to_pixels(photo)))
    _, style_targets = steps.features(tf.constant(images.uint8_to_pixels(images.resize_uint8(painting, (64, 64)))))
    weights = (tf.constant([1.0]), tf.constant([1 / 3] * 3), tf.constant([1e3, 1e-2, 1e-4]))
    start = tf.constant(images.uint8_to_pixels(photo))
    outputs = (start, tf.zeros_like(start), tf.zeros_like(start), tf.constant(0.0), start, tf.constant(math.inf),
               tf.zeros([4]), None)
    losses_seen = []
    for _ in range(3):
        pixels, first, second, count, best, best_loss, best_terms, _ = outputs
        outputs = steps.adam_step(pixels, first, second, count, tf.constant([5.0, 0.99, 0.999, 0.1]), best,
                                  best_loss, best_terms, list(content_targets), list(style_targets), *weights)
        losses_seen.append(float(outputs[-1][0]))
    # The best image kept is the one whose measured loss was lowest, with its terms.
    assert float(outputs[5]) == min(losses_seen) == float(outputs[6][0])
    # A step whose loss is not below the best so far leaves the best image and its terms alone.
    kept = steps.adam_step(*outputs[:4], tf.constant([5.0, 0.99, 0.999, 0.1]), start, tf.constant(-1.0),
                           tf.fill([4], 7.0), list(content_targets), list(style_targets), *weights)
    np.testing.assert_array_equal(kept[4].numpy(), start.numpy())
    assert float(kept[5]) == -1.0 and kept[6].numpy().tolist() == [7.0] * 4
    variable = tf.Variable(start)
    optimizer = keras.optimizers.Adam(learning_rate=5.0, beta_1=0.99, epsilon=0.1)
    for _ in range(3):
        _, gradient = steps.value_and_gradient(tf.convert_to_tensor(variable), list(content_targets),
                                               list(style_targets), *weights)
        optimizer.apply_gradients([(gradient, variable)])
        variable.assign(tf.clip_by_value(variable, 0.0, 255.0))
    np.testing.assert_allclose(outputs[0].numpy(), variable.numpy(), atol=1e-3)
    assert float(outputs[3]) == 3.0


# --- the Frame contract, stopping, tracing -------------------------------------------------------------------

@pytest.mark.parametrize("precision", ["bfloat16", "float32"])
def test_a_stalled_bfloat16_scale_is_finished_in_float32(photo, painting, tiny_backbone, monkeypatch, precision):
    """When L-BFGS finds no lower value (in bfloat16 usually the loss's rounding noise), a bfloat16 run goes on
    from its best image with float32 steps for the rest of the scale's iterations; a float32 run ends the scale."""
    import neuralart.style_transfer.scales as style_module

    steppers = []

    class StallsFirst(style_module.LbfgsStepper):
        def __init__(self, *arguments, **keywords):
            super().__init__(*arguments, **keywords)
            steppers.append(self)

        def iterate(self, value_and_gradient, iterations):
            done = super().iterate(value_and_gradient, iterations)
            self.iterations_done = getattr(self, "iterations_done", 0) + done
            if self is steppers[0] and self.iterations_done >= 4:
                self.finished = True
            return done

    monkeypatch.setattr(style_module, "LbfgsStepper", StallsFirst)
    backbone = tiny_backbone.with_precision(precision)
    frames = run(photo, painting, backbone, iterations=20, frame_every=2)
    float32_steps = style_steps(tiny_backbone, ("conv3",), ("conv1", "conv2", "conv3"))
    assert frames[-1].iteration == frames[-1].total_iterations == 20 and frames[-1].stage_done
    # In bfloat16 a step is halved fewer times before the iteration fails (the loss's rounding noise).
    assert steppers[0].max_halvings == (style_module.BFLOAT16_HALVINGS if precision == "bfloat16"
                                        else style_module.MAX_HALVINGS)
    assert style_module.BFLOAT16_HALVINGS < style_module.MAX_HALVINGS
    if precision == "float32":
        assert len(steppers) == 1 and not any("float32" in frame.note for frame in frames)
        assert [frame.iteration for frame in frames] == [1, 3, 20]
        return
    assert len(steppers) == 2 and steppers[1].evaluations > 1
    assert steppers[1].max_halvings == style_module.MAX_HALVINGS
    assert float32_steps.smoothed_value_and_gradient.experimental_get_tracing_count() == 1
    refined = ["float32" in frame.note for frame in frames]
    # The stepper gave up in the chunk that took it past 4 iterations: a frame there shows the switch, and every
    # later one is marked too.
    iterations = [frame.iteration for frame in frames]
    switch = refined.index(True)
    assert iterations == sorted(iterations) and 4 <= iterations[switch] <= 6
    assert refined == [index >= switch for index in range(len(frames))]
    totals = [frame.losses["total"] for frame in frames]
    assert totals[-1] <= totals[1]


def test_frame_contract_over_scales(tiny_backbone, rng, painting):
    content = rng.integers(0, 256, (96, 120, 3), dtype=np.uint8)
    frames = run(content, painting, tiny_backbone, multiscale=True, multiscale_min_side=30, iterations=6,
                 frame_every=4)
    shapes = scale_shapes((96, 120), True, 30)
    assert shapes == [(24, 30), (48, 60), (96, 120)]
    steps = [frame.iteration for frame in frames]
    assert steps == sorted(steps) and frames[-1].iteration == frames[-1].total_iterations == 18 and frames[-1].done
    assert [frame.image.shape[:2] for frame in frames if frame.stage_done] == shapes
    for frame in frames:
        assert frame.image.dtype == np.uint8 and frame.image.ndim == 3 and frame.image.shape[2] == 3
        assert list(frame.losses) == ["total", "content", "style", "tv"]
        assert all(math.isfinite(value) for value in frame.losses.values())
        parts = frame.losses["content"] + frame.losses["style"] + frame.losses["tv"]
        assert frame.losses["total"] == pytest.approx(parts, rel=1e-5)
    assert frames[-1].image.shape == content.shape



def test_a_small_photo_is_enlarged_to_the_print_size_only_when_asked(tiny_backbone, rng, painting):
    content = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    assert run(content, painting, tiny_backbone, iterations=1, max_side=90)[-1].image.shape[:2] == (40, 60)
    enlarged = run(content, painting, tiny_backbone, iterations=1, max_side=90, enlarge=True)[-1].image
    assert enlarged.shape[:2] == (60, 90)
    assert run(content, painting, tiny_backbone, iterations=1, max_side=48, enlarge=True)[-1].image.shape[:2] == (
        32, 48), "a larger photo is shrunk as always"

def test_close_mid_run_is_clean(photo, painting, tiny_backbone):
    generator = stylize(photo, painting, StyleConfig(**{**FAST, "iterations": 400}), tiny_backbone)
    first = next(generator)
    generator.close()
    assert first.iteration == 1 < first.total_iterations  # The first frame comes after one iteration.
    with pytest.raises(StopIteration):
        next(generator)


def test_no_retracing_across_image_sizes(tiny_backbone, rng, painting):
    for height, width in ((40, 48), (64, 80), (72, 56)):
        content = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        for optimizer, smoothing in (("lbfgs", 3.0), ("lbfgs", 0.0), ("adam", 0.0)):
            run(content, painting, tiny_backbone, optimizer=optimizer, smoothing=smoothing, iterations=2,
                frame_every=1)
    steps = style_steps(tiny_backbone, ("conv3",), ("conv1", "conv2", "conv3"))
    assert steps.features.experimental_get_tracing_count() == 1
    assert steps.value_and_gradient.experimental_get_tracing_count() == 1
    assert steps.smoothed_value_and_gradient.experimental_get_tracing_count() == 1
    assert steps.smoothed_image.experimental_get_tracing_count() == 1
    assert steps.adam_step.experimental_get_tracing_count() == 1


# --- configuration --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value", [
    ("iterations", -1), ("iterations", 10**6), ("iterations", True), ("optimizer", "sgd"), ("init", "random"),
    ("preserve_colors", "yes"), ("max_side", 4097), ("max_side", float("nan")), ("style_scale", 0.0),
    ("content_weight", float("inf")), ("style_weight", -1.0), ("tv_weight", "big"), ("style_blend", (0.0, 0.0)),
    ("style_blend", "0.5"), ("style_blend", (1.0, float("nan"))), ("style_layers", {"conv1": 0.0}),
    ("content_layers", {"": 1.0}), ("multiscale", "no"), ("seed", -1), ("backbone", "alexnet"),
    ("step_size", 0.0), ("frame_every", 0), ("smoothing", -1.0), ("smoothing", float("nan")),
    ("smoothing", 1000.0), ("tile_size", 64), ("tile_size", 5000), ("mask_feather", -0.1), ("mask_feather", 1.0),
])
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError):
        StyleConfig(**{field: value})


def test_config_is_frozen_and_presets_fill_loss_weights():
    with pytest.raises(dataclasses.FrozenInstanceError):
        StyleConfig().iterations = 3
    assert StyleConfig(backbone="vgg19").loss_weights() == (1e3, 1e-2, 1e-4)
    assert StyleConfig(backbone="squeezenet", style_weight=7.0).loss_weights()[1] == 7.0
    with pytest.raises(ValueError, match="preset"):
        StyleConfig.preset("picasso")


def test_blend_length_must_match_the_styles(photo, painting, tiny_backbone):
    with pytest.raises(ValueError, match="2 weights but 1 style"):
        run(photo, painting, tiny_backbone, style_blend=(1.0, 2.0))


def test_unknown_layer_is_a_clear_error(photo, painting, tiny_backbone):
    with pytest.raises(ValueError, match="no layer named block5_conv2"):
        run(photo, painting, tiny_backbone, content_layers={"block5_conv2": 1.0})


def test_a_network_without_style_presets_asks_for_layers(photo, painting, tiny_backbone):
    """(MobileNet has none.) Without layers named, the error says which networks have presets; named, it runs."""
    from neuralart.models import backbone_from_model

    bare = backbone_from_model(tiny_backbone.model, tiny_backbone.input_space, name="bare",
                               defaults={"dream": {"conv2": 1.0}})
    with pytest.raises(ValueError, match=r"bare has no preset layers for style transfer: choose one of vgg16, "
                                         r"vgg19, squeezenet, or name the content and style layers"):
        run(photo, painting, bare, content_layers=None, style_layers=None)
    assert run(photo, painting, bare, iterations=2)[-1].step == 2


# --- the command line ------------------------------------------------------------------------------------------

def style_parser_flags() -> set[str]:
    parser = cli.build_parser()
    style_parser = parser._subparsers._group_actions[0].choices["style"]
    return {option for action in style_parser._actions for option in action.option_strings}


def test_every_config_field_has_a_flag():
    flags = style_parser_flags()
    for field in dataclasses.fields(StyleConfig):
        assert "--" + field.name.replace("_", "-") in flags
    for flag in ("--style-blend", "--no-multiscale", "--preserve-colors", "--preset", "--report", "--tv-weight"):
        assert flag in flags


def style_config_from_args(args):
    from neuralart.cli.flags import config_from_args

    return config_from_args(StyleConfig, args, "style", PRESETS)


def parse_style(*arguments):
    return style_config_from_args(cli.build_parser().parse_args(["style", "c.png", "s1.png", "s2.png", "-o", "o.png",
                                                                 *arguments]))


def test_defaults_come_from_the_dataclass_and_the_preset_fills_the_rest():
    assert parse_style() == StyleConfig()
    chapter = parse_style("--preset", "chapter", "--iterations", "7", "--weights", "none")
    assert chapter == StyleConfig.preset("chapter", iterations=7, weights=None)
    assert parse_style("--iterations", "7", "--preset", "chapter").iterations == 7
    flagged = parse_style("--style-blend", "0.7,0.3", "--no-multiscale", "--preserve-colors", "luminance")
    assert flagged.style_blend == (0.7, 0.3) and not flagged.multiscale and flagged.preserve_colors == "luminance"


@pytest.fixture
def image_files(tmp_path, photo, painting):
    content, style = tmp_path / "content.png", tmp_path / "style.png"
    images.save_png(content, photo)
    images.save_png(style, painting)
    return content, style


def test_style_command_writes_png_recipe_and_report(tmp_path, image_files):
    content, style = image_files
    output, report = tmp_path / "out.png", tmp_path / "report.json"
    assert cli.main(["style", str(content), str(style), str(style), "-o", str(output), "--report", str(report),
                     "--backbone", "squeezenet", "--weights", "none", "--max-side", "64", "--iterations", "3",
                     "--style-blend", "2,1", "--seed", "5", "--quiet"]) == 0
    recipe = images.read_recipe(str(output))
    assert recipe["technique"] == "style" and recipe["config"]["style_blend"] == [2.0, 1.0]
    data = json.loads(report.read_text())
    assert set(data["final_losses"]) == {"total", "content", "style", "tv"}
    assert data["iterations"] == 3
    assert data["wall_time_s"] > 0 and data["peak_rss_mb"] > 0
    assert images.load_image(str(output)).shape[:2] == (51, 64)
    again = tmp_path / "again.png"
    assert cli.main(["style", str(content), str(style), str(style), "-o", str(again), "--recipe", str(output),
                     "--quiet"]) == 0
    np.testing.assert_array_equal(images.load_image(str(output)), images.load_image(str(again)))


def test_style_command_bad_value_is_one_clear_line(tmp_path, image_files, capsys):
    content, style = image_files
    with pytest.raises(SystemExit) as caught:  # A value outside the setting's choices: argparse says which are.
        cli.main(["style", str(content), str(style), "-o", str(tmp_path / "o.png"), "--preserve-colors", "sepia"])
    error = capsys.readouterr().err
    assert caught.value.code == 2 and "invalid choice: 'sepia' (choose from 'none', 'luminance', 'histogram')" in error
    assert cli.main(["style", str(content), str(style), "-o", str(tmp_path / "o.png"), "--weights", "none",
                     "--style-scale", "9"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: --style-scale must be between 0.1 and 4") and "Traceback" not in error


# --- real SqueezeNet -------------------------------------------------------------------------------------------

def squeezenet_distances(image, content, style, backbone):
    """(style distance, content distance) of a uint8 image with the backbone's default style layers (mean squared
    Gram difference, averaged over layers) and content layer (mean squared feature difference)."""
    import tensorflow as tf

    from neuralart import losses

    content_layer = next(iter(backbone.default_layers("style_content")))
    style_layers = tuple(backbone.default_layers("style"))
    model = backbone.layer_model((content_layer, *style_layers))

    def activations(pixels):
        return model(backbone.input_space.to_model(tf.constant(images.uint8_to_pixels(pixels)))[None])

    mine, target, styled = activations(image), activations(content), activations(style)
    style_distance = np.mean([float(losses.style_loss(a, losses.gram_matrix(b)))
                              for a, b in zip(mine[1:], styled[1:])])
    return style_distance, float(losses.content_loss(mine[0], target[0]))


@pytest.mark.slow
def test_real_squeezenet_takes_the_style_and_keeps_the_content(squeezenet):
    content = images.load_image(shared_image("golden_gate.jpg"), max_side=160)
    style = images.load_image(shared_image("starry_night.jpg"))
    style_seen = images.resize_to_longest_side(style, 160)
    config = StyleConfig(backbone="squeezenet", weights=None, max_side=160, iterations=40, frame_every=20,
                         multiscale=False)
    result = list(stylize(content, style, config, squeezenet))[-1].image
    before_style, _ = squeezenet_distances(content, content, style_seen, squeezenet)
    after_style, after_content = squeezenet_distances(result, content, style_seen, squeezenet)
    _, style_image_content = squeezenet_distances(style_seen if style_seen.shape == content.shape
                                                  else images.resize_uint8(style_seen, content.shape[:2]),
                                                  content, style_seen, squeezenet)
    assert after_style < before_style / 4, f"Gram distance {before_style:.4g} -> {after_style:.4g}"
    assert after_content < 0.5 * style_image_content, (
        f"content distance {after_content:.4g} vs the style image's {style_image_content:.4g}")


@pytest.mark.slow
def test_real_squeezenet_smoothed_lbfgs_gets_lower_in_as_many_iterations(squeezenet):
    """The smoothed basis lowers the loss reached in a given number of iterations (at 384 px, float32: 3.6% lower
    after 80 iterations, where the plain run's loss came after 70; the chapter's loss after 125 iterations instead
    of 160, README, "Measured")."""
    content = images.load_image(shared_image("golden_gate.jpg"), max_side=384)
    style = images.load_image(shared_image("starry_night.jpg"))
    totals = {}
    for smoothing in (0.0, 3.0):
        config = StyleConfig(backbone="squeezenet", weights=None, max_side=384, iterations=80, frame_every=80,
                             multiscale=False, smoothing=smoothing)
        totals[smoothing] = list(stylize(content, style, config, squeezenet))[-1].losses["total"]
    assert totals[3.0] < 0.98 * totals[0.0], totals


@pytest.mark.slow
def test_real_squeezenet_lbfgs_beats_adam_in_as_many_iterations(squeezenet):
    content = images.load_image(shared_image("golden_gate.jpg"), max_side=128)
    style = images.load_image(shared_image("starry_night.jpg"))
    totals = {}
    for optimizer in ("lbfgs", "adam"):
        config = StyleConfig(backbone="squeezenet", weights=None, max_side=128, iterations=30, frame_every=30,
                             multiscale=False, optimizer=optimizer)
        totals[optimizer] = list(stylize(content, style, config, squeezenet))[-1].losses["total"]
    assert totals["lbfgs"] < totals["adam"], totals


def test_recipe_round_trip_restores_the_config():
    from neuralart import recipes

    config = StyleConfig.preset("chapter", style_blend=(1.0, 2.0), preserve_colors="luminance")
    recipe = json.loads(json.dumps(recipes.recipe_for("style", config)))
    assert recipes.config_from_recipe(recipe, "style") == config


def test_images_too_small_for_the_network_are_refused_or_enlarged(rng):
    """SqueezeNet cannot take fewer than 48 pixels a side (its pooling would divide by zero and kill the process):
    a small photo is refused with a clear message, and a style image shrunk by the style scale is kept large
    enough."""
    from neuralart.models import get_backbone

    squeezenet = get_backbone("squeezenet", None)
    style = rng.integers(0, 256, (200, 160, 3), dtype=np.uint8)
    config = StyleConfig(weights=None, iterations=1, multiscale=False, style_scale=0.1)
    with pytest.raises(ValueError, match="needs at least 48 pixels"):
        stylize(rng.integers(0, 256, (40, 90, 3), dtype=np.uint8), style, config, squeezenet)
    frames = list(stylize(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), style, config, squeezenet))
    assert frames[-1].done and frames[-1].image.shape == (64, 64, 3)


# --- the tab's adapters ------------------------------------------------------------------------------------------

def test_tab_chapter_preset_widgets_build_the_chapter_config():
    """Choosing the chapter preset in the tab sets widgets whose config is exactly the chapter's."""
    from neuralart.models import REGISTRY
    from neuralart.ui import style_tab

    names = ("backbone", "weights", *style_tab.LOG_WEIGHTS, *style_tab.PRESET_FIELDS)
    values = {name: update["value"] for name, update in zip(names, style_tab.preset_updates("chapter", "squeezenet"))}
    config = style_tab.style_config({**values, "seed": 0}, [1.0])
    chapter = StyleConfig.preset("chapter")
    # The tab leaves the layers to VGG19's own, which are the chapter's choice.
    assert dataclasses.replace(chapter, content_layers=None, style_layers=None) == config
    assert REGISTRY["vgg19"].defaults["style_content"] == dict(chapter.content_layers)
    assert REGISTRY["vgg19"].defaults["style"] == dict(chapter.style_layers)
    assert style_tab.style_config({**values, "seed": 0}, [1.0, 3.0]).style_blend == (1, 3)


def test_tab_log_sliders_give_back_exactly_the_weights_they_were_given():
    """Every backbone's own loss weights, and the chapter's, survive the log10 slider unchanged (no 3.0199517)."""
    from neuralart.models import REGISTRY
    from neuralart.ui import style_tab

    for backbone in [name for name, spec in REGISTRY.items() if "style" in spec.defaults]:
        for config in (StyleConfig(backbone=backbone), StyleConfig.preset("chapter")):
            shown = style_tab.shown_values(config, style_tab.LOG_WEIGHTS)
            rebuilt = style_tab.style_config({"backbone": config.backbone, **shown}, [1.0])
            assert rebuilt.loss_weights() == config.loss_weights()
            assert (rebuilt.content_weight, rebuilt.style_weight, rebuilt.tv_weight) == config.loss_weights()


def test_tab_loss_table_is_numeric_and_log_scaled():
    from neuralart.ui import style_tab

    table = style_tab.loss_history_table([(5, "total", 1000.0), (5, "tv", 10.0), (10, "total", 100.0),
                                          (10, "content", 0.0)])
    assert list(table.columns) == ["iteration", "loss", "log10 loss"]
    assert table["iteration"].tolist() == [5, 5, 10] and table["log10 loss"].tolist() == [3.0, 1.0, 2.0]
    assert table["loss"].tolist() == ["total", "total variation", "total"]
