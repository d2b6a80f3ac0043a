"""The feature-visualization toolbox: ImageNet classes by name, the objective algebra, diversity and interpolation
rows, captioned grids and the chapter's atlas; on tiny random backbones, with real-weights checks on SqueezeNet
(skipped when its weights are absent) marked slow."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from neuralart import images, recipes
from neuralart.features import (
    FilterConfig,
    TiledFrame,
    class_index,
    class_name,
    class_names,
    gram_distances,
    objective_values,
    parse_expression,
    top_predictions,
    visualize,
)
from neuralart.features.algebra import Term
from neuralart.features.composite import figure_plan, resolve_layer, values_function
from neuralart.features.figures import BLENDED_CUTOFF, SHARED_CUTOFF, interpolation_row, parameterization
from tests.conftest import ROOT, SQUEEZENET_WEIGHTS, make_tiny_model

TINY = dict(backbone="custom", weights=None, size=32, frame_every=4)


def tiny_config(**overrides) -> FilterConfig:
    return FilterConfig(**{**TINY, **overrides})


def _classifier(classes: int):
    """A tiny random network with named convolutions ('conv1', 'conv2') and a softmax head of `classes`
    outputs (its own layers, so each layer's output belongs to this one graph)."""
    import keras

    keras.utils.set_random_seed(1)
    inputs = keras.Input((None, None, 3), name="input")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.AveragePooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax", name="predictions")(x))


@pytest.fixture(scope="module")
def imagenet_classifier():
    """A tiny random network with a 1000-class head, as the ImageNet classifiers have."""
    from neuralart.models import backbone_from_model

    return backbone_from_model(_classifier(1000), images.CAFFE, name="custom")


def last_frame(config, backbone):
    frames = list(visualize(config, backbone))
    return frames, frames[-1]


# --- classes by name -------------------------------------------------------------------------------------------

def test_every_class_name_round_trips_to_its_index_and_back():
    names = class_names()
    assert len(names) == 1000 and len({name.lower() for name in names}) == 1000
    for index, name in enumerate(names):
        assert class_index(name) == index and class_name(index) == name
    assert (class_index("goldfish"), class_index("junco"), class_index("volcano")) == (1, 13, 980)
    assert class_index("Snowbird") == 13 and class_index("great_white_shark") == 2 and class_index("13") == 13
    assert class_name(1234) == "class 1234"


@pytest.mark.parametrize("misspelt, meant", [("goldfsh", "goldfish"), ("volcanoe", "volcano"), ("jnco", "junco")])
def test_a_misspelt_class_gets_a_suggestion(misspelt, meant):
    with pytest.raises(ValueError, match=f"did you mean '{meant}'"):
        class_index(misspelt)
    with pytest.raises(ValueError, match=f"class_index: .*did you mean '{meant}'"):
        FilterConfig(objective="class", class_index=misspelt)
    with pytest.raises(ValueError, match="no ImageNet class is called 'xyzzy'$"):
        class_index("xyzzy")


def test_cli_class_flag_takes_names_and_suggests(capsys):
    from neuralart.cli import build_parser, main
    from neuralart.cli.flags import config_from_args
    from neuralart.features import PRESETS

    args = build_parser().parse_args(["filters", "-o", "x.png", "--objective", "class", "--class", "junco"])
    assert config_from_args(FilterConfig, args, "filters", PRESETS).class_index == 13
    args = build_parser().parse_args(["filters", "-o", "x.png", "--objective", "class", "--class-index", "980"])
    assert config_from_args(FilterConfig, args, "filters", PRESETS).class_index == 980
    assert main(["filters", "-o", "x.png", "--objective", "class", "--class", "goldfsh"]) == 2
    assert "did you mean 'goldfish' (1)" in capsys.readouterr().err


def test_mobilenet_head_has_one_output_per_class_name():
    from neuralart.models import REGISTRY

    model = REGISTRY["mobilenet"].build(True, None)
    assert model.output_shape[-1] == len(class_names())


@pytest.mark.slow
@pytest.mark.parametrize("network", ["vgg16", "vgg19", "inception_v3"])
def test_each_head_has_one_output_per_class_name(network):
    from neuralart.models import REGISTRY

    model = REGISTRY[network].build(True, None)  # Random weights: nothing is downloaded.
    assert model.output_shape[-1] == len(class_names())


def test_top_predictions_name_the_classes_the_head_predicts(imagenet_classifier, photo):
    predictions = top_predictions(photo, imagenet_classifier)
    probabilities = imagenet_classifier.model(imagenet_classifier.input_space.to_model(
        images.uint8_to_pixels(photo)[None])).numpy()[0]
    expected = np.argsort(-probabilities, kind="stable")[:5]
    assert [item.index for item in predictions] == list(expected)
    assert [item.name for item in predictions] == [class_names()[index] for index in expected]
    np.testing.assert_allclose([item.probability for item in predictions], probabilities[expected], rtol=1e-5)


def test_head_predictions_need_a_head():
    from neuralart.features import head_predictions

    assert head_predictions(np.zeros((64, 64, 3), np.uint8), "squeezenet", None) is None
    with pytest.raises(ValueError, match="no classifier head"):
        top_predictions(np.zeros((64, 64, 3), np.uint8), _tiny_backbone())


def _tiny_backbone(model=None):
    from neuralart.models import backbone_from_model

    return backbone_from_model(model or make_tiny_model(), images.CAFFE, name="custom",
                               defaults={"features": {"conv2": 1.0}})


# --- the objective algebra -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, shown, weights", [
    ("fire5:7 + fire5:12 - 0.5*fire7:3", "fire5:7 + fire5:12 - 0.5*fire7:3", (1, 1, -0.5)),
    ("2 * (conv2:1 - conv2:0) / 4", "0.5*conv2:1 - 0.5*conv2:0", (0.5, -0.5)),
    ("-conv2:3*2 + conv2:3", "-conv2:3", (-1,)),
    ("neuron(conv2:1) + 1e-1*layer(conv3) - class(1)", "neuron(conv2:1) + 0.1*layer(conv3) - class(goldfish)",
     (1, 0.1, -1)),
    ("class(crane (bird)) + class(Great_White_Shark) + class(1234)",
     "class(crane (bird)) + class(great white shark) + class(1234)", (1, 1, 1)),
    ("channel(conv2:4)", "conv2:4", (1,)),
])
def test_the_parser_accepts_sums_differences_and_scaling(text, shown, weights):
    parsed = parse_expression(text)
    assert str(parsed) == shown and parsed.end is None
    assert parsed.start.weights == pytest.approx(weights)
    assert str(parse_expression(str(parsed))) == shown  # What it writes, it reads back.


