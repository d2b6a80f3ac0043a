"""The style transfer tab: a photo, up to three blended styles (or styles by region, painted over the photo), the
three losses' weights; how long and how much memory the chosen size will take, said before Run; the result and a
live plot of the losses stream in beside them."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import gradio as gr

import numpy as np

from ..jobs import Job
from ..style_transfer import StyleConfig
from ..style_transfer.config import LOSS_WEIGHT_NAMES
from . import widgets
from .forms import config_values, widget_values
from .restore import add_recipe_drop
from .streaming import TF_JOBS, checked_config, status_update, stream_run, wire_stop

EXPLANATION = (
    "### The three losses\n"
    "- **Content**: how differently a deep layer sees the result and the photo (mean squared difference of its "
    "features). Deep layers keep *what* is where, not the exact pixels.\n"
    "- **Style**: how differently the result and the painting correlate their features at several layers (mean "
    "squared difference of Gram matrices). Correlations forget *where* things are and keep textures, strokes "
    "and colours.\n"
    "- **Total variation**: how much neighbouring pixels differ (summed to the power 1.25); a little of it "
    "smooths away speckle.\n\n"
    "The image is optimised to make the weighted sum small (Gatys, Ecker & Bethge 2015). L-BFGS needs fewer "
    "iterations than Adam, and here it steps in a smoothed basis (a change of the image is taken with a blur of "
    "itself), so broad changes come first and cost fewer iterations; *coarse to fine* optimises a half-size image "
    "first (when that is still at least 256 px) and enlarges it. The **chapter** "
    "preset is section 9.3: VGG19, Adam (learning rate 5), 1000 iterations from the photo.\n\n"
    "### Prints and regions\n"
    "- **Large sizes**, up to 4096 px: scales up to the tile size run in one piece; larger ones are refined tile "
    "by tile, every tile pulled towards the statistics of the whole image, so the print has no seams and memory "
    "stays bounded by the tile. Before Run, the estimate says how long and how much memory the size takes on this "
    "machine; a size that would not fit is refused.\n"
    "- **Styles by region**: paint where each style goes. Each style's Gram matrices are then matched within its "
    "region only, and what no style covers keeps the photo.")
STYLE_SLOTS = 3
PRESET_CHOICES = [("the network's own", "network"), ("the chapter (section 9.3)", "chapter")]
INIT_LABELS = {"recolored": "the photo in the style's colours", "content": "the photo", "noise": "noise",
               "style": "the style image"}
COLOR_LABELS = {"none": "no", "luminance": "luminance only", "histogram": "match the style's colours"}
OPTIMIZER_LABELS = {"lbfgs": "L-BFGS", "adam": "Adam"}
LOSS_LABELS = {"total": "total", "content": "content", "style": "style", "tv": "total variation"}
LOG_WEIGHTS = tuple(f"{widgets.LOG_PREFIX}{name}" for name in LOSS_WEIGHT_NAMES)
# The settings a preset sets, besides the network, its weights and the loss weights.
PRESET_FIELDS = ("iterations", "optimizer", "init", "max_side", "style_scale", "preserve_colors", "multiscale",
                 "smoothing")
REGIONS_HELP = ("Paint over the photo where each style should go: a style then paints only its region, and what "
                "no style covers keeps the photo. Leave every region empty to use the styles everywhere. The edges "
                "are softened by the mask edge softness below.")
# The photo is shown for painting at most this large (the masks are scaled to the result's size).
PAINT_SIDE = 768
# The settings the estimate depends on: when one changes, the estimate is measured again.
ESTIMATE_FIELDS = ("backbone", "iterations", "optimizer", "max_side", "multiscale", "tile_size", "style_scale")
ESTIMATE_PENDING = "*Time and memory: the estimate appears here once a photo is chosen.*"


def style_name(index: int) -> str:
    return f"style_{index}"


def blend_name(index: int) -> str:
    return f"blend_{index}"


def region_name(index: int) -> str:
    return f"region_{index}"


def painted_mask(editor_value) -> np.ndarray | None:
    """What was painted in a region editor, as weights 0..1 (the paint's opacity, all layers together); None
    where nothing was painted."""
    if not editor_value or not editor_value.get("layers"):
        return None
    weights = None
    for layer in editor_value["layers"]:
        if layer is None:
            continue
        layer = np.asarray(layer)
        alpha = layer[..., 3] if layer.ndim == 3 and layer.shape[2] == 4 else np.zeros(layer.shape[:2], np.uint8)
        weights = alpha if weights is None else np.maximum(weights, alpha)
    if weights is None or weights.max(initial=0) == 0:
        return None
    return weights.astype(np.float32) / 255.0


def chosen_masks(regions: list) -> list | None:
    """The painted masks of the chosen styles, or None when none was painted; a clear error when only some were."""
    masks = [painted_mask(region) for region in regions]
    if all(mask is None for mask in masks):
        return None
    missing = [str(index) for index, mask in enumerate(masks, start=1) if mask is None]
    if missing:
        raise gr.Error(f"Paint a region for style {', '.join(missing)} as well (every style needs one once any is "
                       "painted), or clear all the regions to use the styles everywhere.")
    return masks


def paint_background(content) -> dict | None:
    """The region editors' canvas for a new photo: the photo (shrunk for painting), nothing painted yet."""
    from .. import images

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
    from .. import images
    from ..style_transfer.estimate import estimate_run

    if not content:
        return ESTIMATE_PENDING
    try:
        config = style_config(values, [1.0])
        shape = images.load_image(content, max_side=config.max_side).shape[:2]
        return "**Time and memory:** " + estimate_run(config, shape).summary()
    except ValueError as error:
        return f"*Time and memory: not estimated ({error})*"


def refused(config: StyleConfig, content, regions: int) -> str | None:
    """Why a run of `config` must not start (it would not fit in the memory available), or None."""
    from .. import images
    from ..style_transfer.estimate import estimate_run

    try:
        estimate = estimate_run(config, images.load_image(content, max_side=config.max_side).shape[:2],
                                regions=regions)
        estimate.check()
    except ValueError as error:
        return str(error)
    return None


def with_loss_weights(config: StyleConfig) -> StyleConfig:
    """The config with its loss weights spelled out (the backbone's own where it leaves them None)."""
    return dataclasses.replace(config, **dict(zip(LOSS_WEIGHT_NAMES, config.loss_weights())))


def style_config(values: Mapping, blend: list[float]) -> StyleConfig:
    return StyleConfig(**config_values(StyleConfig, values), style_blend=tuple(blend) if len(blend) > 1 else None)


def shown_values(config: StyleConfig, form: Mapping) -> dict:
    """What each settings widget shows for a config (a recipe or a preset), loss and blend weights included."""
    blend = list(config.style_blend or [])
    return {**widget_values(with_loss_weights(config), form),
            **{blend_name(index): blend[index - 1] for index in range(1, len(blend) + 1) if index <= STYLE_SLOTS}}


def network_updates(backbone: str) -> list:
    """The loss-weight sliders set to the backbone's own weights."""
    shown = widget_values(with_loss_weights(StyleConfig(backbone=backbone)), LOG_WEIGHTS)
    return [gr.update(value=shown[name]) for name in LOG_WEIGHTS]


def preset_updates(preset: str, backbone: str) -> list:
    """Every setting a preset sets: network, weights, the loss weights and PRESET_FIELDS, in that order."""
    config = StyleConfig.preset("chapter") if preset == "chapter" else StyleConfig(backbone=backbone)
    names = ("backbone", "weights", *LOG_WEIGHTS, *PRESET_FIELDS)
    shown = widget_values(with_loss_weights(config), names)
    return [gr.update(value=shown[name]) for name in names]


def status_line(frame, elapsed: float) -> str:
    losses = " · ".join(f"{LOSS_LABELS.get(name, name)} {value:.3g}" for name, value in frame.losses.items())
    return f"{frame.stage} · iteration {frame.iteration}/{frame.total_iterations} · {losses} · {elapsed:.1f} s"


def loss_history_table(history: list[tuple[int, str, float]]):
    """The live plot's data: one row per (iteration, loss term), the loss as log10 (terms span decades)."""
    import pandas as pd

    rows = [(step, LOSS_LABELS.get(name, name), math.log10(value)) for step, name, value in history if value > 0]
    return pd.DataFrame({"iteration": pd.Series([row[0] for row in rows], dtype="int64"),
                         "loss": pd.Series([row[1] for row in rows], dtype="str"),
                         "log10 loss": pd.Series([row[2] for row in rows], dtype="float64")})


def run_style(content=None, **values):
    """Stream a style transfer run: (image, status, loss plot, PNG download, what it showed)."""
    chosen = [(values.pop(style_name(index), None), values.pop(blend_name(index), 1.0),
               values.pop(region_name(index), None)) for index in range(1, STYLE_SLOTS + 1)]
    chosen = [choice for choice in chosen if choice[0]]
    if not content or not chosen:
        raise gr.Error("Upload a content photo and at least one style image (or pick examples) first.")
    config = checked_config(lambda: style_config(values, [weight for _, weight, _ in chosen]))
    masks = chosen_masks([region for _, _, region in chosen])
    refusal = refused(config, content, 0 if masks is None else len(masks))
    if refusal:
        yield status_update(f"Not started: {refusal}", 1)
        raise gr.Error(refusal)
    history = []

    def follow(frame):
        history.extend((frame.iteration, name, value) for name, value in frame.losses.items())
        return (loss_history_table(history),)
    named = {"content": content, "styles": [path for path, _, _ in chosen]}
    if masks is not None:
        named["style_masks"] = masks
    yield from stream_run(Job("style", config, named), extras=1, follow=follow, line=status_line)


def _images_form() -> dict:
    """The content photo and the style slots with their blend weights."""
    images = {"content": widgets.photo_input("Content photo", "style-content")}
    gr.Examples(widgets.example_photos(), inputs=[images["content"]], label="Example photos")
    images[style_name(1)] = widgets.photo_input("Style 1", "style-image-1")
    gr.Examples(widgets.example_photos("styles"), inputs=[images[style_name(1)]], label="Example styles")
    with gr.Accordion("More styles, blended", open=False):
        for index in range(2, STYLE_SLOTS + 1):
            images[style_name(index)] = widgets.photo_input(f"Style {index}", f"style-image-{index}")
        for index in range(1, STYLE_SLOTS + 1):
            images[blend_name(index)] = gr.Slider(0, 1, value=1.0, step=0.05, label=f"Blend weight of style {index}",
                                                  elem_id=f"style-blend-{index}")
    with gr.Accordion("Styles by region (optional)", open=False):
        gr.Markdown(REGIONS_HELP)
        for index in range(1, STYLE_SLOTS + 1):
            images[region_name(index)] = gr.ImageEditor(
                label=f"Region of style {index}", sources=(), transforms=(), layers=False, type="numpy",
                image_mode="RGBA", format="png", brush=gr.Brush(colors=["#e4572e"], color_mode="fixed"),
                elem_id=f"style-region-{index}")
    return images


def _settings_form() -> dict:
    """The settings, by config field name (the loss weights as log10 sliders)."""
    defaults = with_loss_weights(StyleConfig())
    form = {"backbone": widgets.backbone_dropdown(StyleConfig, "style", "style-backbone"),
            "weights": widgets.weights_radio("style-weights")}
    for log_name, field, elem_id in zip(LOG_WEIGHTS, LOSS_WEIGHT_NAMES, ("content", "style", "tv")):
        form[log_name] = widgets.log_slider(StyleConfig, field, getattr(defaults, field),
                                            elem_id=f"style-{elem_id}-weight")
    form["iterations"] = widgets.slider(StyleConfig, "iterations", elem_id="style-iterations")
    form["optimizer"] = widgets.choice(StyleConfig, "optimizer", OPTIMIZER_LABELS, elem_id="style-optimizer")
    form["init"] = widgets.choice(StyleConfig, "init", INIT_LABELS, elem_id="style-init")
    form["max_side"] = widgets.slider(StyleConfig, "max_side", elem_id="style-max-side")
    form["style_scale"] = widgets.slider(StyleConfig, "style_scale")
    form["preserve_colors"] = widgets.choice(StyleConfig, "preserve_colors", COLOR_LABELS, elem_id="style-colors")
    form["multiscale"] = widgets.checkbox(StyleConfig, "multiscale", elem_id="style-multiscale")
    form["smoothing"] = widgets.slider(StyleConfig, "smoothing", info="How much broader changes are favoured; 0 "
                                       "steps pixel by pixel", elem_id="style-smoothing")
    form["tile_size"] = widgets.slider(StyleConfig, "tile_size", value=0, info="Larger scales are refined tile by "
                                       "tile; 0: the network's own", elem_id="style-tile-size")
    form["mask_feather"] = widgets.slider(StyleConfig, "mask_feather", elem_id="style-mask-feather")
    return form


def _wire_estimate(content, form: dict, estimate: gr.Markdown) -> None:
    """The estimate follows the photo and the settings it depends on (sliders when let go)."""
    inputs = {"content": content, **{name: form[name] for name in ESTIMATE_FIELDS}}
    triggers = [content.change] + [form[name].release if isinstance(form[name], gr.Slider) else form[name].input
                                   for name in ESTIMATE_FIELDS]
    gr.on(triggers, estimate_text, inputs_kwargs=inputs, outputs=[estimate], concurrency_id=TF_JOBS,
          trigger_mode="always_last", show_progress_on=[estimate], api_visibility="private")


def build() -> None:
    gr.Markdown("**Neural style transfer** repaints a photo with the textures of other images: the result keeps "
                "what a deep layer sees in the photo and takes the feature correlations of the style images.")
    with gr.Row():
        with gr.Column():
            images = _images_form()
            preset = gr.Radio(PRESET_CHOICES, value="network", label="Preset", elem_id="style-preset")
            form = _settings_form()
            estimate = gr.Markdown(ESTIMATE_PENDING, elem_id="style-estimate")
            form["seed"], run, stop = widgets.seed_and_buttons(StyleConfig, "style")
            restorable = {**form, **{blend_name(index): images[blend_name(index)]
                                     for index in range(1, STYLE_SLOTS + 1)}}
            add_recipe_drop("style", restorable, lambda config: shown_values(config, restorable),
                            own_way=("content_weight", "style_weight", "tv_weight", "style_blend"))
        with widgets.results_column():
            output = gr.Image(label="Result", format="png", type="numpy", interactive=False, elem_id="style-output")
            status = gr.Textbox(label="Status", interactive=False, elem_id="style-status")
            # Starts empty (None): an empty DataFrame here leaves the plot without lines for the whole run. No
            # height: with one, Gradio draws the chart that tall and cuts off the legend below it.
            plot = gr.LinePlot(None, x="iteration", y="log10 loss", color="loss",
                               label="Losses (log10) by iteration", elem_id="style-losses")
            download = gr.File(label="PNG (with its recipe)", interactive=False, elem_id="style-download")
    gr.Markdown(EXPLANATION)
    # .input, not .change: a restored recipe or a preset sets the network and the weights together.
    form["backbone"].input(network_updates, form["backbone"], [form[name] for name in LOG_WEIGHTS], queue=False)
    preset.input(preset_updates, [preset, form["backbone"]],
                 [form[name] for name in ("backbone", "weights", *LOG_WEIGHTS, *PRESET_FIELDS)], queue=False)
    regions = [images[region_name(index)] for index in range(1, STYLE_SLOTS + 1)]
    images["content"].change(lambda content: [paint_background(content)] * STYLE_SLOTS, images["content"], regions,
                             queue=False)
    _wire_estimate(images["content"], form, estimate)
    shown = gr.State()
    event = run.click(run_style, inputs_kwargs={**images, **form}, outputs=[output, status, plot, download, shown],
                      concurrency_id=TF_JOBS, trigger_mode="once", show_progress_on=[status], api_name="style")
    wire_stop(stop, event, status, download, shown)
