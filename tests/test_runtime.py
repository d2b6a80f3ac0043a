"""Speed machinery: CPU detection and switches (neuralart.runtime), the inference models (folded batch norms,
bfloat16 per model), bfloat16 results against float32 ones, the frame cadence, and the --fast preset."""

from __future__ import annotations

import numpy as np
import pytest

from neuralart import runtime

CPUINFO = """processor\t: 0
model name\t: Example CPU
flags\t\t: fpu sse avx2 avx512f {extra}

processor\t: 1
flags\t\t: fpu
"""


def cpuinfo_file(tmp_path, extra: str) -> str:
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO.format(extra=extra))
    return str(path)


# --- runtime: detection and switches -------------------------------------------------------------------------

@pytest.mark.parametrize("extra, expected",
                         [("avx512_bf16", True), ("amx_bf16 amx_tile", True), ("avx512_vnni", False)])
def test_bfloat16_detection_reads_the_first_cpus_flags(tmp_path, extra, expected):
    flags = runtime.cpu_flags(cpuinfo_file(tmp_path, extra))
    assert "avx512f" in flags
    assert runtime.supports_bfloat16(flags) is expected
    assert runtime.cpu_model(cpuinfo_file(tmp_path, extra)) == "Example CPU"


def test_unreadable_cpuinfo_means_no_flags(tmp_path):
    assert runtime.cpu_flags(str(tmp_path / "missing")) == frozenset()
    assert runtime.supports_bfloat16(frozenset()) is False


@pytest.mark.parametrize("requested, environment, flags, expected", [
    ("auto", {}, {"avx512_bf16"}, "bfloat16"),
    ("auto", {}, {"avx2"}, "float32"),
    ("auto", {"NEURALART_PRECISION": "float32"}, {"amx_bf16"}, "float32"),
    ("auto", {"NEURALART_PRECISION": " BFloat16 "}, {"avx2"}, "bfloat16"),
    ("auto", {"NEURALART_PRECISION": ""}, {"avx512_bf16"}, "bfloat16"),
    ("float32", {"NEURALART_PRECISION": "bfloat16"}, {"avx512_bf16"}, "float32"),
    ("bfloat16", {}, {"avx2"}, "bfloat16"),
])
def test_precision_choice(requested, environment, flags, expected):
    assert runtime.resolve_precision(requested, environment, flags) == expected


@pytest.mark.parametrize("requested, environment", [("float16", {}), (None, {}),
                                                    ("auto", {"NEURALART_PRECISION": "half"})])
def test_bad_precision_is_a_clear_error(requested, environment):
    with pytest.raises(ValueError, match="precision|NEURALART_PRECISION"):
        runtime.resolve_precision(requested, environment, set())


def test_xla_and_thread_switches():
    assert runtime.xla_enabled({}) is False
    assert runtime.xla_enabled({"NEURALART_XLA": "1"}) is True
    with pytest.raises(ValueError, match="NEURALART_XLA"):
        runtime.xla_enabled({"NEURALART_XLA": "maybe"})
    assert runtime.thread_settings({"NEURALART_THREADS": "3"}) == (3, 1)
    assert runtime.thread_settings({}) is None
    assert runtime.configure_threads({}) is False
    with pytest.raises(ValueError, match="NEURALART_THREADS"):
        runtime.thread_settings({"NEURALART_THREADS": "0"})


@pytest.mark.parametrize("preset, expected", [(None, "true"), ("false", "false")])
def test_importing_the_package_chooses_the_bfc_allocator_unless_told_otherwise(preset, expected):
    import os
    import subprocess
    import sys

    environment = {key: value for key, value in os.environ.items() if key != "TF_CPU_ALLOCATOR_USE_BFC"}
    if preset is not None:
        environment["TF_CPU_ALLOCATOR_USE_BFC"] = preset
    code = "import neuralart, os; print(os.environ['TF_CPU_ALLOCATOR_USE_BFC'])"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env=environment).stdout
    assert output.strip() == expected


def test_importing_the_package_does_not_import_tensorflow():
    import subprocess
    import sys

    code = "import neuralart, neuralart.runtime, sys; print('tensorflow' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "False"


# --- inference models ----------------------------------------------------------------------------------------

