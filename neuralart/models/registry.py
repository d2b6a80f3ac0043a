"""Backbones as data: which network, how it wants its pixels, its layers and its defaults per technique.

Each entry of `REGISTRY` is a `BackboneSpec`; nothing is built until `neuralart.models.get_backbone` asks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from types import MappingProxyType

from .. import images
from ..images import InputSpace
from ..settings import setting
from .architectures import SQUEEZENET_FIRES, keras_application, mobilenet, squeezenet
from .weights import KERAS_APPLICATIONS_URL, SQUEEZENET_URL, WeightsFile, keras_weights

# The name of a backbone passed in from Python (`backbone_from_model`): configs accept it, users are not offered it.
CUSTOM_BACKBONE = "custom"


@dataclasses.dataclass(frozen=True)
class BackboneSpec:
    """Everything a technique needs to know about a network, without building it.

    build: (include_top, weights_path or None) -> keras.Model with named layers and free spatial size.
    feature_layers: the layers offered for feature visualization, in network order.
    dream_layers: the layers offered for DeepDream weights.
    defaults: per-technique default layer weights, e.g. defaults["dream"] = {"mixed3": 3.0, ...}, and style
    transfer's loss weights (defaults["style_loss_weights"]).
    min_size: the smallest input side the network accepts.
    top_size: the fixed input side of the classifier head, or None if the backbone has no head.
    """

    name: str
    title: str
    build: Callable
    input_space: InputSpace
    weights_notop: WeightsFile | None
    weights_top: WeightsFile | None
    feature_layers: tuple[str, ...]
    dream_layers: tuple[str, ...]
    defaults: Mapping[str, Mapping[str, float]]
    min_size: int = 32
    top_size: int | None = None


def _vgg_conv_layers(convs_per_block: tuple[int, ...]) -> tuple[str, ...]:
    return tuple(f"block{block}_conv{conv}" for block, count in enumerate(convs_per_block, start=1)
                 for conv in range(1, count + 1))


_VGG_STYLE = {f"block{block}_conv1": 1.0 for block in range(1, 6)}
# Style transfer's loss weights: the chapter's (content 1e3 and style 1e-2 as in its TensorFlow listing; total
# variation 1e-4 as in the Keras listing its power-1.25 term comes from). SqueezeNet's activations are smaller, so
# its style weight is larger (tuned on real weights with the shared test images).
CHAPTER_LOSS_WEIGHTS = MappingProxyType({"content_weight": 1e3, "style_weight": 1e-2, "tv_weight": 1e-4})


def _vgg(depth: int, convs_per_block: tuple[int, ...], hashes: tuple[str, str]) -> BackboneSpec:
    """VGG16 or VGG19: the chapter's networks, alike but for their depth."""
    layers = _vgg_conv_layers(convs_per_block)
    name = f"vgg{depth}"
    return BackboneSpec(
        name=name, title=f"VGG{depth} (Simonyan & Zisserman 2014)", build=keras_application(f"VGG{depth}"),
        input_space=images.CAFFE,
        **dict(zip(("weights_notop", "weights_top"),
                   keras_weights(name, f"{name}_weights_tf_dim_ordering_tf_kernels", *hashes))),
        feature_layers=layers, dream_layers=layers[4:],
        defaults=MappingProxyType({
            # The middle of block 4 and block 5's second convolution, the last of block 4 differing by depth.
            "dream": {"block4_conv2": 1.0, f"block4_conv{convs_per_block[3]}": 1.0, "block5_conv2": 0.5},
            "features": {"block3_conv1": 1.0},
            "style_content": {"block5_conv2": 1.0},
            "style": _VGG_STYLE,
            "style_loss_weights": CHAPTER_LOSS_WEIGHTS}),
        top_size=224)


_SQUEEZENET_LAYERS = ("conv1",) + tuple(f"fire{fire}_concat" for fire, _, _ in SQUEEZENET_FIRES)

