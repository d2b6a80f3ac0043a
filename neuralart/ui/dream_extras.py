"""The DeepDream tab's studio sections: channels to dream (with a preview of what each responds to), a guide
image, a mask painted on the photo or uploaded, and the live plot of each term's loss."""

from __future__ import annotations

from collections.abc import Mapping

import gradio as gr

from ..deepdream import DreamConfig
from ..models import REGISTRY, weights_from_text
from . import widgets
from .streaming import TF_JOBS, one_shot, start_run

CHANNEL_ROWS = 3
CHANNEL_WEIGHT_RANGE = (-5, 5, 0.1)
# The preview of a channel: a small feature visualization, quick enough to ask for one by one.
PREVIEW_SIZE = 96
PREVIEW_ITERATIONS = 64
MASK_NAMES = ("mask_painting", "mask_file")


def channel_names(index: int) -> tuple[str, str, str]:
    """The form's names of row `index`: its layer, channel and weight."""
    return f"channel_layer_{index}", f"channel_{index}", f"channel_weight_{index}"


def channel_layers(values: Mapping) -> dict[str, float]:
    """{"layer:channel": weight} for each channel row with a layer and a non-zero weight."""
    chosen = {}
    for index in range(CHANNEL_ROWS):
        layer_name, channel_name, weight_name = channel_names(index)
        layer, channel, weight = values.get(layer_name), values.get(channel_name), values.get(weight_name) or 0.0
        if layer and weight and channel is not None:
            chosen[f"{layer}:{int(channel)}"] = weight
    return chosen


def channel_row_values(config: DreamConfig) -> dict:
    """What the channel rows show for a config's "layer:channel" weights (restoring a recipe): each row's layer
    choices become the config's network's."""
    choices = list(REGISTRY[config.backbone].dream_layers) if config.backbone in REGISTRY else []
    terms = [(key.partition(":")[0], int(key.partition(":")[2]), weight)
             for key, weight in (config.layers or {}).items() if ":" in key][:CHANNEL_ROWS]
    shown = {}
    for index in range(CHANNEL_ROWS):
        layer, channel, weight = terms[index] if index < len(terms) else (choices[0] if choices else None, 0, 0.0)
        shown.update(zip(channel_names(index), (gr.update(choices=choices, value=layer), channel, weight)))
    return shown


def layer_choices_update(backbone: str) -> list:
    """Each row's layer choices for `backbone` (its dream layers), set to the first (a row weighs nothing until
    its weight is moved)."""
    choices = list(REGISTRY[backbone].dream_layers) if backbone in REGISTRY else []
    return [gr.update(choices=choices, value=choices[0] if choices else None) for _ in range(CHANNEL_ROWS)]


def preview_channel(backbone: str, weights: str, layer: str | None, channel):
    """A small feature visualization of one channel: what it responds to. Yields (image, status)."""
    if not layer or channel is None:
        raise gr.Error("Choose a layer and a channel first.")

    def compute():
        from ..features import FilterConfig, visualize

        config = FilterConfig(backbone=backbone, weights=weights_from_text(weights), layer=layer,
                              filters=str(int(channel)), size=PREVIEW_SIZE, iterations=PREVIEW_ITERATIONS,
                              batch_size=1)
        last = None
        for last in start_run(lambda: visualize(config)):
            pass
        return last.image, f"{layer} channel {int(channel)}: activation {next(iter(last.losses.values())):.3g}"
    yield from one_shot(compute)


def job_images(photo, guide=None, mask_painting=None, mask_file=None) -> dict:
    """A dream job's named images: the photo, and the guide and mask where given (a mask file wins over
    painting)."""
    named = {"image": photo}
    if guide:
        named["guide"] = guide
    mask = mask_file or widgets.painted_mask(mask_painting)
    if mask is not None:
        named["mask"] = mask
    return named


def editor_background(photo):
    """The mask editor shows the photo to paint on (and forgets strokes made on another photo)."""
    return None if not photo else {"background": photo, "layers": [], "composite": photo}


def loss_table(history: list[tuple[int, str, float]]):
    """The loss plot's rows: (iteration, term, loss), each term's own line."""
    import pandas as pd

    return pd.DataFrame({"iteration": pd.Series([row[0] for row in history], dtype="int64"),
                         "term": pd.Series([row[1] for row in history], dtype="str"),
                         "loss": pd.Series([row[2] for row in history], dtype="float64")})


def build_channels(form: dict, backbone: str) -> None:
    """Rows of (layer, channel, weight, Preview) added to `form`; each preview shows what its channel responds
    to."""
    choices = list(REGISTRY[backbone].dream_layers)
    with gr.Accordion("Channels: dream chosen channels instead of whole layers", open=False):
        gr.Markdown("Each row weighs one channel of a layer (negative: suppress it). **Preview** shows what the "
                    "channel responds to, as a small feature visualization.")
        for index in range(CHANNEL_ROWS):
            layer_name, channel_name, weight_name = channel_names(index)
            with gr.Row():
                form[layer_name] = gr.Dropdown(choices, value=choices[0], label="Layer",
                                               elem_id=f"dream-channel-layer-{index}")
                form[channel_name] = gr.Number(0, precision=0, minimum=0, label="Channel",
                                               elem_id=f"dream-channel-{index}")
                form[weight_name] = gr.Slider(*CHANNEL_WEIGHT_RANGE[:2], value=0.0, step=CHANNEL_WEIGHT_RANGE[2],
                                              label="Weight", elem_id=f"dream-channel-weight-{index}")
            with gr.Row():
                preview = gr.Button("Preview", size="sm", elem_id=f"dream-channel-preview-{index}")
                picture = gr.Image(label="What it responds to", format="png", type="numpy", interactive=False,
                                   height=PREVIEW_SIZE * 2, elem_id=f"dream-channel-picture-{index}")
                caption = gr.Textbox(label="Channel", interactive=False, elem_id=f"dream-channel-caption-{index}")
            preview.click(preview_channel, [form["backbone"], form["weights"], form[layer_name], form[channel_name]],
                          [picture, caption], concurrency_id=TF_JOBS, api_name=f"preview_channel_{index}")


def build_guide_and_mask(form: dict, photo) -> dict:
    """The guide upload and the mask (painted or a file), with their settings added to `form`; returns the
    images' widgets by name."""
    inputs = {}
    with gr.Accordion("Guide image: dream towards what another picture shows", open=False):
        inputs["guide"] = widgets.photo_input("Guide image", "dream-guide")
        form["guide_strength"] = widgets.slider(DreamConfig, "guide_strength", elem_id="dream-guide-strength")
    with gr.Accordion("Mask: dream only part of the photo", open=False):
        inputs["mask_painting"] = gr.ImageEditor(
            type="filepath", format="png", label="Paint where to dream (white)", sources=["upload"], layers=False,
            brush=gr.Brush(colors=["#ffffff"], color_mode="fixed"), transforms=(), elem_id="dream-mask-paint")
        inputs["mask_file"] = widgets.photo_input("…or a mask file (white = dream, black = keep)", "dream-mask-file")
        form["mask_feather"] = widgets.slider(DreamConfig, "mask_feather", elem_id="dream-mask-feather")
    photo.change(editor_background, photo, inputs["mask_painting"], queue=False)
    return inputs
