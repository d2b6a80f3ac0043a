"""neural art studio: the Gradio web app. Three tabs over the `neuralart` core package.

Handlers here are thin adapters: they turn widget values into a technique's config (which validates them),
run the technique's generator, and turn each Frame into widget updates. Everything that computes lives in
`neuralart/`. Run `python app.py`; GRADIO_SERVER_NAME / GRADIO_SERVER_PORT choose where it listens.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import gradio as gr

from neuralart import images, recipes
from neuralart.deepdream import DreamConfig
from neuralart.frames import Frame, limit_time
from neuralart.images import ImageInputError
from neuralart.models import REGISTRY, WeightsUnavailableError

LOG = logging.getLogger("neuralart.app")
ASSETS = Path(__file__).resolve().parent / "assets"
EXAMPLE_PHOTOS = [str(path) for path in sorted(ASSETS.glob("*.jpg"))]
# One concurrency group for every TensorFlow job: on a 2-core machine two at once only slow both down.
TF_JOBS = "tensorflow"
EXPECTED_ERRORS = (ImageInputError, WeightsUnavailableError, ValueError)
WEIGHT_CHOICES = [("ImageNet (trained)", "imagenet"), ("random (untrained)", "random")]
MAX_LAYER_SLIDERS = max(len(spec.dream_layers) for spec in REGISTRY.values())
# The status of a run that ended before its first image (the warning toast says why).
NO_FRAME_STATUS = "Stopped before the first image."
# The browser is sent a new image at most this often (and always each octave's or scale's last, and the run's);
# in between, only the status line follows the frames. Each image sent costs the server a PNG encoding and more,
# on the CPU the optimisation needs: warm default 512-px style runs (the client in the same process) took 28.6 and
# 31.6 s through the app where the core alone took 22.8 and 23.6 s; with an image every 0.4 s instead of every 5
# iterations, 27.5 and 27.8 s (the core alone 25.1 and 23.6 s).
IMAGE_INTERVAL_SECONDS = 0.4
# Each technique's Run button sits below a long column of settings (on the style tab ~3000 px down), and its
# results head the column beside it: without this, Run scrolls them out of sight and nothing seems to stream
# (Gradio also loads an image out of view only once it is scrolled to). Sticky, the results column stays on
# screen beside whatever part of the settings is. Where the columns stack (narrow screens) it is the last item
# of its row, so it has no room to stick and the rule does nothing. Gradio's container hides its overflow, which
# makes it the scroll container sticky positions refer to (and it never scrolls); `clip` cuts the same overflow
# without being one. Sticky, the column is also a stacking context: its image's full-screen view lies within it,
# so the column is lifted above the settings' labels (Gradio's layer 4) or they would show through that view.
APP_CSS = (".gradio-container { overflow: clip !important; }\n"
           ".results-column { position: sticky; top: 8px; align-self: flex-start; "
           "z-index: calc(var(--layer-4) + 1); }")


def time_budget_seconds() -> float | None:
    """Wall-clock budget per job, from NEURALART_TIME_BUDGET (seconds; 0 means none)."""
    seconds = float(os.environ.get("NEURALART_TIME_BUDGET", "600"))
    return seconds if seconds > 0 else None


def backbone_choices(technique: str | None = None) -> list[tuple[str, str]]:
    return [(spec.title, name) for name, spec in REGISTRY.items()
            if technique is None or technique in spec.defaults]


def weights_option(choice: str) -> str | None:
    return None if choice == "random" else choice


def harden_pillow() -> None:
    """Refuse decompression bombs at PIL's level too (our loader also checks sizes before decoding).

    PIL warns above MAX_IMAGE_PIXELS and refuses above twice that; its default (89 megapixels) is well above
    what the loader accepts, so anything else in the process that opens an image is held to the same limit.
    """
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = int(images.DEFAULT_MAX_MEGAPIXELS * 1e6)


def guard_number_inputs(demo: gr.Blocks) -> None:
    """Give API callers a clear message for a slider or number that is not a finite number.

    Gradio checks slider bounds before a handler runs, but a string or null there fails with a TypeError that
    `show_error=False` turns into an anonymous error, and NaN passes the bounds check (every comparison with NaN
    is false). The technique configs check all of this again; this only makes the first line of defence speak.
    """
    for block in demo.blocks.values():
        if isinstance(block, (gr.Slider, gr.Number)):
            # A blank gr.Number is None (its preprocess passes that on); a slider always has a value.
            block.preprocess = _finite_number_first(block.preprocess, block.label or "A number",
                                                    allow_none=isinstance(block, gr.Number))


def _finite_number_first(preprocess: Callable, label: str, allow_none: bool) -> Callable:
    def checked(payload):
        if payload is None and allow_none:
            return preprocess(payload)
        if isinstance(payload, bool) or not isinstance(payload, (int, float)) or not math.isfinite(payload):
            raise gr.Error(f"{label} must be a finite number, got {payload!r}.")
        return preprocess(payload)
    return checked


def photo_input(label: str, elem_id: str, **kwargs) -> gr.Image:
    """The upload widget every tab uses for photos: the file reaches the handler untouched, as a path.

    A plain gr.Image decodes uploads itself before any handler runs: it converts 16-bit, CMYK and transparent
    images with a plain `convert` (clipping the 16-bit range, exposing hidden colours), decodes 100-megapixel
    bombs in full and turns every file it cannot read into an anonymous error. `neuralart.images.load_image`
    does all of this safely and says what is wrong, so this widget only hands over the uploaded file, which
    Gradio has already size-checked and moved into its cache. (Replaced on the instance, not in a subclass:
    Gradio writes a .pyi stub beside the module of every Component subclass.)
    """
    image = gr.Image(type="filepath", image_mode=None, label=label, sources=["upload", "clipboard"],
                     elem_id=elem_id, **kwargs)
    image.preprocess = uploaded_path
    return image


def uploaded_path(payload) -> str | None:
    return None if payload is None or payload.path is None else str(payload.path)


# After a run's event ends, a status line still showing progress (it ends with the elapsed seconds) means that
# Stop cancelled it: the server closed the run's generator, which could say nothing more. The mark is added then,
# in the page, and not when Stop is clicked: frames already on their way would overwrite it.
MARK_STOPPED_JS = r"(status) => /^(?!Not started).* · \d+\.\d s$/.test(status || '') ? status + ' · stopped' : status"
STOPPED_MARK = " · stopped"  # What MARK_STOPPED_JS appends.


def wire_stop(stop: gr.Button, event, status: gr.Textbox, download: gr.File, shown: gr.State) -> None:
    """Stop cancels `event` (the tab's run). When the run ends, a stopped run's status line is marked so, and
    the last image it showed is offered as a PNG with its recipe (`shown`, kept by the run: see `shown_state`)."""
    stop.click(None, None, None, cancels=[event])
    marked = event.then(None, [status], [status], js=MARK_STOPPED_JS, queue=False)
    marked.then(offer_stopped_result, [status, shown], [download], queue=False, api_visibility="private")


def shown_state(recipe: Mapping, image=None) -> dict:
    """What a run keeps on the server as it goes (the last output of each tab's run, a gr.State): its recipe
    and the last image it sent. The image shown in the page cannot serve: a streamed image reaches a later
    event's handler as the update that carried it, without its file."""
    return {"recipe": recipe, "image": image}


def offer_stopped_result(status: str | None, shown: Mapping | None):
    """The PNG download of a stopped run: the last image it showed, with its recipe. A run that finished (or
    ended early by itself) has offered its own PNG already, and one that never showed an image has nothing."""
    if not shown or shown["image"] is None or not (status or "").endswith(STOPPED_MARK):
        return gr.update()
    return write_png(shown["image"], shown["recipe"], "-stopped")


def seed_and_buttons(seed: int, tab: str):
    """The seed box and the Run and Stop buttons every tab ends its settings with (ids "<tab>-run", "<tab>-stop")."""
    seed_box = gr.Number(value=seed, precision=0, label="Seed", minimum=0)
    with gr.Row():
        run = gr.Button("Run", variant="primary", elem_id=f"{tab}-run")
        stop = gr.Button("Stop", variant="stop", elem_id=f"{tab}-stop")
    return seed_box, run, stop


def results_column() -> gr.Column:
    """The column of a technique's streamed results, kept in view while its settings scroll (APP_CSS)."""
    return gr.Column(elem_classes="results-column")


# --- running a technique for the UI --------------------------------------------------------------------------

def start_run(make_frames: Callable[[], Iterator[Frame]]) -> Iterator[Frame]:
    """Build a technique's generator, turning expected failures into messages the user can act on."""
    try:
        return make_frames()
    except EXPECTED_ERRORS as error:
        raise gr.Error(str(error)) from error
    except Exception as error:
        LOG.exception("run failed to start")
        raise gr.Error("Something went wrong while starting the run; please try other settings.") from error


def start_streaming(make_frames: Callable[[], Iterator[Frame]], output_count: int, recipe: Mapping):
    """For a streaming handler, as `frames = yield from start_streaming(...)`: says "Loading the network…" in the
    status box and keeps the run's recipe (the last output, a gr.State: see `shown_state`), then
    returns the technique's generator. If that cannot start (missing weights, a bad photo), the status box says
    why before the message's error toast, instead of loading forever."""
    yield (*status_update("Loading the network…", output_count)[:-1], shown_state(recipe))
    try:
        return start_run(make_frames)
    except gr.Error as error:
        yield status_update(f"Not started: {error.message}", output_count)
        raise


def status_update(text: str, output_count: int) -> tuple:
    """A streaming handler's outputs with only its status box (always the second output) changed."""
    return (gr.update(), text, *[gr.update()] * (output_count - 2))


def stream_frames(frames: Iterator[Frame]) -> Iterator[tuple[Frame, float, bool]]:
    """Yield (frame, elapsed seconds, whether to send its image) within the job's time budget; warn (keeping the
    last image) when it ends early. Errors mid-stream become warnings too: raising would hide the image already
    streamed. Every frame is yielded, so the handler yields (and Stop acts) after every chunk; its image is to be
    sent for the first frame, a stage's last and then at most every IMAGE_INTERVAL_SECONDS."""
    started = time.monotonic()
    budget = time_budget_seconds()
    last, image_sent_at = None, None
    try:
        for frame in limit_time(frames, budget):
            last = frame
            elapsed = time.monotonic() - started
            send_image = (image_sent_at is None or frame.stage_done
                          or elapsed - image_sent_at >= IMAGE_INTERVAL_SECONDS)
            if send_image:
                image_sent_at = elapsed
            yield frame, elapsed, send_image
    except EXPECTED_ERRORS as error:
        gr.Warning(str(error))
    except Exception:
        LOG.exception("run failed")
        gr.Warning("The run stopped because of an internal error; the last good image is shown.")
    if last is not None and not last.done and budget is not None and time.monotonic() - started > budget:
        gr.Warning(f"Time budget of {budget:g} s reached: showing the last image.")


def status_line(frame: Frame, elapsed: float) -> str:
    losses = " · ".join(f"{name} {value:.4g}" for name, value in list(frame.losses.items())[:3])
    return f"{frame.stage} · step {frame.step}/{frame.total_steps} · {losses} · {elapsed:.1f} s"


def final_status_line(frame: Frame, elapsed: float, line: Callable[[Frame, float], str] | None = None) -> str:
    """The status of a run's last frame, as `line` (default `status_line`) writes it: done, or stopped early
    (time budget or an error, already warned)."""
    return (line or status_line)(frame, elapsed) + (" · done" if frame.done else " · stopped early")


def write_png(image, recipe: Mapping, suffix: str = "") -> str:
    """`image` as a PNG carrying `recipe` (recipes.recipe_for), named after the technique and seed, in a fresh
    temporary folder (Gradio serves a copy)."""
    folder = tempfile.mkdtemp(prefix="neuralart-")
    path = os.path.join(folder, f"{recipe['technique']}-seed{recipe['config'].get('seed', 0)}{suffix}.png")
    images.save_png(path, image, recipe)
    return path


# --- restoring the settings stored in a PNG ------------------------------------------------------------------

def add_recipe_drop(technique: str, widgets: Mapping[str, gr.components.Component], *,
                    extra: Callable | None = None, extra_outputs: Sequence[gr.components.Component] = (),
                    extra_fields: Sequence[str] = ()) -> gr.File:
    """A drop zone that restores a tab's settings from a PNG this app (or the CLI) wrote: one line per tab.

    widgets: config field name -> the widget showing it. extra(config) may return updates for `extra_outputs`
    (for fields no single widget shows, such as per-layer sliders); `extra_fields` names the fields it covers.
    """
    drop = gr.File(label="Restore settings: drop a PNG made here", file_types=[".png"], type="filepath",
                   height=120, elem_id=f"{technique}-recipe")
    # Queued (so its Info and Warning reach the page as toasts) but in no concurrency group: reading a PNG's
    # text chunk is instant and need not wait for anyone's run.
    drop.upload(lambda path: recipe_updates(path, technique, widgets, extra, extra_fields), drop,
                [*widgets.values(), *extra_outputs], concurrency_limit=None, api_name=f"restore_{technique}")
    return drop


def recipe_updates(path: str | None, technique: str, widgets: Mapping[str, gr.components.Component],
                   extra: Callable | None = None, extra_fields: Sequence[str] = ()) -> list:
    """gr.update()s setting each widget to the value the PNG's recipe gives its field, then extra(config)'s."""
    config = _config_from_png(path, technique)
    updates, left_out = [], []
    for field, widget in widgets.items():
        value, restored = _widget_value(widget, field, getattr(config, field))
        updates.append(gr.update(value=value) if restored else gr.update())
        if not restored:
            left_out.append(field)
    if extra is not None:
        updates.extend(extra(config))
    left_out += _fields_not_shown(config, set(widgets) | set(extra_fields))
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


def _widget_value(widget, field: str, value) -> tuple[object, bool]:
    """The widget's spelling of a config value, and whether the widget can show it at all."""
    if field == "weights":
        value = "random" if value is None else value
    elif value is None and isinstance(widget, (gr.Slider, gr.Number)):
        value = 0  # Sliders spell "no limit" as 0.
    elif isinstance(value, tuple):
        value = list(value)
    choices = getattr(widget, "choices", None)
    if choices and not isinstance(value, list):
        offered = [choice[1] if isinstance(choice, (tuple, list)) else choice for choice in choices]
        if value not in offered:
            return None, False
    if isinstance(widget, gr.Slider) and not widget.minimum <= value <= widget.maximum:
        return None, False
    return value, not isinstance(value, Mapping)


def _fields_not_shown(config, shown: set[str]) -> list[str]:
    """Fields with no widget whose recipe value differs from the default: the tab cannot reproduce those."""
    try:
        defaults = type(config)()
    except (TypeError, ValueError):
        return []
    return [f"{field.name}={getattr(config, field.name)!r}" for field in dataclasses.fields(config)
            if field.name not in shown and getattr(config, field.name) != getattr(defaults, field.name)]


# --- DeepDream tab -------------------------------------------------------------------------------------------

def dream_layer_updates(backbone: str, layers: Mapping[str, float] | None = None) -> list:
    """One slider per layer the backbone offers, set to `layers` (default: the backbone's weights); the rest
    hidden."""
    return [gr.update(**settings) for settings in layer_slider_settings(backbone, layers)]


def layer_slider_settings(backbone: str, layers: Mapping[str, float] | None = None) -> list[dict]:
    """Label, value and visibility of each of the MAX_LAYER_SLIDERS layer-weight sliders for `backbone`."""
    spec = REGISTRY[backbone]
    weights = spec.defaults.get("dream", {}) if layers is None else layers
    settings = []
    for index in range(MAX_LAYER_SLIDERS):
        visible = index < len(spec.dream_layers)
        layer = spec.dream_layers[index] if visible else f"layer {index}"
        settings.append({"label": layer, "value": weights.get(layer, 0.0) if visible else 0.0, "visible": visible})
    return settings


def dream_config_from_widgets(backbone, weights, octaves, octave_scale, iterations, step, max_loss, max_side,
                              seed, *layer_values) -> DreamConfig:
    layers = dict(zip(REGISTRY[backbone].dream_layers, layer_values)) if backbone in REGISTRY else None
    return DreamConfig(backbone=backbone, weights=weights_option(weights), layers=layers, octaves=octaves,
                       octave_scale=octave_scale, iterations=iterations, step=step,
                       max_loss=max_loss if max_loss else None, max_side=max_side, seed=seed)


def run_dream(image_path, *widget_values):
    """Stream a DeepDream run: (image, status, per-octave gallery, PNG download, what it showed)."""
    from neuralart.deepdream import dream

    if not image_path:
        raise gr.Error("Upload a photo (or pick an example) first.")
    try:
        config = dream_config_from_widgets(*widget_values)
    except ValueError as error:
        raise gr.Error(str(error)) from error
    recipe = recipes.recipe_for("dream", config)
    frames = yield from start_streaming(lambda: dream(image_path, config), 5, recipe)
    octaves, last = [], None
    for frame, elapsed, send_image in stream_frames(frames):
        last = frame
        if frame.stage_done:
            octaves.append((frame.image, frame.stage))
        status = status_line(frame, elapsed)
        yield ((frame.image, status, octaves, gr.update(), shown_state(recipe, frame.image)) if send_image
               else status_update(status, 5))
    if last is not None:
        yield (last.image, final_status_line(last, elapsed), octaves, write_png(last.image, recipe),
               gr.update())
    else:
        yield status_update(NO_FRAME_STATUS, 5)


def build_dream_tab() -> None:
    defaults = DreamConfig()
    gr.Markdown("**DeepDream** changes the photo by gradient *ascent* so that the chosen layers' activations "
                "grow: a weighted sum of each layer's mean squared activation is maximised, octave by octave.")
    with gr.Row():
        with gr.Column():
            image = photo_input("Photo", "dream-input")
            gr.Examples(EXAMPLE_PHOTOS, inputs=[image], label="Example photos")
            backbone = gr.Dropdown(backbone_choices("dream"), value=defaults.backbone, label="Network",
                                   elem_id="dream-backbone")
            weights = gr.Radio(WEIGHT_CHOICES, value="imagenet", label="Weights", elem_id="dream-weights")
            with gr.Accordion("Layer weights", open=True):
                layer_sliders = [gr.Slider(-5, 5, step=0.1, **update_kwargs)
                                 for update_kwargs in layer_slider_settings(defaults.backbone)]
            octaves = gr.Slider(1, 8, value=defaults.octaves, step=1, label="Octaves")
            octave_scale = gr.Slider(1.05, 3.0, value=defaults.octave_scale, step=0.05, label="Octave scale")
            iterations = gr.Slider(0, 200, value=defaults.iterations, step=1, label="Iterations per octave")
            step = gr.Slider(0.001, 0.1, value=defaults.step, step=0.001, label="Step size")
            max_loss = gr.Slider(0, 100, value=defaults.max_loss, step=0.5, label="Max loss (0 = no limit)")
            max_side = gr.Slider(64, 2048, value=defaults.max_side, step=16, label="Longest side (px)")
            seed, run, stop = seed_and_buttons(defaults.seed, "dream")
            add_recipe_drop("dream", {"backbone": backbone, "weights": weights, "octaves": octaves,
                                      "octave_scale": octave_scale, "iterations": iterations, "step": step,
                                      "max_loss": max_loss, "max_side": max_side, "seed": seed},
                            extra=lambda config: dream_layer_updates(config.backbone, config.layers),
                            extra_outputs=layer_sliders, extra_fields=["layers"])
        with results_column():
            output = gr.Image(label="Dream", format="png", type="numpy", interactive=False, elem_id="dream-output")
            status = gr.Textbox(label="Status", interactive=False, elem_id="dream-status")
            gallery = gr.Gallery(label="End of each octave", columns=4, height=200, format="png",
                                 elem_id="dream-gallery")
            download = gr.File(label="PNG (with its recipe)", interactive=False, elem_id="dream-download")
    # .input, not .change: a restored recipe sets the backbone and its sliders together, and a .change
    # would then reset the sliders to the backbone's defaults.
    backbone.input(dream_layer_updates, backbone, layer_sliders, queue=False)
    inputs = [image, backbone, weights, octaves, octave_scale, iterations, step, max_loss, max_side, seed,
              *layer_sliders]
    shown = gr.State()
    event = run.click(run_dream, inputs, [output, status, gallery, download, shown], concurrency_id=TF_JOBS,
                      trigger_mode="once", show_progress_on=[status], api_name="dream")
    wire_stop(stop, event, status, download, shown)


# --- Feature visualization tab -------------------------------------------------------------------------------

FEATURES_EXPLANATION = (
    "**Feature visualization** asks what makes a filter fire. Starting from a nearly grey image, it changes the "
    "image step by step so that the chosen filter's *mean activation* grows (or a single unit's at the centre, "
    "the whole layer's, or a class's score). **Quality** mode paints in a Fourier basis with natural colours "
    "and jitters, scales and rotates the image every step, so only sturdy patterns survive (Olah et al., "
    "*Feature Visualization*, 2017); **classic** mode is the chapter's plain gradient ascent from grey noise. "
    "Early layers show colours and edges, middle layers textures, late layers parts of objects. The grid "
    "shows the filters that responded, strongest first.")


def features_default_layer(backbone: str) -> str:
    spec = REGISTRY[backbone]
    return next(iter(spec.defaults.get("features", {})), spec.feature_layers[-1])


def features_layer_update(backbone: str, layer: str | None = None):
    """The layer dropdown for `backbone`: its convolutional layers, set to `layer` or its usual one."""
    spec = REGISTRY[backbone]
    chosen = layer if layer in spec.feature_layers else features_default_layer(backbone)
    return gr.update(choices=list(spec.feature_layers), value=chosen)


def filter_config_from_widgets(backbone, weights, layer, filters, objective, class_index, negative, mode, steps,
                               size, seed):
    from neuralart.features import FilterConfig

    return FilterConfig(backbone=backbone, weights=weights_option(weights),
                        layer=None if objective == "class" else (layer or None),
                        filters=str(filters or "").strip(), objective=objective, class_index=class_index,
                        negative=bool(negative), mode=mode, steps=steps or None, size=size, seed=seed)


def run_filters(*widget_values):
    """Stream a feature-visualization run: (grid, status, PNG download, what it showed)."""
    from neuralart.features import visualize

    try:
        config = filter_config_from_widgets(*widget_values)
    except ValueError as error:
        raise gr.Error(str(error)) from error
    recipe = recipes.recipe_for("filters", config)
    frames = yield from start_streaming(lambda: visualize(config), 4, recipe)
    last = None
    for frame, elapsed, send_image in stream_frames(frames):
        last = frame
        status = status_line(frame, elapsed)
        yield ((frame.image, status, gr.update(), shown_state(recipe, frame.image)) if send_image
               else status_update(status, 4))
    if last is not None:
        yield last.image, final_status_line(last, elapsed), write_png(last.image, recipe), gr.update()
    else:
        yield status_update(NO_FRAME_STATUS, 4)


def show_feature_maps(photo, backbone, weights, layer):
    """One forward pass: the photo's feature maps at `layer`, most active channels first (image, status)."""
    if not photo:
        yield None, "Upload a photo to see what it does to the chosen layer."
        return
    yield from one_shot(lambda: _feature_maps_outputs(photo, backbone, weights, layer))


def _feature_maps_outputs(photo, backbone, weights, layer) -> tuple:
    from neuralart.features import feature_maps
    from neuralart.models import get_backbone

    maps = start_run(lambda: feature_maps(photo, get_backbone(backbone, weights_option(weights)), layer or None))
    height, width, channels = maps.shape
    strongest = ", ".join(f"{channel} ({mean:.3g})" for channel, mean in zip(maps.channels[:5], maps.means[:5]))
    return maps.grid, (f"{maps.layer}: {channels} maps of {width}x{height}; the {len(maps.channels)} most active "
                       f"shown, strongest first: {strongest}")


def show_kernels(backbone, weights):
    """The first layer's learned kernels as colour tiles (image, status)."""
    yield from one_shot(lambda: _kernel_outputs(backbone, weights))


def _kernel_outputs(backbone, weights) -> tuple:
    from neuralart.features import kernel_tiles
    from neuralart.models import get_backbone

    kernels = start_run(lambda: kernel_tiles(get_backbone(backbone, weights_option(weights))))
    height, width, _, count = kernels.shape
    return kernels.grid, f"{kernels.layer}: {count} kernels of {width}x{height}x3, each stretched to full contrast"


def one_shot(compute: Callable[[], tuple]):
    """A one-shot (image, status) handler's outputs, as `yield from one_shot(...)`. When `compute` fails, the image
    is cleared and the status says "Not shown: …" before the error toast: the previous request's image and status
    would otherwise stay, as if they answered this one."""
    try:
        outputs = compute()
    except gr.Error as error:
        yield None, f"Not shown: {error.message}"
        raise
    yield outputs


def build_features_tab() -> None:
    from neuralart.features import MODE_STEPS, FilterConfig

    defaults = FilterConfig()
    gr.Markdown(FEATURES_EXPLANATION)
    with gr.Row():
        with gr.Column():
            backbone = gr.Dropdown(backbone_choices("features"), value=defaults.backbone, label="Network",
                                   elem_id="features-backbone")
            weights = gr.Radio(WEIGHT_CHOICES, value="imagenet", label="Weights", elem_id="features-weights")
            layer = gr.Dropdown(list(REGISTRY[defaults.backbone].feature_layers),
                                value=features_default_layer(defaults.backbone), label="Layer",
                                allow_custom_value=True, elem_id="features-layer")
            filters = gr.Textbox(value=defaults.filters, label="Filters (an index like 3, or a range like 0-15)",
                                 elem_id="features-filters")
            objective = gr.Radio([("filter (mean activation)", "channel"), ("unit at the centre", "neuron"),
                                  ("whole layer (DeepDream-like)", "layer"), ("class score", "class")],
                                 value=defaults.objective, label="What to maximise", elem_id="features-objective")
            with gr.Row():
                class_index = gr.Number(value=defaults.class_index, precision=0, minimum=0, maximum=999,
                                        label="Class index (class score; needs VGG, Inception or MobileNet)")
                negative = gr.Checkbox(value=defaults.negative, label="Negative: what it most dislikes")
            mode = gr.Radio([("quality (Lucid)", "quality"), ("classic (the chapter)", "classic")],
                            value=defaults.mode, label="Mode", elem_id="features-mode")
            steps = gr.Slider(0, 1000, value=0, step=1, label=f"Steps (0 = the mode's own: quality "
                              f"{MODE_STEPS['quality']}, classic {MODE_STEPS['classic']})")
            size = gr.Slider(32, 512, value=defaults.size, step=16, label="Image size (px)")
            seed, run, stop = seed_and_buttons(defaults.seed, "features")
            add_recipe_drop("filters", {"backbone": backbone, "weights": weights, "filters": filters,
                                        "objective": objective, "class_index": class_index, "negative": negative,
                                        "mode": mode, "steps": steps, "size": size, "seed": seed},
                            extra=lambda config: [features_layer_update(config.backbone, config.layer)],
                            extra_outputs=[layer], extra_fields=["layer"])
        with results_column():
            output = gr.Image(label="Visualizations, strongest first", format="png", type="numpy",
                              interactive=False, elem_id="features-output")
            status = gr.Textbox(label="Status", interactive=False, elem_id="features-status")
            download = gr.File(label="PNG (with its recipe)", interactive=False, elem_id="features-download")
    gr.Markdown("### What a photo does to the network\nEach tile is one channel of the layer's output for your "
                "photo (bright = strong), the most active first; below, the first layer's learned kernels.")
    with gr.Row():
        with gr.Column():
            photo = photo_input("Photo", "features-photo")
            gr.Examples(EXAMPLE_PHOTOS, inputs=[photo], label="Example photos")
            maps_layer = gr.Dropdown(list(REGISTRY[defaults.backbone].feature_layers),
                                     value=features_default_layer(defaults.backbone), label="Layer",
                                     allow_custom_value=True, elem_id="features-maps-layer")
            show_kernels_button = gr.Button("Show the first layer's kernels", elem_id="features-kernels-run")
        with gr.Column():
            maps_output = gr.Image(label="Feature maps", format="png", type="numpy", interactive=False,
                                   elem_id="features-maps")
            maps_status = gr.Textbox(label="Feature maps", interactive=False, elem_id="features-maps-status")
            kernels_output = gr.Image(label="First-layer kernels", format="png", type="numpy", interactive=False,
                                      elem_id="features-kernels")
            kernels_status = gr.Textbox(label="Kernels", interactive=False, elem_id="features-kernels-status")
    # .input, not .change: a restored recipe sets the backbone and its layer together. The layer dropdowns
    # accept any name (API callers pick a backbone and its layer in one call); the core checks it.
    backbone.input(features_layer_update, backbone, layer, queue=False)
    backbone.change(features_layer_update, backbone, maps_layer, queue=False)
    inputs = [backbone, weights, layer, filters, objective, class_index, negative, mode, steps, size, seed]
    shown = gr.State()
    event = run.click(run_filters, inputs, [output, status, download, shown], concurrency_id=TF_JOBS,
                      trigger_mode="once", show_progress_on=[status], api_name="filters")
    wire_stop(stop, event, status, download, shown)
    # Click-free: a new photo, layer or set of weights redraws the maps (one forward pass each).
    maps_inputs, maps_outputs = [photo, backbone, weights, maps_layer], [maps_output, maps_status]
    photo.change(show_feature_maps, maps_inputs, maps_outputs, concurrency_id=TF_JOBS,
                 show_progress_on=[maps_status], api_name="featuremaps")
    for trigger in (maps_layer.change, weights.change):
        trigger(show_feature_maps, maps_inputs, maps_outputs, concurrency_id=TF_JOBS,
                show_progress_on=[maps_status], api_visibility="private")
    show_kernels_button.click(show_kernels, [backbone, weights], [kernels_output, kernels_status],
                              concurrency_id=TF_JOBS, show_progress_on=[kernels_status], api_name="kernels")


# --- Style transfer tab --------------------------------------------------------------------------------------

STYLE_EXPLANATION = (
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
    "preset is section 9.3: VGG19, Adam (learning rate 5), 1000 iterations from the photo.")
STYLE_EXAMPLES = [str(path) for path in sorted((ASSETS / "styles").glob("*.jpg"))]
STYLE_SLOTS = 3
STYLE_PRESETS = [("the network's own", "network"), ("the chapter (section 9.3)", "chapter")]
INIT_LABELS = {"recolored": "the photo in the style's colours", "content": "the photo", "noise": "noise",
               "style": "the style image"}
LOSS_LABELS = {"total": "total", "content": "content", "style": "style", "tv": "total variation"}


def style_loss_weight_sliders(config) -> list[float]:
    """log10 of the (content, style, total variation) weights a config uses: the log-scale sliders' values."""
    return [round(math.log10(max(weight, 1e-12)), 2) for weight in config.loss_weights()]


def style_network_updates(backbone: str) -> list:
    """The weight sliders set to the backbone's own loss weights."""
    from neuralart.style_transfer import StyleConfig

    return [gr.update(value=value) for value in style_loss_weight_sliders(StyleConfig(backbone=backbone))]


def style_preset_updates(preset: str, backbone: str) -> list:
    """Every setting of a preset: backbone, weights radio, the three loss-weight sliders, then iterations,
    optimizer, init, size, style scale, colours, coarse-to-fine and smoothing."""
    from neuralart.style_transfer import StyleConfig

    config = StyleConfig.preset("chapter") if preset == "chapter" else StyleConfig(backbone=backbone)
    return [gr.update(value=config.backbone), gr.update(value="imagenet"),
            *[gr.update(value=value) for value in style_loss_weight_sliders(config)],
            *[gr.update(value=getattr(config, field)) for field in
              ("iterations", "optimizer", "init", "max_side", "style_scale", "preserve_colors", "multiscale",
               "smoothing")]]


def style_config_from_widgets(blend, backbone, weights, log_content, log_style, log_tv, iterations, optimizer,
                              init, max_side, style_scale, preserve_colors, multiscale, smoothing, seed):
    from neuralart.style_transfer import StyleConfig

    return StyleConfig(backbone=backbone, weights=weights_option(weights), content_weight=10.0 ** log_content,
                       style_weight=10.0 ** log_style, tv_weight=10.0 ** log_tv,
                       style_blend=tuple(blend) if len(blend) > 1 else None, iterations=iterations,
                       optimizer=optimizer, init=init, max_side=max_side, style_scale=style_scale,
                       preserve_colors=preserve_colors, multiscale=bool(multiscale), smoothing=smoothing, seed=seed)


def style_status_line(frame: Frame, elapsed: float) -> str:
    losses = " · ".join(f"{LOSS_LABELS.get(name, name)} {value:.3g}" for name, value in frame.losses.items())
    return f"{frame.stage} · iteration {frame.step}/{frame.total_steps} · {losses} · {elapsed:.1f} s"


def loss_history_table(history: list[tuple[int, str, float]]):
    """The live plot's data: one row per (iteration, loss term), the loss as log10 (terms span decades)."""
    import pandas as pd

    rows = [(step, LOSS_LABELS.get(name, name), math.log10(value)) for step, name, value in history if value > 0]
    return pd.DataFrame({"iteration": pd.Series([row[0] for row in rows], dtype="int64"),
                         "loss": pd.Series([row[1] for row in rows], dtype="str"),
                         "log10 loss": pd.Series([row[2] for row in rows], dtype="float64")})


def run_style(content_path, *values):
    """Stream a style transfer run: (image, status, loss plot, PNG download, what it showed)."""
    from neuralart.style_transfer import stylize

    chosen = [(path, weight) for path, weight in zip(values[:STYLE_SLOTS], values[STYLE_SLOTS:2 * STYLE_SLOTS])
              if path]
    if not content_path or not chosen:
        raise gr.Error("Upload a content photo and at least one style image (or pick examples) first.")
    try:
        config = style_config_from_widgets([weight for _, weight in chosen], *values[2 * STYLE_SLOTS:])
    except ValueError as error:
        raise gr.Error(str(error)) from error
    recipe = recipes.recipe_for("style", config)
    frames = yield from start_streaming(lambda: stylize(content_path, [path for path, _ in chosen], config), 5,
                                        recipe)
    history, last = [], None
    for frame, elapsed, send_image in stream_frames(frames):
        last = frame
        history.extend((frame.step, name, value) for name, value in frame.losses.items())
        status = style_status_line(frame, elapsed)
        # The loss plot follows the image: its table is re-sent whole each time.
        yield ((frame.image, status, loss_history_table(history), gr.update(), shown_state(recipe, frame.image))
               if send_image
               else status_update(status, 5))
    if last is not None:
        yield (last.image, final_status_line(last, elapsed, style_status_line), loss_history_table(history),
               write_png(last.image, recipe), gr.update())
    else:
        yield status_update(NO_FRAME_STATUS, 5)


def build_style_tab() -> None:
    from neuralart.style_transfer import INITS, StyleConfig

    defaults = StyleConfig()
    log_content, log_style, log_tv = style_loss_weight_sliders(defaults)
    gr.Markdown("**Neural style transfer** repaints a photo with the textures of other images: the result keeps "
                "what a deep layer sees in the photo and takes the feature correlations of the style images.")
    with gr.Row():
        with gr.Column():
            content = photo_input("Content photo", "style-content")
            gr.Examples(EXAMPLE_PHOTOS, inputs=[content], label="Example photos")
            styles = [photo_input("Style 1", "style-image-1")]
            gr.Examples(STYLE_EXAMPLES, inputs=[styles[0]], label="Example styles")
            with gr.Accordion("More styles, blended", open=False):
                styles += [photo_input(f"Style {index}", f"style-image-{index}")
                           for index in range(2, STYLE_SLOTS + 1)]
                blends = [gr.Slider(0, 1, value=1.0, step=0.05, label=f"Blend weight of style {index}",
                                    elem_id=f"style-blend-{index}") for index in range(1, STYLE_SLOTS + 1)]
            preset = gr.Radio(STYLE_PRESETS, value="network", label="Preset", elem_id="style-preset")
            backbone = gr.Dropdown(backbone_choices("style"), value=defaults.backbone, label="Network",
                                   elem_id="style-backbone")
            weights = gr.Radio(WEIGHT_CHOICES, value="imagenet", label="Weights", elem_id="style-weights")
            content_weight = gr.Slider(-2, 8, value=log_content, step=0.1, label="Content weight (log10)",
                                       elem_id="style-content-weight")
            style_weight = gr.Slider(-6, 6, value=log_style, step=0.1, label="Style weight (log10)",
                                     elem_id="style-style-weight")
            tv_weight = gr.Slider(-10, 0, value=log_tv, step=0.1, label="Total variation weight (log10)",
                                  elem_id="style-tv-weight")
            iterations = gr.Slider(0, 1000, value=defaults.iterations, step=10, label="Iterations (per scale)",
                                   elem_id="style-iterations")
            optimizer = gr.Radio([("L-BFGS", "lbfgs"), ("Adam", "adam")], value=defaults.optimizer,
                                 label="Optimizer", elem_id="style-optimizer")
            init = gr.Radio([(INIT_LABELS[name], name) for name in INITS], value=defaults.init, label="Start from",
                            elem_id="style-init")
            max_side = gr.Slider(64, 1024, value=defaults.max_side, step=32, label="Longest side (px)",
                                 elem_id="style-max-side")
            style_scale = gr.Slider(0.25, 2.0, value=defaults.style_scale, step=0.05,
                                    label="Style scale (style image size relative to the result)")
            preserve_colors = gr.Radio([("no", "none"), ("luminance only", "luminance"),
                                        ("match the style's colours", "histogram")], value=defaults.preserve_colors,
                                       label="Keep the photo's colours", elem_id="style-colors")
            multiscale = gr.Checkbox(value=defaults.multiscale, label="Coarse to fine", elem_id="style-multiscale")
            smoothing = gr.Slider(0, 10, value=defaults.smoothing, step=0.5, label="L-BFGS smoothing",
                                  info="How much broader changes are favoured; 0 steps pixel by pixel",
                                  elem_id="style-smoothing")
            seed, run, stop = seed_and_buttons(defaults.seed, "style")
            log_sliders = [content_weight, style_weight, tv_weight]
            add_recipe_drop("style", {"backbone": backbone, "weights": weights, "iterations": iterations,
                                      "optimizer": optimizer, "init": init, "max_side": max_side,
                                      "style_scale": style_scale, "preserve_colors": preserve_colors,
                                      "multiscale": multiscale, "smoothing": smoothing, "seed": seed},
                            extra=style_recipe_extra, extra_outputs=[*log_sliders, *blends],
                            extra_fields=["content_weight", "style_weight", "tv_weight", "style_blend"])
        with results_column():
            output = gr.Image(label="Result", format="png", type="numpy", interactive=False, elem_id="style-output")
            status = gr.Textbox(label="Status", interactive=False, elem_id="style-status")
            # Starts empty (None): an empty DataFrame here leaves the plot without lines for the whole run. No
            # height: with one, Gradio draws the chart that tall and cuts off the legend below it.
            plot = gr.LinePlot(None, x="iteration", y="log10 loss", color="loss",
                               label="Losses (log10) by iteration", elem_id="style-losses")
            download = gr.File(label="PNG (with its recipe)", interactive=False, elem_id="style-download")
    gr.Markdown(STYLE_EXPLANATION)
    # .input, not .change: a restored recipe or a preset sets the network and the weights together.
    backbone.input(style_network_updates, backbone, log_sliders, queue=False)
    preset.input(style_preset_updates, [preset, backbone],
                 [backbone, weights, *log_sliders, iterations, optimizer, init, max_side, style_scale,
                  preserve_colors, multiscale, smoothing], queue=False)
    inputs = [content, *styles, *blends, backbone, weights, *log_sliders, iterations, optimizer, init, max_side,
              style_scale, preserve_colors, multiscale, smoothing, seed]
    shown = gr.State()
    event = run.click(run_style, inputs, [output, status, plot, download, shown], concurrency_id=TF_JOBS,
                      trigger_mode="once", show_progress_on=[status], api_name="style")
    wire_stop(stop, event, status, download, shown)


def style_recipe_extra(config) -> list:
    """Recipe values no plain widget shows: the loss weights (log-scale sliders) and the blend weights."""
    blend = list(config.style_blend or [])
    return [*[gr.update(value=value) for value in style_loss_weight_sliders(config)],
            *[gr.update(value=blend[index]) if index < len(blend) else gr.update() for index in range(STYLE_SLOTS)]]


# --- the app -------------------------------------------------------------------------------------------------

def build_demo() -> gr.Blocks:
    """The whole app. Builds widgets only: no network is loaded until a job runs."""
    harden_pillow()
    with gr.Blocks(title="neural art studio", delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# neural art studio\nSee what convolutional networks see — and make art from it.")
        with gr.Tab("Feature visualization", id="features"):
            build_features_tab()
        with gr.Tab("DeepDream", id="dream"):
            build_dream_tab()
        with gr.Tab("Style transfer", id="style"):
            build_style_tab()
    demo.queue(default_concurrency_limit=1, max_size=int(os.environ.get("NEURALART_QUEUE_SIZE", "20")),
               api_open=False)
    guard_number_inputs(demo)
    return demo


def launch_options() -> dict:
    """The hardened launch settings (docs/serving.md).

    Listens on GRADIO_SERVER_NAME, else 0.0.0.0 on a Hugging Face Space (SPACE_ID is set there) and 127.0.0.1
    anywhere else; GRADIO_SERVER_PORT picks the port, else Gradio takes the first free one from 7860.
    NEURALART_MAX_FILE_SIZE bounds uploads: a 40-megapixel phone JPEG is 10-20 MB, and the loader refuses
    images above its pixel limit before decoding them.
    """
    port = os.environ.get("GRADIO_SERVER_PORT")
    default_host = "0.0.0.0" if os.environ.get("SPACE_ID") else "127.0.0.1"
    return dict(server_name=os.environ.get("GRADIO_SERVER_NAME", default_host),
                server_port=int(port) if port else None,
                max_file_size=os.environ.get("NEURALART_MAX_FILE_SIZE", "20mb"), show_error=False,
                enable_monitoring=False, share=False, ssr_mode=False, mcp_server=False, run_history=False,
                strict_cors=True, css=APP_CSS)


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    build_demo().launch(**launch_options())


if __name__ == "__main__":
    main()
