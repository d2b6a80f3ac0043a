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


def start_run(make: Callable):
    """Call `make` (a technique's generator, or a one-shot result), turning expected failures into messages the
    user can act on and unexpected ones into a generic message (the traceback goes to the log)."""
    try:
        return make()
    except EXPECTED_ERRORS as error:
        raise user_error(error) from error
    except Exception as error:
        LOG.exception("run failed to start")
        raise gr.Error("Something went wrong while starting the run; please try other settings.") from error


def checked_config(make: Callable):
    """A config built from widget values; a value it refuses becomes the message."""
    try:
        return make()
    except ValueError as error:
        raise user_error(error) from error


def shown_state(recipe: Mapping, image=None) -> dict:
    """What a run keeps on the server as it goes: its recipe and the last image it sent. The image shown in the
    page cannot serve: a streamed image reaches a later event's handler as the update that carried it, without
    its file."""
    return {"recipe": recipe, "image": image}


def status_update(text: str, extras: int) -> tuple:
    """A run's outputs with only its status box changed."""
    return (gr.update(), text, *[gr.update()] * extras, gr.update(), gr.update())


def stream_run(job: Job, *, extras: int = 0, follow: Callable[[Frame], tuple] | None = None,
               line: Callable[[Frame, float], str] | None = None):
    """A run handler's whole stream: "Loading the network…", then each frame (its image at most every
    IMAGE_INTERVAL_SECONDS), then the final image with its PNG carrying the job's recipe. `follow(frame)` gives
    the tab's `extras` values for each frame; `line` writes the status line (default `status_line`)."""
    line = line or status_line
    recipe = recipes.recipe_for(job.technique, job.config)
    yield (*status_update("Loading the network…", extras)[:-1], shown_state(recipe))
    try:
        frames = start_run(lambda: executor().frames(job))
    except gr.Error as error:
        yield status_update(f"Not started: {error.message}", extras)
        raise
    last, elapsed, followed = None, 0.0, ()
    for frame, elapsed, send_image in stream_frames(frames):
        last, status = frame, line(frame, elapsed)
        followed = follow(frame) if follow else ()
        yield ((frame.image, status, *followed, gr.update(), shown_state(recipe, frame.image)) if send_image
               else status_update(status, extras))
    if last is None:
        yield status_update(NO_FRAME_STATUS, extras)
        return
    yield (last.image, final_status_line(last, elapsed, line), *followed, write_png(last.image, recipe),
           gr.update())


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
    return f"{frame.stage} · iteration {frame.iteration}/{frame.total_iterations} · {losses} · {elapsed:.1f} s"


def final_status_line(frame: Frame, elapsed: float, line: Callable[[Frame, float], str] | None = None) -> str:
    """The status of a run's last frame, as `line` (default `status_line`) writes it: done, or stopped early
    (time budget or an error, already warned)."""
    return (line or status_line)(frame, elapsed) + (" · done" if frame.done else " · stopped early")


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
