"""Feature visualization, quality mode against the chapter's classic mode, on the real SqueezeNet 1.1.

Run `python bench/features_quality.py` (about 6 minutes on 2 CPU cores; `--quick` for a rough pass,
`--figures-only` for the diversity and interpolation part alone). For an
early, a middle and a late layer, and the same filters and number of steps in both modes, it prints:

- robust activation: each filter's objective (mean activation, as shown: uint8 images) averaged over 16 random
  shift/scale/rotation versions of its visualization, quality over classic (target: >= 1.5);
- high-frequency power: the share of each image's spectral power above half the Nyquist frequency, quality over
  classic (target: <= 0.5);
- wall time per filter for a 16-filter grid, optimised as one batch against one filter at a time (target:
  batched >= 4x faster), both after a warm-up so that tracing is not counted;
- the same for batches of 4 to 64 filters, and a straight-line fit of a run's time against its batch size: its
  slope (seconds per extra filter) bounds what batching can gain on this machine, whatever the batch size;
- diversity and interpolation rows: wall time per image against a single visualization (one filter, the same
  steps and size), as a ratio; for diversity also how far apart its images are (mean pairwise distance of their
  Gram matrices) against the same row optimised without the diversity term, and for interpolation whether the
  middle image scores between the two ends on both objectives.

The weights are read from ../shared/weights/ (never copied); without them the script says so and exits.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT.parent / "shared" / "weights" / "squeezenet1_1_notop_tf.h5"
LAYERS = {"early": "conv1", "middle": "fire5_concat", "late": "fire9_concat"}
sys.path.insert(0, str(ROOT))


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=128, help="steps in both modes (default: quality's 128)")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels")
    parser.add_argument("--filters", default="0-7", help="filters of each layer to compare (at least 8)")
    parser.add_argument("--transforms", type=int, default=16, help="random versions per robust activation")
    parser.add_argument("--timing-steps", type=int, default=32, help="steps per filter in the timing")
    parser.add_argument("--repeats", type=int, default=2, help="timing repetitions (the best is kept)")
    parser.add_argument("--quick", action="store_true", help="fewer steps, smaller images: a rough check")
    parser.add_argument("--timing-only", action="store_true", help="only the timings, not the quality comparison")
    parser.add_argument("--figures-only", action="store_true", help="only the diversity and interpolation rows")
    parser.add_argument("--row-size", type=int, default=4, help="images per diversity or interpolation row")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.steps, arguments.size, arguments.timing_steps, arguments.repeats = 48, 96, 16, 1
    return arguments


def compare_layer(backbone, layer: str, arguments) -> dict:
    """Both modes on the same filters of one layer: mean robust activation and high-frequency share."""
    from neuralart.features import FilterConfig, high_frequency_share, render, robust_activation

    figures = {}
    for mode in ("classic", "quality"):
        config = FilterConfig(backbone="squeezenet", layer=layer, filters=arguments.filters, mode=mode,
                              iterations=arguments.steps, size=arguments.size)
        started = time.perf_counter()
        result = render(config, backbone)
        seconds = time.perf_counter() - started
        targets = sorted(result.tiles)
        tiles = [result.tiles[target] for target in targets]
        robust = robust_activation(tiles, targets, config, backbone, count=arguments.transforms)
        figures[mode] = {"robust_activation": float(robust.mean()),
                         "high_frequency_share": float(np.mean([high_frequency_share(tile) for tile in tiles])),
                         "kept": len(result.kept), "filters": len(targets), "seconds": round(seconds, 2)}
    classic, quality = figures["classic"], figures["quality"]
    figures["robust_ratio"] = _ratio(quality["robust_activation"], classic["robust_activation"])
    figures["high_frequency_ratio"] = _ratio(quality["high_frequency_share"], classic["high_frequency_share"])
    return figures


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("inf")


def time_batching(backbone, arguments) -> dict:
    """Seconds per filter for filters 0-15 of the middle layer: one batch of 16 against 16 runs of one."""
    from neuralart.features import FilterConfig, render

    def settings(filters: str) -> FilterConfig:
        return FilterConfig(backbone="squeezenet", layer=LAYERS["middle"], filters=filters, mode="quality",
                            iterations=arguments.timing_steps, size=arguments.size, batch_size=16)

    def batched():
        render(settings("0-15"), backbone)

    def one_at_a_time():
        for index in range(16):
            render(settings(str(index)), backbone)

    # Warm-up: traces once (batch and size are free in the signature) and compiles the XLA pieces for both batch
    # sizes (compiled per shape), so neither side's timing includes it.
    render(settings("0-15"), backbone)
    render(settings("0"), backbone)
    best = {"batched": float("inf"), "one_at_a_time": float("inf")}
    cpu = dict(best)
    for _ in range(arguments.repeats):  # Alternate, so a burst of outside load slows both.
        for name, function in (("batched", batched), ("one_at_a_time", one_at_a_time)):
            started, cpu_started = time.perf_counter(), time.process_time()
            function()
            best[name] = min(best[name], time.perf_counter() - started)
            cpu[name] = min(cpu[name], time.process_time() - cpu_started)
    # CPU seconds (all of this process's threads) are reported too: on a shared machine they are disturbed less
    # by other processes than wall time is.
    figures = {"batched_s_per_filter": best["batched"] / 16, "one_at_a_time_s_per_filter": best["one_at_a_time"] / 16,
               "speedup": best["one_at_a_time"] / best["batched"],
               "cpu_speedup": cpu["one_at_a_time"] / cpu["batched"], "steps": arguments.timing_steps,
               "load_average": os.getloadavg()}
    figures["scaling"] = batch_scaling(settings, backbone, arguments.repeats, best["one_at_a_time"] / 16)
    return figures


def batch_scaling(settings, backbone, repeats: int, single_s_per_filter: float) -> dict:
    """How the gain from batching grows with the batch: seconds per filter for batches of 4 to 64 filters (each
    one run of `render`), their ratio to one filter at a time, and a straight-line fit of a run's time against
    its batch size (fixed seconds + seconds per filter). The fit's slope bounds what any batch size can gain:
    one filter at a time over the slope."""
    from neuralart.features import render

    def config(count: int):
        return dataclasses.replace(settings(f"0-{count - 1}"), batch_size=count)

    counts = (4, 8, 16, 32, 64)
    for count in counts:  # Warm-up: each batch size compiles the warp and Adam update once.
        render(dataclasses.replace(config(count), iterations=1), backbone)
    best = {count: float("inf") for count in counts}
    for _ in range(repeats):
        for count in counts:
            started = time.perf_counter()
            render(config(count), backbone)
            best[count] = min(best[count], time.perf_counter() - started)
    per_filter, fixed = np.polyfit(counts, [best[count] for count in counts], 1)
    return {"s_per_filter": {count: best[count] / count for count in counts},
            "speedup": {count: single_s_per_filter * count / best[count] for count in counts},
            "fit_fixed_s": float(fixed), "fit_s_per_filter": float(per_filter),
            "limit": single_s_per_filter / per_filter}


def time_figures(backbone, arguments) -> dict:
    """Diversity and interpolation rows of the middle layer against a single visualization: seconds per image
    (best of the repeats, after a warm-up that traces each), the diversity row's Gram spread with and without
    its term, and where the interpolation's middle image scores."""
    from neuralart.features import FilterConfig, gram_distances, objective_values, render, visualize

    layer, size, steps = LAYERS["middle"], arguments.size, arguments.timing_steps
    common = dict(backbone="squeezenet", size=size, iterations=steps)
    configs = {"single": FilterConfig(layer=layer, filters="7", **common),
               "diversity": FilterConfig(layer=layer, filters="7", figure="diversity", row_size=arguments.row_size,
                                         **common),
               "interpolation": FilterConfig(expression="fire5:7 -> fire5:12", figure="interpolation",
                                             row_size=arguments.row_size, **common)}
    images_per_run = {"single": 1, "diversity": arguments.row_size, "interpolation": arguments.row_size}

    def run(name):
        if name == "single":
            return render(configs[name], backbone)
        return list(visualize(configs[name], backbone))[-1]

    results = {name: run(name) for name in configs}  # Warm-up, and the images the quality figures are read from.
    best = {name: float("inf") for name in configs}
    for _ in range(arguments.repeats):  # Alternate, so a burst of outside load slows all three.
        for name in configs:
            started = time.perf_counter()
            run(name)
            best[name] = min(best[name], time.perf_counter() - started)
    per_image = {name: best[name] / images_per_run[name] for name in configs}
    alone = list(visualize(dataclasses.replace(configs["diversity"], diversity_weight=0.0), backbone))[-1]
    spread = {label: float(gram_distances([tile for tile, _ in frame.tiles], layer, backbone).mean())
              for label, frame in (("with", results["diversity"]), ("without", alone))}
    tiles = [tile for tile, _ in results["interpolation"].tiles]
    first, second = (objective_values(tiles, text, backbone) for text in ("fire5:7", "fire5:12"))
    middle = len(tiles) // 2
    between = all(min(values[0], values[-1]) <= values[middle] <= max(values[0], values[-1])
                  for values in (first, second))
    return {"s_per_image": per_image, "ratio": {name: per_image[name] / per_image["single"] for name in configs},
            "gram_spread": spread, "middle_between_ends": between, "row_size": arguments.row_size, "steps": steps,
            "load_average": os.getloadavg()}


