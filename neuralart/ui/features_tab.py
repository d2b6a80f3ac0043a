"""The feature-visualization tab: what filters, units, layers or classes respond to, and what a photo does to a
layer (its feature maps) and to the first layer's kernels."""

from __future__ import annotations

from collections.abc import Mapping

import gradio as gr

from ..features import MODE_ITERATIONS, FilterConfig, MapsConfig
from ..jobs import Job
from ..models import REGISTRY, get_backbone, weights_from_text
from ..settings import label_of
from . import widgets
from .forms import config_values, widget_values
from .restore import add_recipe_drop
from .networks import wire_switch
from .streaming import TF_JOBS, one_shot, start_run, stream_run, wire_stop

EXPLANATION = (
    "**Feature visualization** asks what makes a filter fire. Starting from a nearly grey image, it changes the "
    "image step by step so that the chosen filter's *mean activation* grows (or a single unit's at the centre, "
    "the whole layer's, or a class's score). **Quality** mode paints in a Fourier basis with natural colours "
    "and jitters, scales and rotates the image every step, so only sturdy patterns survive (Olah et al., "
    "*Feature Visualization*, 2017); **classic** mode is the chapter's plain gradient ascent from grey noise. "
    "Early layers show colours and edges, middle layers textures, late layers parts of objects. The grid "
    "shows the filters that responded, strongest first.")
OBJECTIVE_LABELS = {"channel": "filter (mean activation)", "neuron": "unit at the centre",
                    "layer": "whole layer (DeepDream-like)", "class": "class score"}
MODE_LABELS = {"quality": "quality (Lucid)", "classic": "classic (the chapter)"}


def default_layer(backbone: str) -> str:
    spec = REGISTRY[backbone]
    return next(iter(spec.defaults.get("features", {})), spec.feature_layers[-1])


def layer_update(backbone: str, layer: str | None = None):
    """The layer dropdown for `backbone`: its convolutional layers, set to `layer` or its usual one."""
    spec = REGISTRY[backbone]
    chosen = layer if layer in spec.feature_layers else default_layer(backbone)
    return gr.update(choices=list(spec.feature_layers), value=chosen)


def filter_config(values: Mapping) -> FilterConfig:
    """The config for the tab's named values (the layer is ignored for the class objective: it is the head's)."""
    fields = config_values(FilterConfig, values)
    fields["filters"] = str(fields.get("filters") or "").strip()
    if fields.get("objective") == "class" or not fields.get("layer"):
        fields["layer"] = None
    return FilterConfig(**fields)


def run_filters(**values):
    """Stream a feature-visualization run: (grid, status, progress, details, PNG download, what it showed)."""
    yield from stream_run(lambda: Job("filters", filter_config(values)), "features")


def show_feature_maps(photo, backbone, weights, layer):
    """One forward pass: the photo's feature maps at `layer`, most active channels first (image, status)."""
    if not photo:
        yield None, "Upload a photo to see what it does to the chosen layer."
        return
    yield from one_shot(lambda: _feature_maps_outputs(photo, backbone, weights, layer))


def _feature_maps_outputs(photo, backbone, weights, layer) -> tuple:
    from ..features import feature_maps

    maps = start_run(lambda: feature_maps(photo, get_backbone(backbone, weights_from_text(weights)),
                                          layer or None), "features")
    height, width, channels = maps.shape
    strongest = ", ".join(f"{channel} ({mean:.3g})" for channel, mean in zip(maps.channels[:5], maps.means[:5]))
    return maps.grid, (f"{maps.layer}: {channels} maps of {width}x{height}; the {len(maps.channels)} most active "
                       f"shown, strongest first: {strongest}")


def show_kernels(backbone, weights):
    """The first layer's learned kernels as colour tiles (image, status)."""
    yield from one_shot(lambda: _kernel_outputs(backbone, weights))


def _kernel_outputs(backbone, weights) -> tuple:
    from ..features import kernel_tiles

    kernels = start_run(lambda: kernel_tiles(get_backbone(backbone, weights_from_text(weights))), "features")
    height, width, _, count = kernels.shape
    return kernels.grid, f"{kernels.layer}: {count} kernels of {width}x{height}x3, each stretched to full contrast"


