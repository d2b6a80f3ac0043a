"""Feature visualization: property checks on tiny random backbones, the chapter's recipe step by step, the CLI
and the app's handlers, and real-weights checks on SqueezeNet (skipped when its weights are absent)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from neuralart import images, recipes
from neuralart.features import (
    FilterConfig,
    feature_maps,
    high_frequency_share,
    kernel_tiles,
    parse_filters,
    plan_for,
    render,
    robust_activation,
    visualize,
)
from neuralart.features.param import CLASSIC_GREY, CLASSIC_NOISE, grey_noise_start
from neuralart.features.steps import classic_function, quality_function
from neuralart.models.preactivation import activation_parts
from tests.conftest import ROOT, make_tiny_model, shared_image

FAST = dict(backbone="custom", weights=None, layer="conv2", filters="0-5", size=32, frame_every=4)


def config(**overrides) -> FilterConfig:
    return FilterConfig(**{**FAST, **overrides})


def alive(values: dict[int, float]) -> list[int]:
    return [target for target, value in values.items() if value > 0]


# --- tiny backbones beyond the shared one ----------------------------------------------------------------------

def _classifier(input_size: int | None = None, classes: int = 5):
    import keras

    features = make_tiny_model(seed=1)
    inputs = keras.Input((input_size, input_size, 3), name="input")
    x = inputs
    for layer in features.layers[1:]:
        x = layer(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="tiny_classifier")


@pytest.fixture(scope="module")
def tiny_classifier():
    """A tiny random network with a softmax classifier head (for the class objective)."""
    from neuralart.models import backbone_from_model

    return backbone_from_model(_classifier(), images.CAFFE, name="custom")


@pytest.fixture(scope="module")
def fixed_size_classifier():
    """A tiny classifier built for 40x40 inputs only, like VGG16 with its head."""
    from neuralart.models import backbone_from_model

    return backbone_from_model(_classifier(input_size=40), images.CAFFE, name="custom")


@pytest.fixture(scope="module")
def backbone_with_dead_filter():
    """The tiny network with filter 1 of conv1 silenced (zero kernel, negative bias: its ReLU is 0 everywhere
    for every image) and filter 2 asleep on grey (it sums its 3x3x3 inputs and fires only where they average
    above 40, i.e. pixels brighter than about 160)."""
    from neuralart.models import backbone_from_model

    model = make_tiny_model(seed=2)
    kernel, bias = model.get_layer("conv1").get_weights()
    kernel[..., 1] = 0.0
    bias[1] = -1.0
    kernel[..., 2] = 0.01
    bias[2] = -0.01 * 27 * 40
    model.get_layer("conv1").set_weights([kernel, bias])
    return backbone_from_model(model, images.CAFFE, name="custom")


# --- the config ------------------------------------------------------------------------------------------------

def test_parse_filters_accepts_indices_ranges_and_lists():
    assert parse_filters("0-15") == tuple(range(16))
    assert parse_filters("3") == (3,)
    assert parse_filters(" 0, 4 ,9-11,4") == (0, 4, 9, 10, 11)


@pytest.mark.parametrize("text", ["", "a", "5-2", "-3", "1-", "0-300", None, "0-200,300-400"])
def test_parse_filters_refuses_nonsense(text):
    with pytest.raises(ValueError, match="filters"):
        parse_filters(text)


@pytest.mark.parametrize("field, value", [
    ("objective", "texture"), ("mode", "fast"), ("size", float("nan")), ("size", 10_000), ("size", 8),
    ("iterations", 0), ("iterations", 1e9), ("step_size", float("inf")), ("negative", "yes"), ("class_index", -1),
    ("batch_size", 0), ("seed", 1.5), ("layer", ""), ("backbone", "resnet"), ("filters", True),
])
def test_config_refuses_bad_values(field, value):
    with pytest.raises(ValueError):
        FilterConfig(**{field: value})


def test_config_defaults_follow_the_mode():
    assert FilterConfig(mode="classic").resolved_iterations == 20
    assert FilterConfig(mode="classic").resolved_step_size == 1.0
    assert FilterConfig(mode="quality").resolved_iterations == 128
    assert FilterConfig(mode="quality", iterations=7, step_size=0.1).resolved_step_size == 0.1
    assert FilterConfig(filters=3).filters == "3"


def test_recipe_round_trip():
    original = FilterConfig(layer="block1_conv1", filters="2-5", mode="classic", negative=True, iterations=33)
    restored = recipes.config_from_recipe(recipes.recipe_for("filters", original), "filters")
    assert restored == original


def test_plan_checks_layer_filters_and_size(tiny_backbone):
    with pytest.raises(ValueError, match="conv2 has 16 filters"):
        plan_for(config(filters="10-16"), tiny_backbone)
    with pytest.raises(ValueError, match="no layer named"):
        plan_for(config(layer="block3_conv1"), tiny_backbone)
    with pytest.raises(ValueError, match="classifier"):
        plan_for(config(objective="class"), tiny_backbone)
    assert plan_for(config(layer=None), tiny_backbone).layer == "conv2"  # the backbone's default


# --- every objective moves the right way, in both modes ------------------------------------------------------

@pytest.mark.parametrize("mode", ["classic", "quality"])
@pytest.mark.parametrize("objective", ["channel", "neuron", "layer"])
def test_objective_increases(tiny_backbone, mode, objective):
    early = render(config(mode=mode, objective=objective, iterations=1), tiny_backbone).values
    late = render(config(mode=mode, objective=objective, iterations=24), tiny_backbone).values
    assert alive(late), "no target responded at all"
    for target in alive(early):
        assert late[target] > early[target], (target, early[target], late[target])


@pytest.mark.parametrize("mode", ["classic", "quality"])
def test_class_objective_increases(tiny_classifier, mode):
    settings = dict(mode=mode, objective="class", class_index=3, layer=None)
    early = render(config(iterations=1, **settings), tiny_classifier).values[3]
    late = render(config(iterations=24, **settings), tiny_classifier).values[3]
    assert late > early


@pytest.mark.parametrize("mode", ["classic", "quality"])
def test_negative_objective_decreases_pre_activation(tiny_backbone, mode):
    early = render(config(mode=mode, negative=True, iterations=1), tiny_backbone).values
    late = render(config(mode=mode, negative=True, iterations=24), tiny_backbone).values
    assert all(late[target] < early[target] for target in late)


def test_bfloat16_backbones_visualize_too(tiny_backbone):
    """A backbone asked to compute in bfloat16 runs the same recipe; objectives stay float32 and still rise."""
    half = tiny_backbone.with_precision("bfloat16")
    early = render(config(iterations=1), half).values
    late = render(config(iterations=16), half).values
    assert all(isinstance(value, float) and math.isfinite(value) for value in late.values())
    assert sum(late.values()) > sum(early.values())


def test_fixed_input_networks_see_the_image_resized(fixed_size_classifier):
    for mode in ("classic", "quality"):
        frames = list(visualize(config(mode=mode, objective="class", layer=None, size=48, iterations=4,
                                       captions="none"), fixed_size_classifier))
        assert frames[-1].image.shape == (52, 52, 3)  # one 48-pixel tile plus the grid's padding


# --- the chapter's recipe --------------------------------------------------------------------------------------

def test_classic_starts_from_grey_with_small_noise():
    start = grey_noise_start(64, np.random.default_rng(0))
    assert start.shape == (64, 64, 3) and start.dtype == np.float32
    assert CLASSIC_GREY <= start.min() and start.max() < CLASSIC_GREY + CLASSIC_NOISE
    assert start.mean() == pytest.approx(CLASSIC_GREY + CLASSIC_NOISE / 2, abs=0.5)


def test_classic_step_is_the_unit_rms_normalised_gradient(tiny_backbone):
    """One traced step equals image + 1 * gradient / (rms(gradient) + 1e-5), per image, computed here with a
    plain GradientTape on the layer's output."""
    import tensorflow as tf

    plan = plan_for(config(mode="classic"), tiny_backbone)
    ascend = classic_function(tiny_backbone, plan)
    rng = np.random.default_rng(0)
    start = np.stack([grey_noise_start(32, rng) for _ in range(2)])
    targets = tf.constant([0, 5], tf.int32)
    stepped = ascend(tf.constant(start), targets, tf.constant(1.0), tf.constant(1.0), tf.constant([32, 32]))[0].numpy()
    model = tiny_backbone.layer_model(("conv2",))
    for index, target in enumerate([0, 5]):
        image = tf.constant(start[index:index + 1])
        with tf.GradientTape() as tape:
            tape.watch(image)
            activation = model(tiny_backbone.input_space.to_model(image))
            loss = tf.reduce_mean(activation[..., target])
        gradient = tape.gradient(loss, image).numpy()[0]
        rms = np.sqrt(np.mean(gradient ** 2))
        expected = start[index] + gradient / (rms + 1e-5)
        np.testing.assert_allclose(stepped[index], expected, rtol=1e-4, atol=1e-3)
        # The step's own RMS is 1 (up to the chapter's 1e-5 guard against a zero gradient).
        step_rms = np.sqrt(np.mean((stepped[index] - start[index]) ** 2))
        assert step_rms == pytest.approx(rms / (rms + 1e-5), rel=1e-3)