def report_figures(figures: dict) -> None:
    ratio, seconds = figures["ratio"], figures["s_per_image"]
    print(f"\nrows of {figures['row_size']} images, {figures['steps']} steps, time per image against a single "
          f"visualization ({seconds['single']:.3f} s):")
    for name in ("diversity", "interpolation"):
        print(f"  {name:<14}{seconds[name]:.3f} s/image  ratio {ratio[name]:.2f}")
    spread = figures["gram_spread"]
    print(f"diversity: mean pairwise Gram distance {spread['with']:.3f} with the term, {spread['without']:.3f} "
          f"without ({_shown(spread['with'] / max(spread['without'], 1e-12))}x)")
    print(f"interpolation: middle image between the ends on both objectives: "
          f"{'yes' if figures['middle_between_ends'] else 'NO'}; load average {figures['load_average'][0]:.1f}")


def _shown(ratio: float) -> str:
    """A ratio for the table; one whose classic side is (nearly) zero is shown as '>999'."""
    return f"{ratio:.2f}" if ratio < 999 else ">999"


def report(results: dict, arguments) -> None:
    print(f"\nSqueezeNet 1.1 (ImageNet), filters {arguments.filters}, {arguments.steps} steps in both modes, "
          f"{arguments.size}x{arguments.size}, {os.cpu_count()} CPU cores\n")
    if results["layers"]:
        report_quality(results["layers"])
    if "timing" in results:
        report_timing(results["timing"])
    if "figures" in results:
        report_figures(results["figures"])