def test_the_parser_reads_an_interpolation():
    parsed = parse_expression("conv2:1 -> 0.5*conv3:2 + conv2:1")
    assert str(parsed.start) == "conv2:1" and str(parsed.end) == "0.5*conv3:2 + conv2:1"
    assert parsed.terms == (Term("channel", "conv2", 1), Term("channel", "conv3", 2))


@pytest.mark.parametrize("text, column, words", [
    ("fire5:7 + * 3", 10, "expected a term"),
    ("fire5:7 * fire5:3", 8, "not multiplied together"),
    ("fire5:1.5", 6, "whole number"),
    ("fire5", 5, "':' and a filter index"),
    ("class(goldfsh)", 6, "did you mean 'goldfish'"),
    ("a:1 -> b:2 -> c:3", 11, "only one '->'"),
    ("3", 0, "a number on its own"),
    ("a:1 - a:1", 8, "no term left"),
    ("a:1 $ b:2", 4, "unexpected character '\\$'"),
    ("neuron fire5:7", 7, "expected '\\(' after neuron"),
    ("(a:1 + b:2", 10, "expected '\\)'"),
    ("a:1 / 0", 4, "divided by a number other than 0"),
    ("class(1", 5, "never closed"),
])
def test_the_parser_refuses_and_points_at_the_bad_token(text, column, words):
    with pytest.raises(ValueError, match=words) as raised:
        parse_expression(text)
    lines = str(raised.value).splitlines()
    assert lines[-2] == f"  {text}" and lines[-1] == "  " + " " * column + "^"


