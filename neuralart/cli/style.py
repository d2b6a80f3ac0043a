"""`python -m neuralart style CONTENT STYLE [STYLE ...] -o OUT.png [flags]`: neural style transfer.

`--preset chapter` starts from section 9.3's settings; a `--recipe` PNG's settings come next; flags given
explicitly win over both. `--report FILE.json` records the final losses per component, the iterations done, the
wall time and the peak memory.
"""

from __future__ import annotations

from .. import recipes
from .flags import add_technique_command, config_from_args
from .output import peak_memory_mb, run_to_file


def add_command(subparsers) -> None:
    from ..style_transfer import PRESETS, StyleConfig

    add_technique_command(subparsers, "style", StyleConfig, run,
                          help="paint a photo in the style of one or more images",
                          description="Neural style transfer (Gatys et al.): keep the content of one image, take "
                                      "the textures of others.",
                          inputs=(("content", {"help": "content photo (JPEG, PNG, WEBP or BMP)"}),
                                  ("styles", {"nargs": "+", "metavar": "style", "help": "one or more style images"})),
                          presets=PRESETS)


def run(args) -> None:
    from ..style_transfer import PRESETS, StyleConfig, stylize

    config = config_from_args(StyleConfig, args, "style", PRESETS)
    frames = stylize(args.content, args.styles, config)
    run_to_file(frames, args.output, recipes.recipe_for("style", config), args.report, args.quiet,
                report_extra=lambda last: {"content": args.content, "styles": list(args.styles),
                                           "peak_rss_mb": peak_memory_mb()})
