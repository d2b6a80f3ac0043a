"""DeepDream studio costs: frames per minute of a 512-px SqueezeNet zoom, and what a guide image or a mask costs
against a plain dream (as ratios; both should stay under 1.3x).

    python bench/dream_studio.py                  # real SqueezeNet weights from ../shared/weights when present
    python bench/dream_studio.py --quick          # fewer frames and repetitions (a smoke run)
    python bench/dream_studio.py --weights none   # random weights (same speed, no file needed)

Every variant is traced once before timing; plain, guided and masked dreams are timed alternately so that load
on the machine slows them alike, and each ratio is of the medians. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SQUEEZENET = ROOT.parent / "shared" / "weights" / "squeezenet1_1_notop_tf.h5"
PHOTO = ROOT / "assets" / "chelsea.jpg"
GUIDE = ROOT / "assets" / "rocket.jpg"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames and repetitions")
    parser.add_argument("--weights", default=str(SQUEEZENET) if SQUEEZENET.is_file() else "none",
                        help="SqueezeNet weights file, or none for random weights")
    parser.add_argument("--side", type=int, default=512, help="longest side of the photo and the zoom, in pixels")
    options = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from neuralart.models import get_backbone

    weights = None if options.weights.lower() == "none" else options.weights
    backbone = get_backbone("squeezenet", weights, precision="auto")
    results = {"side": options.side, "weights": options.weights, "precision": backbone.precision,
               "zoom": zoom_speed(backbone, options), "costs": guide_and_mask_costs(backbone, options)}
    print(json.dumps(results, indent=2))
    return 0


def zoom_speed(backbone, options) -> dict:
    """Frames per minute of the default zoom (2 octaves of 5 iterations per frame) at `options.side` pixels."""
    from neuralart.deepdream import ZoomConfig, zoom

    frames = 3 if options.quick else 12
    config = ZoomConfig(backbone="squeezenet", weights=None, max_side=options.side, frames=frames + 1)
    finished = []
    for frame in zoom(PHOTO, config, backbone):
        if frame.stage_done:
            finished.append(time.perf_counter())  # The first frame traces the step: timing starts after it.
    seconds = finished[-1] - finished[0]
    return {"frames_timed": frames, "seconds": round(seconds, 2), "frames_per_minute": round(60 * frames / seconds, 1),
            "iterations_per_frame": config.frame_iterations((options.side, options.side), 48)}


def guide_and_mask_costs(backbone, options) -> dict:
    """Median seconds of a plain, a guided and a masked dream (1 octave, 10 iterations), and their ratios."""
    import numpy as np

    from neuralart import images
    from neuralart.deepdream import DreamConfig, dream

    photo = images.load_image(PHOTO, max_side=options.side)
    mask = np.zeros(photo.shape[:2], np.float32)
    mask[:, photo.shape[1] // 3:] = 1.0
    config = DreamConfig(backbone="squeezenet", weights=None, max_side=options.side, octaves=1, iterations=10,
                         max_loss=None, frame_every=1000)
    variants = {"plain": {}, "guide": {"guide": GUIDE}, "mask": {"mask": mask}}

    def run(inputs):
        start = time.perf_counter()
        for _ in dream(photo, config, backbone, **inputs):
            pass
        return time.perf_counter() - start

    for inputs in variants.values():
        run(inputs)  # trace
    timings = {name: [] for name in variants}
    for _ in range(2 if options.quick else 5):
        for name, inputs in variants.items():
            timings[name].append(run(inputs))
    medians = {name: statistics.median(values) for name, values in timings.items()}
    return {"median_seconds": {name: round(value, 3) for name, value in medians.items()},
            "guide_over_plain": round(medians["guide"] / medians["plain"], 3),
            "mask_over_plain": round(medians["mask"] / medians["plain"], 3)}


if __name__ == "__main__":
    sys.exit(main())
