"""`python -m neuralart dream INPUT -o OUT.png [flags]`: DeepDream a photo."""

from __future__ import annotations

from .. import recipes
from .flags import add_technique_command, config_from_args
from .output import run_to_file

PHOTO_HELP = "image file (JPEG, PNG, WEBP or BMP)"


def add_command(subparsers) -> None:
    from ..deepdream import PRESETS, DreamConfig

    add_technique_command(subparsers, "dream", DreamConfig, run, help="DeepDream an image",
                          description="Amplify what a network sees in an image (DeepDream).",
                          inputs=(("input", {"help": PHOTO_HELP}),), presets=PRESETS)


def run(args) -> None:
    from ..deepdream import PRESETS, DreamConfig, dream

    config = config_from_args(DreamConfig, args, "dream", PRESETS)
    run_to_file(dream(args.input, config), args.output, recipes.recipe_for("dream", config), args.report,
                args.quiet)
