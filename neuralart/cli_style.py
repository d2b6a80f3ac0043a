"""The `style` command: `python -m neuralart style CONTENT STYLE [STYLE ...] -o OUT.png [flags]`.

Every `StyleConfig` field has a flag (generated from the dataclass). `--preset chapter` starts from section 9.3's
settings; a `--recipe` PNG's settings come next; flags given explicitly win over both. `--report FILE.json` records
the final losses per component, the iterations done, the wall time and the peak memory.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from . import recipes
from .cli import _add_common, add_config_arguments, run_to_file
from .images import read_recipe
from .models import parse_weights_option

HELPS = {
    "backbone": "network whose layers define content and style",
    "content_layers": "content layer weights, e.g. block5_conv2=1; none = the backbone's preset",
    "style_layers": "style layer weights, e.g. block1_conv1=1,block2_conv1=1; none = the backbone's preset",
    "content_weight": "weight of the content loss; none = the backbone's preset",
    "style_weight": "weight of the style loss; none = the backbone's preset",
    "tv_weight": "weight of the total-variation loss; none = the backbone's preset",
    "style_blend": "one weight per style image, e.g. 0.7,0.3; none = equal",
    "iterations": "optimizer iterations per scale",
    "optimizer": "lbfgs or adam",
    "smoothing": "L-BFGS steps in a smoothed basis: 1 + this times a 2-pixel Gaussian blur; 0 = plain pixels",
    "learning_rate": "Adam's learning rate, in pixel units",
    "beta_1": "Adam's beta_1", "epsilon": "Adam's epsilon",
    "init": "start from the content in the style's colours (recolored), the content as it is, noise or the "
            "first style image",
    "max_side": "longest side of the result in pixels (the photo is shrunk, never enlarged)",
    "style_scale": "size of the style image relative to the result",
    "preserve_colors": "none, luminance (transfer on brightness only) or histogram (match the style's colours)",
    "multiscale": "optimise coarse to fine, doubling the size up to --max-side",
    "multiscale_min_side": "longest side of the smallest scale",
    "frame_every": "iterations between progress reports",
    "seed": "random seed (noise initialisation)",
}


def _style_command(subparsers) -> None:
    from .style_transfer import PRESETS, StyleConfig

    parser = subparsers.add_parser("style", help="paint a photo in the style of one or more images",
                                   description="Neural style transfer (Gatys et al.): keep the content of one "
                                               "image, take the textures of others.")
    parser.add_argument("content", help="content photo (JPEG, PNG, WEBP or BMP)")
    parser.add_argument("styles", nargs="+", metavar="style", help="one or more style images")
    _add_common(parser)
    parser.add_argument("--preset", choices=sorted(PRESETS),
                        help="start from a preset: chapter = section 9.3 (VGG19, Adam lr 5, 1000 iterations); "
                             "fast = a quick preview (SqueezeNet, 384 px, 60 iterations, one scale)")
    parser.add_argument("--fast", dest="preset", action="store_const", const="fast",
                        help="same as --preset fast: a recognisable result in well under 30 s on a 2-core CPU")
    add_config_arguments(parser, StyleConfig, helps=HELPS)
    _leave_unset_flags_out(parser, StyleConfig)
    parser.set_defaults(run=_run_style, parser=parser)


def _leave_unset_flags_out(parser: argparse.ArgumentParser, config_class) -> None:
    """Flags not given stay out of the parsed namespace, so a preset or recipe can fill them; the dataclass
    still supplies the defaults shown in --help and used when nothing else sets a field."""
    names = {field.name for field in dataclasses.fields(config_class)}
    for action in parser._actions:
        if action.dest in names:
            action.default = argparse.SUPPRESS


def style_config_from_args(args: argparse.Namespace):
    """The StyleConfig for parsed flags: preset, then recipe, then the flags given explicitly."""
    from .style_transfer import PRESETS, StyleConfig

    values = dict(PRESETS[args.preset]) if getattr(args, "preset", None) else {}
    if getattr(args, "recipe", None):
        recipe = read_recipe(args.recipe)
        if recipe is None:
            raise ValueError(f"{args.recipe} carries no neural art studio recipe")
        config = recipes.config_from_recipe(recipe, "style")
        values.update({field.name: getattr(config, field.name) for field in dataclasses.fields(config)})
    for field in dataclasses.fields(StyleConfig):
        if hasattr(args, field.name):
            value = getattr(args, field.name)
            values[field.name] = parse_weights_option(value) if field.name == "weights" else value
    return StyleConfig(**values)


def peak_memory_mb() -> float | None:
    """This process's peak resident memory so far, in MiB (None where the platform cannot tell)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)


def _run_style(args) -> None:
    from .style_transfer import stylize

    config = style_config_from_args(args)
    frames = stylize(args.content, args.styles, config)
    run_to_file(frames, args.output, recipes.recipe_for("style", config), args.report, args.quiet,
                report_extra=lambda last: {"iterations": last.step, "content": args.content,
                                           "styles": list(args.styles), "peak_rss_mb": peak_memory_mb()})


COMMANDS = [_style_command]
