"""Command line: `python -m neuralart dream|filters|featuremaps|style|batch ...`.

Each technique's flags are generated from its config dataclass (neuralart.cli.flags), so defaults, help and valid
values live in one place: `--octave-scale` for `octave_scale`, `--no-roll` for a boolean, `--layers a=1,b=2` for
a layer-weight mapping, `--weights imagenet|none|PATH`.
"""

from __future__ import annotations

import argparse
import sys

from ..images import ImageInputError
from ..models import WeightsUnavailableError
from . import batch, dream, features, style

COMMANDS = (dream.add_command, features.add_filters_command, features.add_featuremaps_command, style.add_command,
            batch.add_command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m neuralart",
                                     description="neural art studio: see what convolutional networks see.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add_command in COMMANDS:
        add_command(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    try:
        status = args.run(args)
    except (ImageInputError, WeightsUnavailableError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return status or 0
