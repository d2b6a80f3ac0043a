"""Style transfer at print sizes: peak resident memory and wall time at 1024, 2048 and 4096 px for SqueezeNet and
VGG19, and the cost per pixel of a tiled scale against the same scale in one piece.

    python bench/style_large.py                          # every size and the tiled/one-piece comparison
    python bench/style_large.py --sizes 1024,2048        # some sizes only
    python bench/style_large.py --backbones squeezenet   # one network
    python bench/style_large.py --iterations 2           # iterations per scale (default 2)
    python bench/style_large.py --skip-compare           # sizes only

Each measurement runs in a fresh process, so its peak memory (ru_maxrss) is its own. Runs use the default settings
(coarse to fine from 256 px, L-BFGS where a scale fits in one piece, tiles above) with random weights unless the
real SqueezeNet is in ../shared/weights (the time and memory of a step do not depend on the weights). The photo is
the shared Golden Gate (or a shipped asset), resized to 4:3 at each size.

The comparison runs one scale with Adam (the optimizer tiles use) in one piece and in tiles, at the largest side
where one piece stays within the memory targets (2048 px for SqueezeNet, 1024 for VGG19), and takes the time per
iteration as the difference between a run of 5 iterations and one of 1 (after a warm-up run), so tracing and setup
cancel out; one piece and tiles alternate, twice, and the faster repetition of each is kept. Never part of the
test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from measure import in_fresh_process

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared"
SQUEEZENET_WEIGHTS = SHARED / "weights" / "squeezenet1_1_notop_tf.h5"
PHOTO = SHARED / "images" / "golden_gate.jpg"
STYLE = SHARED / "images" / "starry_night.jpg"
COMPARE_SIDES = {"squeezenet": 2048, "vgg19": 1024}
TARGET_PEAK_GB = {"squeezenet": 3.0, "vgg19": 5.0}
COMPARE_ITERATIONS = 4
COMPARE_REPEATS = 2

sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    options = parse_arguments(argv)
    if options.run_case:
        result = CASES[options.run_case](options)
        Path(options.json).write_text(json.dumps(result, indent=2))
        return 0
    rows = []
    for backbone in options.backbones.split(","):
        for side in (int(size) for size in options.sizes.split(",")):
            rows.append(run_case("size", options, backbone=backbone, side=side))
        if not options.skip_compare:
            rows.append(run_case("compare", options, backbone=backbone, side=COMPARE_SIDES[backbone]))
    print(markdown(rows))
    return 0


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1024,2048,4096", help="longest sides to run, comma-separated")
    parser.add_argument("--backbones", default="squeezenet,vgg19", help="networks, comma-separated")
    parser.add_argument("--iterations", type=int, default=2, help="iterations per scale")
    parser.add_argument("--skip-compare", action="store_true", help="leave out the tiled/one-piece comparison")
    parser.add_argument("--run-case", help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    parser.add_argument("--backbone", help=argparse.SUPPRESS)
    parser.add_argument("--side", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run_case(case: str, options, backbone: str, side: int) -> dict:
    """One measurement in a fresh process; its result, or the error it died with."""
    arguments = ["--run-case", case, "--backbone", backbone, "--side", str(side), "--iterations",
                 str(options.iterations)]
    label = f"{case} {backbone} {side} px"
    result = in_fresh_process(Path(__file__).resolve(), arguments, label)
    return {"case": label, **result} if "error" in result else result


def _inputs(side: int):
    from neuralart import images

    source = PHOTO if PHOTO.is_file() else ROOT / "assets" / "chelsea.jpg"
    style = STYLE if STYLE.is_file() else ROOT / "assets" / "styles" / "swirls.jpg"
    return images.resize_uint8(images.load_image(source), (side * 3 // 4, side)), images.load_image(style)


def _backbone(name: str):
    from neuralart.models import get_backbone

    weights = str(SQUEEZENET_WEIGHTS) if name == "squeezenet" and SQUEEZENET_WEIGHTS.is_file() else None
    return get_backbone(name, weights, precision="auto"), weights


def size_case(options) -> dict:
    """The default run at one size: wall time, the finest scale's time, peak resident memory."""
    import resource

    from neuralart.style_transfer import StyleConfig, stylize
    from neuralart.style_transfer.tiles import tile_side

    backbone, weights = _backbone(options.backbone)
    content, style = _inputs(options.side)
    config = StyleConfig(backbone=options.backbone, weights=weights, max_side=options.side,
                         iterations=options.iterations, frame_every=1000)
    start = time.perf_counter()
    finest_started = None
    for frame in stylize(content, [style], config, backbone):
        if frame.stage_done and frame.image.shape[1] * 2 == options.side:
            finest_started = time.perf_counter()
    end = time.perf_counter()
    wall = end - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    return {"case": "size", "backbone": options.backbone, "side": options.side,
            "weights": "ImageNet" if weights else "random", "iterations_per_scale": options.iterations,
            "tiled": options.side > tile_side(None, options.backbone), "wall_s": round(wall, 1),
            "finest_scale_s": round(end - finest_started, 1) if finest_started else None,
            "peak_rss_gb": round(peak, 2), "target_gb": TARGET_PEAK_GB.get(options.backbone)}


