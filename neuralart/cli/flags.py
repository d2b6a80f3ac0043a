"""Flags from config dataclasses: one flag per field, its help, choices, range and default read from the field's
`Setting`, so the command line repeats nothing the config already says.

A flag left out stays out of the parsed namespace; `config_from_args` then layers, lowest first, the config's
defaults, a preset, the settings stored in a `--recipe` file and the flags given explicitly.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from collections.abc import Callable, Mapping

from .. import images, recipes, validation
from ..models import weights_from_text
from ..settings import Setting, settings_of

WEIGHTS_METAVAR = "imagenet|none|PATH"
LAYER_FIELDS = ("layer", "layers", "content_layers", "style_layers")
LAYERS_HINT = "`python -m neuralart layers BACKBONE` lists a network's layers"


def _optional(convert: Callable) -> Callable:
    def parse(text: str):
        return None if text.lower() in ("none", "null") else convert(text)
    return parse


def _tuple_of(convert: Callable) -> Callable:
    def parse(text: str):
        return tuple(convert(part) for part in text.split(",") if part.strip())
    return parse


def converter(annotation) -> Callable:
    """How to turn a flag's text into the field's type, from its type annotation."""
    text = str(annotation)
    if "Mapping" in text or "dict" in text:
        convert = validation.parse_weights
    elif "tuple[float" in text:
        convert = _tuple_of(float)
    elif "tuple[str" in text:
        convert = _tuple_of(str)
    elif "float" in text:
        convert = float
    elif "int" in text:
        convert = int
    else:
        convert = str
    return _optional(convert) if "None" in text else convert


def flag_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def help_text(described: Setting, default, name: str = "") -> str:
    """The field's help, its valid values and its default, as `--help` shows them."""
    shown = validation.format_weights(default) if isinstance(default, Mapping) else default
    parts = [described.help + (f" (none: {described.none_means})" if described.none_means else "")
             + (f"; {LAYERS_HINT}" if name in LAYER_FIELDS else "")]
    valid = described.describe_range()
    if valid:
        parts.append(f"({valid})")
    parts.append(f"[default: {'none' if shown is None else shown}]")
    return " ".join(parts).replace("%", "%%")


class DeprecatedFlag(argparse.Action):
    """An earlier name of a flag: still works, and says once what to write instead."""

    def __init__(self, option_strings, dest, replacement: str = "", **kwargs):
        self.replacement = replacement
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"warning: {option_string} is deprecated; use {self.replacement}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_config_arguments(parser: argparse.ArgumentParser, config_class, *, skip: tuple[str, ...] = ()) -> None:
    """One flag per described field of `config_class` (and one hidden flag per earlier name of a field)."""
    hints = typing.get_type_hints(config_class)
    defaults = config_class()
    for name, described in settings_of(config_class).items():
        if name in skip:
            continue
        default = getattr(defaults, name)
        help_line = help_text(described, default, name)
        if name == "weights":
            parser.add_argument(flag_name(name), metavar=WEIGHTS_METAVAR, default=argparse.SUPPRESS,
                                help=help_line)
        elif hints[name] is bool:
            parser.add_argument(flag_name(name), action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                                help=help_line)
        else:
            parser.add_argument(flag_name(name), type=converter(hints[name]), default=argparse.SUPPRESS,
                                metavar=name.upper(), help=help_line,
                                choices=described.choices or None if not described.also_written else None)
        for old_name in described.old_names:
            parser.add_argument(flag_name(old_name), dest=name, action=DeprecatedFlag,
                                replacement=flag_name(name), type=converter(hints[name]), default=argparse.SUPPRESS,
                                help=argparse.SUPPRESS)


def config_from_args(config_class, args: argparse.Namespace, technique: str,
                     presets: Mapping[str, Mapping] | None = None, **overrides):
    """The config for parsed flags: defaults, then a preset, then a --recipe file's settings, then the flags
    given explicitly (and `overrides`). Building it validates every value."""
    values: dict = {}
    preset = getattr(args, "preset", None)
    if preset:
        values.update(presets[preset])
    recipe_file = getattr(args, "recipe", None)
    if recipe_file:
        recipe = images.read_recipe(recipe_file)
        if recipe is None:
            raise ValueError(f"{recipe_file} carries no neural art studio recipe")
        config = recipes.config_from_recipe(recipe, technique)
        values.update({field.name: getattr(config, field.name) for field in dataclasses.fields(config)})
    for field in dataclasses.fields(config_class):
        if hasattr(args, field.name):
            value = getattr(args, field.name)
            values[field.name] = weights_from_text(value) if field.name == "weights" else value
    values.update(overrides)
    try:
        return config_class(**values)
    except ValueError as error:
        raise ValueError(named_as_flag(str(error), settings_of(config_class))) from None


def named_as_flag(message: str, fields) -> str:
    """A config's refusal as a command-line user reads it: the setting it starts with written as its flag
    ('max_side must be ...' -> '--max-side must be ...')."""
    name, separator, rest = message.partition(" ")
    field = name.rstrip(":")
    if separator and field in fields:
        return f"{flag_name(field)}{name[len(field):]} {rest}"
    return message


def add_technique_command(subparsers, name: str, config_class, run, *, help: str, description: str,
                          inputs: tuple[tuple[str, dict], ...] = (), presets: Mapping | None = None):
    """A technique's subcommand: its positional `inputs` ((name, add_argument options) each), -o and the other
    output flags, its presets and one flag per config field; `run(args)` carries it out."""
    from .output import add_output_arguments

    parser = subparsers.add_parser(name, help=help, description=description)
    for argument, options in inputs:
        parser.add_argument(argument, **options)
    add_output_arguments(parser)
    if presets:
        add_presets(parser, presets)
    add_config_arguments(parser, config_class)
    parser.set_defaults(run=run)
    return parser


def add_presets(parser: argparse.ArgumentParser, presets: Mapping[str, Mapping]) -> None:
    """--preset NAME (each preset's settings listed in --help) and --fast, short for --preset fast."""
    listed = "; ".join(f"{name}: " + ", ".join(f"{flag_name(key)[2:]} {_shown(value)}" for key, value in
                                               preset.items()) for name, preset in presets.items())
    parser.add_argument("--preset", choices=sorted(presets), help=f"start from a preset ({listed}); flags given "
                        "explicitly win".replace("%", "%%"))
    if "fast" in presets:
        parser.add_argument("--fast", dest="preset", action="store_const", const="fast",
                            help="same as --preset fast: a quick preview")


def _shown(value) -> str:
    if isinstance(value, Mapping):
        return validation.format_weights(value)
    return "''" if value == "" else str(value)  # as it would be typed, so an empty value is visible
