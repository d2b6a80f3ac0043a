"""The DeepDream tab's zoom section: the photo dreamed, magnified a little and dreamed again, frame after frame.

The frames stream in as they come and each finished one is kept as a PNG in a folder of its own; when the run
ends, finished or stopped, the frames kept become a WebM video that plays in the page and an animated WebP.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import gradio as gr

from .. import images, recipes
from ..deepdream import ZoomConfig
from ..jobs import Job
from . import widgets
from .forms import config_values
from .streaming import TF_JOBS, stream_run, wire_stop

# The zoom's own widgets, by ZoomConfig field; the network, layers, channels, guide, step size and seed are the
# DeepDream form's.
ZOOM_FIELDS = ("frames", "zoom", "rotate", "shift_x", "shift_y", "blend", "fps", "iterations", "octaves", "max_side")
FRAME_PATTERN = "frame_{:05d}.png"


def zoom_config(values: Mapping, layers: Mapping[str, float] | None) -> ZoomConfig:
    return ZoomConfig(**config_values(ZoomConfig, values), layers=layers)


def run_zoom(make_config, photo, guide=None, **values):
    """Stream a zoom animation: (image, status, progress, details, frames kept, PNG download, what it showed)."""
    kept = {"folder": tempfile.mkdtemp(prefix="neuralart-zoom-"), "fps": None, "recipe": None}
    count = [0]

    def job() -> Job:
        named = {"image": widgets.checked_photo(photo, "Photo")}
        if guide:
            named["guide"] = widgets.checked_photo(guide, "Guide image")
        config = make_config(values)
        kept.update(fps=config.fps, recipe=recipes.recipe_for("zoom", config))
        return Job("zoom", config, named)

    def follow(frame):
        if frame.stage_done:
            count[0] += 1
            images.save_png(Path(kept["folder"]) / FRAME_PATTERN.format(count[0]), frame.image, kept["recipe"])
        return (kept,)
    yield from stream_run(job, "dream", extras=1, follow=follow)


def encode_kept_frames(kept: Mapping | None):
    """The frames a run kept (all of them, or those made before Stop) as a WebM video and an animated WebP."""
    paths = sorted(Path(kept["folder"]).glob("frame_*.png")) if kept else []
    if not paths:
        return None, None
    frames = [images.load_image(str(path)) for path in paths]
    video = os.path.join(kept["folder"], f"zoom-{len(frames)}-frames.webm")
    animated = os.path.join(kept["folder"], f"zoom-{len(frames)}-frames.webp")
    images.write_animation(video, frames, kept["fps"])
    images.write_animation(animated, frames, kept["fps"])
    return video, [video, animated]


def build(photo, guide, form: Mapping, handler) -> None:
    """The section: its settings, Run and Stop, the streamed frame, the video and the downloads. `form` is the
    DeepDream form (its network, layers and channels are the zoom's too); `handler(photo, guide, **values)` streams
    the run (`run_zoom` with the tab's way of reading layers)."""
    with gr.Accordion("Zoom animation: dream, zoom in, dream again", open=False):
        gr.Markdown("Each frame dreams the previous one, magnified a little (and turned and moved, if you like). "
                    "The frames stream in as they come; when the run ends, or you stop it, the frames made become "
                    "a video. *Temporal blend* keeps part of the previous frame in each new one, for a calmer "
                    "video.")
        with gr.Row():
            with gr.Column():
                zoom_form = {name: widgets.slider(ZoomConfig, name, elem_id=f"zoom-{name.replace('_', '-')}")
                             for name in ZOOM_FIELDS}
                with gr.Row():
                    run = gr.Button("Run zoom", variant="primary", elem_id="zoom-run")
                    stop = gr.Button("Stop", variant="stop", elem_id="zoom-stop")
            with gr.Column():
                results = widgets.run_results("zoom", "Frame")
                video = gr.Video(label="Video", interactive=False, loop=True, elem_id="zoom-video")
                files = gr.File(label="Video (WebM) and animated WebP", file_count="multiple", interactive=False,
                                elem_id="zoom-files")
    kept, shown = gr.State(), gr.State()
    shared = {name: widget for name, widget in form.items() if name not in ZOOM_FIELDS}
    event = run.click(handler, inputs_kwargs={"photo": photo, "guide": guide, **shared, **zoom_form},
                      outputs=results.outputs((kept,), shown), concurrency_id=TF_JOBS, trigger_mode="once",
                      show_progress_on=[results.progress], api_name="zoom")
    wire_stop(stop, event, results.status, results.download, shown)
    event.then(encode_kept_frames, kept, [video, files], concurrency_id=TF_JOBS, api_visibility="private")
