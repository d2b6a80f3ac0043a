"""Settings: every config field carries its help text, its range or choices and its label, written once.

A technique's config is a frozen dataclass whose fields are made with `setting(...)`. `check_settings` validates
and normalises them from that description; the CLI (neuralart.cli.flags) builds its flags and `--help` from it and
the web app (neuralart.ui.widgets) its labels and slider ranges, so neither repeats a default, a range or a word.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping

from . import validation


@dataclasses.dataclass(frozen=True)
class Setting:
    """How one config field is checked, explained and shown.

    help: one sentence for `--help` and the UI's hover text. label: the UI's short name (default: from the name).
    low, high: the accepted range of a number (or of each weight in a layer mapping). integer: whole numbers only.
    choices: the accepted values of a text field, as shown to users; also_accepted: further values code may pass
    but users are not offered; also_written: words for other text the config turns into one of the choices (the
    command line then takes any text there). optional: None is accepted; none_means: what None stands for, in
    words (`--help` says "none: ..."; a slider showing None as 0 says "0 = ...").
    slider: (minimum, maximum, step) of the UI's slider where it is narrower than low..high.
    log: the UI shows log10 of the value. old_names: earlier names of the field (recipes, CLI flags).
    """

    help: str
    label: str = ""
    low: float | None = None
    high: float | None = None
    integer: bool = False
    choices: tuple[str, ...] = ()
    also_accepted: tuple[str, ...] = ()
    also_written: str = ""
    optional: bool = False
    none_means: str = ""
    slider: tuple[float, float, float] | None = None
    log: bool = False
    old_names: tuple[str, ...] = ()

    def describe_range(self) -> str:
        """The valid values in words, for `--help` ("one of: a, b", "2 to 8", "" when unconstrained)."""
        if self.choices:
            return "one of: " + ", ".join(self.choices) + (f"; or {self.also_written}" if self.also_written else "")
        if self.low is not None and self.high is not None:
            return f"{self.low:g} to {self.high:g}"
        return ""


def setting(default, help: str, **description):
    """A dataclass field with `default` and a `Setting(help, **description)` in its metadata."""
    return dataclasses.field(default=default, metadata={"setting": Setting(help, **description)})


def settings_of(config_class) -> dict[str, Setting]:
    """{field name: Setting} for every field of a config class made with `setting`."""
    return {field.name: field.metadata["setting"] for field in dataclasses.fields(config_class)
            if "setting" in field.metadata}


def label_of(config_class, name: str) -> str:
    described = settings_of(config_class)[name]
    return described.label or name.replace("_", " ").capitalize()


def check_settings(config) -> None:
    """Validate every described field of a frozen config and store its normalised value (int, float, mapping)."""
    hints = typing.get_type_hints(type(config))
    for name, described in settings_of(type(config)).items():
        value = getattr(config, name)
        if value is None and described.optional:
            continue
        object.__setattr__(config, name, _checked(name, value, described, hints[name]))


def _checked(name: str, value, described: Setting, annotation):
    if described.choices:
        return validation.check_choice(name, value, described.choices + described.also_accepted,
                                       shown=described.choices)
    if annotation is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    low, high = _bound(described.low, -math.inf), _bound(described.high, math.inf)
    if "Mapping" in str(annotation):
        return validation.check_weights(name, value, low, high)
    if described.low is not None or described.high is not None:
        return validation.check_number(name, value, low, high, integer=described.integer)
    return value


def _bound(bound: float | None, otherwise: float) -> float:
    return otherwise if bound is None else bound


def migrate_old_names(config_class, values: Mapping) -> dict:
    """`values` (field name -> value, as a recipe stores them) with earlier field names read as today's."""
    renamed = {old: name for name, described in settings_of(config_class).items() for old in described.old_names}
    migrated = {}
    for name, value in values.items():
        migrated.setdefault(renamed.get(name, name), value)
    return migrated


def round_significant(value: float, digits: int = 6) -> float:
    """`value` to `digits` significant digits: what a log-scale slider's 10 ** x gives back, so that
    10 ** log10(3.0) is 3.0 again and not 3.0000000000000004."""
    return float(f"{value:.{digits}g}")


def seed_setting():
    """Every technique's seed: all of a run's randomness comes from it."""
    return setting(0, "random seed: the same seed and settings give the same image", label="Seed", low=0,
                   high=2**31 - 1, integer=True)


def frame_every_setting(default: int):
    """How often a run hands back a frame, in iterations (a slow machine gets one at least every second)."""
    return setting(default, "iterations between frames (a frame also comes after a second of work)", low=1,
                   high=5000, integer=True, label="Frame every")