def test_the_config_takes_an_expression_as_objective_and_checks_figures():
    config = FilterConfig(objective=" fire5:7 + fire5:12 ")
    assert config.expression == "fire5:7 + fire5:12" and config.objective == "channel"
    assert FilterConfig(objective="class", class_index="volcano").class_index == 980
    with pytest.raises(ValueError, match="objective must be one of .*at character 8"):
        FilterConfig(objective="texture")
    for settings, words in [(dict(expression="a:1 -> b:2"), "interpolation figure"),
                            (dict(figure="interpolation"), "two objectives"),
                            (dict(figure="atlas", expression="a:1"), "atlas"),
                            (dict(layers="conv1"), "atlas"),
                            (dict(figure="diversity", mode="classic"), "quality mode"),
                            (dict(expression="a:1", objective="b:2"), "not both")]:
        with pytest.raises(ValueError, match=words):
            FilterConfig(**settings)


def test_recipes_keep_the_new_settings_and_old_recipes_still_restore():
    config = FilterConfig(expression="fire5:7 -> fire5:9", figure="interpolation", row_size=7, captions="activation")
    assert recipes.config_from_recipe(json.loads(json.dumps(recipes.recipe_for("filters", config)))) == config
    old = {"technique": "filters", "version": "0.2.0", "config": {
        "backbone": "squeezenet", "weights": "imagenet", "layer": "fire5_concat", "filters": "0-3",
        "objective": "channel", "class_index": 0, "negative": False, "mode": "quality", "iterations": None,
        "step_size": None, "size": 128, "batch_size": 16, "frame_every": 8, "seed": 0}}
    restored = recipes.config_from_recipe(old)
    assert (restored.figure, restored.expression, restored.captions) == ("grid", "", "index")


def test_short_layer_names_resolve_to_the_one_offered_layer():
    from neuralart.models import get_backbone

    squeezenet = get_backbone("squeezenet", None)
    assert resolve_layer("fire5", squeezenet) == "fire5_concat"
    assert resolve_layer("fire5_expand1x1", squeezenet) == "fire5_expand1x1"
    with pytest.raises(ValueError, match="has no layer named 'fire'"):
        resolve_layer("fire", squeezenet)
    import keras

    inputs = keras.Input((None, None, 3))
    hidden = keras.layers.Conv2D(4, 3, name="block1_conv1")(inputs)
    ambiguous = _tiny_backbone(keras.Model(inputs, keras.layers.Conv2D(4, 3, name="block1_conv2")(hidden)))
    with pytest.raises(ValueError, match="could be any of 'block1'.*block1_conv1, block1_conv2"):
        resolve_layer("block1", ambiguous)


def test_the_composed_gradient_is_the_weighted_sum_of_the_terms_gradients(tiny_backbone, rng):
    import tensorflow as tf

    terms = (Term("channel", "conv2", 1), Term("channel", "conv3", 2), Term("neuron", "conv2", 3),
             Term("layer", "conv1"))
    weights = np.array([1.0, -0.5, 2.0, 0.25], np.float32)
    pixels = tf.constant(rng.uniform(0, 255, (2, 24, 24, 3)).astype(np.float32))

    def value_and_gradient(chosen, chosen_weights):
        plan = figure_plan(chosen, tiny_backbone)
        values = values_function(tiny_backbone, plan)
        with tf.GradientTape() as tape:
            tape.watch(pixels)
            pushed, _, _ = values(tiny_backbone.input_space.to_model(pixels),
                                  tf.constant(np.tile(chosen_weights, (2, 1)), tf.float32),
                                  tf.constant(plan.indices, tf.int32))
            total = tf.reduce_sum(pushed)
        return float(total), tape.gradient(total, pixels).numpy()

    total, gradient = value_and_gradient(terms, weights)
    parts = [value_and_gradient((term,), np.array([1.0], np.float32)) for term in terms]
    assert total == pytest.approx(sum(weight * value for weight, (value, _) in zip(weights, parts)), rel=1e-4)
    expected = sum(weight * part for weight, (_, part) in zip(weights, parts))
    np.testing.assert_allclose(gradient, expected, rtol=1e-3, atol=1e-4 * np.abs(expected).max())
    assert np.abs(gradient).max() > 0


