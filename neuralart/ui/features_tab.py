"""The feature-visualization tab: what filters, units, layers or classes respond to (as a grid, diversity or
interpolation rows, a combined objective or the chapter's atlas of layers), and what a photo does to a layer (its
feature maps), to the first layer's kernels and to the classifier (its top-5 classes, by name)."""

from __future__ import annotations

from collections.abc import Mapping

import gradio as gr

from ..features import CHAPTER_PRESET, FilterConfig, MapsConfig
from ..features.algebra import format_sum, parse_expression
from ..features.classes import class_choices, class_name
from ..jobs import Job
from ..models import REGISTRY, get_backbone, weights_from_text
from ..settings import label_of
from . import widgets
from .forms import config_values, widget_values
from .restore import add_recipe_drop
from .networks import wire_switch
from .streaming import EXPECTED_ERRORS, TF_JOBS, one_shot, start_run, stream_run, wire_stop

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
FIGURE_LABELS = {"grid": "grid: an image per filter", "diversity": "diversity: several images per filter",
                 "interpolation": "interpolation: from A to B", "atlas": "atlas: a row per layer"}
CAPTION_LABELS = {"index": "filter index", "activation": "index and activation", "none": "none"}
FIGURES_EXPLANATION = (
    "**Diversity** optimises several images of each filter together (one filter, e.g. 7, is quickest) and "
    "pushes their styles apart, so you see more than one facet of what it likes. **Interpolation** morphs from "
    "objective A to objective B along a row (give two filters, e.g. `7,12`, or write `A -> B` below). **Atlas** "
    "shows the first filters of early, middle and late layers side by side, as in the chapter. The list of terms "
    "**combines objectives**: each row adds weight x (a filter's mean, a unit, a whole layer or a class score); "
    "a negative weight means \"but not that\".")
TERM_HEADERS = ["weight", "objective (channel, neuron, layer, class)", "layer", "filter or class"]
TERM_ROWS = 3


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
    """Stream a feature-visualization run: (grid, status, progress, details, captioned tiles, PNG download, what it
    showed)."""
    noted = set()

    def follow(frame) -> tuple:
        note = getattr(frame, "note", "")
        if note and note not in noted:
            noted.add(note)
            gr.Warning(note)
        # The gallery is refreshed as each row (or the grid) is done: every image sent costs a PNG encoding.
        return (list(getattr(frame, "tiles", ())) if frame.stage_done else gr.update(),)
    yield from stream_run(lambda: Job("filters", filter_config(values)), "features", extras=1, follow=follow)


def term_text(objective: str, layer: str, target: str) -> str:
    """One term of the algebra from a row of the list of terms."""
    if objective == "class":
        return f"class({target})"
    if objective == "layer":
        return f"layer({layer})"
    reference = f"{layer}:{target or 0}"
    return reference if objective == "channel" else f"{objective}({reference})"


def expression_from_terms(rows) -> str:
    """The combined objective the list of terms writes; rows naming no layer (and no class) are skipped."""
    weighted = []
    for row in rows or []:
        weight, objective, layer, target = (["" if cell is None else str(cell).strip() for cell in row] + [""] * 4)[:4]
        objective = objective or "channel"
        if not layer and not (objective == "class" and target):
            continue
        try:
            weighted.append((float(weight) if weight else 1.0, term_text(objective, layer, target)))
        except ValueError:
            raise gr.Error(f"The weight {weight!r} is not a number.") from None
    return format_sum(weighted)


def terms_from_expression(text: str):
    """The list of terms for a combined objective; unchanged when the text is not one sum (a mistake being
    typed, or an interpolation 'A -> B', which the list cannot show)."""
    if not (text or "").strip():
        return [[""] * len(TERM_HEADERS) for _ in range(TERM_ROWS)]
    try:
        parsed = parse_expression(text)
    except ValueError:
        return gr.update()
    if parsed.end is not None:
        return gr.update()
    rows = [[f"{weight:g}", term.kind, term.layer, class_name(term.index) if term.kind == "class"
             else "" if term.kind == "layer" else str(term.index)]
            for weight, term in zip(parsed.start.weights, parsed.start.terms)]
    return rows + [[""] * len(TERM_HEADERS) for _ in range(max(0, TERM_ROWS - len(rows)))]


