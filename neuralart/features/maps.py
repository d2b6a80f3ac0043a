"""What a photo does to a network: one layer's feature maps, strongest channels first, the first layer's learned
kernels as colour tiles (the chapter's two views into a trained network), and, where the network has its
classifier head, the classes it sees in the photo, by name. Every tile is captioned with its channel or kernel."""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from .. import images
from ..models import REGISTRY, Backbone, backbone_setting, get_backbone, keras_home, weights_setting
from ..settings import check_settings, setting
from .classes import IMAGENET_CLASS_COUNT, class_name
from .config import CAPTIONS, FilterConfig
from .objectives import default_layer
from .tiles import tiled_image

MAX_FEATURE_MAPS = 512
TILE_SIDE = 64
TOP_PREDICTIONS = 5


@dataclasses.dataclass(frozen=True)
class MapsConfig:
    """Settings of the feature-maps view (`python -m neuralart featuremaps`, the tab's photo section)."""

    backbone: str = backbone_setting("vgg16", "network whose layer to show")
    weights: str | None = weights_setting()
    layer: str | None = setting(None, "layer to show (none: the network's usual one)", label="Layer",
                                optional=True)
    count: int = setting(64, "channels to show, strongest first", label="Channels", low=1, high=MAX_FEATURE_MAPS,
                         integer=True)
    max_side: int = setting(512, "shrink the photo so its longest side is at most this many pixels",
                            label="Longest side (px)", low=32, high=4096, integer=True)
    captions: str = setting("index", "what each tile's caption says: index (its channel or kernel), activation "
                            "(a channel's mean activation too) or none", label="Captions", choices=CAPTIONS)
    predictions: bool = setting(True, "also name the classifier's five most likely classes for the photo "
                                "(networks offered with a classifier head)", label="Top-5 predictions")

    def __post_init__(self) -> None:
        check_settings(self)


@dataclasses.dataclass(frozen=True)
class FeatureMaps:
    """A photo's activation at one layer, shown as a grid of grey tiles (each channel stretched on its own),
    ranked by mean activation, strongest first.

    grid: uint8 (height, width, 3); shape: the layer's output (height, width, channels);
    channels: the channels shown, in grid order; means: their mean activations.
    """

    grid: np.ndarray
    layer: str
    shape: tuple[int, int, int]
    channels: tuple[int, ...]
    means: tuple[float, ...]


def feature_maps(image, backbone: Backbone, layer: str | None = None, *, count: int = MapsConfig.count,
                 max_side: int = MapsConfig.max_side, tile_side: int = TILE_SIDE,
                 captions: str = MapsConfig.captions) -> FeatureMaps:
    """One forward pass of `image` (a path, PIL image or uint8 array) to `layer` (default: the backbone's usual
    layer for feature visualization); the `count` most active channels as a grid, each tile captioned with its
    channel (and its mean activation, with captions="activation")."""
    checked = MapsConfig(layer=layer, count=count, max_side=max_side, captions=captions)
    count, max_side = checked.count, checked.max_side
    layer = layer or default_layer(FilterConfig(objective="channel"), backbone)
    backbone.check_layers([layer])
    if len(backbone.model.get_layer(layer).output.shape) != 4:
        raise ValueError(f"{layer} is not a convolutional feature map")
    pixels = images.uint8_to_pixels(images.load_image(image, max_side=max_side))
    pixels = _fit_fixed_input(pixels, backbone)
    activation = _forward_function(backbone, layer)(pixels[None]).numpy()[0]
    means = activation.mean(axis=(0, 1))
    ranked = np.argsort(-means, kind="stable")[:count]
    stretched = images.normalize_channels(activation[..., ranked])
    tiles = [images.enlarge_nearest(stretched[..., index], tile_side) for index in range(len(ranked))]
    names = [f"{channel}: {means[channel]:.3g}" if captions == "activation" else str(channel) for channel in ranked]
    return FeatureMaps(grid=tiled_image(tiles, names, captions), layer=layer,
                       shape=tuple(int(side) for side in activation.shape),
                       channels=tuple(int(channel) for channel in ranked),
                       means=tuple(float(means[channel]) for channel in ranked))


def _fit_fixed_input(pixels: np.ndarray, backbone: Backbone) -> np.ndarray:
    """Networks built for one input size (MobileNet with ImageNet weights) see the photo resized to it."""
    fixed = tuple(backbone.model.input_shape[1:3])
    if all(side is not None for side in fixed) and pixels.shape[:2] != fixed:
        return images.uint8_to_pixels(images.resize_uint8(images.pixels_to_uint8(pixels), fixed))
    return pixels


