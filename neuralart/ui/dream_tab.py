"""The DeepDream tab: a photo, a network and its layer weights, octaves; the dream streams in beside them."""

from __future__ import annotations

from collections.abc import Mapping

import gradio as gr

from ..deepdream import DreamConfig
from ..jobs import Job
from ..models import REGISTRY
from . import widgets
from .forms import config_values, widget_values
from .restore import add_recipe_drop
from . import status
from .networks import wire_switch
from .streaming import TF_JOBS, stream_run, wire_stop

MAX_LAYER_SLIDERS = max(len(spec.dream_layers) for spec in REGISTRY.values())
LAYER_SLIDER_RANGE = (-5, 5, 0.1)
EXPLANATION = ("**DeepDream** changes the photo by gradient *ascent* so that the chosen layers' activations grow: "
               "a weighted sum of each layer's mean squared activation is maximised, octave by octave.")


def layer_name(index: int) -> str:
    """The form's name of the index-th layer-weight slider."""
    return f"layer_{index}"


def layer_slider_settings(backbone: str, layers: Mapping[str, float] | None = None) -> list[dict]:
    """Label, value and visibility of each of the MAX_LAYER_SLIDERS layer-weight sliders for `backbone`: its
    layers set to `layers` (default: the backbone's own weights), the rest hidden."""
    spec = REGISTRY[backbone]
    weights = spec.defaults.get("dream", {}) if layers is None else layers
    settings = []
    for index in range(MAX_LAYER_SLIDERS):
        visible = index < len(spec.dream_layers)
        layer = spec.dream_layers[index] if visible else f"layer {index}"
        settings.append({"label": layer, "value": weights.get(layer, 0.0) if visible else 0.0, "visible": visible})
    return settings


def layer_updates(backbone: str) -> list:
    """The layer sliders relabelled for `backbone` and set to its own weights."""
    return [gr.update(**settings) for settings in layer_slider_settings(backbone)]


def dream_config(values: Mapping) -> DreamConfig:
    """The config for the tab's named values: its settings, and the layer sliders as the layer weights."""
    backbone = values["backbone"]
    sliders = [values[layer_name(index)] for index in range(MAX_LAYER_SLIDERS) if layer_name(index) in values]
    layers = dict(zip(REGISTRY[backbone].dream_layers, sliders)) if backbone in REGISTRY else None
    return DreamConfig(**config_values(DreamConfig, values), layers=layers)


def shown_values(config: DreamConfig, form: Mapping) -> dict:
    """What each widget of the form shows for a config (restoring a recipe): the layer sliders relabelled for its
    network and set to its weights."""
    sliders = layer_slider_settings(config.backbone, config.layers)
    return {**widget_values(config, form), **{layer_name(index): gr.update(**settings)
                                              for index, settings in enumerate(sliders)}}


def run_dream(photo=None, **values):
    """Stream a DeepDream run: (image, status, progress, details, per-octave gallery, PNG download, what it
    showed)."""
    octaves = []

    def follow(frame):
        if frame.stage_done:
            octaves.append((frame.image, frame.stage))
        return (list(octaves),)
    yield from stream_run(lambda: dream_job(photo, values), "dream", extras=1, follow=follow, line=status_line)


def dream_job(photo: str | None, values: Mapping) -> Job:
    """The run the tab's photo and settings describe (the photo checked first: the slot is named if it fails)."""
    image = widgets.checked_photo(photo, "Photo")
    return Job("dream", dream_config(values), {"image": image})


def status_line(frame, elapsed: float) -> str:
    return status.status_line(frame, elapsed, main_loss="loss")


def build() -> gr.Dropdown:
    """The tab; returns its network dropdown (the page marks which networks are ready when it loads)."""
    defaults = DreamConfig()
    gr.Markdown(EXPLANATION)
    with gr.Row():
        with gr.Column():
            photo = widgets.photo_input("Photo", "dream-input")
            gr.Examples(widgets.example_photos(), inputs=[photo], label="Example photos")
            form = {"backbone": widgets.backbone_dropdown(DreamConfig, "dream", "dream-backbone"),
                    "weights": widgets.weights_radio("dream-weights")}
            with gr.Accordion("Layer weights", open=True):
                for index, settings in enumerate(layer_slider_settings(defaults.backbone)):
                    form[layer_name(index)] = gr.Slider(*LAYER_SLIDER_RANGE[:2], step=LAYER_SLIDER_RANGE[2],
                                                        **settings)
            for name in ("octaves", "octave_scale", "iterations", "step_size", "max_loss", "max_side"):
                form[name] = widgets.slider(DreamConfig, name)
            form["seed"], run, stop = widgets.seed_and_buttons(DreamConfig, "dream")
            add_recipe_drop("dream", form, lambda config: shown_values(config, form), own_way=("layers",))
        with widgets.results_column():
            results = widgets.run_results("dream", "Dream")
            gallery = gr.Gallery(label="End of each octave", columns=4, height=160, format="png",
                                 elem_id="dream-gallery")
    sliders = [form[layer_name(index)] for index in range(MAX_LAYER_SLIDERS)]
    # .input, not .change: a restored recipe sets the backbone and its sliders together, and a .change would then
    # reset the sliders to the backbone's defaults.
    form["backbone"].input(layer_updates, form["backbone"], sliders, queue=False)
    widgets.check_uploads({"Photo": photo}, results.status)
    shown = gr.State()
    event = run.click(run_dream, inputs_kwargs={"photo": photo, **form},
                      outputs=results.outputs((gallery,), shown), concurrency_id=TF_JOBS, trigger_mode="once",
                      show_progress_on=[results.progress], api_name="dream")
    wire_stop(stop, event, results.status, results.download, shown)
    wire_switch(results.switch, event, shown, form["backbone"], "dream", sliders, layer_updates)
    return form["backbone"]
