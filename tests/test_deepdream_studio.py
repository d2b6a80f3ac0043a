"""DeepDream beyond the chapter: chosen channels, guide images, masks, honest counts and defaults that dream.

Fast checks run on the tiny random backbone; the real-weights checks (SqueezeNet, MobileNet 0.25) are marked slow.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from neuralart import images
from neuralart.deepdream import MAX_LOSS_NOTE, DreamConfig, ascent_function, dream, parse_term
from neuralart.deepdream.objective import prepare_objective
from neuralart.images import ImageInputError, feather_inwards, load_mask
from tests.conftest import MOBILENET_WEIGHTS, shared_image

FAST = dict(backbone="custom", weights=None, iterations=6, octaves=2, frame_every=2, max_loss=None,
            max_side=None, step_size=0.05)


def last_image(photo, backbone, **overrides) -> np.ndarray:
    guide, mask = overrides.pop("guide", None), overrides.pop("mask", None)
    frames = list(dream(photo, DreamConfig(**{**FAST, **overrides}), backbone, guide=guide, mask=mask))
    return frames[-1].image


def channel_means(image: np.ndarray, backbone, layer: str) -> np.ndarray:
    """Each channel's mean activation at `layer` for a uint8 image."""
    model = backbone.layer_model((layer,))
    unit = images.uint8_to_minus1_1(image)
    activation = np.asarray(model(backbone.input_space.from_minus1_1(unit)[None]))
    return activation[0].mean(axis=(0, 1))


