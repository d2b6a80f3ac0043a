"""Recipes: the settings that made an image, stored in its PNG so that dropping it back restores them.

A recipe is plain JSON: {"technique": "dream", "version": "...", "config": {field: value}}. `config_from_recipe`
rebuilds the technique's frozen config, so every value is validated again on the way in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

TECHNIQUES = ("dream", "filters", "style")


def _config_classes() -> dict[str, type]:
    from . import deepdream

    classes = {"dream": deepdream.DreamConfig}
    try:
        from . import features
        classes["filters"] = features.FilterConfig
    except ImportError:
        pass
    try:
        from . import style_transfer
        classes["style"] = style_transfer.StyleConfig
    except ImportError:
        pass
    return classes


def recipe_for(technique: str, config) -> dict:
    """The recipe of a run: technique, package version and every config field."""
    from . import __version__

    values = {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        values[field.name] = dict(value) if isinstance(value, Mapping) else (
            list(value) if isinstance(value, tuple) else value)
    return {"technique": technique, "version": __version__, "config": values}


def config_from_recipe(recipe: Mapping, technique: str | None = None):
    """The validated config a recipe describes; unknown fields are refused rather than silently dropped."""
    if not isinstance(recipe, Mapping) or "config" not in recipe or "technique" not in recipe:
        raise ValueError("This is not a neural art studio recipe.")
    found = recipe["technique"]
    if technique is not None and found != technique:
        raise ValueError(f"This image was made with the {found} technique, not {technique}.")
    config_class = _config_classes().get(found)
    if config_class is None:
        raise ValueError(f"Unknown technique {found!r} in recipe.")
    values = dict(recipe["config"])
    names = {field.name for field in dataclasses.fields(config_class)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"The recipe has settings this version does not know: {', '.join(sorted(unknown))}")
    for field in dataclasses.fields(config_class):
        if isinstance(values.get(field.name), list):
            values[field.name] = tuple(values[field.name])
    return config_class(**values)