def test_a_combined_objective_rises_and_class_terms_need_a_head(tiny_backbone, imagenet_classifier):
    config = tiny_config(expression="conv2:1 + conv2:3 - 0.5*conv3:2", iterations=16)
    frames, last = last_frame(config, tiny_backbone)
    grey = np.full((32, 32, 3), 128, np.uint8)
    tile = last.tiles[0][0]
    assert objective_values([tile], config.expression, tiny_backbone)[0] > objective_values(
        [grey], config.expression, tiny_backbone)[0]
    assert last.tiles[0][1] == config.expression and last.done and last.stage_done
    with pytest.raises(ValueError, match="needs a classifier output"):
        visualize(tiny_config(expression="class(goldfish) + conv2:1"), tiny_backbone)
    _, with_head = last_frame(tiny_config(expression="class(goldfish) + 0.1*conv2:1", iterations=4),
                              imagenet_classifier)
    assert set(with_head.losses) == {"image 1"}


# --- diversity and interpolation -------------------------------------------------------------------------------

def test_diversity_pushes_images_apart_and_each_still_raises_its_objective(tiny_backbone):
    # The tiny network's activations are a tenth of SqueezeNet's, so the diversity term weighs less here.
    settings = dict(figure="diversity", layer="conv2", filters="1", row_size=4, iterations=48)
    _, pushed = last_frame(tiny_config(**settings, diversity_weight=30.0), tiny_backbone)
    _, alone = last_frame(tiny_config(**settings, diversity_weight=0.0), tiny_backbone)
    pushed_tiles, alone_tiles = [tile for tile, _ in pushed.tiles], [tile for tile, _ in alone.tiles]
    assert len(pushed_tiles) == 4 and [caption for _, caption in pushed.tiles] == ["1", "2", "3", "4"]
    apart = gram_distances(pushed_tiles, "conv2", tiny_backbone).mean()
    together = gram_distances(alone_tiles, "conv2", tiny_backbone).mean()
    assert apart > 1.5 * together, (apart, together)
    assert pushed.losses["gram similarity"] < alone.losses["gram similarity"]
    start = objective_values([np.full((32, 32, 3), 128, np.uint8)], "conv2:1", tiny_backbone)[0]
    gained_alone = objective_values(alone_tiles, "conv2:1", tiny_backbone).mean() - start
    assert (objective_values(pushed_tiles, "conv2:1", tiny_backbone) > start + 0.5 * gained_alone).all()


def test_diversity_makes_a_row_per_filter_streamed_row_by_row(tiny_backbone):
    frames, last = last_frame(tiny_config(figure="diversity", layer="conv2", filters="1,3", row_size=3,
                                          iterations=6), tiny_backbone)
    closing = [frame for frame in frames if frame.stage_done]
    assert [frame.iteration for frame in closing] == [6, 12] and last.total_iterations == 12
    assert [caption for _, caption in last.tiles] == [f"filter {target} · {number}" for target in (1, 3)
                                                      for number in (1, 2, 3)]
    assert closing[0].image.shape[0] < last.image.shape[0]  # The second row is added under the first.