def half_mask(shape) -> np.ndarray:
    mask = np.zeros(shape[:2], np.float32)
    mask[:, shape[1] // 2:] = 1.0
    return mask


# --- channels --------------------------------------------------------------------------------------------------

def test_terms_read_layer_and_channel():
    assert parse_term("mixed4") == ("mixed4", None)
    assert parse_term("mixed4:97") == ("mixed4", 97)
    assert parse_term("fire5/concat:3") == ("fire5/concat", 3)


@pytest.mark.parametrize("key", ["conv2:", "conv2:x", "conv2:-1", ":3", "conv2:1.5"])
def test_config_refuses_malformed_channel_keys(key):
    with pytest.raises(ValueError, match="LAYER:CHANNEL"):
        DreamConfig(layers={key: 1.0})


def test_channel_beyond_the_layer_is_a_clear_error(photo, tiny_backbone):
    with pytest.raises(ValueError, match="conv2 has 16 channels \\(0-15\\); channel 99 does not exist"):
        dream(photo, DreamConfig(**{**FAST, "layers": {"conv2:99": 1.0}}), tiny_backbone)


def test_channel_dream_raises_its_channel_more_than_the_whole_layer_dream(photo, tiny_backbone):
    before = channel_means(photo, tiny_backbone, "conv3")
    channel = int(np.argsort(before)[len(before) // 2])  # a middling channel, neither dead nor dominant
    whole = channel_means(last_image(photo, tiny_backbone, layers={"conv3": 1.0}), tiny_backbone, "conv3")
    chosen = channel_means(last_image(photo, tiny_backbone, layers={f"conv3:{channel}": 1.0}), tiny_backbone,
                           "conv3")
    assert chosen[channel] - before[channel] > 1.5 * (whole[channel] - before[channel])


def test_negative_channel_weight_suppresses_it(photo, tiny_backbone):
    before = channel_means(photo, tiny_backbone, "conv2")
    channel = int(np.argmax(before))
    after = channel_means(last_image(photo, tiny_backbone, layers={"conv2": 0.2, f"conv2:{channel}": -1.0}),
                          tiny_backbone, "conv2")
    assert after[channel] < 0.7 * before[channel]


def test_losses_name_each_term(photo, tiny_backbone):
    frames = list(dream(photo, DreamConfig(**{**FAST, "layers": {"conv2": 1.0, "conv3:4": 2.0}}), tiny_backbone))
    assert set(frames[-1].losses) == {"loss", "conv2", "conv3:4"}


def test_choosing_another_channel_or_guide_does_not_retrace(photo, tiny_backbone):
    for channel in (1, 5, 9):
        last_image(photo, tiny_backbone, layers={"conv2": 1.0, f"conv3:{channel}": 1.0}, iterations=1, octaves=1)
    objective = prepare_objective({"conv2": 1.0, "conv3:1": 1.0}, tiny_backbone)
    step = ascent_function(tiny_backbone, objective.layout.layers, FAST_TILE, objective.layout)
    assert step.experimental_get_tracing_count() == 1


FAST_TILE = DreamConfig().tile_size


# --- masks -----------------------------------------------------------------------------------------------------

def test_masked_dream_keeps_the_photo_under_a_zero_mask_and_dreams_under_a_one_mask(photo, tiny_backbone):
    mask = half_mask(photo.shape)
    result = last_image(photo, tiny_backbone, mask=mask, mask_feather=4.0)
    difference = np.abs(result.astype(int) - photo.astype(int))
    assert difference[mask == 0].max() <= 1
    inside = feather_inwards(load_mask(mask, photo.shape[:2]), 4.0) == 1.0
    assert difference[inside].mean() > 10


def test_masked_dream_with_tiles_octaves_and_a_guide(tiny_backbone, rng):
    photo = np.asarray(Image.fromarray(rng.integers(0, 256, (12, 14, 3), dtype=np.uint8)).resize((140, 120)))
    mask = half_mask(photo.shape)
    result = last_image(photo, tiny_backbone, mask=mask, guide=photo[::-1], tile_size=64, octaves=3)
    difference = np.abs(result.astype(int) - photo.astype(int))
    assert difference[mask == 0].max() <= 1
    assert difference[:, -40:].mean() > 5


def test_mask_file_of_another_size_is_scaled(tmp_path, photo, tiny_backbone):
    path = tmp_path / "mask.png"
    big = np.zeros((photo.shape[0] * 3, photo.shape[1] * 3), np.uint8)
    big[:, big.shape[1] // 2:] = 255
    Image.fromarray(big).save(path)
    result = last_image(photo, tiny_backbone, mask=str(path), mask_feather=0.0)
    difference = np.abs(result.astype(int) - photo.astype(int))
    assert difference[:, :photo.shape[1] // 2 - 1].max() <= 1
    assert difference[:, photo.shape[1] // 2 + 1:].mean() > 10


def test_feathered_mask_is_soft_inside_and_zero_outside():
    mask = half_mask((64, 80))
    soft = feather_inwards(load_mask(mask, (64, 80)), 8.0)
    assert soft.dtype == np.float32 and soft.shape == (64, 80)
    assert (soft[mask == 0] == 0).all() and (soft <= mask).all()
    row = soft[32, 40:]
    assert 0 < row[1] < row[6] < 1 and row[-1] == 1.0, row
    assert np.all(np.diff(row) >= -1e-6)


def test_painted_strokes_on_a_transparent_layer_are_the_mask():
    layer = np.zeros((40, 50, 4), np.uint8)
    layer[10:20, 10:30] = (255, 255, 255, 255)
    mask = load_mask(Image.fromarray(layer, "RGBA"), (40, 50))
    assert mask[15, 20] == 1.0 and mask[30, 40] == 0.0


@pytest.mark.parametrize("make, message", [
    (lambda path: Image.new("L", (30, 30), 0).save(path), "mask is empty"),
    (lambda path: Image.new("RGBA", (30, 30), (255, 255, 255, 0)).save(path), "mask is empty"),
    (lambda path: path.write_text("white = dream"), "not an image we can read"),
])
def test_bad_masks_are_clear_errors(tmp_path, photo, tiny_backbone, make, message):
    path = tmp_path / "mask.png"
    make(path)
    with pytest.raises(ImageInputError, match=message):
        dream(photo, DreamConfig(**FAST), tiny_backbone, mask=str(path))


def test_mask_array_with_nan_is_refused(photo, tiny_backbone):
    with pytest.raises(ImageInputError, match="finite"):
        dream(photo, DreamConfig(**FAST), tiny_backbone, mask=np.full(photo.shape[:2], np.nan, np.float32))


# --- guides ----------------------------------------------------------------------------------------------------

def test_bad_guide_is_a_clear_error(tmp_path, photo, tiny_backbone):
    path = tmp_path / "guide.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 cut short")
    with pytest.raises(ImageInputError):
        dream(photo, DreamConfig(**FAST), tiny_backbone, guide=str(path))


def test_guide_strength_is_checked():
    for value in (-0.1, 1.5, float("nan"), "strong"):
        with pytest.raises(ValueError, match="guide_strength"):
            DreamConfig(guide_strength=value)


def test_guide_strength_zero_is_the_plain_dream(photo, tiny_backbone):
    plain = last_image(photo, tiny_backbone, seed=2)
    guided = last_image(photo, tiny_backbone, seed=2, guide=photo[::-1], guide_strength=0.0)
    assert np.abs(plain.astype(int) - guided.astype(int)).max() <= 1


def guide_similarity(image: np.ndarray, guide: np.ndarray, backbone, layer: str) -> float:
    """How alike the image's features are to the guide's: the mean, over the image's positions, of the cosine
    similarity to the most similar guide position (every guide position, not the sample the dream matched)."""
    def unit_features(picture):
        model = backbone.layer_model((layer,))
        features = np.asarray(model(backbone.input_space.from_minus1_1(images.uint8_to_minus1_1(picture))[None]))
        features = features[0].reshape(-1, features.shape[-1])
        return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-9)
    return float((unit_features(image) @ unit_features(guide).T).max(axis=1).mean())


@pytest.mark.slow
def test_guided_dream_moves_the_features_towards_the_guide(squeezenet):
    photo = images.load_image(shared_image("golden_gate.jpg"), max_side=224)
    guide = images.load_image(shared_image("starry_night.jpg"), max_side=224)
    config = DreamConfig(backbone="squeezenet", weights=None, max_side=224, octaves=2, iterations=15,
                         max_loss=None, seed=0)
    plain = list(dream(photo, config, squeezenet))[-1].image
    guided = list(dream(photo, config, squeezenet, guide=guide))[-1].image
    for layer in ("fire5_concat", "fire7_concat", "fire9_concat"):
        before = guide_similarity(photo, guide, squeezenet, layer)
        towards = guide_similarity(guided, guide, squeezenet, layer)
        unguided = guide_similarity(plain, guide, squeezenet, layer)
        assert towards > unguided and towards > before, (layer, before, unguided, towards)


@pytest.mark.slow
def test_real_channel_dream_raises_its_channel_more_than_the_layer_dream(squeezenet):
    photo = images.load_image(shared_image("golden_gate.jpg"), max_side=192)
    config = dict(backbone="squeezenet", weights=None, max_side=192, octaves=2, iterations=10, max_loss=None)
    before = channel_means(photo, squeezenet, "fire7_concat")
    channel = int(np.argsort(before)[len(before) // 2])
    whole = list(dream(photo, DreamConfig(**config, layers={"fire7_concat": 1.0}), squeezenet))[-1].image
    chosen = list(dream(photo, DreamConfig(**config, layers={f"fire7_concat:{channel}": 1.0}), squeezenet))[-1].image
    gain_whole = channel_means(whole, squeezenet, "fire7_concat")[channel] - before[channel]
    gain_chosen = channel_means(chosen, squeezenet, "fire7_concat")[channel] - before[channel]
    assert gain_chosen > 2 * max(gain_whole, 0.0) and gain_chosen > 0


# --- honest counts and defaults that dream -------------------------------------------------------------------

def test_max_loss_stop_gives_honest_counts_and_says_why(photo, tiny_backbone):
    frames = list(dream(photo, DreamConfig(**{**FAST, "max_loss": 1e-6, "iterations": 4}), tiny_backbone))
    last = frames[-1]
    assert last.iteration == 0 and last.total_iterations == 0 and last.done
    closing = [frame.stage for frame in frames if frame.stage_done]
    assert len(closing) == 2 and all(f"{MAX_LOSS_NOTE} after 0 of 4 iterations" in stage for stage in closing)
    assert all(frame.iteration <= frame.total_iterations for frame in frames)


def test_unlimited_run_notes_nothing(photo, tiny_backbone):
    frames = list(dream(photo, DreamConfig(**FAST), tiny_backbone))
    assert frames[-1].iteration == frames[-1].total_iterations == 12
    assert not any(MAX_LOSS_NOTE in frame.stage for frame in frames)


def steps_per_octave(backbone, photo, config: DreamConfig) -> list[int]:
    """Iterations each octave took with `config` (its closing frame's count minus the previous one's)."""
    closing = [frame.iteration for frame in dream(photo, config, backbone) if frame.stage_done]
    return [later - earlier for earlier, later in zip([0] + closing, closing)]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["squeezenet", "mobilenet", "vgg16", "vgg19", "inception_v3"])
def test_default_settings_dream_every_octave_on_every_backbone(name):
    """Each registry network with random weights (no download), the default settings but a smaller photo and
    fewer iterations: each octave takes its steps, and the photo visibly changes."""
    from neuralart.models import get_backbone

    backbone = get_backbone(name, None)
    photo = images.load_image(shared_image("golden_gate.jpg"), max_side=224)
    config = DreamConfig(backbone=name, weights=None, max_side=224, iterations=5)
    assert steps_per_octave(backbone, photo, config) == [5] * config.octaves
    result = list(dream(photo, config, backbone))[-1].image
    assert np.abs(result.astype(float) - photo.astype(float)).mean() > 2


@pytest.mark.slow
@pytest.mark.parametrize("photo_name", ["golden_gate.jpg", "starry_night.jpg"])
def test_real_mobilenet_defaults_take_every_step(tmp_path, monkeypatch, photo_name):
    """The real MobileNet 0.25 at its defaults: on these photos the old layer weights ended every octave before
    its first step."""
    import shutil

    from neuralart.models import REGISTRY
    from neuralart.models.backbone import Backbone, _build

    if not MOBILENET_WEIGHTS.is_file():
        pytest.skip(f"real weights not found at {MOBILENET_WEIGHTS}")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "models").mkdir()
    shutil.copyfile(MOBILENET_WEIGHTS, tmp_path / "models" / REGISTRY["mobilenet"].weights_notop.filename)
    spec = REGISTRY["mobilenet"]
    backbone = Backbone(spec, _build(spec, "imagenet", include_top=False), "imagenet")
    photo = images.load_image(shared_image(photo_name), max_side=DreamConfig().max_side)
    config = DreamConfig(backbone="mobilenet")
    assert steps_per_octave(backbone, photo, config) == [config.iterations] * config.octaves