def test_classic_skips_dead_filters(backbone_with_dead_filter):
    settings = config(mode="classic", layer="conv1", filters="0-3", iterations=6, captions="none")
    result = render(settings, backbone_with_dead_filter)
    assert result.values[1] == 0.0 and result.values[2] == 0.0  # dead, and asleep on the grey start
    assert set(result.kept) == {0, 3}
    final = list(visualize(settings, backbone_with_dead_filter))[-1]
    assert final.image.shape == images.image_grid([result.tiles[k] for k in result.kept]).shape
    assert final.stage.endswith("2 of 4 filters responded (the silent ones are left out)")


def test_classic_tiles_are_normalised_for_display(tiny_backbone):
    result = render(config(mode="classic", iterations=5), tiny_backbone)
    for target in alive(result.values):
        tile = result.tiles[target].astype(np.float32) / 255
        assert tile.mean() == pytest.approx(0.5, abs=0.02)
        assert tile.std() == pytest.approx(0.1, abs=0.02)


def test_grid_is_ordered_by_achieved_activation(tiny_backbone):
    settings = config(mode="classic", filters="0-7", iterations=6, captions="none")
    result = render(settings, tiny_backbone)
    ordered = sorted(alive(result.values), key=lambda target: -result.values[target])
    assert list(result.kept) == ordered and len(ordered) >= 2
    final = list(visualize(settings, tiny_backbone))[-1]
    np.testing.assert_array_equal(final.image, images.image_grid([result.tiles[k] for k in ordered]))
    assert list(final.losses)[:len(ordered)] == [f"filter {k}" for k in ordered]


