"""The backbone registry: real loading paths through the Keras cache, offline, and clear errors."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from neuralart import models
from tests.conftest import MOBILENET_WEIGHTS, SQUEEZENET_WEIGHTS


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty, private Keras cache folder."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "models").mkdir()
    return tmp_path


def seed_cache(keras_home, source, weights_file: models.WeightsFile):
    if not source.is_file():
        pytest.skip(f"real weights not found at {source}")
    shutil.copyfile(source, keras_home / "models" / weights_file.filename)


def test_every_entry_is_complete():
    for name, spec in models.REGISTRY.items():
        assert spec.name == name
        assert spec.feature_layers and spec.dream_layers
        assert set(spec.defaults["dream"]) <= set(spec.dream_layers), name
        assert spec.weights_notop is not None and spec.weights_notop.origin.startswith("https://")


def test_missing_weights_message_names_file_url_and_folder(keras_home):
    spec = models.REGISTRY["vgg16"]
    with pytest.raises(models.WeightsUnavailableError) as caught:
        models.backbone._build(spec, "imagenet", include_top=False)
    message = str(caught.value)
    assert spec.weights_notop.filename in message
    assert spec.weights_notop.origin in message
    assert str(keras_home / "models") in message


def test_unknown_backbone_and_bad_weights_path():
    with pytest.raises(ValueError, match="Unknown backbone"):
        models.get_backbone("alexnet")
    with pytest.raises(ValueError, match="path to a weights file"):
        models.get_backbone("squeezenet", "/nonexistent/weights.h5")


def test_random_weights_build_every_feature_layer():
    backbone = models.get_backbone("squeezenet", None)
    model = backbone.layer_model(backbone.spec.feature_layers)
    outputs = model(np.zeros((1, 96, 96, 3), np.float32))
    assert len(outputs) == len(backbone.spec.feature_layers)
    assert outputs[-1].shape[-1] == 512
    assert backbone.layer_model(backbone.spec.feature_layers) is model  # built once, then cached


@pytest.mark.slow
def test_squeezenet_through_the_registry_cache(keras_home):
    spec = models.REGISTRY["squeezenet"]
    seed_cache(keras_home, SQUEEZENET_WEIGHTS, spec.weights_notop)
    path = models.fetch_weights(spec.weights_notop, "squeezenet")  # md5-checked, no download
    assert path == str(keras_home / "models" / spec.weights_notop.filename)
    model = models.backbone._build(spec, "imagenet", include_top=False)
    import h5py

    with h5py.File(SQUEEZENET_WEIGHTS, "r") as file:
        expected = next(item[()] for item in file["fire9/expand3x3"].values()
                        for item in (item.values() if hasattr(item, "values") else [item]) if item.ndim == 4)
    np.testing.assert_array_equal(model.get_layer("fire9_expand3x3").get_weights()[0], expected)


@pytest.mark.slow
def test_keras_applications_path_offline(keras_home):
    """MobileNet 0.25 loads through the same fetch-then-build path as VGG and Inception."""
    spec = models.REGISTRY["mobilenet"]
    seed_cache(keras_home, MOBILENET_WEIGHTS, spec.weights_notop)
    model = models.backbone._build(spec, "imagenet", include_top=False)
    assert model.output_shape == (None, 7, 7, 256)
    import h5py

    with h5py.File(MOBILENET_WEIGHTS, "r") as file:
        expected = file["conv1"]["conv1"]["kernel:0"][()]
    np.testing.assert_array_equal(model.get_layer("conv1").get_weights()[0], expected)