def _forward_function(backbone: Backbone, layer: str):
    """Traced forward pass from pixels (batch, h, w, 3) to one layer's output, cached per backbone."""
    def build():
        import tensorflow as tf

        model = backbone.layer_model((layer,))
        input_space = backbone.input_space

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        def forward(pixels):
            return model(input_space.to_model(pixels), training=False)
        return forward
    return backbone.cached(("features_forward", layer), build)


@dataclasses.dataclass(frozen=True)
class KernelTiles:
    """The first convolution's kernels as colour tiles (each stretched on its own to 0..255, in RGB order).

    grid: uint8 image; layer: the convolution's name; shape: its kernel's (height, width, 3, filters)."""

    grid: np.ndarray
    layer: str
    shape: tuple[int, int, int, int]


def kernel_tiles(backbone: Backbone, tile_side: int = 32, captions: str = "index") -> KernelTiles:
    """Read the first layer's learned kernels with `get_weights()`, as the chapter does, and tile them, each
    captioned with its index unless `captions` is "none"."""
    layer = first_colour_convolution(backbone)
    kernel = np.asarray(layer.get_weights()[0], dtype=np.float32)
    if backbone.input_space.bgr:
        kernel = kernel[:, :, ::-1, :]  # The kernel's input channels follow the network's (BGR) order.
    tiles = [images.enlarge_nearest(images.stretch_to_uint8(kernel[..., index]), tile_side)
             for index in range(kernel.shape[-1])]
    grid = tiled_image(tiles, [str(index) for index in range(len(tiles))], "none" if captions == "none" else "index")
    return KernelTiles(grid=grid, layer=layer.name, shape=tuple(kernel.shape))


def first_colour_convolution(backbone: Backbone):
    """The first layer with a 2-D convolution kernel over the 3 colour channels."""
    for layer in backbone.model.layers:
        weights = layer.weights
        if weights and len(weights[0].shape) == 4 and weights[0].shape[2] == 3:
            return layer
    raise ValueError(f"{backbone.name} has no convolution over the colour channels")


@dataclasses.dataclass(frozen=True)
class Prediction:
    """One class a classifier sees in a photo: its index, its name and its probability."""

    index: int
    name: str
    probability: float


def top_predictions(image, backbone: Backbone, count: int = TOP_PREDICTIONS,
                    max_side: int = MapsConfig.max_side) -> tuple[Prediction, ...]:
    """The classifier head's `count` most probable classes for `image`, most probable first, by ImageNet name
    (for a 1000-class head). `backbone` must be built with its head (include_top=True)."""
    model = backbone.model
    if len(model.output.shape) != 2:
        raise ValueError(f"{backbone.name} has no classifier head here; build it with include_top=True")
    pixels = _fit_fixed_input(images.uint8_to_pixels(images.load_image(image, max_side=max_side)), backbone)
    probabilities = _forward_function(backbone, model.layers[-1].name)(pixels[None]).numpy()[0]
    classes = len(probabilities)
    ranked = np.argsort(-probabilities, kind="stable")[:count]
    return tuple(Prediction(int(index), class_name(int(index)) if classes == IMAGENET_CLASS_COUNT
                            else f"class {index}", float(probabilities[index])) for index in ranked)


def head_predictions(image, backbone_name: str, weights, count: int = TOP_PREDICTIONS,
                     max_side: int = MapsConfig.max_side) -> tuple[Prediction, ...] | None:
    """`top_predictions` of a registry network with its classifier head, or None for a network offered without
    one (SqueezeNet here). Raises WeightsUnavailableError when the head's ImageNet weights cannot be had."""
    spec = REGISTRY.get(backbone_name)
    if spec is None or spec.top_size is None:
        return None
    return top_predictions(image, get_backbone(backbone_name, weights, include_top=True), count, max_side)


def head_weights_at_hand(backbone_name: str, weights) -> bool:
    """Whether the network's classifier head can be built without a download: random weights, a weights file,
    or ImageNet weights already in the Keras cache (the VGG heads are large downloads)."""
    spec = REGISTRY.get(backbone_name)
    if weights != "imagenet" or spec is None or spec.weights_top is None:
        return True
    return os.path.isfile(os.path.join(keras_home(), "models", spec.weights_top.filename))
