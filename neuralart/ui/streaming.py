"""Streaming a technique's frames to the page, written once for every tab.

A run's event has the outputs (image, status, *extras, download, shown): the image streams, the status line follows
every chunk, a tab's extras (the octave gallery, the loss plot) follow the frames, the download offers the final
PNG with its recipe, and `shown` (a gr.State) keeps the recipe and the last image sent so that Stop can still offer
it. Expected failures become messages the user can act on; the time budget and errors mid-stream end a run with
a warning and the last good image.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping

import gradio as gr

from .. import images, recipes
from ..cluster import WorkerLostError, app_executor
from ..frames import Frame
from ..images import ImageInputError
from ..jobs import Job
from ..loop import limit_time
from ..models import WeightsUnavailableError
from .networks import missing_weights_words, ready_instead
from .status import details_markdown, final_status_line, progress_html, status_line

LOG = logging.getLogger("neuralart.app")
# One concurrency group for every TensorFlow job: on a 2-core machine two at once only slow both down.
TF_JOBS = "tensorflow"
EXPECTED_ERRORS = (ImageInputError, WeightsUnavailableError, ValueError, WorkerLostError)
# The status of a run that ended before its first image (the warning toast says why).
NO_FRAME_STATUS = "Stopped before the first image."
# The browser is sent a new image at most this often (and always each stage's last, and the run's); in between,
# only the status line follows the frames. Each image sent costs the server a PNG encoding on the CPU the
# optimisation needs.
IMAGE_INTERVAL_SECONDS = 0.4
# After a run's event ends, a status line still showing progress (it ends with the elapsed seconds) means that
# Stop cancelled it: the server closed the run's generator, which could say nothing more. The mark is added then,
# in the page, and not when Stop is clicked: frames already on their way would overwrite it.
MARK_STOPPED_JS = r"(status) => /^(?!Not started).* · \d+\.\d s$/.test(status || '') ? status + ' · stopped' : status"
STOPPED_MARK = " · stopped"  # What MARK_STOPPED_JS appends.


def time_budget_seconds() -> float | None:
    """Wall-clock budget per job, from NEURALART_TIME_BUDGET (seconds; 0 means none)."""
    seconds = float(os.environ.get("NEURALART_TIME_BUDGET", "600"))
    return seconds if seconds > 0 else None


def executor():
    """Where the app's jobs run: in this process, or on the Ray cluster that NEURALART_RAY_ADDRESS names
    (neuralart.cluster, docs/scaling.md)."""
    return app_executor()


def user_error(error: Exception) -> gr.Error:
    """An expected failure as the message a user sees."""
    return gr.Error(str(error))


def start_run(make: Callable, technique: str = ""):
    """Call `make` (a technique's generator, or a one-shot result), turning expected failures into messages the
    user can act on and unexpected ones into a generic message (the traceback goes to the log)."""
    try:
        return make()
    except WeightsUnavailableError as error:
        raise gr.Error(missing_weights_words(error, technique)) from error
    except EXPECTED_ERRORS as error:
        raise user_error(error) from error
    except Exception as error:
        LOG.exception("run failed to start")
        raise gr.Error("Something went wrong while starting the run; please try other settings.") from error


def shown_state(recipe: Mapping | None, image=None, ready_instead: str | None = None) -> dict:
    """What a run keeps on the server as it goes: its recipe and the last image it sent (the image shown in the
    page cannot serve: a streamed image reaches a later event's handler as the update that carried it, without
    its file), and the ready network to offer when it was refused for missing weights."""
    return {"recipe": recipe, "image": image, "ready_instead": ready_instead}


def outputs_update(extras: int, status=None, progress=None, details=None, shown=None) -> tuple:
    """A run's outputs (image, status, progress, details, *extras, download, shown) with only these changed."""
    def kept(value):
        return gr.update() if value is None else value
    return (gr.update(), kept(status), kept(progress), kept(details), *[gr.update()] * extras, gr.update(),
            kept(shown))


def stream_run(make_job: Callable[[], Job], technique: str, *, extras: int = 0,
               follow: Callable[[Frame], tuple] | None = None, line: Callable[[Frame, float], str] = status_line,
               labels: Mapping[str, str] | None = None):
    """A run handler's whole stream, for the job `make_job()` describes (a refused setting or photo is said in
    the status line before its message): "Loading the network…", then each frame (its image at most every
    IMAGE_INTERVAL_SECONDS; the status line, progress bar and details after every chunk), then the final image
    with its PNG carrying the job's recipe. `follow(frame)` gives the tab's `extras` values for each frame."""
    try:
        job = start_run(make_job, technique)
    except gr.Error as error:
        yield refused(error, extras, technique)
        raise
    recipe = recipes.recipe_for(job.technique, job.config)
    yield (gr.update(), "Loading the network…", progress_html(None, 0.0), "", *[gr.update()] * extras, None,
           shown_state(recipe))
    try:
        frames = start_run(lambda: executor().frames(job), technique)
    except gr.Error as error:
        yield refused(error, extras, technique)
        raise
    last, elapsed, followed = None, 0.0, ()
    for frame, elapsed, send_image in stream_frames(frames):
        last, status, progress = frame, line(frame, elapsed), progress_html(frame, elapsed)
        followed = follow(frame) if follow else ()
        yield ((frame.image, status, progress, details_markdown(frame, labels), *followed, gr.update(),
                shown_state(recipe, frame.image)) if send_image else outputs_update(extras, status, progress))
    if last is None:
        yield outputs_update(extras, NO_FRAME_STATUS, progress_html(None, elapsed, "stopped"))
        return
    yield (last.image, final_status_line(last, elapsed, line),
           progress_html(last, elapsed, "done" if last.done else "stopped early"), details_markdown(last, labels),
           *followed, write_png(last.image, recipe), gr.update())


def refused(error: gr.Error, extras: int, technique: str) -> tuple:
    """The outputs of a run that could not start: why, in the status line (which stays readable after the error
    toast fades), and, when weights were missing, the ready network to offer instead."""
    cause = error.__cause__
    instead = ready_instead(technique, cause.backbone_name) if isinstance(cause, WeightsUnavailableError) else None
    return outputs_update(extras, f"Not started: {error.message}", progress_html(None, 0.0, "not started"),
                          shown=shown_state(None, None, instead))


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


def write_png(image, recipe: Mapping, suffix: str = "") -> str:
    """`image` as a PNG carrying `recipe`, named after the technique and seed, in a fresh temporary folder
    (Gradio serves a copy)."""
    folder = tempfile.mkdtemp(prefix="neuralart-")
    path = os.path.join(folder, f"{recipe['technique']}-seed{recipe['config'].get('seed', 0)}{suffix}.png")
    images.save_png(path, image, recipe)
    return path


def wire_stop(stop: gr.Button, event, status: gr.Textbox, download: gr.File, shown: gr.State) -> None:
    """Stop cancels `event` (the tab's run). When the run ends, a stopped run's status line is marked so, and
    the last image it showed is offered as a PNG with its recipe."""
    stop.click(None, None, None, cancels=[event])
    marked = event.then(None, [status], [status], js=MARK_STOPPED_JS, queue=False)
    marked.then(offer_stopped_result, [status, shown], [download], queue=False, api_visibility="private")


def offer_stopped_result(status: str | None, shown: Mapping | None):
    """The PNG download of a stopped run: the last image it showed, with its recipe. A run that finished (or
    ended early by itself) has offered its own PNG already, and one that never showed an image has nothing."""
    if not shown or shown["image"] is None or not (status or "").endswith(STOPPED_MARK):
        return gr.update()
    return write_png(shown["image"], shown["recipe"], "-stopped")


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