def _settings_form() -> dict:
    """The settings column's widgets, by config field name."""
    defaults = FilterConfig()
    form = {"backbone": widgets.backbone_dropdown(FilterConfig, "features", "features-backbone"),
            "weights": widgets.weights_radio("features-weights"),
            "layer": gr.Dropdown(list(REGISTRY[defaults.backbone].feature_layers),
                                 value=default_layer(defaults.backbone), label="Layer", allow_custom_value=True,
                                 elem_id="features-layer"),
            "filters": gr.Textbox(value=defaults.filters, label=label_of(FilterConfig, "filters"),
                                  elem_id="features-filters"),
            "objective": widgets.choice(FilterConfig, "objective", OBJECTIVE_LABELS, elem_id="features-objective")}
    with gr.Row():
        form["class_index"] = gr.Number(value=defaults.class_index, precision=0, minimum=0, maximum=999,
                                        label="Class number (for the class score; needs VGG, Inception or MobileNet)")
        form["negative"] = widgets.checkbox(FilterConfig, "negative", label="Opposite: what the filter most dislikes")
    form["mode"] = widgets.choice(FilterConfig, "mode", MODE_LABELS, elem_id="features-mode")
    form["iterations"] = widgets.slider(FilterConfig, "iterations", value=0, label=(
        f"Iterations (0 = the mode's own: quality {MODE_ITERATIONS['quality']}, classic "
        f"{MODE_ITERATIONS['classic']})"))
    form["size"] = widgets.slider(FilterConfig, "size")
    return form


def _maps_section(backbone, weights) -> None:
    """What a photo does to the network: its feature maps at a layer, and the first layer's kernels."""
    gr.Markdown("### What a photo does to the network\nEach tile is one channel of the layer's output for your "
                "photo (bright = strong), the most active first; below, the first layer's learned kernels.")
    with gr.Row():
        with gr.Column():
            photo = widgets.photo_input("Photo", "features-photo")
            gr.Examples(widgets.example_photos(), inputs=[photo], label="Example photos")
            maps_layer = gr.Dropdown(list(REGISTRY[MapsConfig().backbone].feature_layers),
                                     value=default_layer(MapsConfig().backbone), label="Layer",
                                     allow_custom_value=True, elem_id="features-maps-layer")
            kernels_button = gr.Button("Show the first layer's kernels", elem_id="features-kernels-run")
        with gr.Column():
            maps_output = gr.Image(label="Feature maps", format="png", type="numpy", interactive=False,
                                   elem_id="features-maps")
            maps_status = gr.Textbox(label="Feature maps", interactive=False, elem_id="features-maps-status")
            kernels_output = gr.Image(label="First-layer kernels", format="png", type="numpy", interactive=False,
                                      elem_id="features-kernels")
            kernels_status = gr.Textbox(label="Kernels", interactive=False, elem_id="features-kernels-status")
    backbone.change(layer_update, backbone, maps_layer, queue=False)
    kernels_button.click(show_kernels, [backbone, weights], [kernels_output, kernels_status],
                         concurrency_id=TF_JOBS, show_progress_on=[kernels_status], api_name="kernels")
    # Click-free: a new photo, layer or set of weights redraws the maps (one forward pass each).
    maps_inputs, maps_outputs = [photo, backbone, weights, maps_layer], [maps_output, maps_status]
    photo.change(show_feature_maps, maps_inputs, maps_outputs, concurrency_id=TF_JOBS,
                 show_progress_on=[maps_status], api_name="featuremaps")
    for trigger in (maps_layer.change, weights.change):
        trigger(show_feature_maps, maps_inputs, maps_outputs, concurrency_id=TF_JOBS,
                show_progress_on=[maps_status], api_visibility="private")


def build() -> gr.Dropdown:
    """The tab; returns its network dropdown (the page marks which networks are ready when it loads)."""
    gr.Markdown(EXPLANATION)
    with gr.Row():
        with gr.Column():
            form = _settings_form()
            form["seed"], run, stop = widgets.seed_and_buttons(FilterConfig, "features")
            add_recipe_drop("filters", form, lambda config: {
                **widget_values(config, form), "layer": layer_update(config.backbone, config.layer)})
        with widgets.results_column():
            results = widgets.run_results("features", "Visualizations, strongest first")
    _maps_section(form["backbone"], form["weights"])
    # .input, not .change: a restored recipe sets the backbone and its layer together. The layer dropdowns accept
    # any name (API callers pick a backbone and its layer in one call); the core checks it.
    form["backbone"].input(layer_update, form["backbone"], form["layer"], queue=False)
    shown = gr.State()
    event = run.click(run_filters, inputs_kwargs=form, outputs=results.outputs((), shown), concurrency_id=TF_JOBS,
                      trigger_mode="once", show_progress_on=[results.progress], api_name="filters")
    wire_stop(stop, event, results.status, results.download, shown)
    wire_switch(results.switch, event, shown, form["backbone"], "features", [form["layer"]],
                lambda name: [layer_update(name)])
    return form["backbone"]
