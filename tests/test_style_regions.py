"""Styles by region: masks read as weights, per-region Gram matrices that hold only their region, a masked run
that keeps the photo outside every mask and gives each region its own style's statistics (in one piece and in
tiles), and clear messages for bad masks through the API, the command line and the tab."""

from __future__ import annotations

import numpy as np
import pytest

from neuralart import cli, images
from neuralart.images import ImageInputError, load_mask, soften_edges
from neuralart.style_transfer import StyleConfig, stylize
from tests.test_style_tiling import TINY, smooth_image

SHAPE = (96, 160)


@pytest.fixture
def two_styles(rng):
    """Blue diagonal stripes and red horizontal bands: statistics far apart at every layer."""
    rows, columns = np.mgrid[0:64, 0:64]
    blue = np.sin(columns / 2.0 + rows / 5.0)[..., None] * np.array([90, -60, 40]) + np.array([90, 120, 190])
    red = np.sign(np.sin(rows / 1.5))[..., None] * np.array([-80, 60, 50]) + np.array([200, 80, 60])
    return [np.clip(pattern + rng.normal(0, 15, (64, 64, 3)), 0, 255).astype(np.uint8) for pattern in (blue, red)]


@pytest.fixture
def halves():
    """Masks of the left and right thirds (uint8 greyscale); the middle third has no style."""
    left, right = np.zeros(SHAPE, np.uint8), np.zeros(SHAPE, np.uint8)
    left[:, :56], right[:, 104:] = 255, 255
    return [left, right]


def gram_distance(backbone, image, style) -> float:
    """Sum over the tiny network's three layers of the mean squared difference of Gram matrices."""
    import tensorflow as tf

    from neuralart import losses

    model = backbone.layer_model(("conv1", "conv2", "conv3"))

    def grams(pixels):
        model_input = backbone.input_space.to_model(tf.constant(pixels.astype(np.float32)))[None]
        return [losses.gram_matrix(output).numpy() for output in model(model_input)]
    return float(sum(np.mean(np.square(mine - theirs)) for mine, theirs in zip(grams(image), grams(style))))


# --- masks -----------------------------------------------------------------------------------------------------

def test_masks_read_brightness_or_paint_and_are_scaled_and_feathered(tmp_path):
    from PIL import Image

    opaque = np.zeros((30, 50), np.uint8)
    opaque[:, 25:] = 255
    Image.fromarray(opaque).save(tmp_path / "opaque.png")
    painted = np.zeros((30, 50, 4), np.uint8)
    painted[:, :10] = (0, 0, 0, 255)  # Black paint on a transparent layer: where it is painted counts.
    Image.fromarray(painted, "RGBA").save(tmp_path / "painted.png")
    weights = load_mask(tmp_path / "opaque.png", (60, 100))
    assert weights.shape == (60, 100) and weights.dtype == np.float32
    assert weights[:, :45].max() == 0.0 and weights[:, 55:].min() == 1.0
    brush = load_mask(str(tmp_path / "painted.png"), (30, 50))
    assert brush[:, :10].min() == 1.0 and brush[:, 10:].max() == 0.0
    soft = soften_edges(load_mask(tmp_path / "opaque.png", (60, 100)), 4.0)
    edge = soft[30, 40:60]
    assert 0.0 < edge.min() < 0.2 and 0.8 < edge.max() < 1.0 and np.all(np.diff(edge) >= 0), "a soft ramp"
    assert load_mask(np.full((5, 7), 0.25, np.float32), (10, 14)).max() == pytest.approx(0.25)