def report_quality(layers: dict) -> None:
    print(f"{'layer':<22}{'robust act. classic':>20}{'quality':>10}{'ratio':>8}"
          f"{'HF share classic':>18}{'quality':>10}{'ratio':>8}{'kept c/q':>10}")
    for depth, layer in LAYERS.items():
        figures = layers[layer]
        classic, quality = figures["classic"], figures["quality"]
        print(f"{depth + ' ' + layer:<22}{classic['robust_activation']:>20.2f}{quality['robust_activation']:>10.2f}"
              f"{_shown(figures['robust_ratio']):>8}{classic['high_frequency_share']:>18.3f}"
              f"{quality['high_frequency_share']:>10.3f}{_shown(figures['high_frequency_ratio']):>8}"
              f"{str(classic['kept']) + '/' + str(quality['kept']):>10}")
    worst_robust = min(figures["robust_ratio"] for figures in layers.values())
    worst_high = max(figures["high_frequency_ratio"] for figures in layers.values())
    print(f"\nrobust activation, quality / classic: worst layer {worst_robust:.2f}x (target >= 1.5x) "
          f"{'PASS' if worst_robust >= 1.5 else 'FAIL'}")
    print(f"high-frequency power, quality / classic: worst layer {worst_high:.2f}x (target <= 0.5x) "
          f"{'PASS' if worst_high <= 0.5 else 'FAIL'}")


def report_timing(timing: dict) -> None:
    print(f"16-filter grid, {timing['steps']} steps: batched {timing['batched_s_per_filter']:.3f} s/filter, "
          f"one at a time {timing['one_at_a_time_s_per_filter']:.3f} s/filter: {timing['speedup']:.2f}x faster "
          f"batched (target >= 4x) {'PASS' if timing['speedup'] >= 4 else 'FAIL'}; in CPU seconds "
          f"{timing['cpu_speedup']:.2f}x; load average during the timing {timing['load_average'][0]:.1f}")
    scaling = timing["scaling"]
    per_filter = ", ".join(f"{count}: {seconds:.3f} ({scaling['speedup'][count]:.2f}x)"
                           for count, seconds in scaling["s_per_filter"].items())
    print(f"larger batches, seconds per filter (gain over one at a time): {per_filter}")
    print(f"a run's time against its batch size: {scaling['fit_fixed_s']:.3f} s + {scaling['fit_s_per_filter']:.3f} s "
          f"per filter, so no batch size can gain more than {scaling['limit']:.2f}x")


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    if not WEIGHTS.is_file():
        print(f"skipped: the real SqueezeNet weights are not at {WEIGHTS} (see ../shared/README.md)")
        return 0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from neuralart.models import get_backbone

    backbone = get_backbone("squeezenet", str(WEIGHTS), precision="auto")  # As the tab and CLI run it.
    results = {"layers": {}}
    for depth, layer in ({} if arguments.timing_only or arguments.figures_only else LAYERS).items():
        print(f"comparing the modes on the {depth} layer {layer}...", file=sys.stderr, flush=True)
        results["layers"][layer] = compare_layer(backbone, layer, arguments)
    if not arguments.figures_only:
        print("timing a 16-filter grid, batched and one at a time...", file=sys.stderr, flush=True)
        results["timing"] = time_batching(backbone, arguments)
    if not arguments.timing_only:
        print("timing diversity and interpolation rows against a single visualization...", file=sys.stderr,
              flush=True)
        results["figures"] = time_figures(backbone, arguments)
    report(results, arguments)
    if arguments.json:
        with open(arguments.json, "w") as file:
            json.dump({"settings": vars(arguments), **results}, file, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
