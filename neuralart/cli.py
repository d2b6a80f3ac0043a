"""Command line: `python -m neuralart dream|filters|featuremaps|style ...`.

Each technique's flags are generated from its config dataclass, so defaults live in one place (the dataclass)
and every field has a flag: `--octave-scale` for `octave_scale`, `--no-roll` for a boolean, `--layers
a=1,b=2` for a layer-weight mapping, `--weights imagenet|none|PATH`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import typing
from collections.abc import Callable, Iterator, Mapping

from . import images, recipes, validation
from .frames import Frame
from .images import ImageInputError
from .models import WeightsUnavailableError, parse_weights_option


# --- flags from config dataclasses ---------------------------------------------------------------------------

def _optional(convert: Callable) -> Callable:
    def parse(text: str):
        return None if text.lower() in ("none", "null") else convert(text)
    return parse


def _converter(annotation) -> Callable | None:
    """How to turn a flag's text into the field's type, from its type annotation."""
    text = str(annotation)
    optional = "None" in text or "Optional" in text
    if "Mapping" in text or "dict" in text:
        convert = validation.parse_weights
    elif "tuple[float" in text:
        convert = lambda value: tuple(float(part) for part in value.split(","))  # noqa: E731
    elif "tuple[str" in text:
        convert = lambda value: tuple(part for part in value.split(",") if part)  # noqa: E731
    elif "float" in text:
        convert = float
    elif "int" in text:
        convert = int
    else:
        convert = str
    return _optional(convert) if optional else convert


def add_config_arguments(parser: argparse.ArgumentParser, config_class, *, skip: tuple[str, ...] = (),
                         helps: Mapping[str, str] | None = None) -> None:
    """One flag per field of `config_class`, its default taken from the dataclass itself."""
    hints = typing.get_type_hints(config_class)
    defaults = config_class()
    for field in dataclasses.fields(config_class):
        if field.name in skip:
            continue
        flag = "--" + field.name.replace("_", "-")
        default = getattr(defaults, field.name)
        help_text = (helps or {}).get(field.name, field.metadata.get("help", ""))
        if field.name == "weights":
            parser.add_argument(flag, default=default or "none", metavar="imagenet|none|PATH",
                                help="ImageNet weights (downloaded once and cached), random, or a weights file")
        elif hints[field.name] is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help_text)
        else:
            shown = validation.format_weights(default) if isinstance(default, Mapping) else default
            parser.add_argument(flag, type=_converter(hints[field.name]), default=default,
                                help=f"{help_text} (default: {shown})".strip())


def config_from_args(config_class, args: argparse.Namespace, **overrides):
    """Build (and so validate) a config from parsed flags."""
    values = {}
    for field in dataclasses.fields(config_class):
        if hasattr(args, field.name):
            values[field.name] = getattr(args, field.name)
    if "weights" in values:
        values["weights"] = parse_weights_option(values["weights"])
    values.update(overrides)
    return config_class(**values)


def recipe_overrides(args: argparse.Namespace, technique: str, config_class, parser) -> argparse.Namespace:
    """With --recipe FILE.png, start from the settings stored in that PNG; flags given explicitly still win."""
    if not getattr(args, "recipe", None):
        return args
    recipe = images.read_recipe(args.recipe)
    if recipe is None:
        raise ValueError(f"{args.recipe} carries no neural art studio recipe")
    config = recipes.config_from_recipe(recipe, technique)
    given = {action.dest for action in parser._actions
             if any(argument == option or argument.startswith(option + "=")
                    for option in action.option_strings for argument in args.argv)}
    for field in dataclasses.fields(config_class):
        if field.name not in given:
            value = getattr(config, field.name)
            if field.name == "weights":
                value = value or "none"
            setattr(args, field.name, dict(value) if isinstance(value, Mapping) else value)
    return args


# --- running a technique to a file ---------------------------------------------------------------------------

def run_to_file(frames: Iterator[Frame], output: str, recipe: dict, report_path: str | None,
                quiet: bool = False, report_extra: Callable[[Frame], dict] | None = None) -> Frame:
    """Drive a technique, print progress to stderr, write the last image (with its recipe) and a JSON report."""
    start = time.perf_counter()
    last = None
    for frame in frames:
        last = frame
        if not quiet:
            losses = " ".join(f"{name}={value:.4g}" for name, value in list(frame.losses.items())[:4])
            print(f"[{time.perf_counter() - start:6.1f}s] {frame.stage} step {frame.step}/{frame.total_steps} "
                  f"{losses}", file=sys.stderr)
    if last is None:
        raise RuntimeError("the run produced no image")
    images.save_png(output, last.image, recipe)
    if report_path:
        report = {"technique": recipe["technique"], "output": output, "total_steps": last.step,
                  "wall_time_s": round(time.perf_counter() - start, 3), "final_losses": dict(last.losses),
                  "image_size": list(last.image.shape[:2]), "recipe": recipe}
        if report_extra:
            report.update(report_extra(last))
        with open(report_path, "w") as file:
            json.dump(report, file, indent=2)
    if not quiet:
        print(f"wrote {output}", file=sys.stderr)
    return last


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, help="PNG file to write")
    parser.add_argument("--report", metavar="FILE.json", help="write final losses, steps and wall time as JSON")
    parser.add_argument("--recipe", metavar="FILE.png", help="start from the settings stored in a PNG we wrote")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")


# --- commands ------------------------------------------------------------------------------------------------

def _add_fast_preset(parser: argparse.ArgumentParser, preset: Mapping) -> None:
    """`--fast`: a quick preview preset, applied while parsing to the preset's flags still at their defaults, so
    flags given explicitly (with other values) win over it wherever they stand."""

    class FastPreset(argparse.Action):
        def __init__(self, option_strings, dest, **kwargs):
            super().__init__(option_strings, dest, nargs=0, default=False, **kwargs)

        def __call__(self, parser, namespace, values, option_string=None):
            setattr(namespace, self.dest, True)
            for name, value in preset.items():
                if getattr(namespace, name) == parser.get_default(name):
                    setattr(namespace, name, value)

    shown = ", ".join(f"{name.replace('_', '-')} {value}" for name, value in preset.items())
    parser.add_argument("--fast", action=FastPreset, help=f"quick preview: {shown} (under 30 s on a 2-core CPU)")


def _dream_command(subparsers) -> None:
    from .deepdream import FAST_PRESET, DreamConfig

    parser = subparsers.add_parser("dream", help="DeepDream an image",
                                   description="Amplify what a network sees in an image (DeepDream).")
    parser.add_argument("input", help="image file (JPEG, PNG, WEBP or BMP)")
    _add_common(parser)
    add_config_arguments(parser, DreamConfig, helps={
        "backbone": "network to dream with", "layers": "layer weights, e.g. mixed2=0.2,mixed3=3",
        "step": "gradient ascent step size", "octaves": "number of scales",
        "octave_scale": "size ratio between octaves",
        "iterations": "steps per octave", "max_loss": "stop an octave once the objective exceeds this",
        "max_side": "shrink the input so its longest side is at most this", "tile_size": "largest tile per gradient",
        "roll": "randomly roll the image before each step (hides tile seams)",
        "frame_every": "steps between progress reports", "seed": "random seed"})
    _add_fast_preset(parser, FAST_PRESET)
    parser.set_defaults(run=_run_dream, parser=parser)


def _run_dream(args) -> None:
    from .deepdream import DreamConfig, dream

    args = recipe_overrides(args, "dream", DreamConfig, args.parser)
    config = config_from_args(DreamConfig, args)
    run_to_file(dream(args.input, config), args.output, recipes.recipe_for("dream", config), args.report,
                args.quiet)


COMMANDS = [_dream_command]


def _register_optional_commands() -> None:
    """Technique modules add their commands here (kept apart so each technique's flags live beside it)."""
    for module_name in ("neuralart.cli_features", "neuralart.cli_style"):
        try:
            module = __import__(module_name, fromlist=["COMMANDS"])
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        COMMANDS.extend(command for command in module.COMMANDS if command not in COMMANDS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m neuralart",
                                     description="neural art studio: see what convolutional networks see.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _register_optional_commands()
    for add_command in COMMANDS:
        add_command(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv  # Kept so that --recipe knows which flags were given explicitly.
    try:
        args.run(args)
    except (ImageInputError, WeightsUnavailableError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
