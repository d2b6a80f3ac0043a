"""Style transfer beyond one piece: the tile layout, statistics summed over tiles against the whole image's, a
tiled run against an untiled one of the same size, no seams at tile borders, frames tile by tile, and the real
SqueezeNet at two scales. The tiny random backbone keeps these fast; sizes stay at 128-320 px with forced small
tiles."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neuralart.style_transfer import StyleConfig, stylize
from neuralart.style_transfer import tiled as tiled_module
from neuralart.style_transfer.tiles import tile_layout, tile_side, tile_steps
from tests.conftest import shared_image

LAYERS = (("conv3",), ("conv1", "conv2", "conv3"))
TINY = dict(backbone="custom", weights=None, content_layers={"conv3": 1.0},
            style_layers={"conv1": 1.0, "conv2": 1.0, "conv3": 1.0}, style_weight=1.0, tv_weight=1e-5,
            multiscale=False, frame_every=1000, init="content")


def smooth_image(rng, shape, cells=(8, 10)):
    from PIL import Image

    small = rng.integers(0, 256, (*cells, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize(shape[::-1], Image.Resampling.BICUBIC))


@pytest.fixture
def stripes(rng):
    rows, columns = np.mgrid[0:96, 0:96]
    pattern = np.sin(columns / 2.0 + rows / 5.0)[..., None] * np.array([90, -60, 40]) + np.array([90, 120, 190])
    return np.clip(pattern + rng.normal(0, 10, (96, 96, 3)), 0, 255).astype(np.uint8)


@pytest.fixture
def recorded_layouts(monkeypatch):
    """Every layout a tiled scale steps through (its boundaries moved at random)."""
    layouts = []

    def recording(shape, side, align, margin, rng=None):
        layout = tile_layout(shape, side, align, margin, rng)
        if rng is not None:
            layouts.append(layout)
        return layout
    monkeypatch.setattr(tiled_module, "tile_layout", recording)
    return layouts


# --- the layout ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, side", [((300, 517), 128), ((3072, 4096), 1024), ((200, 160), 256),
                                         ((1000, 333), 768)])
@pytest.mark.parametrize("moved", [False, True])
def test_cores_partition_the_image_and_windows_stay_within_the_side(shape, side, moved):
    rng = np.random.default_rng(1) if moved else None
    layout = tile_layout(shape, side, 16, 48, rng)
    owner = np.zeros(shape, np.int32)
    for tile in layout:
        top, left, bottom, right = tile.core
        owner[top:bottom, left:right] += 1
        assert top % 16 == 0 and left % 16 == 0, "cores start on the network's stride"
        window_top, window_left, window_bottom, window_right = tile.window
        assert window_bottom - window_top <= side and window_right - window_left <= side
        assert window_top == max(top - 48, 0) and window_bottom == min(bottom + 48, shape[0])
    assert np.all(owner == 1), "every pixel belongs to exactly one core"


def test_moved_layouts_differ_from_pass_to_pass():
    rng = np.random.default_rng(0)
    layouts = {tuple(tile.core for tile in tile_layout((600, 900), 256, 16, 48, rng)) for _ in range(6)}
    assert len(layouts) > 3


def test_the_tile_side_is_the_configs_else_the_networks():
    assert tile_side(None, "squeezenet") == 1280 and tile_side(None, "vgg19") == 768
    assert tile_side(512, "vgg19") == 512


# --- statistics over tiles ------------------------------------------------------------------------------------

def test_statistics_summed_over_tiles_equal_the_whole_images(tiny_backbone, rng):
    """Content feature maps put together from the cores, and Gram matrices summed over them, are the whole
    image's (the margin covers the tiny network's receptive field)."""
    import tensorflow as tf

    from neuralart.style_transfer import style_steps

    pixels = smooth_image(rng, (200, 264)).astype(np.float32)
    steps = tile_steps(tiny_backbone, *LAYERS, 1)
    sums, maps = tiled_module.whole_statistics(steps, pixels, 128, assemble=True)
    whole_content, whole_grams = style_steps(tiny_backbone, *LAYERS).features(tf.constant(pixels))
    np.testing.assert_allclose(maps[0], whole_content[0].numpy(), rtol=1e-4, atol=1e-3)
    for tiled, whole in zip(sums.normalised_grams(), whole_grams):
        np.testing.assert_allclose(tiled[0], whole.numpy(), rtol=1e-4, atol=1e-4 * np.abs(whole.numpy()).max())
    grams = tiled_module.tiled_grams(steps, pixels, 128)
    np.testing.assert_allclose(grams[1], whole_grams[1].numpy(), rtol=1e-4, atol=1e-4)


def test_tile_steps_do_not_retrace_across_sizes(tiny_backbone, rng, stripes):
    for shape in ((150, 200), (200, 150), (176, 230)):
        list(stylize(smooth_image(rng, shape), stripes, StyleConfig(**TINY, iterations=2, max_side=max(shape),
                                                                    tile_size=128), tiny_backbone))
    steps = tile_steps(tiny_backbone, *LAYERS, 1)
    assert steps.step.experimental_get_tracing_count() == 1
    assert steps.statistics.experimental_get_tracing_count() == 1


# --- a tiled run against an untiled one ---------------------------------------------------------------------

def test_tiled_and_untiled_runs_reach_similar_losses_and_look_alike(tiny_backbone, rng, stripes):
    """The same run at 320x256, in one piece and in tiles of 160 px (Adam both ways, the optimizer tiles use):
    final total losses within 3% of each other, and images alike: mean absolute difference under 2 grey levels
    and 99th percentile under 8 (of 255)."""
    photo = smooth_image(rng, (256, 320))
    config = StyleConfig(**TINY, iterations=30, optimizer="adam", max_side=320)
    whole = list(stylize(photo, stripes, config, tiny_backbone))[-1]
    tiled = list(stylize(photo, stripes, dataclasses.replace(config, tile_size=160), tiny_backbone))[-1]
    start = list(stylize(photo, stripes, dataclasses.replace(config, iterations=0), tiny_backbone))[-1]
    assert whole.losses["total"] < 0.9 * start.losses["total"], "the run must have moved for the test to mean much"
    assert tiled.losses["total"] == pytest.approx(whole.losses["total"], rel=0.03)
    difference = np.abs(whole.image.astype(float) - tiled.image.astype(float))
    assert difference.mean() < 2.0 and np.percentile(difference, 99) < 8.0


def shrunk_difference(first: np.ndarray, second: np.ndarray, factor: int = 8) -> float:
    """Mean absolute difference (grey levels) of two images shrunk `factor` times by averaging blocks."""
    height, width = (side // factor * factor for side in first.shape[:2])

    def shrunk(image):
        blocks = image[:height, :width].astype(float).reshape(height // factor, factor, width // factor, factor, 3)
        return blocks.mean(axis=(1, 3))
    return float(np.abs(shrunk(first) - shrunk(second)).mean())


def border_energy(image: np.ndarray, layouts) -> tuple[float, float]:
    """(mean squared difference between neighbouring pixels across the tile borders the run used, the same over
    all neighbouring pixels), rows and columns together."""
    image = image.astype(float)
    across_columns = np.square(np.diff(image, axis=1)).sum(axis=2).mean(axis=0)  # between columns j and j + 1
    across_rows = np.square(np.diff(image, axis=0)).sum(axis=2).mean(axis=1)
    columns = sorted({tile.core[1] for layout in layouts for tile in layout} - {0})
    rows = sorted({tile.core[0] for layout in layouts for tile in layout} - {0})
    assert columns and rows, "the run must have had borders inside the image"
    at_borders = np.concatenate([across_columns[np.array(columns) - 1], across_rows[np.array(rows) - 1]])
    return float(at_borders.mean()), float(np.concatenate([across_columns, across_rows]).mean())


def test_no_seams_gradient_energy_at_tile_borders_is_no_higher_than_elsewhere(tiny_backbone, rng, stripes,
                                                                               recorded_layouts):
    photo = smooth_image(rng, (256, 320))
    config = StyleConfig(**TINY, iterations=25, optimizer="adam", max_side=320, tile_size=128)
    result = list(stylize(photo, stripes, config, tiny_backbone))[-1].image
    at_borders, everywhere = border_energy(result, recorded_layouts)
    assert at_borders <= 1.1 * everywhere, (at_borders, everywhere)


def test_a_tiled_scale_streams_frames_tile_by_tile_and_stops_cleanly(tiny_backbone, rng, stripes, monkeypatch):
    monkeypatch.setattr("neuralart.loop.FRAME_SECONDS", 0.0)  # Tiles this small take less than a frame's time.
    photo = smooth_image(rng, (256, 320))
    config = StyleConfig(**{**TINY, "frame_every": 1}, iterations=3, optimizer="adam", max_side=320, tile_size=128)
    frames = list(stylize(photo, stripes, config, tiny_backbone))
    assert frames[-1].done and frames[-1].stage_done and frames[-1].image.shape == photo.shape
    iterations = [frame.iteration for frame in frames]
    assert iterations == sorted(iterations) and len(frames) > config.iterations + 1
    assert len({frame.image.tobytes() for frame in frames}) > config.iterations + 1, "the picture changes tile by tile"
    for frame in frames:
        assert abs(frame.losses["total"] - sum(frame.losses[name] for name in ("content", "style", "tv"))) \
            <= 1e-4 * frame.losses["total"]
    generator = stylize(photo, stripes, dataclasses.replace(config, iterations=50), tiny_backbone)
    first = next(generator)
    generator.close()
    assert first.iteration < first.total_iterations
    with pytest.raises(StopIteration):
        next(generator)


def test_scales_up_to_the_tile_run_in_one_piece_and_larger_ones_in_tiles(tiny_backbone, rng, stripes,
                                                                         monkeypatch):
    built = []
    real = tiled_module.TiledScale

    def recording(run, pixels, shape, *arguments):
        built.append(shape)
        return real(run, pixels, shape, *arguments)
    import neuralart.style_transfer.run as run_module

    monkeypatch.setattr(run_module, "TiledScale", recording)
    photo = smooth_image(rng, (192, 256))
    config = StyleConfig(**{**TINY, "multiscale": True}, multiscale_min_side=64, iterations=2, max_side=256,
                         tile_size=128)
    frames = list(stylize(photo, stripes, config, tiny_backbone))
    assert [frame.image.shape[:2] for frame in frames if frame.stage_done] == [(48, 64), (96, 128), (192, 256)]
    assert built == [(192, 256)]


def test_a_style_image_larger_than_a_tile_is_measured_tile_by_tile(tiny_backbone, rng, monkeypatch):
    calls = []
    real = tiled_module.tiled_grams

    def recording(steps, pixels, side):
        calls.append(pixels.shape[:2])
        return real(steps, pixels, side)
    import neuralart.style_transfer.run as run_module

    monkeypatch.setattr(run_module, "tiled_grams", recording)
    photo, style = smooth_image(rng, (96, 128)), smooth_image(rng, (300, 300), (20, 20))
    list(stylize(photo, style, StyleConfig(**TINY, iterations=1, max_side=128, style_scale=2.0, tile_size=160),
                 tiny_backbone))
    assert calls == [(256, 256)]


# --- real SqueezeNet ------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_real_squeezenet_tiled_finest_scale_matches_one_piece_without_seams(squeezenet, recorded_layouts):
    """Golden Gate in the style of The Starry Night, 192 -> 384 px, 40 iterations per scale, the 384-px scale in
    one piece and in tiles of 256 px (whose margins, a quarter of the tile, are narrower than SqueezeNet's
    receptive field). With Adam both ways: total losses within 10%, images alike (mean absolute difference under 6
    grey levels once both are shrunk 8 times: textures as chaotic as these differ pixel by pixel between any two
    runs, but the picture must not), no more gradient energy at the tile borders than elsewhere. With L-BFGS (the
    default; tiles still step with Adam), a guard: the tiled total at most 1.6 times the one-piece one."""
    photo, style = shared_image("golden_gate.jpg"), shared_image("starry_night.jpg")
    config = StyleConfig(backbone="squeezenet", weights=None, max_side=384, multiscale_min_side=192,
                         iterations=40, frame_every=1000, optimizer="adam")
    whole = list(stylize(photo, style, config, squeezenet))[-1]
    tiled = list(stylize(photo, style, dataclasses.replace(config, tile_size=256), squeezenet))[-1]
    assert tiled.losses["total"] == pytest.approx(whole.losses["total"], rel=0.10)
    assert shrunk_difference(whole.image, tiled.image) < 6.0
    at_borders, everywhere = border_energy(tiled.image, recorded_layouts)
    assert at_borders <= 1.1 * everywhere, (at_borders, everywhere)
    lbfgs = dataclasses.replace(config, optimizer="lbfgs")
    one_piece = list(stylize(photo, style, lbfgs, squeezenet))[-1]
    refined = list(stylize(photo, style, dataclasses.replace(lbfgs, tile_size=256), squeezenet))[-1]
    assert refined.losses["total"] <= 1.6 * one_piece.losses["total"]