def test_interpolation_shares_low_frequencies_and_blends_its_ends():
    row = interpolation_row(parse_expression("a:1").start, parse_expression("b:2").start, 5)
    mixing, masks = parameterization(row, 32)
    assert mixing.shape == (5, 8) and masks.shape == (8, 32, 17)
    np.testing.assert_allclose(mixing[:, :5], np.eye(5))
    np.testing.assert_allclose(mixing[:, 5:], [[1, 1 - share, share] for share in (0, 0.25, 0.5, 0.75, 1)])
    frequency = np.sqrt(np.fft.fftfreq(32)[:, None] ** 2 + np.fft.rfftfreq(32)[None, :] ** 2)
    assert masks[:5].all() and (masks[5] == (frequency <= SHARED_CUTOFF)).all()
    assert (masks[6] == (frequency <= BLENDED_CUTOFF)).all() and 0 < masks[6].sum() < masks[5].sum()
    np.testing.assert_allclose(row.weights, [[1 - share, share] for share in (0, 0.25, 0.5, 0.75, 1)])


@pytest.mark.parametrize("settings", [dict(expression="conv2:4 -> conv2:9"), dict(layer="conv2", filters="4,9")])
def test_the_interpolation_s_middle_image_scores_between_its_ends(tiny_backbone, settings):
    config = tiny_config(figure="interpolation", row_size=5, iterations=48, **settings)
    _, last = last_frame(config, tiny_backbone)
    tiles = [tile for tile, _ in last.tiles]
    assert [caption for _, caption in last.tiles] == ["A", "25% B", "50% B", "75% B", "B"]
    first, second = (objective_values(tiles, text, tiny_backbone) for text in ("conv2:4", "conv2:9"))
    assert first[0] > first[-1] and second[-1] > second[0]
    assert min(first[0], first[-1]) < first[2] < max(first[0], first[-1])
    assert min(second[0], second[-1]) < second[2] < max(second[0], second[-1])


# --- captioned grids -------------------------------------------------------------------------------------------

def _tile_bands(grid: np.ndarray, count: int, side: int, width: int | None = None) -> list[np.ndarray]:
    """The caption bands of a labelled grid of `count` tiles `side` pixels high (and `width` wide, by default
    as high), in grid order."""
    width = width or side
    height = side + images.band_height(images.caption_font_size(width))
    columns = int(np.ceil(np.sqrt(count)))
    bands = []
    for index in range(count):
        top, left = 2 + (index // columns) * (height + 2), 2 + (index % columns) * (width + 2)
        bands.append(grid[top + side:top + height, left:left + width])
    return bands


@pytest.mark.parametrize("captions", ["index", "activation"])
def test_grid_captions_name_the_right_filters(tiny_backbone, captions):
    _, last = last_frame(tiny_config(layer="conv2", filters="0-5", iterations=3, captions=captions), tiny_backbone)
    shown = [int(label.split()[-1]) for label in last.losses][:len(last.tiles)]
    values = [last.losses[f"filter {target}"] for target in shown]
    expected = [str(target) if captions == "index" else f"{target}: {value:.3g}"
                for target, value in zip(shown, values)]
    assert [caption for _, caption in last.tiles] == expected
    for band, caption in zip(_tile_bands(last.image, len(shown), 32), expected):
        np.testing.assert_array_equal(band, images.caption_band(caption, 32))
    assert len({images.caption_band(caption, 32).tobytes() for caption in expected}) == len(expected)


def test_grids_without_captions_are_the_bare_grid(tiny_backbone):
    _, last = last_frame(tiny_config(layer="conv2", filters="0-3", iterations=2, captions="none"), tiny_backbone)
    np.testing.assert_array_equal(last.image, images.image_grid([tile for tile, _ in last.tiles]))


def test_class_tiles_are_captioned_by_name(imagenet_classifier):
    _, last = last_frame(tiny_config(objective="class", class_index="goldfish", iterations=2), imagenet_classifier)
    assert [caption for _, caption in last.tiles] == ["goldfish"]
    np.testing.assert_array_equal(_tile_bands(last.image, 1, 32)[0], images.caption_band("goldfish", 32))


def test_feature_maps_and_kernels_are_captioned(tiny_backbone, photo):
    from neuralart.features import feature_maps, kernel_tiles

    maps = feature_maps(photo, tiny_backbone, "conv2", count=4, tile_side=32)
    assert maps.shape[:2] == (32, 40)  # Tiles as large as the maps, 32x40: no enlargement.
    for band, channel in zip(_tile_bands(maps.grid, 4, 32, 40), maps.channels):
        np.testing.assert_array_equal(band, images.caption_band(str(channel), 40))
    kernels = kernel_tiles(tiny_backbone, tile_side=32)  # 3x3 kernels, enlarged 11 times.
    for index, band in enumerate(_tile_bands(kernels.grid, 8, 33)):
        np.testing.assert_array_equal(band, images.caption_band(str(index), 33))
    assert kernel_tiles(tiny_backbone, tile_side=32, captions="none").grid.shape[0] < kernels.grid.shape[0]


def test_labelled_grid_checks_its_captions_and_shortens_long_ones():
    tile = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="one caption per tile"):
        images.labelled_grid([tile, tile], ["0"])
    shortened = images.fitted_text("fire5_concat:7 + fire5_concat:12", 32, 9)
    assert shortened.endswith("…") and len(shortened) < 10


