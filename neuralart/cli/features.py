"""`python -m neuralart filters -o GRID.png [flags]` and `python -m neuralart featuremaps PHOTO -o MAPS.png`.

`filters` writes the grid as a PNG carrying its recipe; `--report` adds each filter's achieved activation, the
grid order and the wall time. `featuremaps` shows what one photo does to a layer, strongest channels first, and
with `--kernels` also writes the first layer's learned kernels as coloured tiles.
"""

from __future__ import annotations

import sys
import time

from .. import images, recipes
from .dream import PHOTO_HELP
from .flags import add_config_arguments, add_technique_command, config_from_args
from .output import add_output_arguments, run_to_file, write_report


def add_filters_command(subparsers) -> None:
    from ..features import FilterConfig

    add_technique_command(subparsers, "filters", FilterConfig, run_filters,
                          help="visualize what filters, units, layers or classes respond to",
                          description="Optimise images that excite chosen filters of a layer and write them as a "
                                      "grid, strongest first (dead filters are skipped).")


def run_filters(args) -> None:
    from ..features import FilterConfig, visualize

    config = config_from_args(FilterConfig, args, "filters")
    run_to_file(visualize(config), args.output, recipes.recipe_for("filters", config), args.report, args.quiet,
                report_extra=lambda last: filter_report(config, last))


def filter_report(config, last) -> dict:
    """The report's feature-visualization part: achieved activation per filter and the grid's order."""
    sign = -1.0 if config.negative else 1.0
    activations = {label: round(float(value), 6) for label, value in last.losses.items()}
    grid_order = [label for label, value in last.losses.items() if sign * value > 0]
    return {"objective": config.objective, "mode": config.mode, "layer_stage": last.stage,
            "achieved_activation": activations, "grid_order": grid_order,
            "skipped": [label for label in activations if label not in grid_order]}


def add_featuremaps_command(subparsers) -> None:
    from ..features import MapsConfig

    parser = subparsers.add_parser(
        "featuremaps", help="show what a photo does to one layer, strongest channels first",
        description="One forward pass: each channel of the layer's output as a grey tile, normalised on its "
                    "own, ranked by mean activation.")
    parser.add_argument("input", help=PHOTO_HELP)
    add_output_arguments(parser, recipe=False)
    parser.add_argument("--kernels", metavar="FILE.png", help="also write the first layer's kernels here")
    add_config_arguments(parser, MapsConfig)
    parser.set_defaults(run=run_featuremaps)


def run_featuremaps(args) -> None:
    from ..features import MapsConfig, feature_maps, kernel_tiles
    from ..models import get_backbone

    start = time.perf_counter()
    for output in (args.output, args.kernels):
        if output:
            images.format_for(output)  # Refused before any work.
    config = config_from_args(MapsConfig, args, "featuremaps")
    backbone = get_backbone(config.backbone, config.weights)
    maps = feature_maps(args.input, backbone, config.layer, count=config.count, max_side=config.max_side)
    images.save_image(args.output, maps.grid)
    report = {"layer": maps.layer, "shape": list(maps.shape), "channels": list(maps.channels),
              "mean_activation": [round(value, 6) for value in maps.means], "output": args.output}
    if args.kernels:
        kernels = kernel_tiles(backbone)
        images.save_image(args.kernels, kernels.grid)
        report["kernels"] = {"layer": kernels.layer, "shape": list(kernels.shape), "output": args.kernels}
    report["wall_time_s"] = round(time.perf_counter() - start, 3)
    if args.report:
        write_report(args.report, report)
    if not args.quiet:
        print(f"{maps.layer}: {maps.shape[0]}x{maps.shape[1]}, {maps.shape[2]} channels; strongest "
              f"{', '.join(map(str, maps.channels[:5]))}; wrote {args.output}", file=sys.stderr)
