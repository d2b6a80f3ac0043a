"""The DeepDream tab: a photo, a network and its layer weights, octaves; the dream streams in beside them."""

from __future__ import annotations

from collections.abc import Mapping

import gradio as gr

from ..deepdream import MAX_LOSS_NOTE, DreamConfig
from ..jobs import Job
from ..models import REGISTRY
from . import dream_extras, status, widgets, zoom_section
from .forms import config_values, widget_values
from .networks import wire_switch
from .restore import add_recipe_drop
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


def dream_layers(values: Mapping) -> dict[str, float] | None:
    """The layer weights of the tab's named values: the layer sliders, and the channel rows' "layer:channel"."""
    backbone = values["backbone"]
    sliders = [values[layer_name(index)] for index in range(MAX_LAYER_SLIDERS) if layer_name(index) in values]
    if backbone not in REGISTRY:
        return None
    return {**dict(zip(REGISTRY[backbone].dream_layers, sliders)), **dream_extras.channel_layers(values)}


def dream_config(values: Mapping) -> DreamConfig:
    """The config for the tab's named values: its settings, and the layer sliders and channel rows as the layer
    weights."""
    return DreamConfig(**config_values(DreamConfig, values), layers=dream_layers(values))


def shown_values(config: DreamConfig, form: Mapping) -> dict:
    """What each widget of the form shows for a config (restoring a recipe): the layer sliders relabelled for its
    network and set to its weights."""
    sliders = layer_slider_settings(config.backbone, config.layers)
    channels = {name: value for name, value in dream_extras.channel_row_values(config).items() if name in form}
    return {**widget_values(config, form), **{layer_name(index): gr.update(**settings)
                                              for index, settings in enumerate(sliders)}, **channels}


def run_dream(photo=None, guide=None, mask_painting=None, mask_file=None, **values):
    """Stream a DeepDream run: (image, status, progress, details, per-octave gallery, loss plot, PNG download,
    what it showed)."""
    octaves, history = [], []

    def follow(frame):
        if frame.stage_done:
            octaves.append((frame.image, frame.stage))
            if MAX_LOSS_NOTE in frame.stage:
                gr.Warning(f"{frame.stage}: raise Max loss (or set it to 0 for no limit) to dream further.")
        history.extend((frame.iteration, name, value) for name, value in frame.losses.items())
        return list(octaves), dream_extras.loss_table(history)
    yield from stream_run(lambda: dream_job(photo, values, guide, mask_painting, mask_file), "dream", extras=2,
                          follow=follow, line=status_line)


def run_zoom(photo, guide=None, **values):
    """Stream a zoom animation with the tab's network, layers and channels (see zoom_section)."""
    yield from zoom_section.run_zoom(lambda named: zoom_section.zoom_config(named, dream_layers(named)), photo, guide,
                                     **values)


def dream_job(photo: str | None, values: Mapping, guide=None, mask_painting=None, mask_file=None) -> Job:
    """The run the tab's photo, settings, guide and mask describe (each upload checked first: a failure names
    its slot)."""
    image = widgets.checked_photo(photo, "Photo")
    guide = widgets.checked_photo(guide, "Guide image") if guide else None
    mask_file = widgets.checked_photo(mask_file, "Mask file") if mask_file else None
    return Job("dream", dream_config(values), dream_extras.job_images(image, guide, mask_painting, mask_file))


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
            dream_extras.build_channels(form, defaults.backbone)
            for name in ("octaves", "octave_scale", "iterations", "step_size", "max_loss", "max_side"):
                form[name] = widgets.slider(DreamConfig, name)
            studio_images = dream_extras.build_guide_and_mask(form, photo)
            form["seed"], run, stop = widgets.seed_and_buttons(DreamConfig, "dream")
            add_recipe_drop("dream", form, lambda config: shown_values(config, form), own_way=("layers",))
        with widgets.results_column():
            results = widgets.run_results("dream", "Dream")
            gallery = gr.Gallery(label="End of each octave", columns=4, height=160, format="png",
                                 elem_id="dream-gallery")
            # Starts empty (None), as the style tab's plot does, so its lines appear as the run goes.
            plot = gr.LinePlot(None, x="iteration", y="loss", color="term", label="Each term's loss by iteration",
                               elem_id="dream-losses")
    sliders = [form[layer_name(index)] for index in range(MAX_LAYER_SLIDERS)]
    # .input, not .change: a restored recipe sets the backbone and its sliders together, and a .change would then
    # reset the sliders to the backbone's defaults.
    form["backbone"].input(layer_updates, form["backbone"], sliders, queue=False)
    channel_layers = [form[dream_extras.channel_names(index)[0]] for index in range(dream_extras.CHANNEL_ROWS)]
    form["backbone"].input(dream_extras.layer_choices_update, form["backbone"], channel_layers, queue=False)
    widgets.check_uploads({"Photo": photo, "Guide image": studio_images["guide"]}, results.status)
    shown = gr.State()
    # The photo, then the form in the order restoring a recipe updates it, then the guide and mask.
    event = run.click(run_dream, inputs_kwargs={"photo": photo, **form, **studio_images},
                      outputs=results.outputs((gallery, plot), shown), concurrency_id=TF_JOBS, trigger_mode="once",
                      show_progress_on=[results.progress], api_name="dream")
    wire_stop(stop, event, results.status, results.download, shown)
    wire_switch(results.switch, event, shown, form["backbone"], "dream", sliders, layer_updates)
    zoom_section.build(photo, studio_images["guide"], form, run_zoom)
    return form["backbone"]
