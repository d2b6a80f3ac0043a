"""Recipes: the settings that made an image, stored in its file so that dropping it back restores them.

A recipe is plain JSON: {"technique": "dream", "version": "...", "config": {field: value}}. `config_from_recipe`
rebuilds the technique's frozen config, so every value is validated again on the way in; fields renamed since a
recipe was written are read under their new names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from .settings import migrate_old_names

TECHNIQUES = ("dream", "filters", "style", "zoom")


def config_classes() -> dict[str, type]:
    """{technique: its config class}."""
    from .deepdream import DreamConfig, ZoomConfig
    from .features import FilterConfig
    from .style_transfer import StyleConfig

    return {"dream": DreamConfig, "filters": FilterConfig, "style": StyleConfig, "zoom": ZoomConfig}


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
    config_class = config_classes().get(found)
    if config_class is None:
        raise ValueError(f"Unknown technique {found!r} in recipe.")
    if not isinstance(recipe["config"], Mapping):
        raise ValueError("This recipe's settings are not readable.")
    values = migrate_old_names(config_class, recipe["config"])
    names = {field.name for field in dataclasses.fields(config_class)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"The recipe has settings this version does not know: {', '.join(sorted(unknown))}")
    for name, value in values.items():
        if isinstance(value, list):
            values[name] = tuple(value)
    return config_class(**values)
