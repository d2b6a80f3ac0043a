"""Style transfer's settings and presets: each field with its help text and range, loss weights and layers left
as None taken from the backbone's entry in the registry."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from .. import validation
from ..models import CHAPTER_LOSS_WEIGHTS, REGISTRY, backbone_setting, weights_setting
from ..settings import check_settings, frame_every_setting, seed_setting, setting

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("recolored", "content", "noise", "style")
COLOR_MODES = ("none", "luminance", "histogram")
MAX_SIDE = 4096
LOSS_TERMS = ("total", "content", "style", "tv")
LOSS_WEIGHT_NAMES = ("content_weight", "style_weight", "tv_weight")
_VGG19 = REGISTRY["vgg19"].defaults

PRESETS: Mapping[str, Mapping] = MappingProxyType({
    # Section 9.3 of the chapter, field by field.
    "chapter": MappingProxyType({
        "backbone": "vgg19", "weights": "imagenet",
        "content_layers": _VGG19["style_content"], "style_layers": _VGG19["style"],
        **CHAPTER_LOSS_WEIGHTS, "style_blend": None, "iterations": 1000, "optimizer": "adam",
        "step_size": 5.0, "beta_1": 0.99, "epsilon": 0.1, "init": "content", "max_side": 512,
        "style_scale": 1.0, "preserve_colors": "none", "multiscale": False}),
    # A quick preview (`--preset fast` or `--fast`): SqueezeNet, one 384-px scale, 60 L-BFGS iterations.
    "fast": MappingProxyType({"backbone": "squeezenet", "max_side": 384, "iterations": 60, "multiscale": False}),
})


def _loss_weight(what: str, slider: tuple[float, float, float]):
    """A loss weight: shown in the app as log10 on a slider over `slider` (minimum, maximum, step)."""
    return setting(None, f"weight of the {what} loss (none: the network's own)", label=f"{what.capitalize()} weight",
                   low=0.0, high=1e12, optional=True, log=True, slider=slider)


@dataclasses.dataclass(frozen=True)
class StyleConfig:
    """Settings of one style transfer run. Loss weights and layers left as None come from the backbone's entry."""

    backbone: str = backbone_setting("squeezenet", "network whose layers define content and style")
    weights: str | None = weights_setting()
    content_layers: Mapping[str, float] | None = setting(
        None, "content layer weights, e.g. block5_conv2=1 (none: the network's own)", label="Content layers",
        low=0.0, high=1e6, optional=True)
    style_layers: Mapping[str, float] | None = setting(
        None, "style layer weights, e.g. block1_conv1=1,block2_conv1=1 (none: the network's own)",
        label="Style layers", low=0.0, high=1e6, optional=True)
    content_weight: float | None = _loss_weight("content", (-2, 8, 0.1))
    style_weight: float | None = _loss_weight("style", (-6, 6, 0.1))
    tv_weight: float | None = _loss_weight("total variation", (-10, 0, 0.1))
    style_blend: tuple[float, ...] | None = setting(
        None, "one weight per style image, e.g. 0.7,0.3 (none: equal)", label="Style blend", optional=True)
    iterations: int = setting(300, "optimizer iterations per scale", label="Iterations (per scale)", low=0,
                              high=5000, integer=True, slider=(0, 1000, 10))
    optimizer: str = setting("lbfgs", "lbfgs or adam (the chapter's)", label="Optimizer", choices=OPTIMIZERS)
    smoothing: float = setting(
        3.0, "L-BFGS steps in a smoothed basis: 1 + this times a 2-pixel Gaussian blur (0: plain pixels)",
        label="L-BFGS smoothing", low=0.0, high=100.0, slider=(0, 10, 0.5))
    step_size: float = setting(5.0, "Adam's step size (its learning rate), in pixel units", label="Adam step size",
                               low=1e-4, high=1e3, old_names=("learning_rate",))
    beta_1: float = setting(0.99, "Adam's beta_1", label="Adam beta 1", low=0.0, high=0.9999)
    epsilon: float = setting(0.1, "Adam's epsilon", label="Adam epsilon", low=1e-10, high=1e3)
    init: str = setting("recolored", "start from the photo in the style's colours (recolored), the photo as it is "
                        "(content), noise or the first style image (style)", label="Start from", choices=INITS)
    max_side: int = setting(512, "longest side of the result in pixels (a larger photo is shrunk; a smaller one is "
                            "enlarged only with enlarge); scales larger than a tile are refined tile by tile",
                            label="Longest side (px)", low=32, high=MAX_SIDE, integer=True, slider=(64, MAX_SIDE, 32))
    enlarge: bool = setting(False, "enlarge a photo smaller than the longest side to that size (a print from a "
                            "small photo: the style paints the detail the photo lacks)", label="Enlarge small photos")
    style_scale: float = setting(1.0, "size of the style image relative to the result, so the style's texture "
                                 f"keeps its size on the print at every scale (the style is seen at most {MAX_SIDE} "
                                 "px)", label="Style scale (style image size relative to the result)", low=0.1,
                                 high=4.0, slider=(0.25, 2.0, 0.05))
    tile_size: int | None = setting(
        None, "longest side optimised in one piece; larger scales are refined with Adam (with the optimizer adam, "
        "its settings above) in overlapping tiles at most this large, which bounds memory (none: 1280, 768 for VGG)",
        label="Tile size (px)", low=128, high=MAX_SIDE, integer=True, optional=True, slider=(0, 2048, 64))
    mask_feather: float = setting(0.005, "softness of the style masks' edges, as a share of the result's longest "
                                  "side (a Gaussian blur that wide)", label="Mask edge softness", low=0.0, high=0.1,
                                  slider=(0.0, 0.03, 0.001))
    preserve_colors: str = setting("none", "none, luminance (transfer on brightness only) or histogram (match the "
                                   "style's colours)", label="Keep the photo's colours", choices=COLOR_MODES)
    multiscale: bool = setting(True, "optimise coarse to fine, doubling the size up to the longest side",
                               label="Coarse to fine")
    # Below this, a coarse scale costs time without lowering the full-size loss reached in a given time, so
    # images under twice this size run at one scale (docs/performance.md).
    multiscale_min_side: int = setting(256, "longest side of the smallest scale", label="Smallest scale (px)",
                                       low=16, high=MAX_SIDE, integer=True)
    frame_every: int = frame_every_setting(5)
    seed: int = seed_setting()

    def __post_init__(self) -> None:
        check_settings(self)
        for name in ("content_layers", "style_layers"):
            layers = getattr(self, name)
            if layers is not None and not any(layers.values()):
                raise ValueError(f"{name}: give at least one layer a positive weight")
        object.__setattr__(self, "style_blend", _checked_blend(self.style_blend))

    def loss_weights(self) -> tuple[float, float, float]:
        """(content, style, total variation) weights: this config's, or its backbone's for those left None."""
        spec = REGISTRY.get(self.backbone)
        own = spec.defaults.get("style_loss_weights", CHAPTER_LOSS_WEIGHTS) if spec else CHAPTER_LOSS_WEIGHTS
        return tuple(own[name] if getattr(self, name) is None else getattr(self, name)
                     for name in LOSS_WEIGHT_NAMES)

    @classmethod
    def preset(cls, name: str, **overrides) -> StyleConfig:
        """A named preset ("chapter", "fast"), with any fields overridden."""
        validation.check_choice("preset", name, tuple(PRESETS))
        return cls(**{**PRESETS[name], **overrides})


def _checked_blend(blend):
    if blend is None:
        return None
    if isinstance(blend, (str, bytes)) or not isinstance(blend, Sequence):
        raise ValueError(f"style_blend must be a list of numbers, one per style image; got {blend!r}")
    blend = tuple(validation.check_number("style_blend", weight, 0.0, 1e6) for weight in blend)
    if not blend or not any(blend):
        raise ValueError("style_blend: give at least one style a positive weight")
    return blend
