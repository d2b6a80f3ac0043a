"""The estimate said before a run: a probe that measures the network's time and memory per pixel, an estimate that
grows with the size (tiling bounding the network's part), and the refusal of a size that would not fit, with the
largest size that does, through the API, the command line and the tab (with a patched "available memory")."""

from __future__ import annotations

import numpy as np
import pytest

from neuralart import cli, images
from neuralart.style_transfer import StyleConfig
from neuralart.style_transfer import estimate as estimate_module
from neuralart.style_transfer.estimate import MEMORY_SHARE, Probe, estimate_run, probe
from tests.test_style_tiling import TINY

GB = 1e9


def test_the_probe_measures_time_and_memory_per_pixel_once_per_network(tiny_backbone):
    measured = probe(tiny_backbone, ("conv3",), ("conv1", "conv2", "conv3"))
    assert measured.seconds_per_pixel > 0 and measured.bytes_per_pixel > 0
    # The tiny network keeps 8 + 16 + 16 float channels at 1, 1/4 and 1/16 of the pixels, and their gradients:
    # at least its activations' bytes per pixel, and not absurdly more.
    activations = 4 * (8 + 16 / 4 + 16 / 16)
    assert activations <= measured.bytes_per_pixel <= 40 * activations
    assert probe(tiny_backbone, ("conv3",), ("conv1", "conv2", "conv3")) is measured


def test_time_grows_with_the_size_and_tiles_bound_the_networks_memory(tiny_backbone):
    config = StyleConfig(**TINY, iterations=100, tile_size=256)
    sizes = [(192, 256), (768, 1024), (3072, 4096)]
    estimates = [estimate_run(config, shape, tiny_backbone, available=1e15) for shape in sizes]
    seconds = [estimate.seconds for estimate in estimates]
    assert seconds[0] < seconds[1] < seconds[2]
    assert 8 < seconds[2] / seconds[1] < 40, "about proportional to the pixels (16 times as many)"
    measured = probe(tiny_backbone, ("conv3",), ("conv1", "conv2", "conv3"))
    whole_network = measured.network_bytes(3072 * 4096)
    assert estimates[2].peak_bytes - estimates[0].peak_bytes < whole_network, \
        "in tiles, the largest image needs less than its network's memory in one piece"


def test_a_tiled_estimate_counts_what_a_tile_step_adds_and_only_tiled_runs_measure_it(tiny_backbone, monkeypatch):
    layers = (("conv3",), ("conv1", "conv2", "conv3"))
    ratio = estimate_module.tile_step_ratio(tiny_backbone, *layers)
    assert ratio >= 1.0
    assert tiny_backbone.cached(("style_tile_ratio", *layers, 0), lambda: pytest.fail("measured twice")) == ratio
    asked = []
    monkeypatch.setattr(estimate_module, "tile_step_ratio", lambda *arguments: asked.append(arguments) or 2.0)
    config = StyleConfig(**TINY, iterations=100, tile_size=256)
    untiled = estimate_run(config, (192, 256), tiny_backbone, available=1e15)
    assert not asked, "a run in one piece does not trace the tile step"
    tiled = estimate_run(config, (768, 1024), tiny_backbone, available=1e15)
    assert asked == [(tiny_backbone, *layers, 0)]
    monkeypatch.setattr(estimate_module, "tile_step_ratio", lambda *_: 1.0)
    plain = estimate_run(config, (768, 1024), tiny_backbone, available=1e15)
    # Its passes cost twice as much; its setup (forward passes only) does not.
    assert 1.5 < tiled.seconds / plain.seconds < 2.0 and untiled.seconds < plain.seconds


def test_a_run_with_regions_is_probed_with_its_masks(tiny_backbone):
    layers = (("conv3",), ("conv1", "conv2", "conv3"))
    plain, regions = probe(tiny_backbone, *layers), probe(tiny_backbone, *layers, 2)
    assert regions is not plain and regions.seconds_per_pixel > 0 and regions.bytes_per_pixel > 0
    assert probe(tiny_backbone, *layers, 2) is regions
    assert estimate_module.tile_step_ratio(tiny_backbone, *layers, 2) >= 1.0


