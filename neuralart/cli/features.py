"""`python -m neuralart filters -o GRID.png [flags]` and `python -m neuralart featuremaps PHOTO -o MAPS.png`.

`filters` writes the grid (or a diversity or interpolation row, or an atlas: `--figure`) as a PNG carrying its
recipe; `--report` adds each filter's achieved activation, the grid order and the wall time. Objectives combine
with `--expression "fire5:7 + fire5:12 - 0.5*fire7:3"` (also accepted as `--objective`) or repeated `--term`
flags; `--class goldfish` names a class; `--preset chapter` makes the chapter's atlas of early, middle and late
layers. `featuremaps` shows what one photo does to a layer, strongest channels first, names the classifier's top-5
classes where the network has its head, and with `--kernels` also writes the first layer's learned kernels as
coloured tiles.
"""

from __future__ import annotations

import argparse
import sys
import time

from .. import images, recipes
from .dream import PHOTO_HELP
from .flags import add_config_arguments, add_technique_command, config_from_args
from .output import add_output_arguments, run_to_file, write_report


def add_filters_command(subparsers) -> None:
    from ..features import PRESETS, FilterConfig

    parser = add_technique_command(
        subparsers, "filters", FilterConfig, run_filters,
        help="visualize what filters, units, layers or classes respond to",
        description="Optimise images that excite chosen filters of a layer and write them as a grid, strongest "
                    "first (dead filters are skipped); or a diversity or interpolation row, a combined objective, "
                    "or an atlas of several layers.", presets=PRESETS)
    parser.add_argument("--class", dest="class_index", metavar="NAME|INDEX", default=argparse.SUPPRESS,
                        help="ImageNet class for the class objective, by name or index (goldfish, junco, 13); the "
                             "friendly form of --class-index")
    parser.add_argument("--term", dest="terms", action="append", metavar="TERM", default=[],
                        help="a term of a combined objective, repeatable: --term fire5:7 --term=-0.5*fire7:3 (the "
                             "terms are added together, and to --expression)")


def run_filters(args) -> None:
    from ..features import FilterConfig, PRESETS, visualize

    config = config_from_args(FilterConfig, args, "filters", PRESETS, **expression_from_terms(args))
    frames = passing_on_notes(visualize(config), args.quiet)
    run_to_file(frames, args.output, recipes.recipe_for("filters", config), args.report, args.quiet,
                report_extra=lambda last: filter_report(config, last))


def expression_from_terms(args) -> dict:
    """--term flags as the config's expression (added to an --expression or --objective expression given too)."""
    terms = list(getattr(args, "terms", []) or [])
    if not terms:
        return {}
    from ..features import OBJECTIVES

    given = [getattr(args, name, "") for name in ("expression", "objective")]
    given = [text for text in given if text and text not in OBJECTIVES]
    overrides = {"expression": " + ".join(f"({text})" for text in given[:1] + terms)}
    if given and getattr(args, "objective", "") == given[0]:
        overrides["objective"] = "channel"
    return overrides


def passing_on_notes(frames, quiet: bool):
    """The frames, each distinct note a run attaches to them (another network standing in) printed once."""
    noted = set()
    for frame in frames:
        note = getattr(frame, "note", "")
        if note and note not in noted and not quiet:
            print(f"note: {note}", file=sys.stderr)
        noted.add(note)
        yield frame


def filter_report(config, last) -> dict:
    """The report's feature-visualization part: achieved activation per filter and the grid's order (for a
    grid), or each image's objective (for the other figures)."""
    sign = -1.0 if config.negative else 1.0
    activations = {label: round(float(value), 6) for label, value in last.losses.items()}
    report = {"objective": config.objective, "mode": config.mode, "figure": config.figure,
              "expression": config.expression, "layer_stage": last.stage, "achieved_activation": activations,
              "captions": [caption for _, caption in getattr(last, "tiles", ())]}
    if getattr(last, "note", ""):
        report["note"] = last.note
    if config.figure == "grid" and not config.expression:
        grid_order = [label for label, value in last.losses.items() if sign * value > 0]
        report.update(grid_order=grid_order, skipped=[label for label in activations if label not in grid_order])
    return report


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
    maps = feature_maps(args.input, backbone, config.layer, count=config.count, max_side=config.max_side,
                        captions=config.captions)
    images.save_image(args.output, maps.grid)
    report = {"layer": maps.layer, "shape": list(maps.shape), "channels": list(maps.channels),
              "mean_activation": [round(value, 6) for value in maps.means], "output": args.output}
    if args.kernels:
        kernels = kernel_tiles(backbone, captions=config.captions)
        images.save_image(args.kernels, kernels.grid)
        report["kernels"] = {"layer": kernels.layer, "shape": list(kernels.shape), "output": args.kernels}
    if config.predictions:
        report.update(predictions_report(args.input, config, args.quiet))
    report["wall_time_s"] = round(time.perf_counter() - start, 3)
    if args.report:
        write_report(args.report, report)
    if not args.quiet:
        print(f"{maps.layer}: {maps.shape[0]}x{maps.shape[1]}, {maps.shape[2]} channels; strongest "
              f"{', '.join(map(str, maps.channels[:5]))}; wrote {args.output}", file=sys.stderr)


def predictions_report(photo, config, quiet: bool) -> dict:
    """The classifier's top-5 classes for the photo, printed and reported ({} for a network without a head;
    a warning instead when the head's weights cannot be had)."""
    from ..features import head_predictions
    from ..models import WeightsUnavailableError

    try:
        predictions = head_predictions(photo, config.backbone, config.weights, max_side=config.max_side)
    except WeightsUnavailableError as error:
        if not quiet:
            print(f"warning: no top-5 predictions: {error}", file=sys.stderr)
        return {}
    if predictions is None:
        return {}
    if not quiet:
        print("top-5: " + ", ".join(f"{item.name} ({item.index}) {item.probability:.1%}" for item in predictions),
              file=sys.stderr)
    return {"predictions": [{"index": item.index, "name": item.name, "probability": round(item.probability, 6)}
                            for item in predictions]}