# --- the atlas -------------------------------------------------------------------------------------------------

def test_the_atlas_streams_row_by_row_with_a_caption_per_row(tiny_backbone):
    frames, last = last_frame(tiny_config(figure="atlas", layers="conv1, conv3", filters="0-2", iterations=4),
                              tiny_backbone)
    assert [frame.iteration for frame in frames if frame.stage_done] == [4, 8] and last.total_iterations == 8
    assert [frame.iteration for frame in frames] == sorted(frame.iteration for frame in frames)
    assert [caption for _, caption in last.tiles] == [f"{layer} · {target}" for layer in ("conv1", "conv3")
                                                      for target in range(3)]
    assert set(last.losses) == {f"{layer} · filter {target}" for layer in ("conv1", "conv3") for target in range(3)}
    assert last.note == ""


def test_the_chapter_atlas_falls_back_to_squeezenet_without_vgg16_weights(monkeypatch):
    from neuralart.features import atlas as atlas_module
    from neuralart.models import WeightsUnavailableError, get_backbone

    def without_vgg16(config):
        if config.backbone == "vgg16":
            raise WeightsUnavailableError("The ImageNet weights for vgg16 are not available.")
        return get_backbone(config.backbone, None)

    monkeypatch.setattr(atlas_module, "backbone_for", without_vgg16)
    config = FilterConfig(figure="atlas", backbone="vgg16", filters="0-1", size=48, iterations=1)
    _, last = last_frame(config, None)
    assert "SqueezeNet 1.1 stands in for VGG16" in last.note and "not available" in last.note
    assert [key.split(" · ")[0] for key in last.losses][::2] == ["conv1", "fire5_concat", "fire9_concat"]
    with pytest.raises(WeightsUnavailableError):  # Layers named for VGG16 have no stand-in.
        visualize(FilterConfig(figure="atlas", backbone="vgg16", layers="block1_conv1"))


@pytest.mark.slow
def test_the_chapter_atlas_of_vgg16_shows_its_early_middle_and_late_layers():
    config = FilterConfig(figure="atlas", backbone="vgg16", weights=None, filters="0-1", size=32, iterations=1)
    _, last = last_frame(config, None)
    assert [key.split(" · ")[0] for key in last.losses][::2] == ["block1_conv1", "block3_conv1", "block5_conv1"]
    assert last.note == ""