def chapter_preset() -> tuple:
    """The chapter's atlas: updates for (figure, network, layer, filters, atlas layers)."""
    backbone = CHAPTER_PRESET["backbone"]
    return (gr.update(value=CHAPTER_PRESET["figure"]), gr.update(value=backbone), layer_update(backbone),
            gr.update(value=CHAPTER_PRESET["filters"]), gr.update(value=CHAPTER_PRESET["layers"]))


def class_shown(index):
    """The class dropdown following the class-index box."""
    return gr.update(value=int(index)) if isinstance(index, (int, float)) and 0 <= index < 1000 else gr.update()


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


def show_predictions(photo, backbone, weights, fetch: bool = False):
    """The classifier's five most likely classes for the photo, by name (a gr.Label update). Networks offered
    without their head, and heads whose weights cannot be had, say so in the label instead; a head whose
    ImageNet weights would have to be downloaded waits for `fetch` (the button beside it)."""
    from ..features.maps import head_predictions, head_weights_at_hand

    chosen = weights_from_text(weights)
    if not photo:
        return gr.update(value=None, label="Top-5 predictions")
    if not fetch and not head_weights_at_hand(backbone, chosen):
        return gr.update(value=None, label="Top-5 predictions: press the button to fetch the classifier's weights")
    try:
        predictions = head_predictions(photo, backbone, chosen)
    except EXPECTED_ERRORS as error:
        return gr.update(value=None, label=f"Top-5 predictions: not available ({str(error).split('. ')[0]})")
    if predictions is None:
        return gr.update(value=None, label="Top-5 predictions: this network is offered without its classifier")
    return gr.update(value={f"{item.name} ({item.index})": item.probability for item in predictions},
                     label="Top-5 predictions of the classifier")


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
    _class_picker(form["class_index"])
    form["mode"] = widgets.choice(FilterConfig, "mode", MODE_LABELS, elem_id="features-mode")
    form["iterations"] = widgets.slider(FilterConfig, "iterations")
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
            predictions = gr.Label(num_top_classes=5, label="Top-5 predictions", elem_id="features-predictions")
            classify = gr.Button("Name what the classifier sees (fetches its weights if needed)", size="sm",
                                 elem_id="features-classify")
            kernels_output = gr.Image(label="First-layer kernels", format="png", type="numpy", interactive=False,
                                      elem_id="features-kernels")
            kernels_status = gr.Textbox(label="Kernels", interactive=False, elem_id="features-kernels-status")
    backbone.change(layer_update, backbone, maps_layer, queue=False)
    for trigger in (photo.change, backbone.change, weights.change):
        trigger(show_predictions, [photo, backbone, weights], predictions, concurrency_id=TF_JOBS,
                show_progress_on=[predictions], api_visibility="private")
    classify.click(lambda *values: show_predictions(*values, fetch=True), [photo, backbone, weights], predictions,
                   concurrency_id=TF_JOBS, show_progress_on=[predictions], api_name="predictions")
    kernels_button.click(show_kernels, [backbone, weights], [kernels_output, kernels_status],
                         concurrency_id=TF_JOBS, show_progress_on=[kernels_status], api_name="kernels")
    # Click-free: a new photo, layer or set of weights redraws the maps (one forward pass each).
    maps_inputs, maps_outputs = [photo, backbone, weights, maps_layer], [maps_output, maps_status]
    photo.change(show_feature_maps, maps_inputs, maps_outputs, concurrency_id=TF_JOBS,
                 show_progress_on=[maps_status], api_name="featuremaps")
    for trigger in (maps_layer.change, weights.change):
        trigger(show_feature_maps, maps_inputs, maps_outputs, concurrency_id=TF_JOBS,
                show_progress_on=[maps_status], api_visibility="private")


def _class_picker(number: gr.Number) -> gr.Dropdown:
    """A searchable list of the ImageNet classes by name, kept in step with the class-index box."""
    picker = gr.Dropdown(class_choices(), value=FilterConfig().class_index, filterable=True,
                         label="Class by name (type to search: goldfish, junco, volcano...)", elem_id="features-class")
    picker.input(lambda index: index, picker, number, queue=False)
    number.change(class_shown, number, picker, queue=False)
    return picker