def compare_case(options) -> dict:
    """Seconds per iteration of one scale with Adam, in one piece and in tiles, at the same size."""
    import dataclasses

    from neuralart.style_transfer import StyleConfig, stylize

    backbone, weights = _backbone(options.backbone)
    content, style = _inputs(options.side)
    base = StyleConfig(backbone=options.backbone, weights=weights, max_side=options.side, multiscale=False,
                       optimizer="adam", init="content", frame_every=1000)
    configs = {label: dataclasses.replace(base, tile_size=tile_size)
               for label, tile_size in (("one_piece", options.side), ("tiled", None))}

    def timed(config, iterations: int) -> float:
        start = time.perf_counter()
        for _ in stylize(content, [style], dataclasses.replace(config, iterations=iterations), backbone):
            pass
        return time.perf_counter() - start
    for config in configs.values():
        timed(config, 1)  # Traces the steps.
    # Alternated, so that outside load slows both alike; the least disturbed repetition is kept.
    per_iteration = {label: [] for label in configs}
    for _ in range(COMPARE_REPEATS):
        for label, config in configs.items():
            extra = timed(config, 1 + COMPARE_ITERATIONS) - timed(config, 1)
            per_iteration[label].append(extra / COMPARE_ITERATIONS)
    results = {label: min(values) for label, values in per_iteration.items()}
    pixels = options.side * (options.side * 3 // 4)
    return {"case": "compare", "backbone": options.backbone, "side": options.side,
            "one_piece_s_per_iteration": round(results["one_piece"], 2),
            "tiled_s_per_iteration": round(results["tiled"], 2),
            "one_piece_us_per_pixel": round(results["one_piece"] / pixels * 1e6, 3),
            "tiled_us_per_pixel": round(results["tiled"] / pixels * 1e6, 3),
            "tiled_cost_ratio": round(results["tiled"] / results["one_piece"], 2), "target_ratio": 1.3}


CASES = {"size": size_case, "compare": compare_case}


def markdown(rows: list[dict]) -> str:
    lines = ["| network | side | tiled | weights | wall s | finest scale s | peak RSS GB (target) | error |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        if row.get("case") == "size" or "error" in row:
            lines.append(f"| {row.get('backbone', '-')} | {row.get('side', '-')} | {row.get('tiled', '-')} | "
                         f"{row.get('weights', '-')} | {row.get('wall_s', '-')} | {row.get('finest_scale_s', '-')} | "
                         f"{row.get('peak_rss_gb', '-')} (< {row.get('target_gb', '-')}) | {row.get('error', '')} |")
    compared = [row for row in rows if row.get("case") == "compare"]
    if compared:
        lines += ["", "| network | side | one piece s/iteration | tiled s/iteration | tiled/one-piece per pixel "
                  "(target <= 1.3) |", "|---|---|---|---|---|"]
        lines += [f"| {row['backbone']} | {row['side']} | {row['one_piece_s_per_iteration']} | "
                  f"{row['tiled_s_per_iteration']} | {row['tiled_cost_ratio']} |" for row in compared]
    loads = [load for row in rows for load in row.get("load_average", [])]
    if loads:
        lines += ["", f"1-minute load average seen: {min(loads)} to {max(loads)} on {os.cpu_count()} cores."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