def batch_norm_model(seed: int = 0):
    """Conv -> BN -> ReLU twice, with non-trivial BN statistics, and a conv whose output is also a model output."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, None, 3))
    x = inputs
    for index in (1, 2):
        x = keras.layers.Conv2D(8, 3, padding="same", use_bias=index == 2, name=f"conv{index}")(x)
        x = keras.layers.BatchNormalization(name=f"norm{index}")(x)
        x = keras.layers.ReLU(name=f"relu{index}")(x)
    tapped = keras.layers.Conv2D(4, 1, name="tapped")(x)
    after_tap = keras.layers.BatchNormalization(name="norm_tapped")(tapped)
    return with_batch_norm_statistics(keras.Model(inputs, [x, tapped, after_tap]), seed)


def with_batch_norm_statistics(model, seed: int, mean_of_beta: float = 0.0):
    """`model` with random, non-trivial scale, offset, mean and variance in every batch normalisation."""
    import keras

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            size = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2, size), rng.normal(mean_of_beta, 1 + abs(mean_of_beta) / 5, size),
                               rng.normal(0, 1, size), rng.uniform(0.5, 3, size)])
    return model


def test_folding_batch_norms_keeps_the_function(rng):
    import keras

    from neuralart.models import inference_model

    model = batch_norm_model()
    folded = inference_model(model, "float32")
    batch_norms = [layer.name for layer in folded.layers if isinstance(layer, keras.layers.BatchNormalization)]
    # norm1 and norm2 are folded; norm_tapped is not, because its convolution's output is wanted as it is.
    assert batch_norms == ["norm_tapped"]
    image = rng.normal(0, 50, (1, 20, 24, 3)).astype(np.float32)
    for expected, got in zip(model(image), folded(image)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-4, atol=1e-4)


def inception_block_model(seed: int = 0):
    """An Inception-style block: 1x1 branches reading one tensor, one through a stride-1 average pool, one average
    pool read by two layers (so it must stay where it is), and large biases, so that a pool that counted padded
    pixels, or a branch cut at the wrong channels, would show at once."""
    import keras

    keras.utils.set_random_seed(seed)
    layers = keras.layers
    inputs = keras.Input((None, None, 3))
    stem = layers.ReLU()(layers.Conv2D(6, 3, padding="same", name="stem")(inputs))

    def conv_norm_relu(x, filters, size, name):
        x = layers.Conv2D(filters, size, padding="same", use_bias=False, name=name)(x)
        return layers.ReLU()(layers.BatchNormalization(name=f"{name}_norm")(x))

    branch_1x1 = conv_norm_relu(stem, 4, 1, "branch_1x1")
    branch_3x3 = conv_norm_relu(layers.Conv2D(5, 1, bias_initializer="ones", name="reduce")(stem), 3, 3, "b3x3")
    branch_pool = conv_norm_relu(layers.AveragePooling2D(3, 1, padding="same", name="pool")(stem), 2, 1, "b_pool")
    shared_pool = layers.AveragePooling2D(3, 1, padding="same", name="shared_pool")(stem)
    branch_shared = conv_norm_relu(shared_pool, 3, 1, "b_shared")
    block = layers.Concatenate()([branch_1x1, branch_3x3, branch_pool, branch_shared, shared_pool])
    return with_batch_norm_statistics(keras.Model(inputs, block), seed, mean_of_beta=5.0)


def test_merging_pointwise_branches_keeps_the_function(rng):
    import keras

    from neuralart.models import inference_model

    model = inception_block_model()
    merged = inference_model(model, "float32")
    convolutions = {layer.name: layer for layer in merged.layers if isinstance(layer, keras.layers.Conv2D)}
    # branch_1x1, reduce and b_pool (whose pool moves behind it) are one convolution of 4 + 5 + 2 channels;
    # b_shared reads a pool that the concatenation reads too, so both stay as they are.
    merged_names = [name for name in convolutions if name.endswith("_merged_pointwise")]
    assert len(merged_names) == 1 and convolutions[merged_names[0]].filters == 11
    assert set(convolutions) - set(merged_names) == {"b3x3", "b_shared", "stem"}
    assert {layer.name for layer in merged.layers if isinstance(layer, keras.layers.AveragePooling2D)} == {
        "pool", "shared_pool"}
    for height, width in ((13, 17), (1, 5)):  # odd sizes: the pools' borders average fewer pixels
        image = rng.normal(0, 50, (1, height, width, 3)).astype(np.float32)
        expected, got = np.asarray(model(image)), np.asarray(merged(image))
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3 * np.abs(expected).max())
    unmerged = inference_model(model, "float32", merge_pointwise=False)
    assert "branch_1x1" in {layer.name for layer in unmerged.layers}


def test_merged_pointwise_branches_in_bfloat16_stay_close(rng):
    from neuralart.models import inference_model

    model = inception_block_model(seed=1)
    image = rng.normal(0, 50, (1, 16, 20, 3)).astype(np.float32)
    expected = np.asarray(model(image))
    got = np.asarray(inference_model(model, "bfloat16")(image), dtype=np.float32)
    assert np.abs(got - expected).max() <= 0.03 * np.abs(expected).max()


def test_bfloat16_model_is_per_model_and_close_to_float32(rng):
    import keras

    from neuralart.models import inference_model

    model = batch_norm_model()
    fast = inference_model(model, "bfloat16")
    assert keras.config.dtype_policy().name == "float32"  # The process-wide policy is untouched.
    # Weights are rounded to bfloat16 once, when the model is built, rather than cast on every call.
    assert all(weight.dtype == "bfloat16" for weight in fast.weights)
    image = rng.normal(0, 50, (1, 20, 24, 3)).astype(np.float32)
    outputs = fast(image)
    assert str(outputs[0].dtype) in ("bfloat16", "<dtype: 'bfloat16'>")
    for expected, got in zip(model(image), outputs):
        expected, got = np.asarray(expected), np.asarray(got, dtype=np.float32)
        assert np.abs(got - expected).max() <= 0.03 * np.abs(expected).max()


def test_float32_model_without_batch_norms_is_returned_as_is(tiny_backbone):
    from neuralart.models import inference_model

    assert inference_model(tiny_backbone.model, "float32") is tiny_backbone.model


def test_with_precision_shares_the_model_and_caches(tiny_backbone):
    fast = tiny_backbone.with_precision("bfloat16")
    assert fast.precision == "bfloat16" and tiny_backbone.precision == "float32"
    assert fast.model is tiny_backbone.model
    assert tiny_backbone.with_precision("bfloat16") is fast
    assert tiny_backbone.with_precision("float32") is tiny_backbone
    assert fast.layer_model(("conv2",)) is not tiny_backbone.layer_model(("conv2",))


def test_get_backbone_precision_builds_the_network_once():
    from neuralart.models import get_backbone

    plain = get_backbone("squeezenet", None)
    fast = get_backbone("squeezenet", None, precision="bfloat16")
    assert plain.precision == "float32" and fast.precision == "bfloat16"
    assert fast.model is plain.model
    with pytest.raises(ValueError, match="precision"):
        get_backbone("squeezenet", None, precision="half")


# --- DeepDream in bfloat16 against float32 -------------------------------------------------------------------

DREAM = dict(backbone="custom", weights=None, iterations=6, octaves=2, frame_every=3, max_loss=None,
             max_side=None, step_size=0.02, seed=1)


def test_bfloat16_dream_matches_float32(photo, tiny_backbone):
    from neuralart.deepdream import DreamConfig, dream

    config = DreamConfig(**DREAM)
    exact = list(dream(photo, config, tiny_backbone))[-1]
    fast = list(dream(photo, config, tiny_backbone.with_precision("bfloat16")))[-1]
    assert fast.losses["loss"] == pytest.approx(exact.losses["loss"], rel=0.05)
    assert np.abs(fast.image.astype(float) - exact.image.astype(float)).mean() < 3.0


def test_bfloat16_dream_does_not_retrace(tiny_backbone, rng):
    from neuralart.deepdream import DreamConfig, ascent_function, dream

    fast = tiny_backbone.with_precision("bfloat16")
    layers = {"conv2": 1.0, "conv3": 0.5}
    for height, width in ((40, 48), (64, 80), (72, 56)):
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        list(dream(image, DreamConfig(**{**DREAM, "layers": layers, "iterations": 2}), fast))
    assert ascent_function(fast, tuple(layers), DreamConfig().tile_size).experimental_get_tracing_count() == 1


def test_xla_switch_leaves_bfloat16_steps_uncompiled(photo, tiny_backbone, monkeypatch):
    """XLA's CPU convolutions refuse bfloat16, so NEURALART_XLA=1 must not break a bfloat16 run."""
    from neuralart.deepdream import DreamConfig, dream

    monkeypatch.setenv("NEURALART_XLA", "1")
    frames = list(dream(photo, DreamConfig(**{**DREAM, "iterations": 2}), tiny_backbone.with_precision("bfloat16")))
    assert frames[-1].done


