"""DeepDream's settings: the classic InceptionV3 listing's defaults, each field with its help text and range."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType

from ..models import backbone_setting, weights_setting
from ..settings import check_settings, frame_every_setting, seed_setting, setting
from .objective import check_terms

# `python -m neuralart dream --fast`: SqueezeNet at 512 px, a recognisable dream in seconds on a 2-core CPU.
FAST_PRESET = MappingProxyType({"backbone": "squeezenet", "max_side": 512})
PRESETS = MappingProxyType({"fast": FAST_PRESET})


@dataclasses.dataclass(frozen=True)
class DreamConfig:
    """Settings of one DeepDream run. Defaults are the classic InceptionV3 listing's."""

    backbone: str = backbone_setting("inception_v3", "network to dream with")
    weights: str | None = weights_setting()
    layers: Mapping[str, float] | None = setting(
        None, "layer weights, e.g. mixed2=0.2,mixed3=3; LAYER:CHANNEL weighs one channel instead of the whole "
        "layer (mixed4:97=1); negative weights suppress (none: the network's own)", label="Layer weights",
        low=-100.0, high=100.0, optional=True)
    step_size: float = setting(0.01, "how far each iteration moves the image (in -1..1 units)", label="Step size",
                               low=1e-5, high=1.0, slider=(0.001, 0.1, 0.001), old_names=("step",))
    octaves: int = setting(3, "number of scales, smallest first", label="Octaves", low=1, high=8, integer=True)
    octave_scale: float = setting(1.4, "size ratio between one octave and the next", label="Octave scale",
                                  low=1.05, high=3.0, slider=(1.05, 3.0, 0.05))
    iterations: int = setting(20, "gradient-ascent iterations per octave", label="Iterations per octave", low=0,
                              high=1000, integer=True, slider=(0, 200, 1))
    max_loss: float | None = setting(10.0, "end an octave early once the objective exceeds this", label="Max loss",
                                     low=1e-6, high=1e9, optional=True, none_means="no limit",
                                     slider=(0, 100, 0.5))
    max_side: int | None = setting(800, "shrink the photo so its longest side is at most this many pixels",
                                   label="Longest side (px)", low=32, high=4096, integer=True, optional=True,
                                   slider=(64, 2048, 16))
    tile_size: int = setting(1024, "largest tile the gradient is computed on at once (bounds memory)",
                             label="Tile size", low=64, high=4096, integer=True)
    roll: bool = setting(True, "randomly roll the image before each iteration (hides tile seams)", label="Roll")
    guide_strength: float = setting(1.0, "with a guide image: how far the dream is steered towards what the guide "
                                    "shows (0: not at all, 1: only towards it)", label="Guide strength", low=0.0,
                                    high=1.0, slider=(0.0, 1.0, 0.05))
    mask_feather: float = setting(8.0, "with a mask: how many pixels its edges fade over, inside the painted area "
                                  "(where the mask is 0 the photo stays exact)", label="Mask edge softness (px)",
                                  low=0.0, high=256.0, slider=(0, 64, 1))
    frame_every: int = frame_every_setting(5)
    seed: int = seed_setting()

    def __post_init__(self) -> None:
        check_settings(self)
        if self.layers is not None:
            if not any(self.layers.values()):
                raise ValueError("layers: give at least one layer a non-zero weight")
            check_terms(self.layers)