def test_bad_masks_say_what_is_wrong(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(ImageInputError, match="The mask of style 2: The file is not an image"):
        load_mask(tmp_path / "notes.txt", (10, 10), name="The mask of style 2")
    with pytest.raises(ImageInputError, match="No image file"):
        load_mask(tmp_path / "missing.png", (10, 10))
    with pytest.raises(ValueError, match="is empty: nothing is painted"):
        load_mask(np.zeros((8, 8), np.uint8), (10, 10))
    with pytest.raises(ImageInputError, match="values from 0 to 1"):
        load_mask(np.full((8, 8), 2.0), (10, 10))


def test_a_regions_gram_matrix_holds_only_its_regions_features(rng):
    """Changing the features outside a region leaves that region's Gram matrix as it was."""
    import tensorflow as tf

    from neuralart.style_transfer.regions import layer_weights, weighted_gram_sums

    masks = np.zeros((32, 40, 2), np.float32)
    masks[:, :16, 0], masks[:, 24:, 1] = 1.0, 1.0
    features = rng.normal(size=(1, 16, 20, 5)).astype(np.float32)
    changed = features.copy()
    changed[:, :, 12:] += 10.0  # Only under region 2 (pixels 24 and beyond, at stride 2).
    weights = layer_weights(tf.constant(masks), tf.constant(features), 2)
    assert tuple(weights.shape) == (16, 20, 2)
    before = weighted_gram_sums(tf.constant(features), weights, 2).numpy()
    after = weighted_gram_sums(tf.constant(changed), weights, 2).numpy()
    np.testing.assert_allclose(before[0], after[0], rtol=1e-6)
    assert np.abs(before[1] - after[1]).max() > 1.0


# --- masked runs -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("tile_size, optimizer", [(None, "lbfgs"), (128, "adam")])
def test_a_masked_run_keeps_the_photo_outside_and_gives_each_region_its_style(tiny_backbone, rng, two_styles,
                                                                              halves, tile_size, optimizer):
    """Pixels outside every mask change by at most 1 grey level; within each region, the Gram distance to its
    own style is below a fifth of the distance to the other style (in one piece, and in tiles)."""
    photo = smooth_image(rng, SHAPE)
    config = StyleConfig(**{**TINY, "init": "recolored"}, iterations=40, max_side=SHAPE[1], mask_feather=0.0,
                         tile_size=tile_size, optimizer=optimizer)
    result = list(stylize(photo, two_styles, config, tiny_backbone, style_masks=halves))[-1].image
    outside = np.abs(result[:, 60:100].astype(int) - photo[:, 60:100].astype(int))
    assert outside.max() <= 1
    assert np.abs(result[:, :56].astype(int) - photo[:, :56].astype(int)).mean() > 10, "the regions changed"
    left, right = result[:, 4:52], result[:, 108:156]
    blue, red = two_styles
    assert gram_distance(tiny_backbone, left, blue) < 0.2 * gram_distance(tiny_backbone, left, red)
    assert gram_distance(tiny_backbone, right, red) < 0.2 * gram_distance(tiny_backbone, right, blue)


def test_soft_mask_edges_fade_the_change_in_without_a_halo(tiny_backbone, rng, two_styles, halves):
    """With feathered masks the change grows steadily from the unstyled middle into a region: no band at the
    border changes more than the region's inside does."""
    photo = smooth_image(rng, SHAPE)
    config = StyleConfig(**TINY, iterations=30, max_side=SHAPE[1], mask_feather=0.03)
    result = list(stylize(photo, two_styles, config, tiny_backbone, style_masks=halves))[-1].image
    change = np.abs(result.astype(float) - photo.astype(float)).mean(axis=(0, 2))
    inside, border, middle = change[10:40].mean(), change[46:66].max(), change[78:82].mean()
    assert middle < 2.0 and border <= 1.1 * inside


def test_bad_masks_through_the_api(tiny_backbone, rng, two_styles, halves, tmp_path):
    photo = smooth_image(rng, SHAPE)
    config = StyleConfig(**TINY, iterations=1, max_side=SHAPE[1])
    with pytest.raises(ValueError, match="1 style mask for 2 style images: give one mask per style"):
        stylize(photo, two_styles, config, tiny_backbone, style_masks=[halves[0]])
    with pytest.raises(ValueError, match="The mask of style 2 is empty"):
        stylize(photo, two_styles, config, tiny_backbone, style_masks=[halves[0], np.zeros(SHAPE, np.uint8)])
    (tmp_path / "mask.txt").write_text("hello")
    with pytest.raises(ImageInputError, match="The mask of style 1: The file is not an image"):
        stylize(photo, two_styles, config, tiny_backbone, style_masks=[str(tmp_path / "mask.txt"), halves[1]])


# --- the command line ------------------------------------------------------------------------------------------

@pytest.fixture
def region_files(tmp_path, rng, two_styles, halves):
    paths = {}
    for name, image in (("photo", smooth_image(rng, SHAPE)), ("blue", two_styles[0]), ("red", two_styles[1])):
        paths[name] = tmp_path / f"{name}.png"
        images.save_png(paths[name], image)
    for name, mask in zip(("sky", "city"), halves):
        paths[name] = tmp_path / f"{name}.png"
        images.save_png(paths[name], np.repeat(mask[..., None], 3, axis=2))
    return paths


def style_command(paths, output, *flags):
    return cli.main(["style", str(paths["photo"]), str(paths["blue"]), str(paths["red"]), "-o", str(output),
                     "--backbone", "squeezenet", "--weights", "none", "--max-side", "96", "--iterations", "2",
                     "--quiet", "--no-estimate", *flags])


def test_style_masks_on_the_command_line(region_files, tmp_path, capsys):
    output = tmp_path / "out.png"
    assert style_command(region_files, output, "--style-mask", f"blue.png={region_files['sky']}",
                         "--style-mask", f"2={region_files['city']}") == 0
    result, photo = images.load_image(output), images.load_image(region_files["photo"], max_side=96)
    middle = slice(int(96 * 62 / 160), int(96 * 98 / 160))
    assert np.abs(result[:, middle].astype(int) - photo[:, middle].astype(int)).max() <= 1


@pytest.mark.parametrize("flags, message", [
    (["--style-mask", "green={sky}"], "'green' is no style of this run; name a style by its position or file name: "
                                      "1 (blue.png), 2 (red.png)"),
    (["--style-mask", "1={sky}"], "No mask for style 2"),
    (["--style-mask", "1={sky}", "--style-mask", "blue={city}"], "Style 'blue' has two masks"),
    (["--style-mask", "{sky}"], "write STYLE=MASK"),
])
def test_bad_style_masks_on_the_command_line_are_one_clear_line(region_files, tmp_path, capsys, flags, message):
    flags = [flag.format(**{name: str(path) for name, path in region_files.items()}) for flag in flags]
    assert style_command(region_files, tmp_path / "out.png", *flags) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and "Traceback" not in error


# --- the tab --------------------------------------------------------------------------------------------------

def editor_value(mask: np.ndarray | None):
    """What the region editor hands over: the photo as background, the paint as an RGBA layer."""
    layers = []
    if mask is not None:
        layer = np.zeros((*mask.shape, 4), np.uint8)
        layer[..., 0], layer[..., 3] = 228, mask
        layers.append(layer)
    return {"background": None, "layers": layers, "composite": None}


def test_tab_paint_becomes_the_jobs_style_masks(region_files, halves, monkeypatch):
    from neuralart.ui import style_extras, style_tab

    jobs = []
    monkeypatch.setattr(style_tab, "stream_run", lambda make_job, *_, **__: jobs.append(make_job()) or iter(()))
    monkeypatch.setattr(style_extras, "check_fits", lambda *_: None)
    values = {"content": str(region_files["photo"]), "style_1": str(region_files["blue"]),
              "style_2": str(region_files["red"]), "region_1": editor_value(halves[0]),
              "region_2": editor_value(halves[1])}
    list(style_tab.run_style(**values))
    masks = jobs[0].images["style_masks"]
    assert len(masks) == 2 and np.array_equal(masks[0] > 0.5, halves[0] > 0)
    list(style_tab.run_style(**{**values, "region_1": editor_value(None), "region_2": None}))
    assert "style_masks" not in jobs[1].images, "no paint: every style everywhere"


def test_tab_says_which_style_still_needs_a_region(region_files, halves, monkeypatch):
    import gradio as gr

    from neuralart.ui import style_extras, style_tab

    monkeypatch.setattr(style_extras, "check_fits", lambda *_: None)
    values = {"content": str(region_files["photo"]), "style_1": str(region_files["blue"]),
              "style_2": str(region_files["red"]), "region_1": editor_value(halves[0]),
              "region_2": editor_value(np.zeros(SHAPE, np.uint8))}
    with pytest.raises(gr.Error, match="Paint a region for style 2 as well"):
        list(style_tab.run_style(**values))


def test_tab_puts_the_photo_under_the_paint(region_files):
    from neuralart.ui import style_extras

    background = style_extras.paint_background(str(region_files["photo"]))
    assert background["background"].shape == (*SHAPE, 3) and background["layers"] == []
    assert style_extras.paint_background(None) is None