def test_xla_switch_compiles_float32_steps_that_match_uncompiled_ones(photo, tiny_backbone, monkeypatch):
    """NEURALART_XLA=1 compiles the float32 DeepDream and style steps; they run and agree with the plain ones."""
    from neuralart.deepdream import DreamConfig, dream
    from neuralart.style_transfer import StyleConfig, stylize

    dream_config = DreamConfig(**{**DREAM, "iterations": 2})
    style_config = StyleConfig(backbone="custom", weights=None, iterations=2, multiscale=False, max_side=64,
                               content_layers={"conv3": 1.0}, style_layers={"conv1": 1.0, "conv2": 1.0})
    plain = [list(dream(photo, dream_config, tiny_backbone))[-1], list(stylize(photo, photo, style_config,
                                                                                tiny_backbone))[-1]]
    monkeypatch.setenv("NEURALART_XLA", "1")
    compiled = [list(dream(photo, dream_config, tiny_backbone))[-1], list(stylize(photo, photo, style_config,
                                                                                   tiny_backbone))[-1]]
    for expected, got in zip(plain, compiled):
        assert got.done and np.abs(got.image.astype(int) - expected.image.astype(int)).max() <= 2


@pytest.mark.slow
def test_real_squeezenet_bfloat16_dream_matches_float32(squeezenet):
    from tests.conftest import shared_image

    from neuralart import images
    from neuralart.deepdream import DreamConfig, dream

    photo = images.load_image(shared_image("golden_gate.jpg"), max_side=256)
    config = DreamConfig(backbone="squeezenet", weights=None, octaves=2, iterations=10, max_loss=None, seed=0)
    exact = list(dream(photo, config, squeezenet))[-1]
    fast = list(dream(photo, config, squeezenet.with_precision("bfloat16")))[-1]
    assert fast.losses["loss"] == pytest.approx(exact.losses["loss"], rel=0.05)