REGISTRY: Mapping[str, BackboneSpec] = MappingProxyType({
    "vgg16": _vgg(16, (2, 2, 3, 3, 3), ("6d6bbae143d832006294945121d1f1fc", "64373286793e3c8b2b4e3219cbf3544b")),
    "vgg19": _vgg(19, (2, 2, 4, 4, 4), ("253f8cb515780f3b799900260a226db6", "cbe5617147190e668d6c5d5026f83318")),
    "inception_v3": BackboneSpec(
        name="inception_v3", title="InceptionV3 (Szegedy et al. 2015)",
        build=keras_application("InceptionV3"), input_space=images.INCEPTION,
        **dict(zip(("weights_notop", "weights_top"), keras_weights(
            "inception_v3", "inception_v3_weights_tf_dim_ordering_tf_kernels",
            "bcbd6486424b2319ff4ef7d526e38f63", "9a0d58056eeedaa3f26cb7ebd46da564"))),
        feature_layers=tuple(f"mixed{index}" for index in range(11)),
        dream_layers=tuple(f"mixed{index}" for index in range(11)),
        defaults=MappingProxyType({
            "dream": {"mixed2": 0.2, "mixed3": 3.0, "mixed4": 2.0, "mixed5": 1.5},
            "features": {"mixed4": 1.0}}),
        min_size=75, top_size=299),
    "squeezenet": BackboneSpec(
        name="squeezenet", title="SqueezeNet 1.1 (Iandola et al. 2016), small and fast",
        build=squeezenet, input_space=images.CAFFE,
        weights_notop=WeightsFile("squeezenet_weights_tf_dim_ordering_tf_kernels_notop.h5", SQUEEZENET_URL,
                                  "80b66c92d79d4310e07fb60a297bf0d1"),
        weights_top=None,
        feature_layers=_SQUEEZENET_LAYERS, dream_layers=_SQUEEZENET_LAYERS[1:],
        defaults=MappingProxyType({
            "dream": {"fire5_concat": 1.0, "fire7_concat": 1.0, "fire9_concat": 1.0},
            "features": {"fire5_concat": 1.0},
            "style_content": {"fire7_concat": 1.0},
            "style": {"conv1": 1.0, "fire2_concat": 1.0, "fire3_concat": 1.0, "fire5_concat": 1.0,
                      "fire7_concat": 1.0},
            "style_loss_weights": {"content_weight": 1e3, "style_weight": 3.0, "tv_weight": 1e-4}}),
        min_size=48),
    "mobilenet": BackboneSpec(
        name="mobilenet", title="MobileNet v1, width 0.25 (Howard et al. 2017), tiny",
        build=mobilenet, input_space=images.INCEPTION,
        weights_notop=WeightsFile("mobilenet_2_5_224_tf_no_top.h5",
                                  f"{KERAS_APPLICATIONS_URL}mobilenet/mobilenet_2_5_224_tf_no_top.h5"),
        weights_top=WeightsFile("mobilenet_2_5_224_tf.h5",
                                f"{KERAS_APPLICATIONS_URL}mobilenet/mobilenet_2_5_224_tf.h5"),
        feature_layers=tuple(f"conv_pw_{index}_relu" for index in range(1, 14)),
        dream_layers=tuple(f"conv_pw_{index}_relu" for index in range(1, 14)),
        defaults=MappingProxyType({
            # Lighter than the others' weights: MobileNet's photo objective alone is about as high as the default
            # max_loss, which then ended every octave before its first step. The step is normalised, so the
            # weights' scale changes only where max_loss stops; deeper layers weigh more, for object parts.
            "dream": {"conv_pw_5_relu": 0.25, "conv_pw_7_relu": 0.5, "conv_pw_9_relu": 0.75},
            "features": {"conv_pw_7_relu": 1.0}}),
        top_size=224),
})

BACKBONE_NAMES = tuple(REGISTRY)


def backbone_setting(default: str, help: str):
    """A config's backbone field: one of the registry's networks (or a custom one passed in from Python)."""
    return setting(default, help, label="Network", choices=BACKBONE_NAMES, also_accepted=(CUSTOM_BACKBONE,))


def weights_setting():
    """A config's weights field: ImageNet weights, random ones (None) or a weights file."""
    return setting("imagenet", "ImageNet weights (downloaded once and cached), none for random weights, or the "
                   "path of a weights file", label="Weights", optional=True)
