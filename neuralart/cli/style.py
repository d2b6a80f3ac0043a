"""`python -m neuralart style CONTENT STYLE [STYLE ...] -o OUT.png [flags]`: neural style transfer.

`--preset chapter` starts from section 9.3's settings; a `--recipe` PNG's settings come next; flags given
explicitly win over both. `--style-mask STYLE=MASK` gives a style a region of the photo (an image file: light or
painted where the style goes). Before it starts, the command says roughly how long the run will take and how much
memory it needs on this machine (from a short probe), and refuses a size that would not fit in the memory
available. `--report FILE.json` records the final losses
per component, the iterations done, the wall time and the peak memory.
"""

from __future__ import annotations

import os
import sys

from .. import recipes
from .flags import add_technique_command, config_from_args
from .output import peak_memory_mb, run_to_file


def add_command(subparsers) -> None:
    from ..style_transfer import MAX_SIDE, PRESETS, StyleConfig

    parser = add_technique_command(
        subparsers, "style", StyleConfig, run, help="paint a photo in the style of one or more images",
        description="Neural style transfer (Gatys et al.): keep the content of one image, take the textures of "
                    f"others. Results up to {MAX_SIDE} px on the longest side; scales larger than a tile are "
                    "refined tile by tile, so memory stays bounded.",
        inputs=(("content", {"help": "content photo (JPEG, PNG, WEBP or BMP)"}),
                ("styles", {"nargs": "+", "metavar": "style", "help": "one or more style images"})),
        presets=PRESETS)
    parser.add_argument("--style-mask", action="append", default=[], metavar="STYLE=MASK",
                        help="the region of the photo a style paints: STYLE is the style's position (1, 2, ...) "
                             "or file name, MASK an image, light (or painted, if it has transparency) where the "
                             "style goes; give one per style; where no mask reaches, the photo stays")
    parser.add_argument("--no-estimate", action="store_true",
                        help="start at once, without measuring how long and how much memory the run will take")


def run(args) -> None:
    from ..models import get_backbone
    from ..style_transfer import PRESETS, StyleConfig, stylize
    from ..style_transfer.inputs import load_content

    config = config_from_args(StyleConfig, args, "style", PRESETS)
    masks = None
    if args.style_mask:
        masks = resolve_style_names([_mask_pair(text) for text in args.style_mask], list(args.styles))
    backbone = get_backbone(config.backbone, config.weights, precision="auto")
    if not args.no_estimate:
        shape = load_content(args.content, config).shape[:2]
        check_estimate(config, shape, backbone, 0 if masks is None else len(masks), args.quiet)
    frames = stylize(args.content, args.styles, config, backbone, style_masks=masks)
    run_to_file(frames, args.output, recipes.recipe_for("style", config), args.report, args.quiet,
                report_extra=lambda last: {"content": args.content, "styles": list(args.styles),
                                           "style_masks": list(args.style_mask), "peak_rss_mb": peak_memory_mb()})


def _mask_pair(text: str) -> tuple[str, str]:
    style, separator, mask = text.partition("=")
    if not separator or not style or not mask:
        raise ValueError(f"--style-mask {text}: write STYLE=MASK, e.g. --style-mask 1=sky.png")
    return style, mask


def check_estimate(config, shape: tuple[int, int], backbone, regions: int, quiet: bool) -> None:
    """Say (on stderr) how long and how much memory the run will take; refuse it if it would not fit."""
    from ..style_transfer.estimate import estimate_run

    if not quiet:
        print("measuring this machine…", file=sys.stderr, flush=True)
    estimate = estimate_run(config, shape, backbone, regions=regions)
    estimate.check()
    if not quiet:
        print(estimate.summary(), file=sys.stderr, flush=True)



def resolve_style_names(pairs: list[tuple[str, object]], style_names: list[str]) -> list[object]:
    """Masks in the styles' order from (style, mask) pairs, each style named by its position (1, 2, ...), its
    file name, its path as given or its file name without extension."""
    def keys(index: int, name: str) -> set[str]:
        base = os.path.basename(name)
        return {str(index), name, base, os.path.splitext(base)[0]}

    by_key = {}
    for index, name in enumerate(style_names, start=1):
        for key in keys(index, name):
            by_key.setdefault(key, []).append(index)
    chosen: dict[int, object] = {}
    for style, mask in pairs:
        matches = by_key.get(style, [])
        if len(matches) != 1:
            listed = ", ".join(f"{index} ({os.path.basename(name)})" for index, name in enumerate(style_names, 1))
            problem = "names more than one style" if matches else "is no style of this run"
            raise ValueError(f"--style-mask {style}=...: {style!r} {problem}; name a style by its position or file "
                             f"name: {listed}.")
        if matches[0] in chosen:
            raise ValueError(f"Style {style!r} has two masks; give each style one.")
        chosen[matches[0]] = mask
    missing = [str(index) for index in range(1, len(style_names) + 1) if index not in chosen]
    if missing:
        raise ValueError(f"No mask for style {', '.join(missing)}: with masks, give every style one (a region with "
                         "no style keeps the photo).")
    return [chosen[index] for index in range(1, len(style_names) + 1)]
