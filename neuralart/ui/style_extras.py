"""The style tab's prints and regions: the region editors painted over the photo, the masks they give, and the
time-and-memory estimate said before Run (and the refusal of a size that would not fit)."""

from __future__ import annotations

from collections.abc import Mapping

import gradio as gr

from .. import images
from ..models import WeightsUnavailableError
from ..style_transfer import StyleConfig
from . import widgets
from .forms import config_values
from .streaming import TF_JOBS

STYLE_SLOTS = 3
REGIONS_HELP = ("Paint over the photo where each style should go: a style then paints only its region, and what "
                "no style covers keeps the photo. Leave every region empty to use the styles everywhere. The edges "
                "are softened by the mask edge softness below.")
# The photo is shown for painting at most this large (the masks are scaled to the result's size).
PAINT_SIDE = 768
# The settings the estimate depends on: when one changes, the estimate is measured again.
ESTIMATE_FIELDS = ("backbone", "weights", "iterations", "optimizer", "max_side", "enlarge", "multiscale", "tile_size",
                   "style_scale")
ESTIMATE_PENDING = "*Time and memory: the estimate appears here once a photo is chosen.*"


def region_name(index: int) -> str:
    return f"region_{index}"


def style_config(values: Mapping, blend: list[float]) -> StyleConfig:
    return StyleConfig(**config_values(StyleConfig, values), style_blend=tuple(blend) if len(blend) > 1 else None)


def region_editors() -> dict:
    """One editor per style slot, each showing the photo to paint that style's region over."""
    gr.Markdown(REGIONS_HELP)
    return {region_name(index): gr.ImageEditor(
        label=f"Region of style {index}", sources=(), transforms=(), layers=False, type="numpy", image_mode="RGBA",
        format="png", brush=gr.Brush(colors=["#e4572e"], color_mode="fixed"), elem_id=f"style-region-{index}")
        for index in range(1, STYLE_SLOTS + 1)}


def chosen_masks(regions: list) -> list | None:
    """The painted masks of the chosen styles, or None when none was painted; a clear error when only some were."""
    masks = [widgets.painted_mask(region) for region in regions]
    if all(mask is None for mask in masks):
        return None
    missing = [str(index) for index, mask in enumerate(masks, start=1) if mask is None]
    if missing:
        raise ValueError(f"Paint a region for style {', '.join(missing)} as well (every style needs one once any is "
                         "painted), or clear all the regions to use the styles everywhere.")
    return masks


def paint_background(content) -> dict | None:
    """The region editors' canvas for a new photo: the photo (shrunk for painting), nothing painted yet."""
    if not content:
        return None
    try:
        photo = images.load_image(content, max_side=PAINT_SIDE)
    except ValueError:  # The photo's own upload says what is wrong with it.
        return None
    return {"background": photo, "layers": [], "composite": photo}


def estimate_text(content=None, **values) -> str:
    """The time and memory a run of these settings will take on this machine (a short probe the first time a
    network is asked), or why it cannot be said."""
    from ..style_transfer.estimate import estimate_run
    from ..style_transfer.inputs import load_content

    if not content:
        return ESTIMATE_PENDING
    try:
        config = style_config(values, [1.0])
        shape = load_content(content, config).shape[:2]
        return "**Time and memory:** " + estimate_run(config, shape).summary()
    except ValueError as error:
        return f"*Time and memory: not estimated ({error})*"
    except WeightsUnavailableError:
        return ("*Time and memory: not estimated: this network's trained weights are not on this server (with "
                "random, untrained weights, which cost the same, it is).*")


def check_fits(config: StyleConfig, content: str, regions: int) -> None:
    """A ValueError (with the largest size that fits) when a run of `config` would not fit in the memory
    available."""
    from ..style_transfer.estimate import estimate_run
    from ..style_transfer.inputs import load_content

    shape = load_content(content, config).shape[:2]
    estimate_run(config, shape, regions=regions).check()


def wire(content: gr.Image, form: dict, estimate: gr.Markdown, regions: list) -> None:
    """A new photo becomes the region editors' canvas; the estimate follows the photo and the settings it depends
    on, however they change: a slider's `release` misses a value typed into its box, and `input` misses a preset
    or a restored recipe. Events that pile up while one is answered collapse into the last."""
    content.change(lambda photo: [paint_background(photo)] * len(regions), content, regions, queue=False)
    inputs = {"content": content, **{name: form[name] for name in ESTIMATE_FIELDS}}
    triggers = [content.change] + [form[name].change for name in ESTIMATE_FIELDS]
    gr.on(triggers, estimate_text, inputs_kwargs=inputs, outputs=[estimate], concurrency_id=TF_JOBS,
          trigger_mode="always_last", show_progress_on=[estimate], api_visibility="private")