@pytest.mark.slow
def test_the_atlas_stand_in_loads_squeezenet_when_vgg16_weights_cannot_be_fetched(tmp_path, monkeypatch):
    """The real path: an empty Keras cache but for SqueezeNet's file, no network; VGG16's download fails."""
    if not SQUEEZENET_WEIGHTS.is_file():
        pytest.skip(f"real SqueezeNet weights not found at {SQUEEZENET_WEIGHTS}")
    from neuralart.models import REGISTRY

    (tmp_path / "models").mkdir()
    shutil.copy(SQUEEZENET_WEIGHTS, tmp_path / "models" / REGISTRY["squeezenet"].weights_notop.filename)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    frames = list(visualize(FilterConfig(figure="atlas", backbone="vgg16", filters="0", size=48, iterations=2)))
    assert "stands in for VGG16" in frames[-1].note and "vgg16_weights" in frames[-1].note


# --- the CLI ---------------------------------------------------------------------------------------------------

def test_cli_terms_presets_and_expressions_make_one_config():
    from neuralart.cli import build_parser
    from neuralart.cli.features import expression_from_terms
    from neuralart.cli.flags import config_from_args
    from neuralart.features import PRESETS

    def config_of(*flags):
        args = build_parser().parse_args(["filters", "-o", "x.png", *flags])
        return config_from_args(FilterConfig, args, "filters", PRESETS, **expression_from_terms(args))

    assert config_of("--objective", "fire5:7 + fire5:12").expression == "fire5:7 + fire5:12"
    terms = config_of("--objective", "fire5:7", "--term", "fire5:12", "--term=-0.5*fire7:3")
    assert str(terms.parsed_expression) == "fire5:7 + fire5:12 - 0.5*fire7:3" and terms.objective == "channel"
    chapter = config_of("--preset", "chapter")
    assert (chapter.figure, chapter.backbone, chapter.filters) == ("atlas", "vgg16", "0-7")
    assert config_of("--preset", "chapter", "--backbone", "squeezenet").backbone == "squeezenet"


def test_cli_interpolation_writes_its_row_recipe_and_report(tmp_path):
    from neuralart.cli import main

    output, report = tmp_path / "row.png", tmp_path / "row.json"
    code = main(["filters", "-o", str(output), "--backbone", "squeezenet", "--weights", "none", "--figure",
                 "interpolation", "--objective", "fire5:7 -> fire5:12", "--row-size", "3", "--iterations", "2",
                 "--size", "48", "--report", str(report), "--quiet"])
    assert code == 0
    assert images.read_recipe(str(output))["config"]["expression"] == "fire5:7 -> fire5:12"
    data = json.loads(report.read_text())
    assert data["captions"] == ["A", "50% B", "B"] and set(data["achieved_activation"]) == {
        "image 1", "image 2", "image 3"}


def test_cli_featuremaps_names_the_top_classes(tmp_path, capsys):
    from neuralart.cli import main

    photo = sorted((ROOT / "assets").glob("*.jpg"))[0]
    report = tmp_path / "maps.json"
    assert main(["featuremaps", str(photo), "-o", str(tmp_path / "maps.png"), "--backbone", "mobilenet",
                 "--weights", "none", "--count", "4", "--report", str(report)]) == 0
    predictions = json.loads(report.read_text())["predictions"]
    assert len(predictions) == 5 and all(item["name"] == class_names()[item["index"]] for item in predictions)
    assert f"top-5: {predictions[0]['name']} ({predictions[0]['index']})" in capsys.readouterr().err


