"""Command line for feature visualization: `python -m neuralart filters ...` and `python -m neuralart featuremaps ...`.

`filters` takes every field of `FilterConfig` as a flag (generated from the dataclass, so the defaults live
there) and writes the grid as a PNG carrying its recipe; `--report` adds each filter's achieved activation, the
grid order and the wall time as JSON. `featuremaps` shows what one photo does to a layer, strongest channels
first, and with `--kernels` also writes the first layer's learned kernels as coloured tiles.
"""

from __future__ import annotations

import json
import sys
import time

from . import images, recipes
from .cli import _add_common, add_config_arguments, config_from_args, recipe_overrides, run_to_file
from .features import MODE_LEARNING_RATES, MODE_STEPS, FilterConfig
from .models import parse_weights_option

FILTER_HELPS = {
    "backbone": "network to visualize",
    "layer": "layer whose filters to visualize; none: the backbone's usual one (for --objective class, its "
             "output)",
    "filters": "filter index or range, e.g. 3, 0-15 or 0,4,9-12",
    "objective": "channel (a filter's mean), neuron (its centre unit), layer (all of it) or class (a logit)",
    "class_index": "ImageNet class for --objective class (e.g. 13 is junco, a bird)",
    "negative": "show what the filter most dislikes instead",
    "mode": "quality (Fourier parameterization, Adam, random transformations) or classic (the chapter's)",
    "steps": f"optimisation steps per filter (none: the mode's own, {MODE_STEPS['quality']} quality, "
             f"{MODE_STEPS['classic']} classic)",
    "learning_rate": f"step size (none: {MODE_LEARNING_RATES['quality']:g} for Adam in quality mode, "
                     f"{MODE_LEARNING_RATES['classic']:g} for classic's normalised gradient)",
    "size": "side of each visualization in pixels",
    "batch_size": "filters optimised together in one batch",
    "frame_every": "steps between progress reports",
    "seed": "random seed",
}


def _filters_command(subparsers) -> None:
    parser = subparsers.add_parser(
        "filters", help="visualize what filters, units, layers or classes respond to",
        description="Optimise images that excite chosen filters of a layer and write them as a grid, strongest "
                    "first (dead filters are skipped).")
    _add_common(parser)
    add_config_arguments(parser, FilterConfig, helps=FILTER_HELPS)
    parser.set_defaults(run=_run_filters, parser=parser)


def _run_filters(args) -> None:
    from .features import visualize

    args = recipe_overrides(args, "filters", FilterConfig, args.parser)
    config = config_from_args(FilterConfig, args)
    run_to_file(visualize(config), args.output, recipes.recipe_for("filters", config), args.report, args.quiet,
                report_extra=lambda last: filter_report(config, last))


def filter_report(config: FilterConfig, last) -> dict:
    """The report's feature-visualization part: achieved activation per filter and the grid's order."""
    sign = -1.0 if config.negative else 1.0
    activations = {label: round(float(value), 6) for label, value in last.losses.items()}
    grid_order = [label for label, value in last.losses.items() if sign * value > 0]
    return {"objective": config.objective, "mode": config.mode, "layer_stage": last.stage,
            "achieved_activation": activations, "grid_order": grid_order,
            "skipped": [label for label in activations if label not in grid_order]}


def _featuremaps_command(subparsers) -> None:
    defaults = FilterConfig()
    parser = subparsers.add_parser(
        "featuremaps", help="show what a photo does to one layer, strongest channels first",
        description="One forward pass: each channel of the layer's output as a grey tile, normalised on its "
                    "own, ranked by mean activation.")
    parser.add_argument("input", help="image file (JPEG, PNG, WEBP or BMP)")
    parser.add_argument("-o", "--output", required=True, help="PNG file to write")
    parser.add_argument("--layer", default=None, help="layer to show (default: the backbone's usual one)")
    parser.add_argument("--backbone", default=defaults.backbone, help=f"network (default: {defaults.backbone})")
    parser.add_argument("--weights", default=defaults.weights or "none", metavar="imagenet|none|PATH",
                        help="ImageNet weights (downloaded once and cached), random, or a weights file")
    parser.add_argument("--count", type=int, default=64, help="channels to show (default: 64)")
    parser.add_argument("--max-side", type=int, default=512, help="shrink the photo to this longest side first")
    parser.add_argument("--kernels", metavar="FILE.png", help="also write the first layer's kernels here")
    parser.add_argument("--report", metavar="FILE.json", help="write the channel ranking and shapes as JSON")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.set_defaults(run=_run_featuremaps)


def _run_featuremaps(args) -> None:
    from .features import feature_maps, kernel_tiles
    from .models import get_backbone

    start = time.perf_counter()
    backbone = get_backbone(args.backbone, parse_weights_option(args.weights))
    maps = feature_maps(args.input, backbone, args.layer, count=args.count, max_side=args.max_side)
    images.save_png(args.output, maps.grid)
    report = {"layer": maps.layer, "shape": list(maps.shape), "channels": list(maps.channels),
              "mean_activation": [round(value, 6) for value in maps.means], "output": args.output}
    if args.kernels:
        kernels = kernel_tiles(backbone)
        images.save_png(args.kernels, kernels.grid)
        report["kernels"] = {"layer": kernels.layer, "shape": list(kernels.shape), "output": args.kernels}
    report["wall_time_s"] = round(time.perf_counter() - start, 3)
    if args.report:
        with open(args.report, "w") as file:
            json.dump(report, file, indent=2)
    if not args.quiet:
        print(f"{maps.layer}: {maps.shape[0]}x{maps.shape[1]}, {maps.shape[2]} channels; strongest "
              f"{', '.join(map(str, maps.channels[:5]))}; wrote {args.output}", file=sys.stderr)


COMMANDS = [_filters_command, _featuremaps_command]