# --- frame cadence -------------------------------------------------------------------------------------------

def test_result_does_not_depend_on_how_steps_are_split_into_calls(photo, tiny_backbone):
    from neuralart.deepdream import DreamConfig, dream

    one_by_one = list(dream(photo, DreamConfig(**{**DREAM, "frame_every": 1}), tiny_backbone))
    all_at_once = list(dream(photo, DreamConfig(**{**DREAM, "frame_every": 6}), tiny_backbone))
    np.testing.assert_array_equal(one_by_one[-1].image, all_at_once[-1].image)
    assert len(one_by_one) > len(all_at_once)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_cadence_yields_about_every_second_when_steps_are_slow():
    from neuralart.loop import Cadence

    clock = FakeClock()
    cadence = Cadence(frame_every=100, clock=clock)
    pixels = 100 * 100
    frames_at, steps = [], 0
    while steps < 40:
        chunk = cadence.next_chunk(40 - steps, pixels)
        cadence.start_chunk()
        clock.now += 0.3 * chunk  # 0.3 s per iteration.
        cadence.end_chunk(chunk, pixels)
        steps += chunk
        if cadence.frame_due():
            frames_at.append(clock.now)
    gaps = np.diff([0.0] + frames_at)
    assert len(frames_at) >= 10, "a frame should come about every second, not every 100 steps"
    assert gaps.max() <= 1.5


def test_cadence_keeps_frame_every_when_steps_are_fast():
    from neuralart.loop import Cadence

    clock = FakeClock()
    cadence = Cadence(frame_every=5, clock=clock)
    chunks, due = [], []
    for _ in range(4):
        chunk = cadence.next_chunk(100, 100)
        cadence.start_chunk()
        clock.now += 0.001 * chunk
        cadence.end_chunk(chunk, 100)
        chunks.append(chunk)
        due.append(cadence.frame_due())
    assert chunks[0] == 1 and due[0]  # The first call measures the speed, and its frame shows at once...
    assert chunks[1:] == [5, 5, 5] and all(due)  # ...then calls run up to the next frame_every boundary.


# --- the --fast preset ---------------------------------------------------------------------------------------

def test_fast_flag_applies_the_preset_but_explicit_flags_win():
    from neuralart import cli
    from neuralart.cli.flags import config_from_args
    from neuralart.deepdream import FAST_PRESET, PRESETS, DreamConfig

    parser = cli.build_parser()

    def config(*flags):
        return config_from_args(DreamConfig, parser.parse_args(["dream", "in.png", "-o", "out.png", *flags]), "dream",
                                PRESETS)

    assert config() == DreamConfig()
    fast = config("--fast")
    assert (fast.backbone, fast.max_side) == (FAST_PRESET["backbone"], FAST_PRESET["max_side"])
    assert config("--max-side", "300", "--fast").max_side == 300
    assert config("--fast", "--backbone", "vgg16").backbone == "vgg16"