# --- real weights ----------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_squeezenet_diversity_and_interpolation_on_real_weights(squeezenet):
    settings = dict(backbone="squeezenet", layer="fire5_concat", size=64, iterations=48)
    _, diverse = last_frame(FilterConfig(figure="diversity", filters="7", row_size=3, **settings), squeezenet)
    _, alike = last_frame(FilterConfig(figure="diversity", filters="7", row_size=3, diversity_weight=0.0,
                                       **settings), squeezenet)
    tiles = [tile for tile, _ in diverse.tiles]
    assert (gram_distances(tiles, "fire5_concat", squeezenet).mean()
            > gram_distances([tile for tile, _ in alike.tiles], "fire5_concat", squeezenet).mean())
    assert (objective_values(tiles, "fire5:7", squeezenet) > 0).all()
    _, row = last_frame(FilterConfig(figure="interpolation", expression="fire5:7 -> fire5:12", row_size=3,
                                     **{**settings, "layer": None}), squeezenet)
    row_tiles = [tile for tile, _ in row.tiles]
    first, second = (objective_values(row_tiles, text, squeezenet) for text in ("fire5:7", "fire5:12"))
    assert first[0] > first[1] > first[2] and second[0] < second[1] < second[2]


# --- the app's handlers ----------------------------------------------------------------------------------------

def test_the_list_of_terms_writes_the_combined_objective_and_back():
    from neuralart.ui import features_tab

    rows = [["1", "channel", "fire5", "7"], ["-0.5", "neuron", "fire7", "3"], ["", "class", "", "goldfish"],
            ["", "", "", ""], ["2", "layer", "conv1", ""]]
    text = features_tab.expression_from_terms(rows)
    assert text == "fire5:7 - 0.5*neuron(fire7:3) + class(goldfish) + 2*layer(conv1)"
    assert features_tab.expression_from_terms(features_tab.terms_from_expression(text)) == text
    assert features_tab.terms_from_expression("fire5:7 -> fire5:9") == {"__type__": "update"}
    assert features_tab.terms_from_expression("fire5:7 + *") == {"__type__": "update"}


def test_the_tab_streams_figures_with_their_captioned_tiles_and_time_left(monkeypatch):
    from neuralart.ui.status import progress_html
    from neuralart.ui import features_tab

    values = dict(backbone="squeezenet", weights="random", layer="fire2_concat", filters="3", objective="channel",
                  class_index=0.0, negative=False, mode="quality", iterations=4, size=48, seed=0,
                  figure="diversity", row_size=3, diversity_weight=100.0, expression="", layers="", captions="index",
                  terms=[["", "", "", ""]])
    outputs = list(features_tab.run_filters(**values))
    image, status, _, _, gallery, download, _ = outputs[-1]
    assert [caption for _, caption in gallery] == ["1", "2", "3"] and "done" in status
    assert images.read_recipe(download)["config"]["figure"] == "diversity"
    frame = TiledFrame(image=image, iteration=1, total_iterations=4, stage="atlas · row 1 of 3")
    assert "25% · about 30 s left" in progress_html(frame, 10.0)


def test_the_tab_names_the_top_classes_of_a_photo(monkeypatch, imagenet_classifier, photo, tmp_path):
    from neuralart.features import maps
    from neuralart.ui import features_tab

    path = tmp_path / "photo.png"
    images.save_png(path, photo)
    monkeypatch.setattr(maps, "get_backbone", lambda name, weights, include_top: imagenet_classifier)
    update = features_tab.show_predictions(str(path), "mobilenet", "random")
    expected = top_predictions(photo, imagenet_classifier)
    assert list(update["value"]) == [f"{item.name} ({item.index})" for item in expected]
    assert "without its classifier" in features_tab.show_predictions(str(path), "squeezenet", "random")["label"]


def test_the_tab_fetches_a_classifier_only_when_asked(monkeypatch, photo, tmp_path):
    from neuralart.features.maps import head_weights_at_hand
    from neuralart.ui import features_tab

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras-home"))
    path = tmp_path / "photo.png"
    images.save_png(path, photo)
    assert head_weights_at_hand("mobilenet", None) and not head_weights_at_hand("vgg16", "imagenet")
    waiting = features_tab.show_predictions(str(path), "vgg16", "imagenet")
    assert waiting["value"] is None and "press the button" in waiting["label"]
    fetched = features_tab.show_predictions(str(path), "mobilenet", "imagenet", fetch=True)  # No network here.
    assert fetched["value"] is None and "not available" in fetched["label"]