def _figures_form(form: dict) -> dict:
    """The accordion of figures and combined objectives: its widgets by config field name, and the list of
    terms ("terms"), which writes the combined objective."""
    added = {}
    with gr.Accordion("Diversity, interpolation, atlas and combined objectives", open=False):
        gr.Markdown(FIGURES_EXPLANATION)
        added["figure"] = widgets.choice(FilterConfig, "figure", FIGURE_LABELS, elem_id="features-figure")
        chapter = gr.Button("The chapter's figure: early, middle and late layers of VGG16", size="sm",
                            elem_id="features-chapter")
        with gr.Row():
            added["row_size"] = widgets.slider(FilterConfig, "row_size")
            added["diversity_weight"] = widgets.slider(FilterConfig, "diversity_weight")
        added["terms"] = gr.Dataframe(terms_from_expression(""), headers=TERM_HEADERS, type="array",
                                      datatype="str", column_count=len(TERM_HEADERS), interactive=True,
                                      label="Combined objective: a list of terms", elem_id="features-terms")
        added["expression"] = gr.Textbox(value="", label=label_of(FilterConfig, "expression"), placeholder=(
            "e.g. fire5:7 + fire5:12 - 0.5*fire7:3, or fire5:7 -> fire5:12 for an interpolation"),
            elem_id="features-expression")
        added["layers"] = gr.Textbox(value="", label="Atlas layers (empty: the chapter's early, middle and late)",
                                     elem_id="features-atlas-layers")
        added["captions"] = widgets.choice(FilterConfig, "captions", CAPTION_LABELS, elem_id="features-captions")
    # Each follows what the user changed, and neither echoes the other's update back: the list writes the
    # objective as it is edited, the objective fills the list once it is typed (Enter, or leaving the box).
    added["terms"].input(expression_from_terms, added["terms"], added["expression"], queue=False)
    for typed in (added["expression"].submit, added["expression"].blur):
        typed(terms_from_expression, added["expression"], added["terms"], queue=False)
    chapter.click(chapter_preset, None, [added["figure"], form["backbone"], form["layer"], form["filters"],
                                         added["layers"]], queue=False)
    return added


def shown_values(config: FilterConfig, form: Mapping) -> dict:
    """What each widget of the form shows for a config (restoring a recipe): its layer among its network's, and
    its combined objective as a list of terms too."""
    return {**widget_values(config, form), "layer": layer_update(config.backbone, config.layer),
            "terms": gr.update(value=terms_from_expression(config.expression))}


def build() -> gr.Dropdown:
    """The tab; returns its network dropdown (the page marks which networks are ready when it loads)."""
    gr.Markdown(EXPLANATION)
    with gr.Row():
        with gr.Column():
            form = _settings_form()
            form.update(_figures_form(form))
            form["seed"], run, stop = widgets.seed_and_buttons(FilterConfig, "features")
            add_recipe_drop("filters", form, lambda config: shown_values(config, form))
        with widgets.results_column():
            results = widgets.run_results("features", "Visualizations, strongest first")
    # Below the settings and results, full width: the results column stays short enough to stay in view.
    gallery = gr.Gallery(label="Tiles, captioned (each row or grid as it is done)", columns=8, height=240,
                         format="png", elem_id="features-gallery")
    _maps_section(form["backbone"], form["weights"])
    # .input, not .change: a restored recipe sets the backbone and its layer together. The layer dropdowns accept
    # any name (API callers pick a backbone and its layer in one call); the core checks it.
    form["backbone"].input(layer_update, form["backbone"], form["layer"], queue=False)
    shown = gr.State()
    event = run.click(run_filters, inputs_kwargs=form, outputs=results.outputs((gallery,), shown),
                      concurrency_id=TF_JOBS, trigger_mode="once", show_progress_on=[results.progress],
                      api_name="filters")
    wire_stop(stop, event, results.status, results.download, shown)
    wire_switch(results.switch, event, shown, form["backbone"], "features", [form["layer"]],
                lambda name: [layer_update(name)])
    return form["backbone"]
