"""Writes the reference outputs that tests/test_references.py holds the code to.

Run once, with the code as it stood before the package was reshaped (this file's own commit), from the project
root: `python tests/references/make_references.py`. It needs the real SqueezeNet weights in ../shared/weights.
Every run computes in float32, so the pixels depend on the arithmetic alone, not on bfloat16 support.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from neuralart import images  # noqa: E402
from neuralart.deepdream import DreamConfig, dream  # noqa: E402
from neuralart.features import FilterConfig, feature_maps, kernel_tiles, visualize  # noqa: E402
from neuralart.models import get_backbone  # noqa: E402
from neuralart.style_transfer import StyleConfig, stylize  # noqa: E402

WEIGHTS = ROOT.parent / "shared" / "weights" / "squeezenet1_1_notop_tf.h5"
PHOTO = ROOT / "assets" / "chelsea.jpg"
STYLE = ROOT / "assets" / "styles" / "swirls.jpg"

# Old field names (this commit's API); tests/test_references.py spells the same settings in today's names.
CASES = {
    "dream": lambda backbone: dream(PHOTO, DreamConfig(backbone="squeezenet", weights=None, max_side=224,
                                                       octaves=2, iterations=6, step=0.02, seed=3), backbone),
    "dream-tiled": lambda backbone: dream(PHOTO, DreamConfig(backbone="squeezenet", weights=None, max_side=160,
                                                             octaves=1, iterations=4, tile_size=96, seed=5),
                                          backbone),
    "filters-quality": lambda backbone: visualize(FilterConfig(backbone="squeezenet", weights=None,
                                                               layer="fire5_concat", filters="0-3", size=64,
                                                               steps=24, seed=1), backbone),
    "filters-classic": lambda backbone: visualize(FilterConfig(backbone="squeezenet", weights=None,
                                                               layer="fire3_concat", filters="4,9", size=64,
                                                               mode="classic", steps=10, seed=2), backbone),
    "style-lbfgs": lambda backbone: stylize(PHOTO, STYLE, StyleConfig(backbone="squeezenet", weights=None,
                                                                       max_side=160, iterations=25,
                                                                       multiscale_min_side=64, seed=0), backbone),
    "style-adam": lambda backbone: stylize(PHOTO, STYLE, StyleConfig(backbone="squeezenet", weights=None,
                                                                      max_side=96, iterations=20,
                                                                      optimizer="adam", init="content",
                                                                      preserve_colors="luminance"), backbone),
}


def main() -> None:
    backbone = get_backbone("squeezenet", str(WEIGHTS), precision="float32")
    losses = {}
    for name, make in CASES.items():
        frames = list(make(backbone))
        images.save_png(HERE / f"{name}.png", frames[-1].image)
        losses[name] = {key: float(value) for key, value in frames[-1].losses.items()}
        print(name, frames[-1].image.shape, frames[-1].step, frames[-1].total_steps, file=sys.stderr)
    maps = feature_maps(PHOTO, backbone, "fire3_concat", count=16, max_side=128)
    images.save_png(HERE / "featuremaps.png", maps.grid)
    images.save_png(HERE / "kernels.png", kernel_tiles(backbone).grid)
    losses["featuremaps"] = {"channels": list(maps.channels)}
    (HERE / "losses.json").write_text(json.dumps(losses, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
