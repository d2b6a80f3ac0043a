"""`python -m neuralart dream INPUT -o OUT.png [flags]`: DeepDream a photo, optionally towards a guide image
(`--guide`), within a mask (`--mask`, white = dream) and on chosen channels (`--layers mixed4:97=1,mixed3=0.5`)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

from .. import recipes
from ..frames import Frame
from .flags import add_technique_command, config_from_args
from .output import run_to_file

PHOTO_HELP = "image file (JPEG, PNG, WEBP or BMP)"
GUIDE_HELP = "dream towards what this image shows (its features at the chosen layers); see --guide-strength"


def add_command(subparsers) -> None:
    from ..deepdream import PRESETS, DreamConfig

    parser = add_technique_command(subparsers, "dream", DreamConfig, run, help="DeepDream an image",
                                   description="Amplify what a network sees in an image (DeepDream).",
                                   inputs=(("input", {"help": PHOTO_HELP}),), presets=PRESETS)
    parser.add_argument("--guide", metavar="IMAGE", help=GUIDE_HELP)
    parser.add_argument("--mask", metavar="FILE", help="dream only where this image is white (black or transparent "
                        "parts keep the photo); scaled to the photo; see --mask-feather")


def run(args) -> None:
    from ..deepdream import PRESETS, DreamConfig, dream

    config = config_from_args(DreamConfig, args, "dream", PRESETS)
    early_ends: list[str] = []
    frames = dream(args.input, config, guide=args.guide, mask=args.mask)
    run_to_file(noting_early_ends(frames, early_ends, args.quiet), args.output, recipes.recipe_for("dream", config),
                args.report, args.quiet, report_extra=lambda last: {
                    "planned_iterations": config.iterations * config.octaves, "max_loss_stops": list(early_ends),
                    "guide": args.guide, "mask": args.mask})


def noting_early_ends(frames: Iterator[Frame], early_ends: list[str], quiet: bool) -> Iterator[Frame]:
    """Pass frames on, noting (and, unless quiet, saying on stderr) each octave that max_loss ended early."""
    from ..deepdream import MAX_LOSS_NOTE

    try:
        for frame in frames:
            if frame.stage_done and MAX_LOSS_NOTE in frame.stage:
                early_ends.append(frame.stage)
                if not quiet:
                    print(f"\nnote: {frame.stage}; raise --max-loss (or give --max-loss none) to dream further",
                          file=sys.stderr)
            yield frame
    finally:
        frames.close()
