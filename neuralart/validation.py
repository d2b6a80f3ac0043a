"""Checks shared by every technique's config: clear messages before any work starts.

Configs arrive from sliders, the CLI and API callers who bypass both, so every number is checked for type, NaN
and range here rather than trusted.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from types import MappingProxyType


def check_number(name: str, value, low: float, high: float, *, integer: bool = False):
    """Return `value` as an int or float if it is a finite number within [low, high], else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if integer:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        value = int(value)
    elif not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    else:
        value = float(value)
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}, got {value:g}")
    return value


def check_optional_number(name: str, value, low: float, high: float, *, integer: bool = False):
    """Like `check_number`, but None passes through (meaning 'no limit' or 'use the default')."""
    return None if value is None else check_number(name, value, low, high, integer=integer)


def check_choice(name: str, value, choices: Iterable[str], shown: Iterable[str] | None = None) -> str:
    """Return `value` if it is one of `choices`, else raise ValueError listing them (or only `shown`, the ones
    users are offered)."""
    choices = tuple(choices)
    if value not in choices:
        listed = tuple(choices if shown is None else shown)
        raise ValueError(f"{name} must be one of {', '.join(listed)}; got {value!r}")
    return value


def check_weights(name: str, weights, low: float = -1e6, high: float = 1e6) -> Mapping[str, float]:
    """Return an immutable {layer name: weight} mapping after checking names and numbers."""
    if not isinstance(weights, Mapping):
        raise ValueError(f"{name} must map layer names to weights, got {weights!r}")
    checked = {}
    for layer, weight in weights.items():
        if not isinstance(layer, str) or not layer:
            raise ValueError(f"{name}: layer names must be non-empty text, got {layer!r}")
        checked[layer] = check_number(f"{name}[{layer}]", weight, low, high)
    return MappingProxyType(checked)


def parse_weights(text: str) -> dict[str, float]:
    """Parse 'mixed2=0.2,mixed3=3' (the CLI's and recipes' form) into {'mixed2': 0.2, 'mixed3': 3.0}."""
    weights = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        layer, separator, number = item.partition("=")
        if not separator:
            raise ValueError(f"expected LAYER=WEIGHT, got {item!r}")
        try:
            weights[layer.strip()] = float(number)
        except ValueError:
            raise ValueError(f"weight for {layer.strip()!r} is not a number: {number!r}") from None
    return weights


def format_weights(weights: Mapping[str, float]) -> str:
    """The inverse of `parse_weights`."""
    return ",".join(f"{layer}={weight:g}" for layer, weight in weights.items())
