"""The style transfer tab: a photo, up to three blended styles (or styles by region, painted over the photo), the
three losses' weights; how long and how much memory the chosen size will take, said before Run; the result and a
live plot of the losses stream in beside them."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import gradio as gr

from ..jobs import Job
from ..style_transfer import StyleConfig
from ..style_transfer.config import LOSS_WEIGHT_NAMES
from . import status, style_extras, widgets
from .forms import widget_values
from .networks import wire_switch
from .restore import add_recipe_drop
from .streaming import TF_JOBS, stream_run, wire_stop
from .style_extras import STYLE_SLOTS, region_name, style_config

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
PRESET_CHOICES = [("the network's own", "network"), ("the chapter (section 9.3)", "chapter")]
INIT_LABELS = {"recolored": "the photo in the style's colours", "content": "the photo", "noise": "noise",
               "style": "the style image"}
COLOR_LABELS = {"none": "no: the result takes the style's colours", "luminance": "yes: the style on brightness only",
                "histogram": "yes: recolour the style to the photo's colours first"}
OPTIMIZER_LABELS = {"lbfgs": "L-BFGS", "adam": "Adam"}
LOSS_LABELS = {"total": "total", "content": "content", "style": "style", "tv": "total variation"}
LOG_WEIGHTS = tuple(f"{widgets.LOG_PREFIX}{name}" for name in LOSS_WEIGHT_NAMES)
# The settings a preset sets, besides the network, its weights and the loss weights.
PRESET_FIELDS = ("iterations", "optimizer", "init", "max_side", "style_scale", "preserve_colors", "multiscale",
                 "smoothing")


def style_name(index: int) -> str:
    return f"style_{index}"


def blend_name(index: int) -> str:
    return f"blend_{index}"


def with_loss_weights(config: StyleConfig) -> StyleConfig:
    """The config with its loss weights spelled out (the backbone's own where it leaves them None)."""
    return dataclasses.replace(config, **dict(zip(LOSS_WEIGHT_NAMES, config.loss_weights())))


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
    return status.status_line(frame, elapsed, main_loss="total")


def loss_history_table(history: list[tuple[int, str, float]]):
    """The live plot's data: one row per (iteration, loss term), the loss as log10 (terms span decades)."""
    import pandas as pd

    rows = [(step, LOSS_LABELS.get(name, name), math.log10(value)) for step, name, value in history if value > 0]
    return pd.DataFrame({"iteration": pd.Series([row[0] for row in rows], dtype="int64"),
                         "loss": pd.Series([row[1] for row in rows], dtype="str"),
                         "log10 loss": pd.Series([row[2] for row in rows], dtype="float64")})


def run_style(content=None, **values):
    """Stream a style transfer run: (image, status, progress, details, loss plot, PNG download, what it
    showed)."""
    history = []

    def follow(frame):
        history.extend((frame.iteration, name, value) for name, value in frame.losses.items())
        return (loss_history_table(history),)
    yield from stream_run(lambda: style_job(content, values), "style", extras=1, follow=follow, line=status_line)


def style_job(content: str | None, values: dict) -> Job:
    """The run the tab describes: each uploaded image checked (a failure names its slot), then the settings, the
    painted regions, and whether the size fits in memory."""
    chosen = [(values.pop(style_name(index), None), values.pop(blend_name(index), 1.0),
               values.pop(region_name(index), None), f"Style {index}") for index in range(1, STYLE_SLOTS + 1)]
    chosen = [(widgets.checked_photo(path, label), weight, region) for path, weight, region, label in chosen if path]
    if not content or not chosen:
        raise ValueError("Upload a content photo and at least one style image (or pick examples) first.")
    content = widgets.checked_photo(content, "Content photo")
    config = style_config(values, [weight for _, weight, _ in chosen])
    masks = style_extras.chosen_masks([region for _, _, region in chosen])
    style_extras.check_fits(config, content, 0 if masks is None else len(masks))
    named = {"content": content, "styles": [path for path, _, _ in chosen]}
    if masks is not None:
        named["style_masks"] = masks
    return Job("style", config, named)


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
        images.update(style_extras.region_editors())
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
    form["enlarge"] = widgets.checkbox(StyleConfig, "enlarge", elem_id="style-enlarge")
    form["style_scale"] = widgets.slider(StyleConfig, "style_scale")
    form["preserve_colors"] = widgets.choice(StyleConfig, "preserve_colors", COLOR_LABELS, elem_id="style-colors")
    form["multiscale"] = widgets.checkbox(StyleConfig, "multiscale", elem_id="style-multiscale")
    form["smoothing"] = widgets.slider(StyleConfig, "smoothing", info="How much broader changes are favoured; 0 "
                                       "steps pixel by pixel", elem_id="style-smoothing")
    form["tile_size"] = widgets.slider(StyleConfig, "tile_size", value=0, info="Larger scales are refined tile by "
                                       "tile; 0: the network's own", elem_id="style-tile-size")
    form["mask_feather"] = widgets.slider(StyleConfig, "mask_feather", elem_id="style-mask-feather")
    return form


def build() -> gr.Dropdown:
    """The tab; returns its network dropdown (the page marks which networks are ready when it loads)."""
    gr.Markdown("**Neural style transfer** repaints a photo with the textures of other images: the result keeps "
                "what a deep layer sees in the photo and takes the feature correlations of the style images.")
    with gr.Row():
        with gr.Column():
            images = _images_form()
            preset = gr.Radio(PRESET_CHOICES, value="network", label="Preset", elem_id="style-preset")
            form = _settings_form()
            estimate = gr.Markdown(style_extras.ESTIMATE_PENDING, elem_id="style-estimate")
            form["seed"], run, stop = widgets.seed_and_buttons(StyleConfig, "style")
            restorable = {**form, **{blend_name(index): images[blend_name(index)]
                                     for index in range(1, STYLE_SLOTS + 1)}}
            add_recipe_drop("style", restorable, lambda config: shown_values(config, restorable),
                            own_way=("content_weight", "style_weight", "tv_weight", "style_blend"))
        with widgets.results_column():
            results = widgets.run_results("style", "Result")
            # Starts empty (None): an empty DataFrame here leaves the plot without lines for the whole run. No
            # height: with one, Gradio draws the chart that tall and cuts off the legend below it.
            plot = gr.LinePlot(None, x="iteration", y="log10 loss", color="loss",
                               label="Losses (log10) by iteration", elem_id="style-losses")
    gr.Markdown(EXPLANATION)
    # .input, not .change: a restored recipe or a preset sets the network and the weights together.
    form["backbone"].input(network_updates, form["backbone"], [form[name] for name in LOG_WEIGHTS], queue=False)
    preset.input(preset_updates, [preset, form["backbone"]],
                 [form[name] for name in ("backbone", "weights", *LOG_WEIGHTS, *PRESET_FIELDS)], queue=False)
    widgets.check_uploads({"Content photo": images["content"],
                           **{f"Style {index}": images[style_name(index)] for index in range(1, STYLE_SLOTS + 1)}},
                          results.status)
    style_extras.wire(images["content"], form, estimate,
                      [images[region_name(index)] for index in range(1, STYLE_SLOTS + 1)])
    shown = gr.State()
    event = run.click(run_style, inputs_kwargs={**images, **form}, outputs=results.outputs((plot,), shown),
                      concurrency_id=TF_JOBS, trigger_mode="once", show_progress_on=[results.progress],
                      api_name="style")
    wire_stop(stop, event, results.status, results.download, shown)
    log_sliders = [form[name] for name in LOG_WEIGHTS]
    wire_switch(results.switch, event, shown, form["backbone"], "style", log_sliders, network_updates)
    return form["backbone"]
