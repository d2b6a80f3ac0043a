"""Restoring a tab's settings from a PNG this app (or the CLI) wrote: the recipe inside it becomes a config (so
every value is checked again), and the config becomes the tab's widget values (neuralart.ui.forms)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import gradio as gr

from .. import images, recipes
from .forms import widget_values


def add_recipe_drop(technique: str, form: Mapping[str, gr.components.Component],
                    shown_by: Callable | None = None, own_way: tuple[str, ...] = ()) -> gr.File:
    """A drop zone that restores the tab's `form` ({name: widget}) from a PNG's recipe.

    shown_by(config) -> {name: value or gr.update(...)}: the values of the form's widgets for a config, where the
    tab shows some fields its own way (layer sliders, log sliders, a dropdown's choices); by default
    `forms.widget_values`. own_way: the config fields those widgets show.
    """
    drop = gr.File(label="Restore settings: drop a PNG made here", file_types=[".png"], type="filepath",
                   height=120, elem_id=f"{technique}-recipe")
    # Queued (so its Info and Warning reach the page as toasts) but in no concurrency group: reading a PNG's
    # text chunk is instant and need not wait for anyone's run.
    drop.upload(lambda path: recipe_updates(path, technique, form, shown_by, own_way), drop, list(form.values()),
                concurrency_limit=None, api_name=f"restore_{technique}")
    return drop


def recipe_updates(path: str | None, technique: str, form: Mapping[str, gr.components.Component],
                   shown_by: Callable | None = None, own_way: tuple[str, ...] = ()) -> list:
    """gr.update()s setting each widget of `form` to the value the PNG's recipe gives it."""
    config = _config_from_png(path, technique)
    values = (shown_by or (lambda config: widget_values(config, form)))(config)
    restored = {name for name in form if name in values and (_is_update(values[name])
                                                             or _fits(form[name], values[name]))}
    updates = [(values[name] if _is_update(values[name]) else gr.update(value=values[name])) if name in restored
               else gr.update() for name in form]
    left_out = _fields_not_shown(config, restored | set(own_way))
    if left_out:
        gr.Warning("Restored the settings, except these which this tab cannot show (defaults are used): "
                   + ", ".join(left_out))
    else:
        gr.Info("Settings restored from the PNG's recipe.")
    return updates


def _config_from_png(path: str | None, technique: str):
    recipe = images.read_recipe(path) if path else None
    if recipe is None:
        raise gr.Error("This file carries no recipe: only PNGs saved by neural art studio (app or CLI) do.")
    try:
        return recipes.config_from_recipe(recipe, technique)
    except ValueError as error:
        raise gr.Error(f"The recipe cannot be restored: {error}") from error


def _is_update(value) -> bool:
    return isinstance(value, dict) and value.get("__type__") == "update"


def _fits(widget, value) -> bool:
    """Whether `widget` can show `value` (a slider's range, a choice's options)."""
    choices = getattr(widget, "choices", None)
    if choices and not isinstance(value, list):
        offered = [option[1] if isinstance(option, (tuple, list)) else option for option in choices]
        if value not in offered:
            return False
    if isinstance(widget, gr.Slider):
        return widget.minimum <= value <= widget.maximum
    return not isinstance(value, Mapping)


def _fields_not_shown(config, restored: set[str]) -> list[str]:
    """Fields no restored widget shows whose recipe value differs from the default: the tab cannot reproduce
    those."""
    try:
        defaults = type(config)()
    except (TypeError, ValueError):
        return []
    shown_fields = {name.removeprefix("log10_") for name in restored}
    return [f"{field.name}={getattr(config, field.name)!r}" for field in dataclasses.fields(config)
            if field.name not in shown_fields and getattr(config, field.name) != getattr(defaults, field.name)]
