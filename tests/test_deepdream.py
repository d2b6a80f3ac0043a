"""DeepDream: property checks on a tiny random backbone, and real-weights checks on SqueezeNet."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from neuralart import images
from neuralart.deepdream import DreamConfig, ascent_function, dream, octave_shapes

FAST = dict(backbone="custom", weights=None, iterations=6, octaves=2, frame_every=2, max_loss=None,
            max_side=None, step_size=0.02)


def run(image, backbone, **overrides):
    return list(dream(image, DreamConfig(**{**FAST, **overrides}), backbone))


def objective(image: np.ndarray, backbone, layers: dict[str, float]) -> float:
    """The dream objective of a uint8 image, computed independently of the traced step."""
    import tensorflow as tf

    model = backbone.layer_model(tuple(layers))
    unit = images.uint8_to_minus1_1(image)
    outputs = model(backbone.input_space.from_minus1_1(tf.constant(unit))[None])
    outputs = outputs if isinstance(outputs, list) else [outputs]
    total = 0.0
    for weight, activation in zip(layers.values(), outputs):
        activation = activation.numpy()
        total += weight * float(np.sum(activation[:, 2:-2, 2:-2] ** 2) / activation.size)
    return total


def test_objective_increases(photo, tiny_backbone):
    layers = {"conv2": 1.0, "conv3": 0.5}
    frames = run(photo, tiny_backbone, layers=layers, roll=False)
    assert objective(frames[-1].image, tiny_backbone, layers) > 1.5 * objective(photo, tiny_backbone, layers)


def test_reported_loss_matches_independent_objective(photo, tiny_backbone):
    """With one octave, no roll and one tile, the traced loss is the seed's formula on the current image."""
    layers = {"conv2": 1.0}
    config = DreamConfig(**{**FAST, "octaves": 1, "iterations": 1, "roll": False, "layers": layers})
    first = next(iter(dream(photo, config, tiny_backbone)))
    # The reported loss was measured on the input image (before the step), scaled for caffe-style inputs.
    expected = objective(photo, tiny_backbone, layers) / 127.5 ** 2
    assert first.losses["loss"] == pytest.approx(expected, rel=1e-3)


def test_frame_contract(photo, tiny_backbone):
    frames = run(photo, tiny_backbone)
    steps = [frame.iteration for frame in frames]
    assert steps == sorted(steps)
    assert frames[-1].iteration == frames[-1].total_iterations == 12
    assert frames[-1].done
    for frame in frames:
        assert frame.image.dtype == np.uint8 and frame.image.ndim == 3 and frame.image.shape[2] == 3
        assert set(frame.losses) == {"loss", "conv2", "conv3"}
        assert all(math.isfinite(value) for value in frame.losses.values())
    assert frames[-1].image.shape == photo.shape
    assert sum(frame.stage_done for frame in frames) == 2


def test_octave_shapes_smallest_first_and_end_at_input():
    shapes = octave_shapes((533, 799), 3, 1.4)
    assert shapes == [(271, 407), (380, 570), (533, 799)]
    assert octave_shapes((100, 100), 4, 2.0, min_side=20) == [(25, 25), (50, 50), (100, 100)]


def test_stage_frames_follow_octave_sizes(photo, tiny_backbone):
    frames = run(photo, tiny_backbone, octaves=3, octave_scale=1.5)
    sizes = [frame.image.shape[:2] for frame in frames if frame.stage_done]
    assert sizes == octave_shapes(photo.shape[:2], 3, 1.5)


def test_zero_iterations_returns_the_input(photo, tiny_backbone):
    frames = run(photo, tiny_backbone, iterations=0, octaves=3)
    difference = np.abs(frames[-1].image.astype(int) - photo.astype(int))
    assert difference.max() <= 2


def test_fixed_seed_reproduces_and_other_seed_differs(photo, tiny_backbone):
    first = run(photo, tiny_backbone, seed=3)[-1].image
    again = run(photo, tiny_backbone, seed=3)[-1].image
    other = run(photo, tiny_backbone, seed=4)[-1].image
    np.testing.assert_array_equal(first, again)
    assert np.abs(first.astype(int) - other.astype(int)).max() > 0


def test_close_mid_run_is_clean(photo, tiny_backbone):
    generator = dream(photo, DreamConfig(**{**FAST, "iterations": 40}), tiny_backbone)
    first = next(generator)
    generator.close()
    assert first.iteration < first.total_iterations
    with pytest.raises(StopIteration):
        next(generator)


def test_no_retracing_across_image_sizes(tiny_backbone, rng):
    layers = {"conv2": 1.0, "conv3": 0.5}
    for height, width in ((40, 48), (64, 80), (72, 56)):
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        run(image, tiny_backbone, layers=layers, octaves=2, iterations=2)
    step = ascent_function(tiny_backbone, tuple(layers), DreamConfig().tile_size)
    assert step.experimental_get_tracing_count() == 1


def test_tiles_cover_a_large_image_without_seams(tiny_backbone, rng):
    """With tiles smaller than the image, every pixel still gets a gradient (no dead tile borders)."""
    image = np.full((150, 130, 3), 128, dtype=np.uint8) + rng.integers(0, 20, (150, 130, 3), dtype=np.uint8)
    frames = run(image, tiny_backbone, octaves=1, iterations=4, tile_size=64, roll=True)
    change = np.abs(frames[-1].image.astype(int) - image.astype(int)).sum(axis=2)
    assert frames[-1].image.shape == image.shape
    assert (change > 0).mean() > 0.9


def test_max_loss_stops_an_octave_early(photo, tiny_backbone):
    frames = run(photo, tiny_backbone, max_loss=1e-6, octaves=1)
    # The very first loss already exceeds max_loss, so the image is never changed.
    assert np.abs(frames[-1].image.astype(int) - photo.astype(int)).max() <= 1
    assert frames[-1].done


@pytest.mark.parametrize("field, value", [
    ("iterations", -1), ("iterations", 10**6), ("octaves", 0), ("octaves", float("nan")),
    ("step_size", float("nan")), ("step_size", "big"), ("octave_scale", 1.0), ("max_side", 100000), ("seed", -5),
    ("layers", {"conv2": float("inf")}), ("layers", {"conv2": 0.0}), ("roll", "yes"), ("backbone", "alexnet"),
    ("iterations", True),
])
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError):
        DreamConfig(**{field: value})


def test_unknown_layer_is_a_clear_error(photo, tiny_backbone):
    with pytest.raises(ValueError, match="no layer named mixed3"):
        run(photo, tiny_backbone, layers={"mixed3": 1.0})


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DreamConfig().step_size = 1.0


@pytest.mark.slow
def test_real_squeezenet_dream_grows_activation(squeezenet):
    from tests.conftest import shared_image

    photo = images.load_image(shared_image("golden_gate.jpg"), max_side=256)
    layers = dict(squeezenet.default_layers("dream"))
    config = DreamConfig(backbone="squeezenet", weights=None, layers=layers, octaves=2, iterations=15,
                         max_loss=None, max_side=256, seed=0)
    result = list(dream(photo, config, squeezenet))[-1].image
    assert objective(result, squeezenet, layers) > 3 * objective(photo, squeezenet, layers)
    mean_change = np.abs(result.astype(float) - photo.astype(float)).mean()
    assert mean_change > 8, f"the image barely changed (mean absolute change {mean_change:.1f} of 255)"