def test_a_size_that_does_not_fit_is_refused_with_the_largest_that_does(tiny_backbone, monkeypatch):
    monkeypatch.setattr(estimate_module, "resident_bytes", lambda: 0.5 * GB)
    huge = Probe(0.0, 1e-7, 1e6, 2000.0, 1.0)  # A network heavy enough that 1024 px needs gigabytes.
    monkeypatch.setattr(estimate_module, "probe", lambda *_: huge)
    config = StyleConfig(**TINY, max_side=1024, tile_size=1024)
    available = 2.0 * GB
    estimate = estimate_run(config, (768, 1024), tiny_backbone, available=available)
    assert not estimate.fits and estimate.largest_side and estimate.largest_side < 1024
    with pytest.raises(ValueError, match=rf"the largest size that fits is {estimate.largest_side} px"):
        estimate.check()
    fitting = estimate_run(config, images.scaled_size((768, 1024), estimate.largest_side / 1024), tiny_backbone,
                           available=available)
    assert fitting.fits and fitting.peak_bytes <= MEMORY_SHARE * available
    larger = estimate.largest_side + 32
    assert not estimate_run(config, images.scaled_size((768, 1024), larger / 1024), tiny_backbone,
                            available=available).fits
    roomy = estimate_run(config, (768, 1024), tiny_backbone, available=100 * GB)
    roomy.check()
    assert roomy.fits and "A 1024-px result: about" in roomy.summary()


@pytest.fixture
def small_memory(monkeypatch):
    """A machine with 1 GB available and a network that needs 100 kB per pixel."""
    monkeypatch.setattr(estimate_module, "available_bytes", lambda: 1.0 * GB)
    monkeypatch.setattr(estimate_module, "resident_bytes", lambda: 0.2 * GB)
    monkeypatch.setattr(estimate_module, "probe", lambda *_: Probe(0.0, 1e-7, 0.0, 1e5, 1.0))


def test_the_command_line_refuses_a_size_that_does_not_fit(tmp_path, rng, small_memory, capsys):
    content, style = tmp_path / "photo.png", tmp_path / "style.png"
    images.save_png(content, rng.integers(0, 256, (300, 400, 3), dtype=np.uint8))
    images.save_png(style, rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    arguments = ["style", str(content), str(style), "-o", str(tmp_path / "out.png"), "--backbone", "squeezenet",
                 "--weights", "none", "--iterations", "1"]
    assert cli.main([*arguments, "--max-side", "400"]) == 2
    error = capsys.readouterr().err
    assert "needs about" in error and "the largest size that fits is" in error and "Traceback" not in error
    assert not (tmp_path / "out.png").exists()
    assert cli.main([*arguments, "--max-side", "64"]) == 0
    assert "A 64-px result: about" in capsys.readouterr().err


def test_the_tab_shows_the_estimate_and_refuses_a_size_that_does_not_fit(tmp_path, rng, small_memory):
    import gradio as gr

    from neuralart.ui import style_extras, style_tab

    content, style = tmp_path / "photo.png", tmp_path / "style.png"
    images.save_png(content, rng.integers(0, 256, (300, 400, 3), dtype=np.uint8))
    images.save_png(style, rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    values = dict(backbone="squeezenet", weights="random", max_side=400, iterations=1)
    assert style_extras.estimate_text(**values) == style_extras.ESTIMATE_PENDING
    shown = style_extras.estimate_text(content=str(content), **values)
    assert shown.startswith("**Time and memory:** A 400-px result") and "the largest size that fits is" in shown
    run = style_tab.run_style(content=str(content), style_1=str(style), **values)
    first = next(run)
    assert first[1].startswith("Not started: A 400-px result needs about")
    with pytest.raises(gr.Error, match="the largest size that fits is"):
        next(run)


def test_the_tabs_estimate_reads_every_setting_it_depends_on_and_follows_each_change():
    """The estimate builds the network the run will: with the weights chosen (random weights need no download),
    and it is measured again whenever one of those settings changes, however it was changed."""
    import app
    from neuralart.ui import style_extras

    demo = app.build_demo()
    estimate = next(fn for fn in demo.fns.values() if getattr(fn.fn, "__name__", "") == "estimate_text")
    inputs = {block.elem_id for block in estimate.inputs}
    assert {"style-content", "style-weights", "style-backbone", "style-max-side", "style-enlarge"} <= inputs
    triggers = {(demo.blocks[block].elem_id, event) for block, event in estimate.targets if block is not None}
    assert {(elem_id, "change") for elem_id in inputs} <= triggers
    assert "weights" in style_extras.ESTIMATE_FIELDS


def test_the_tabs_estimate_says_why_when_the_networks_weights_are_missing(tmp_path, rng, monkeypatch):
    from neuralart import models
    from neuralart.ui import style_extras

    def missing(name, weights=None, **_):
        raise models.WeightsUnavailableError("no file", name)
    monkeypatch.setattr(models, "get_backbone", missing)
    content = tmp_path / "photo.png"
    images.save_png(content, rng.integers(0, 256, (60, 80, 3), dtype=np.uint8))
    shown = style_extras.estimate_text(content=str(content), backbone="vgg19", weights="imagenet", max_side=80)
    assert shown.startswith("*Time and memory: not estimated: this network's trained weights are not on this server")
