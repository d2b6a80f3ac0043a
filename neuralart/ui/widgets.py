"""Widgets every tab uses, built from the configs' settings (label, range, choices) so nothing is written twice:
sliders, radios and checkboxes for config fields, the photo upload, the seed and Run/Stop row, the results column.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import numpy as np

from .. import images
from ..models import REGISTRY
from ..settings import label_of, settings_of

ASSETS = Path(__file__).resolve().parents[2] / "assets"
WEIGHT_CHOICES = [("ImageNet (trained)", "imagenet"), ("random (untrained)", "random")]
# Log-scale sliders are named after their field with this prefix; their value is log10 of the field's.
LOG_PREFIX = "log10_"
# An upload is checked by decoding it at most this large: JPEGs decode at a fraction of their size, quickly.
UPLOAD_CHECK_SIDE = 256


def example_photos(folder: str = "") -> list[str]:
    """The shipped example images (assets/*.jpg, or those of a subfolder such as "styles")."""
    return [str(path) for path in sorted((ASSETS / folder).glob("*.jpg"))]


def _default(config_class, name: str):
    return getattr(config_class(), name)


def slider(config_class, name: str, value=None, **options) -> gr.Slider:
    """A slider for a numeric config field: its label and range from the field's setting, its default value."""
    described = settings_of(config_class)[name]
    minimum, maximum, step = described.slider or (described.low, described.high, 1 if described.integer else None)
    value = _default(config_class, name) if value is None else value
    label = label_of(config_class, name)
    if described.none_means and minimum == 0 and described.low and described.low > 0:  # 0 stands for None here.
        label += f" (0 = {described.none_means})"
        value = 0 if value is None else value
    return gr.Slider(minimum, maximum, value=value, step=step, label=options.pop("label", label), **options)


def log_slider(config_class, name: str, weight: float, **options) -> gr.Slider:
    """A slider showing log10 of a positive config field (a loss weight), starting at log10(`weight`)."""
    described = settings_of(config_class)[name]
    minimum, maximum, step = described.slider
    return gr.Slider(minimum, maximum, value=to_log(weight), step=step,
                     label=f"{label_of(config_class, name)} (log10)", **options)


def to_log(weight: float) -> float:
    """A log slider's value for `weight`, unrounded, so that `from_log` gives `weight` back exactly."""
    return math.log10(max(weight, 1e-12))


def from_log(value: float) -> float:
    """The weight a log slider's value stands for, to 6 significant digits (10 ** log10(3.0) is not exactly 3)."""
    return float(f"{10.0 ** value:.6g}")


def choice(config_class, name: str, labels: dict[str, str] | None = None, **options) -> gr.Radio:
    """A radio for a config field with choices, each shown with its label from `labels` (or its own name)."""
    described = settings_of(config_class)[name]
    shown = [((labels or {}).get(value, value), value) for value in described.choices]
    return gr.Radio(shown, value=_default(config_class, name), label=options.pop("label", label_of(config_class,
                                                                                                  name)), **options)


def checkbox(config_class, name: str, **options) -> gr.Checkbox:
    return gr.Checkbox(value=_default(config_class, name), label=options.pop("label", label_of(config_class, name)),
                       **options)


def backbone_dropdown(config_class, technique: str, elem_id: str) -> gr.Dropdown:
    """The network dropdown: the registry's networks that have defaults for `technique`."""
    return gr.Dropdown(backbone_choices(technique), value=_default(config_class, "backbone"),
                       label=label_of(config_class, "backbone"), elem_id=elem_id)


def backbone_choices(technique: str | None = None) -> list[tuple[str, str]]:
    return [(spec.title, name) for name, spec in REGISTRY.items()
            if technique is None or technique in spec.defaults]


def weights_radio(elem_id: str) -> gr.Radio:
    return gr.Radio(WEIGHT_CHOICES, value="imagenet", label="Weights", elem_id=elem_id)


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


def seed_and_buttons(config_class, tab: str):
    """The seed box and the Run and Stop buttons every tab ends its settings with (ids "<tab>-run", "<tab>-stop")."""
    seed_box = gr.Number(value=_default(config_class, "seed"), precision=0, label=label_of(config_class, "seed"),
                         minimum=0)
    with gr.Row():
        run = gr.Button("Run", variant="primary", elem_id=f"{tab}-run")
        stop = gr.Button("Stop", variant="stop", elem_id=f"{tab}-stop")
    return seed_box, run, stop


def results_column() -> gr.Column:
    """The column of a technique's streamed results, kept in view while its settings scroll (see APP_CSS)."""
    return gr.Column(elem_classes="results-column")


@dataclasses.dataclass
class RunResults:
    """The widgets every run shows its results in, by id "<tab>-<part>": the image, a progress bar with the time
    left (where the page's own busy and error marks go, so the status line stays readable), the status line, the
    button offering a ready network, the download (a small button, empty until a run ends) and the expert's
    details."""

    image: gr.Image
    progress: gr.HTML
    status: gr.Textbox
    switch: gr.Button
    download: gr.DownloadButton
    details: gr.Markdown

    def outputs(self, extras: tuple = (), shown: gr.State | None = None) -> list:
        """The run event's outputs, in the order `streaming.stream_run` yields them."""
        return [self.image, self.status, self.progress, self.details, *extras, self.download, shown]


def run_results(tab: str, image_label: str) -> RunResults:
    image = gr.Image(label=image_label, format="png", type="numpy", interactive=False, elem_id=f"{tab}-output",
                     elem_classes="run-image")
    progress = gr.HTML("", elem_id=f"{tab}-progress", elem_classes="run-progress-box")
    status = gr.Textbox(label="Status", interactive=False, lines=1, elem_id=f"{tab}-status")
    switch = gr.Button("Use it instead", visible=False, size="sm", elem_id=f"{tab}-use-ready-network")
    download = gr.DownloadButton("Download the PNG (with its settings inside)", value=None, size="sm",
                                 elem_id=f"{tab}-download")
    with gr.Accordion("Details", open=False, elem_id=f"{tab}-details-box"):
        details = gr.Markdown("", elem_id=f"{tab}-details")
    return RunResults(image, progress, status, switch, download, details)


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


def checked_photo(path: str | None, label: str) -> str:
    """`path` if it holds an image we can use, else a ValueError naming the slot (`label`) and what is wrong."""
    if not path:
        raise ValueError(f"{label}: upload an image (or pick an example) first.")
    try:
        images.load_image(path, max_side=UPLOAD_CHECK_SIDE)
    except images.ImageInputError as error:
        raise ValueError(f"{label}: {error}") from error
    return path


def check_uploads(photos: dict[str, gr.Image], status: gr.Textbox) -> None:
    """Say what is wrong with a dropped file at once, rather than leave a broken image until Run: a toast and the
    status line name the slot and the reason. (The upload is not cleared from here: an event that updates an
    image widget gives the session its own copy of it, which would decode uploads itself; see `photo_input`.)"""
    for label, photo in photos.items():
        # Queued, so the warning reaches the page as a toast, but in no concurrency group: no run waits for it.
        photo.upload(lambda path, label=label: _checked_upload(path, label), photo, status, concurrency_limit=None,
                     api_visibility="private")


def _checked_upload(path: str | None, label: str):
    try:
        checked_photo(path, label)
    except ValueError as error:
        gr.Warning(str(error))
        return f"Not used: {error}"
    return gr.update()


def painted_mask(painting) -> np.ndarray | None:
    """What was painted in an image editor (every layer's strokes, by their opacity) as weights 0..1, or None
    when nothing is painted."""
    layers = [layer for layer in (painting or {}).get("layers") or [] if layer is not None and len(layer)]
    marks = [images.mask_values(layer, layer=True) for layer in layers]
    if not marks:
        return None
    mask = np.maximum.reduce(marks) if len({mark.shape for mark in marks}) == 1 else marks[0]
    return mask if mask.max() > 0 else None
