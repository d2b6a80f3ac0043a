"""Shared fixtures: tiny random backbones, paths to the optional real weights, and no network at all."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SQUEEZENET_WEIGHTS = SHARED / "weights" / "squeezenet1_1_notop_tf.h5"
MOBILENET_WEIGHTS = SHARED / "weights" / "mobilenet_2_5_224_tf_no_top.h5"
SHARED_IMAGES = SHARED / "images"

_LOOPBACK = ("127.", "::1", "localhost")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Tests never reach beyond this machine: any connection to a non-loopback address fails at once."""
    real_connect = socket.socket.connect

    def guarded_connect(self, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if isinstance(host, str) and not host.startswith(_LOOPBACK) and self.family != socket.AF_UNIX:
            raise OSError(f"network access blocked in tests: {address!r}")
        return real_connect(self, address)

    real_getaddrinfo = socket.getaddrinfo

    def guarded_getaddrinfo(host, *args, **kwargs):
        # Name lookups would send DNS queries: only local names may be resolved.
        if host is not None and not str(host).startswith(_LOOPBACK) and str(host) not in ("0.0.0.0", ""):
            raise socket.gaierror(f"network access blocked in tests: lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)


def make_tiny_model(channels: tuple[int, ...] = (8, 16, 16), seed: int = 0):
    """A 3-conv random network with named layers ('conv1', 'conv2', 'conv3') and free spatial size."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, None, 3), name="input")
    x = inputs
    for index, width in enumerate(channels, start=1):
        x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name=f"conv{index}")(x)
        if index < len(channels):
            x = keras.layers.AveragePooling2D(2, name=f"pool{index}")(x)
    return keras.Model(inputs, x, name="tiny")


@pytest.fixture(scope="session")
def tiny_backbone():
    """A tiny random Backbone with defaults for every technique (fast property checks)."""
    from neuralart.images import CAFFE
    from neuralart.models import backbone_from_model

    defaults = {"dream": {"conv2": 1.0, "conv3": 0.5}, "features": {"conv2": 1.0},
                "style_content": {"conv3": 1.0}, "style": {"conv1": 1.0, "conv2": 1.0, "conv3": 1.0}}
    return backbone_from_model(make_tiny_model(), CAFFE, name="custom", defaults=defaults)


@pytest.fixture(scope="session")
def squeezenet():
    """The real SqueezeNet 1.1 (ImageNet weights read in place), or a skip when the file is absent."""
    if not SQUEEZENET_WEIGHTS.is_file():
        pytest.skip(f"real SqueezeNet weights not found at {SQUEEZENET_WEIGHTS}")
    from neuralart.models import get_backbone

    return get_backbone("squeezenet", str(SQUEEZENET_WEIGHTS))


def shared_image(name: str) -> Path:
    path = SHARED_IMAGES / name
    if not path.is_file():
        pytest.skip(f"shared test image {name} not found at {path}")
    return path


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def photo(rng):
    """A smooth random 'photo' (uint8 64x80x3): structure at several scales, like a real image."""
    from PIL import Image

    small = rng.integers(0, 256, (8, 10, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((80, 64), Image.Resampling.BICUBIC))


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium under Playwright (never `playwright install`), or a skip saying what is missing."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    executable = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