# --- the quality mode's pieces -------------------------------------------------------------------------------

def test_transforms_map_view_pixels_to_image_pixels():
    """Identity, a pure shift (the view samples 3 pixels to the right, so content moves left) and a resize to a
    fixed view all land where they should."""
    import tensorflow as tf

    from neuralart.features.transform import FILL_GREY, sample_bilinear, view_to_image

    def warp(image, transform):
        return sample_bilinear(tf.constant(image), tf.constant([transform], tf.float32), tf.constant([12, 16]),
                               FILL_GREY).numpy()

    image = np.random.default_rng(0).random((1, 12, 16, 3)).astype(np.float32)
    identity = view_to_image(1.0, 0.0, (0.0, 0.0), (12, 16), (12, 16))
    np.testing.assert_allclose(identity, [1, 0, 0, 0, 1, 0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(warp(image, identity), image, atol=1e-6)
    moved = warp(image, view_to_image(1.0, 0.0, (3.0, 0.0), (12, 16), (12, 16)))
    np.testing.assert_allclose(moved[0, :, :13], image[0, :, 3:], atol=1e-6)
    np.testing.assert_allclose(moved[0, :, 13:], 0.5)  # grey where the image no longer reaches
    half = view_to_image(1.0, 0.0, (0.0, 0.0), (12, 16), (6, 8))
    assert half[0] == half[4] == 2.0  # one view pixel spans two image pixels


@pytest.mark.parametrize("view_size", [(20, 24), (14, 30)])
def test_warp_samples_what_tensorflow_s_projective_transform_does(view_size):
    """Random shifts, zooms and rotations, some reaching far past the border, to the image's size and to another:
    the same pixels as ImageProjectiveTransformV3 with bilinear sampling and a grey fill."""
    import tensorflow as tf

    from neuralart.features.transform import FILL_GREY, sample_bilinear, view_to_image

    rng = np.random.default_rng(3)
    image = rng.random((6, 20, 24, 3)).astype(np.float32)
    transforms = np.stack([view_to_image(scale, angle, shift, (20, 24), view_size) for scale, angle, shift in
                           zip(rng.uniform(0.6, 1.5, 6), rng.uniform(-0.8, 0.8, 6), rng.uniform(-9, 9, (6, 2)))])
    transforms = tf.constant(transforms, tf.float32)
    expected = tf.raw_ops.ImageProjectiveTransformV3(
        images=image, transforms=transforms, output_shape=view_size, fill_value=FILL_GREY,
        interpolation="BILINEAR", fill_mode="CONSTANT").numpy()
    warped = sample_bilinear(tf.constant(image), transforms, tf.constant(view_size), FILL_GREY).numpy()
    np.testing.assert_allclose(warped, expected, atol=2e-5)
    assert np.mean(np.isclose(expected, FILL_GREY)) > 0.05  # some views did reach past the border


@pytest.mark.parametrize("input_space", [images.CAFFE, images.INCEPTION], ids=["caffe", "inception"])
def test_compiled_view_matches_tensorflow_ops_forward_and_backward(input_space):
    """The compiled view (sigmoid, transpose, warp, the input's shift and scale) gives the values and the gradient
    that the same steps as plain TensorFlow ops give, ImageProjectiveTransformV3's own gradient included."""
    import tensorflow as tf

    from neuralart.features.transform import FILL_GREY, make_view, view_to_image

    rng = np.random.default_rng(4)
    planes = tf.constant(rng.normal(0, 2, (3, 3, 20, 24)).astype(np.float32))
    transforms = tf.constant(np.stack([view_to_image(scale, angle, shift, (20, 24), (16, 16)) for scale, angle, shift
                                       in zip((0.9, 1.1, 1.3), (0.1, -0.2, 0.5), ((0, 0), (3, -2), (-5, 6)))]),
                             tf.float32)
    upstream = tf.constant(rng.normal(size=(3, 16, 16, 3)).astype(np.float32))

    def with_tensorflow_ops(planes):
        unit = tf.sigmoid(tf.transpose(planes, [0, 2, 3, 1]))
        seen = tf.raw_ops.ImageProjectiveTransformV3(
            images=unit, transforms=transforms, output_shape=[16, 16], fill_value=FILL_GREY,
            interpolation="BILINEAR", fill_mode="CONSTANT")
        return input_space.ordered_to_model(seen * 255.0)

    view = make_view(input_space)
    results = []
    for function in (with_tensorflow_ops, lambda planes: view(planes, transforms, tf.constant([16, 16]))):
        with tf.GradientTape() as tape:
            tape.watch(planes)
            output = function(planes)
            product = tf.reduce_sum(output * upstream)
        results.append((output.numpy(), tape.gradient(product, planes).numpy()))
    (expected, expected_gradient), (output, gradient) = results
    span = np.abs(expected).max()
    np.testing.assert_allclose(output, expected, atol=1e-5 * span)
    np.testing.assert_allclose(gradient, expected_gradient, atol=1e-4 * np.abs(expected_gradient).max())


def test_pre_activation_parts_match_the_layer_output(tiny_backbone):
    """Recomputing the convolution without its ReLU, then applying the ReLU, gives the layer's output."""
    import keras
    import tensorflow as tf

    layer = tiny_backbone.model.get_layer("conv2")
    parts = activation_parts(layer, pre_activation=True)
    assert len(parts) == 1
    part_model = keras.Model(tiny_backbone.model.inputs, parts[0].tensor)
    image = tf.random.uniform([1, 24, 24, 3], -50, 50, seed=1)
    pre = parts[0].to_pre(part_model(image))
    output = tiny_backbone.layer_model(("conv2",))(image).numpy()
    np.testing.assert_allclose(parts[0].activate(pre).numpy(), output, rtol=1e-5, atol=1e-5)
    assert float(tf.reduce_min(pre)) < 0  # It really is before the ReLU.


@pytest.fixture(scope="module")
def branched_backbone():
    """A block that concatenates a 1x1 ReLU convolution, a dilated 3x3 one and an Inception-style branch (linear
    convolution, batch normalisation, separate ReLU layer): 5 + 4 + 3 channels."""
    import keras

    from neuralart.models import backbone_from_model

    keras.utils.set_random_seed(3)
    layers = keras.layers
    inputs = keras.Input((None, None, 3), name="input")
    stem = layers.Conv2D(6, 3, strides=2, activation="relu", name="stem")(inputs)
    pointwise = layers.Conv2D(5, 1, activation="relu", bias_initializer="ones", name="pointwise")(stem)
    dilated = layers.Conv2D(4, 3, padding="same", dilation_rate=2, activation="relu", name="dilated")(stem)
    norm = layers.BatchNormalization(name="norm")(layers.Conv2D(3, 3, padding="same", name="linear")(stem))
    block = layers.Concatenate(name="block")([pointwise, dilated, layers.ReLU(name="relu")(norm)])
    return backbone_from_model(keras.Model(inputs, block), images.CAFFE, name="custom")


@pytest.mark.parametrize("objective", ["channel", "neuron"])
@pytest.mark.parametrize("form", ["output", "pre", "revive"])
def test_one_channel_objective_matches_the_whole_layer(branched_backbone, objective, form):
    """Computing only each image's chosen channel of the last step gives the values, and gradients, that the
    whole layer gives: across a concatenation's parts, kernel sizes, dilation and a separate ReLU layer."""
    import tensorflow as tf

    from neuralart.features.objectives import make_objective_function

    plan = plan_for(config(layer="block", filters="0-11", objective=objective), branched_backbone)
    targets = tf.constant([0, 4, 5, 8, 9, 11, 2, 7, 10, 6, 1, 3], tf.int32)  # every part, in mixed order
    pixels = tf.random.uniform([12, 21, 19, 3], 0, 255, seed=4)
    results = []
    for choose in (True, False):
        values = make_objective_function(branched_backbone, plan, form, choose_channel=choose)
        with tf.GradientTape() as tape:
            tape.watch(pixels)
            pushed, reported = values(pixels, targets)
            total = tf.reduce_sum(pushed)
        results.append((pushed.numpy(), reported.numpy(), tape.gradient(total, pixels).numpy()))
    for chosen, whole in zip(*results):
        np.testing.assert_allclose(chosen, whole, rtol=1e-4, atol=1e-4 * np.abs(whole).max())
    assert np.abs(results[1][2]).max() > 0


def test_quality_revives_filters_silent_on_the_grey_start(backbone_with_dead_filter):
    """Filter 2 of conv1 is silent on grey (classic mode cannot move it, see above): quality mode pushes its
    pre-activation up until it responds. Filter 1 can never respond, and stays at zero."""
    result = render(config(layer="conv1", filters="0-3", iterations=24), backbone_with_dead_filter)
    assert result.values[1] == 0.0
    assert all(result.values[target] > 0 for target in (0, 2, 3))
    assert result.kept[-1] != 1 and 1 not in result.kept


def test_spectrum_reinterpreted_as_complex_keeps_value_and_gradient():
    """The spectrum's (real, imaginary) pairs read as complex numbers in place give the image, and the gradient,
    that splitting and joining them does."""
    import tensorflow as tf

    from neuralart.features.param import COLOUR_BASIS, SPECTRUM_DIVISOR, frequency_scale, spectrum_to_zero1_image

    spectrum = tf.random.normal([2, 3, 20, 12, 2], stddev=0.05, seed=5)
    scale = tf.constant(frequency_scale(20, 22))
    weights = tf.random.normal([2, 20, 22, 3], seed=6)

    def split_and_joined(pairs):
        real, imaginary = tf.unstack(pairs, axis=-1)
        planes = tf.signal.irfft2d(tf.complex(real * scale, imaginary * scale), fft_length=[20, 22])
        return tf.sigmoid(tf.einsum("bchw,rc->bhwr", planes, tf.constant(COLOUR_BASIS / SPECTRUM_DIVISOR)))

    results = []
    for image_of in (split_and_joined, lambda pairs: spectrum_to_zero1_image(pairs, scale, [20, 22])):
        with tf.GradientTape() as tape:
            tape.watch(spectrum)
            value = tf.reduce_sum(image_of(spectrum) * weights)
        results.append((value.numpy(), tape.gradient(value, spectrum).numpy()))
    (expected_value, expected_gradient), (value, gradient) = results
    assert value == pytest.approx(expected_value, rel=1e-6)
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-5, atol=1e-6 * np.abs(expected_gradient).max())
    assert np.abs(expected_gradient[..., 1]).max() > 0  # imaginary parts matter too


def test_quality_steps_show_a_bgr_network_the_image_they_report(tiny_backbone):
    """The quality step builds its image in the network's channel order (BGR here): the same image, reordered, and
    through an identity view the objective it reports is the one measured on the RGB image."""
    import tensorflow as tf

    from neuralart.features.param import frequency_scale, spectrum_to_zero1_image
    from neuralart.features.render import BATCH_CLASSES
    from neuralart.features.transform import view_to_image

    assert tiny_backbone.input_space.bgr
    spectrum = tf.random.normal([2, 3, 32, 17, 2], stddev=0.3, seed=7)
    scale = tf.constant(frequency_scale(32, 32))
    rgb = spectrum_to_zero1_image(spectrum, scale, [32, 32]).numpy()
    np.testing.assert_array_equal(spectrum_to_zero1_image(spectrum, scale, [32, 32], bgr=True).numpy(),
                                  rgb[..., ::-1])
    config = FilterConfig(backbone="custom", weights=None, layer="conv2", filters="0-1", mode="quality", size=32)
    plan = plan_for(config, tiny_backbone)
    batch = BATCH_CLASSES["quality"](config, tiny_backbone, plan, plan.targets)
    batch.spectrum = spectrum
    identity = np.stack([view_to_image(1.0, 0.0, (0.0, 0.0), (32, 32), (32, 32))] * 2).astype(np.float32)
    *_, reported = quality_function(tiny_backbone, plan)(
        spectrum, batch.first_moment, batch.second_moment, batch.taken, scale, batch.image_size,
        tf.constant(identity), tf.constant([32, 32]), batch.targets, tf.constant(0.0), tf.constant(1.0))
    np.testing.assert_allclose(reported.numpy(), batch.achieved(), rtol=1e-4, atol=1e-5)
    assert np.abs(batch.achieved()).max() > 0


def test_quality_images_are_smoother_than_classic(tiny_backbone):
    classic = render(config(mode="classic", iterations=16, size=48), tiny_backbone)
    quality = render(config(mode="quality", iterations=16, size=48), tiny_backbone)
    assert (np.mean([high_frequency_share(tile) for tile in quality.tiles.values()])
            < np.mean([high_frequency_share(tile) for tile in classic.tiles.values()]))


@pytest.mark.parametrize("mode", ["classic", "quality"])
def test_a_filter_looks_the_same_alone_or_in_a_batch(tiny_backbone, mode):
    together = render(config(mode=mode, filters="0-3", iterations=8), tiny_backbone)
    alone = render(config(mode=mode, filters="2", iterations=8), tiny_backbone)
    difference = np.abs(together.tiles[2].astype(int) - alone.tiles[2].astype(int))
    assert difference.max() <= 2
    assert together.values[2] == pytest.approx(alone.values[2], rel=1e-3, abs=1e-4)


def test_no_retracing_across_sizes_and_batches(tiny_backbone):
    for mode, make in (("quality", quality_function), ("classic", classic_function)):
        for size, filters in ((32, "0-3"), (48, "1"), (40, "2-4")):
            list(visualize(config(mode=mode, size=size, filters=filters, iterations=2), tiny_backbone))
        traced = make(tiny_backbone, plan_for(config(mode=mode), tiny_backbone))
        assert traced.experimental_get_tracing_count() == 1, mode


# --- the Frame contract ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["classic", "quality"])
def test_frame_contract(tiny_backbone, mode):
    frames = list(visualize(config(mode=mode, iterations=10, batch_size=4), tiny_backbone))
    steps = [frame.iteration for frame in frames]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    # 6 filters in batches of 4: two batches of 10 iterations.
    assert frames[-1].iteration == frames[-1].total_iterations == 20
    assert frames[-1].done and frames[-1].stage_done
    assert not any(frame.stage_done for frame in frames[:-1])
    for frame in frames:
        assert frame.image.dtype == np.uint8 and frame.image.ndim == 3 and frame.image.shape[2] == 3
        assert all(math.isfinite(value) for value in frame.losses.values())
    assert set(frames[-1].losses) == {f"filter {index}" for index in range(6)}


def test_close_mid_run_is_clean(tiny_backbone):
    frames = visualize(config(iterations=40, frame_every=2), tiny_backbone)
    first = next(frames)
    assert first.iteration == 1  # The first call takes one step, to measure the speed.
    frames.close()
    with pytest.raises(StopIteration):
        next(frames)


@pytest.mark.parametrize("frame_seconds, steps", [(1e-9, list(range(1, 13))), (1e9, [1, 5, 9, 12])])
def test_slow_steps_stream_sooner(tiny_backbone, monkeypatch, frame_seconds, steps):
    """Frames come every `frame_every` steps, or after every step once a step costs more than FRAME_SECONDS;
    either way the result is the same."""
    from neuralart import loop

    monkeypatch.setattr(loop, "FRAME_SECONDS", frame_seconds)
    frames = list(visualize(config(iterations=12, frame_every=4), tiny_backbone))
    assert [frame.iteration for frame in frames] == steps
    monkeypatch.setattr(loop, "FRAME_SECONDS", 1e9 if frame_seconds < 1 else 1e-9)
    np.testing.assert_array_equal(frames[-1].image,
                                  list(visualize(config(iterations=12, frame_every=4), tiny_backbone))[-1].image)


def test_mistakes_surface_before_the_first_frame(tiny_backbone):
    with pytest.raises(ValueError, match="has 16 filters"):
        visualize(config(filters="99"), tiny_backbone)


@pytest.mark.parametrize("mode", ["classic", "quality"])
def test_fixed_seed_reproduces(tiny_backbone, mode):
    first = list(visualize(config(mode=mode, iterations=6, seed=3), tiny_backbone))[-1]
    again = list(visualize(config(mode=mode, iterations=6, seed=3), tiny_backbone))[-1]
    other = list(visualize(config(mode=mode, iterations=6, seed=4), tiny_backbone))[-1]
    np.testing.assert_array_equal(first.image, again.image)
    assert first.losses == again.losses
    assert not np.array_equal(first.image, other.image)


# --- feature maps and kernels ----------------------------------------------------------------------------------

def test_feature_maps_are_ranked_by_mean_activation(tiny_backbone, photo):
    maps = feature_maps(photo, tiny_backbone, "conv2", count=5, tile_side=16)
    assert maps.shape == (32, 40, 16)  # one 2x pooling before conv2
    assert len(maps.channels) == 5 and list(maps.means) == sorted(maps.means, reverse=True)
    activation = tiny_backbone.layer_model(("conv2",))(
        tiny_backbone.input_space.to_model(photo.astype(np.float32))[None]).numpy()[0]
    assert maps.channels[0] == int(np.argmax(activation.mean(axis=(0, 1))))
    assert maps.grid.dtype == np.uint8 and maps.grid.ndim == 3


def test_feature_maps_refuse_a_classifier_layer(tiny_classifier, photo):
    with pytest.raises(ValueError, match="not a convolutional feature map"):
        feature_maps(photo, tiny_classifier, "predictions")


def test_kernel_tiles_show_every_first_layer_kernel_in_rgb(tiny_backbone):
    kernels = kernel_tiles(tiny_backbone, tile_side=12, captions="none")
    assert kernels.layer == "conv1" and kernels.shape == (3, 3, 3, 8)
    assert kernels.grid.shape == images.image_grid([np.zeros((12, 12, 3), np.uint8)] * 8).shape
    raw = tiny_backbone.model.get_layer("conv1").get_weights()[0][..., 0]
    # CAFFE networks read BGR: the tile's red channel is the kernel's last input channel.
    top_left = kernels.grid[2:14, 2:14]
    expected = images.enlarge_nearest(images.stretch_to_uint8(raw[:, :, ::-1]), 12)
    np.testing.assert_array_equal(top_left, expected)


# --- the measures ------------------------------------------------------------------------------------------------

def test_high_frequency_share_tells_noise_from_smooth_images(photo):
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert high_frequency_share(noise) > 0.5
    assert high_frequency_share(photo) < 0.05
    assert high_frequency_share(np.full((16, 16, 3), 7, np.uint8)) == 0.0


def test_robust_activation_averages_transformed_copies(tiny_backbone):
    settings = config(mode="quality", iterations=8)
    result = render(settings, tiny_backbone)
    targets = sorted(result.tiles)
    robust = robust_activation([result.tiles[k] for k in targets], targets, settings, tiny_backbone, count=4)
    assert robust.shape == (len(targets),) and np.all(np.isfinite(robust))
    again = robust_activation([result.tiles[k] for k in targets], targets, settings, tiny_backbone, count=4)
    np.testing.assert_array_equal(robust, again)


# --- the CLI and the app's handlers ---------------------------------------------------------------------------

def test_cli_filters_writes_the_grid_its_recipe_and_a_report(tmp_path):
    from neuralart.cli import main

    output, report = tmp_path / "grid.png", tmp_path / "report.json"
    code = main(["filters", "-o", str(output), "--backbone", "squeezenet", "--weights", "none",
                 "--layer", "fire2_concat", "--filters", "0-3", "--mode", "classic", "--iterations", "3",
                 "--size", "48", "--report", str(report), "--quiet"])
    assert code == 0
    recipe = images.read_recipe(str(output))
    assert recipe["technique"] == "filters" and recipe["config"]["filters"] == "0-3"
    data = json.loads(report.read_text())
    assert set(data["achieved_activation"]) == {f"filter {index}" for index in range(4)}
    assert data["wall_time_s"] > 0 and data["iterations"] == 3
    assert set(data["grid_order"]) | set(data["skipped"]) == set(data["achieved_activation"])


def test_cli_filters_reports_bad_settings(capsys):
    from neuralart.cli import main

    assert main(["filters", "-o", "x.png", "--objective", "texture"]) == 2
    assert "objective must be one of channel, neuron, layer, class" in capsys.readouterr().err
    assert main(["filters", "-o", "x.png", "--size", "5"]) == 2
    assert "size must be between 32 and 512" in capsys.readouterr().err


def test_cli_featuremaps_writes_maps_kernels_and_report(tmp_path):
    from neuralart.cli import main

    photo = sorted((ROOT / "assets").glob("*.jpg"))[0]
    output, kernels, report = tmp_path / "maps.png", tmp_path / "kernels.png", tmp_path / "maps.json"
    code = main(["featuremaps", str(photo), "--layer", "fire3_concat", "-o", str(output), "--backbone",
                 "squeezenet", "--weights", "none", "--count", "16", "--kernels", str(kernels), "--report",
                 str(report), "--quiet"])
    assert code == 0 and output.is_file() and kernels.is_file()
    data = json.loads(report.read_text())
    assert data["shape"][2] == 128 and len(data["channels"]) == 16
    assert data["mean_activation"] == sorted(data["mean_activation"], reverse=True)
    assert data["kernels"]["shape"] == [3, 3, 3, 64]


def test_app_handlers_build_configs_and_stream(tmp_path):
    from neuralart.ui import features_tab

    update = features_tab.layer_update("squeezenet")
    assert update["value"] == "fire5_concat" and "conv1" in update["choices"]
    values = dict(backbone="squeezenet", weights="random", layer="fire2_concat", filters=" 0-1 ", objective="channel",
                  class_index=0.0, negative=False, mode="classic", iterations=0, size=48, seed=0)
    made = features_tab.filter_config(values)
    assert made.iterations is None and made.filters == "0-1" and made.weights is None
    outputs = list(features_tab.run_filters(**{**values, "iterations": 2}))
    final_image, final_status, _, _, gallery, download, _ = outputs[-1]
    assert final_image.dtype == np.uint8 and "done" in final_status
    assert images.read_recipe(download)["technique"] == "filters"
    # The kept filters (a random network's may be silent), each tile named by its filter.
    assert gallery and {caption for _, caption in gallery} <= {"0", "1"}
    assert all(tile.shape == (48, 48, 3) for tile, _ in gallery)


# --- real weights ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_squeezenet_quality_beats_classic_on_a_middle_layer(squeezenet):
    """At equal steps, quality-mode images of fire5 filters carry less high-frequency power and hold their
    activation better under jitter, scale and rotation than the chapter's."""
    measures = {}
    for mode in ("classic", "quality"):
        settings = FilterConfig(backbone="squeezenet", layer="fire5_concat", filters="0-1", mode=mode, iterations=48,
                                size=96)
        result = render(settings, squeezenet)
        targets = sorted(result.tiles)
        tiles = [result.tiles[k] for k in targets]
        measures[mode] = (np.mean([high_frequency_share(tile) for tile in tiles]),
                          robust_activation(tiles, targets, settings, squeezenet, count=8).mean())
    assert measures["quality"][0] < 0.5 * measures["classic"][0]
    assert measures["quality"][1] > 1.5 * measures["classic"][1]


@pytest.mark.slow
def test_squeezenet_feature_maps_of_the_golden_gate(squeezenet):
    path = shared_image("golden_gate.jpg")
    photo = images.load_image(path, max_side=256)
    height, width = photo.shape[:2]
    maps = feature_maps(path, squeezenet, "fire3_concat", count=128, max_side=256)
    # conv1 (3x3, stride 2, valid), then pool1 (3x3, stride 2, valid); the fire modules keep the size.
    after_conv = ((height - 3) // 2 + 1, (width - 3) // 2 + 1)
    expected = ((after_conv[0] - 3) // 2 + 1, (after_conv[1] - 3) // 2 + 1, 128)
    assert maps.shape == expected
    activation = squeezenet.layer_model(("fire3_concat",))(
        squeezenet.input_space.to_model(photo.astype(np.float32))[None]).numpy()[0]
    means = activation.mean(axis=(0, 1))
    assert list(maps.channels) == list(np.argsort(-means, kind="stable"))
    np.testing.assert_allclose(maps.means, means[list(maps.channels)], rtol=1e-4)
    assert maps.means[0] > 5 * np.median(means)  # a few channels respond much more than the typical one
