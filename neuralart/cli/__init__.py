"""Command line: `python -m neuralart dream|zoom|filters|featuremaps|style|layers|batch ...`.

Each technique's flags are generated from its config dataclass (neuralart.cli.flags), so defaults, help and valid
values live in one place: `--octave-scale` for `octave_scale`, `--no-roll` for a boolean, `--layers a=1,b=2` for
a layer-weight mapping, `--weights imagenet|none|PATH`. TensorFlow's own start-up lines stay hidden unless
`--verbose` is given: a user sees our output only.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from ..images import ImageInputError
from ..models import WeightsUnavailableError
from . import batch, dream, features, layers, style, zoom

VERBOSE_HELP = "also show TensorFlow's own messages"
COMMANDS = (dream.add_command, zoom.add_command, features.add_filters_command, features.add_featuremaps_command,
            style.add_command, layers.add_command, batch.add_command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m neuralart",
                                     description="neural art studio: see what convolutional networks see.")
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add_command in COMMANDS:
        add_command(subparsers)
    for command in subparsers.choices.values():  # --verbose after the command name works too.
        command.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    return parser


def quiet_tensorflow() -> None:
    """Import TensorFlow without its start-up lines: its C++ runtime prints some before any logging setting can
    reach it, so stderr is pointed at /dev/null, at the file-descriptor level, while it loads."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved, silent = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(silent, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(silent)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    if not args.verbose:
        quiet_tensorflow()
    try:
        status = args.run(args)
    except (ImageInputError, WeightsUnavailableError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return status or 0
