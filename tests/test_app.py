"""The app as a server: launched in-process (or as `python app.py`) and driven by gradio_client and plain HTTP.

What a classroom does to it: streams and cancels runs, uploads every file in tests/hostile_inputs.py, scripts the
API with absurd numbers, probes for files, opens eight sessions at once and runs fifty jobs in a row. Every run
uses SqueezeNet with random weights (no download), images of 64-80 pixels and a few iterations, so each job
takes a fraction of a second.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import hostile_inputs
from conftest import ROOT

PHOTO = ROOT / "assets" / "coffee.jpg"
STYLE_PICTURE = ROOT / "assets" / "rocket.jpg"
SHORT_JOB = dict(backbone="squeezenet", weights="random", octaves=1, octave_scale=1.4, iterations=2, step_size=0.01,
                 max_loss=0, max_side=64, seed=0)
SQUEEZENET_LAYERS = ("fire2_concat", "fire3_concat", "fire4_concat", "fire5_concat", "fire6_concat",
                     "fire7_concat", "fire8_concat", "fire9_concat")

pytestmark = pytest.mark.slow


# --- launching -----------------------------------------------------------------------------------------------

@contextlib.contextmanager
def served_app(temp_folder: Path, **environment: str):
    """build_demo() launched in this process with the hardened options on a free port; yields (demo, url)."""
    import app

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADIO_TEMP_DIR", str(temp_folder))  # Fresh Gradio cache: uploads and outputs land here.
        patch.delenv("GRADIO_SERVER_PORT", raising=False)
        for name, value in environment.items():
            patch.setenv(name, value)
        demo = app.build_demo()
        _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, **app.launch_options())
        try:
            yield demo, url
        finally:
            demo.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with served_app(tmp_path_factory.mktemp("gradio")) as (demo, url):
        yield url


@pytest.fixture
def client(server, tmp_path):
    from gradio_client import Client

    return Client(server, verbose=False, download_files=str(tmp_path))


def dream_values(layers=None, **overrides) -> dict:
    """The DeepDream tab's named settings (what /dream takes besides the photo): settings and layer sliders."""
    from neuralart.ui import dream_tab

    layer_values = list(layers or [1.0] * len(SQUEEZENET_LAYERS))
    layer_values += [0.0] * (dream_tab.MAX_LAYER_SLIDERS - len(layer_values))
    sliders = {dream_tab.layer_name(index): value for index, value in enumerate(layer_values)}
    return {**SHORT_JOB, **overrides, **sliders}


def dream_kwargs(photo=PHOTO, layers=None, **overrides) -> dict:
    """The /dream endpoint's named arguments: the photo (as an upload) and the settings."""
    from gradio_client import handle_file

    return {"photo": handle_file(str(photo)), **dream_values(layers, **overrides)}


def cancel_a_long_dream_after_three_images(client) -> float:
    """Start a 40-chunk dream (12 s if never stopped), cancel it once three images have arrived; when it was."""
    job = client.submit(**dream_kwargs(iterations=200), api_name="/dream")
    images_seen = 0
    for output in job:
        images_seen += isinstance(output[0], str)
        if images_seen == 3:
            job.cancel()
            return time.monotonic()
    raise AssertionError(f"the dream ended after {images_seen} images, before it could be cancelled")


def endpoint_parameters(server, api_name: str) -> dict:
    """The endpoint's parameters, {name: default}, in the order its positional data array takes them (server: a
    URL or a Client)."""
    from gradio_client import Client

    client = server if isinstance(server, Client) else Client(server, verbose=False)
    info = client.view_api(return_format="dict", print_info=False)
    return {parameter["parameter_name"]: parameter.get("parameter_default")
            for parameter in info["named_endpoints"][f"/{api_name}"]["parameters"]}


def endpoint_order(server, api_name: str) -> list[str]:
    return list(endpoint_parameters(server, api_name))


# What /dream returns, in order.
DreamOutputs = collections.namedtuple("DreamOutputs", "image status progress details gallery plot download")


def final_outputs(client, **overrides) -> DreamOutputs:
    return DreamOutputs(*client.predict(**dream_kwargs(**overrides), api_name="/dream"))


def read_pixels(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def assert_normal_job_completes(client) -> None:
    image, status, *_, download = final_outputs(client, seed=11)
    assert status.endswith("done"), status
    assert read_pixels(image).shape[2] == 3 and Path(download).suffix == ".png"


# --- the app object ------------------------------------------------------------------------------------------

def test_build_demo_loads_no_backbone_and_imports_no_tensorflow():
    code = ("import sys, app; app.build_demo(); from neuralart.models import backbone; "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules, len(backbone._BACKBONES))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["False", "False", "0"]


def test_each_tab_marks_its_network_dropdown_when_the_page_loads():
    """Every tab's network dropdown gets a page-load event that rewrites its choices (ready / missing)."""
    import gradio as gr

    import app
    demo = app.build_demo()
    marked = [fn.outputs for fn in demo.fns.values() if any(event == "load" for _, event in fn.targets)]
    assert len(marked) == 3
    assert all(len(outputs) == 1 and isinstance(outputs[0], gr.Dropdown) for outputs in marked), marked
    assert {outputs[0].elem_id for outputs in marked} >= {"features-backbone"}


def test_demo_is_built_hardened(tmp_path):
    import gradio as gr
    from PIL import Image

    import app
    from neuralart import images
    from neuralart.ui.streaming import TF_JOBS

    demo = app.build_demo()
    assert demo._queue.max_size == 20 and demo._queue.default_concurrency_limit == 1
    assert demo.api_open is False
    assert Image.MAX_IMAGE_PIXELS == int(images.DEFAULT_MAX_MEGAPIXELS * 1e6)
    # Reading a recipe or checking an upload is instant: queued (for their toasts) but limited by nothing.
    instant = [fn for fn in demo.fns.values() if fn.queue and fn.concurrency_limit is None]
    assert all(fn.api_name.startswith("restore_") or fn.api_visibility == "private" for fn in instant)
    queued = [fn for fn in demo.fns.values() if fn.queue and fn not in instant]
    assert queued, "no queued events"
    for fn in queued:  # Every event that runs a network shares one concurrency group...
        assert fn.concurrency_id == TF_JOBS, fn.name
    clicked = [fn for fn in queued if any(event == "click" for _, event in fn.targets)]
    assert clicked and all(fn.trigger_mode == "once" for fn in clicked), "...and a Run ignores double clicks"
    api_names = {fn.api_name for fn in demo.fns.values()}
    for technique in {"dream", "filters", "style"} & api_names:  # Each technique's tab restores recipes.
        assert f"restore_{technique}" in api_names, technique
    # Photo uploads reach our loader untouched (app.photo_input): Gradio would convert a 16-bit file itself.
    sixteen_bit = next(case for case in hostile_inputs.corpus() if case.name == "sixteen_bit_grey")
    path = sixteen_bit.write(tmp_path)
    # (An image shown as a result is an input too, of the step that offers a stopped run's PNG: not an upload.)
    uploads = {block._id: block for fn in demo.fns.values() for block in fn.inputs
               if isinstance(block, gr.Image) and block.interactive is not False}
    assert len(uploads) >= 5, "the photo, content and style uploads"
    for block in uploads.values():
        assert block.preprocess(gr.components.image.ImageData(path=str(path), orig_name=path.name)) == str(path)


def test_launch_options_are_hardened(monkeypatch):
    import app

    for name in ("GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT", "SPACE_ID", "NEURALART_MAX_FILE_SIZE"):
        monkeypatch.delenv(name, raising=False)
    options = app.launch_options()
    assert options["server_name"] == "127.0.0.1" and options["server_port"] is None
    assert options["show_error"] is False and options["share"] is False
    assert options["enable_monitoring"] is False and options["max_file_size"] == "20mb"
    assert options["ssr_mode"] is False and options["mcp_server"] is False and options["strict_cors"] is True
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7999")
    assert (app.launch_options()["server_name"], app.launch_options()["server_port"]) == ("0.0.0.0", 7999)
    monkeypatch.delenv("GRADIO_SERVER_NAME")
    monkeypatch.setenv("SPACE_ID", "someone/neural-art-studio")
    assert app.launch_options()["server_name"] == "0.0.0.0"


# --- streaming, cancelling, time budget ----------------------------------------------------------------------

def test_dream_streams_several_distinct_frames(client):
    from neuralart import images

    job = client.submit(**dream_kwargs(octaves=2, iterations=10, max_side=128), api_name="/dream")
    streamed = [output[0] for output in job if isinstance(output[0], str)]
    digests = {hashlib.sha256(Path(path).read_bytes()).hexdigest() for path in streamed}
    assert len(digests) >= 3, streamed
    image, status, _, _, gallery, _, download = job.outputs()[-1]
    assert status.endswith("done") and len(gallery) == 2
    recipe = images.read_recipe(download)
    assert recipe["technique"] == "dream" and recipe["config"]["octaves"] == 2


def test_cancel_stops_the_run_within_one_chunk(client, monkeypatch):
    """Each chunk of steps is slowed to 0.3 s and logged; after job.cancel() at most the chunk already under way
    may start, the generator is closed, and no chunk runs after that."""
    from neuralart.deepdream import run as dream_run
    from neuralart.ui import streaming

    events: list[tuple[str, float]] = []
    real_chunk, real_frames = dream_run._DreamRun._ascend_chunk, dream_run._DreamRun.frames

    def logged_chunk(self, image, shifts, shape):
        events.append(("chunk", time.monotonic()))
        time.sleep(0.3)
        return real_chunk(self, image, shifts, shape)

    def watched_frames(self):
        try:
            yield from real_frames(self)
        finally:
            events.append(("closed", time.monotonic()))

    monkeypatch.setattr(dream_run._DreamRun, "_ascend_chunk", logged_chunk)
    monkeypatch.setattr(dream_run._DreamRun, "frames", watched_frames)
    # An image from every chunk, so that three images mean three chunks (the app sends fewer, see
    # test_images_go_to_the_browser_at_most_every_interval_and_at_each_stage_end; Stop acts after every chunk alike).
    monkeypatch.setattr(streaming, "IMAGE_INTERVAL_SECONDS", 0.0)
    cancelled_at = cancel_a_long_dream_after_three_images(client)
    deadline = time.monotonic() + 5
    while not any(kind == "closed" for kind, _ in events) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # Long enough for three more chunks, were the run still going.
    closed_at = next(when for kind, when in events if kind == "closed")
    chunk_starts = [when for kind, when in events if kind == "chunk"]
    assert closed_at - cancelled_at < 1.0, "the run was not closed within one chunk of the cancel"
    assert sum(when > cancelled_at for when in chunk_starts) <= 1, events
    assert not [when for when in chunk_starts if when > closed_at], "a chunk ran after the run was closed"
    assert len(chunk_starts) <= 6, f"{len(chunk_starts)} chunks ran for 3 frames"
    monkeypatch.undo()
    assert_normal_job_completes(client)


def test_images_go_to_the_browser_at_most_every_interval_and_at_each_stage_end(monkeypatch):
    """Every frame reaches the handler (its status line, and Stop, follow each chunk), but its image is sent only
    for the first frame, a stage's last, and otherwise once IMAGE_INTERVAL_SECONDS have passed since the last."""
    from neuralart.frames import Frame
    from neuralart.ui import streaming

    monkeypatch.setattr(streaming, "IMAGE_INTERVAL_SECONDS", 0.25)

    def frames():
        for step in range(1, 17):
            time.sleep(0.05)
            yield Frame(image=np.zeros((2, 2, 3), np.uint8), iteration=step, total_iterations=16,
                        stage_done=step == 9)

    streamed = list(streaming.stream_frames(frames()))
    assert [frame.iteration for frame, _, _ in streamed] == list(range(1, 17))
    sent = [(frame.iteration, elapsed) for frame, elapsed, send_image in streamed if send_image]
    assert sent[0][0] == 1 and 9 in [step for step, _ in sent]
    assert 3 <= len(sent) <= 7, sent  # 16 frames over about 0.8 s
    last_sent = None
    for frame, elapsed, send_image in streamed:
        if last_sent is not None and not frame.stage_done:
            assert send_image == (elapsed - last_sent >= 0.25), (frame.iteration, elapsed, last_sent)
        if send_image:
            last_sent = elapsed


def test_time_budget_keeps_the_last_image_with_a_warning(monkeypatch):
    from neuralart.ui import dream_tab

    monkeypatch.setenv("NEURALART_TIME_BUDGET", "0.5")
    with pytest.warns(UserWarning, match=r"Time budget of 0.5 s reached"):
        outputs = list(dream_tab.run_dream(str(PHOTO), **dream_values(iterations=1000, max_side=128)))
    image, status, *_, download, _ = outputs[-1]
    assert isinstance(image, np.ndarray) and image.dtype == np.uint8
    assert status.endswith("stopped early") and "of 1000" in status
    assert Path(download).is_file()



def test_a_stopped_run_offers_its_last_image_with_the_runs_recipe():
    """The run keeps its recipe as it starts, and each image it sends; after Stop (the page marks the status), the
    last image sent comes back as a PNG carrying that recipe. Finished, budget-stopped and imageless runs get
    nothing more."""
    import gradio as gr

    from neuralart import images, recipes
    from neuralart.ui import dream_tab, streaming

    values = dream_values(iterations=1, octaves=1, max_side=64, seed=5)
    outputs = list(dream_tab.run_dream(str(PHOTO), **values))
    recipe = recipes.recipe_for("dream", dream_tab.dream_config(values))
    assert outputs[0][-1] == streaming.shown_state(recipe), "the run keeps its recipe before any image"
    *streamed, final = [output for output in outputs if isinstance(output[0], np.ndarray)]
    assert streamed and all(output[-1] == streaming.shown_state(recipe, output[0]) for output in streamed)
    assert final[-1] == gr.update(), "the last output (with the final PNG) leaves what was kept"

    shown = streamed[-1][-1]
    stopped = "octave 1/1 · iteration 1/1 · loss 0.5 · 3.2 s" + streaming.STOPPED_MARK
    path = streaming.offer_stopped_result(stopped, shown)
    assert Path(path).name == "dream-seed5-stopped.png"
    assert images.read_recipe(path) == json.loads(json.dumps(recipe))
    assert np.array_equal(images.load_image(path), shown["image"])
    ended_otherwise = [stopped.replace(streaming.STOPPED_MARK, ending) for ending in (" · done", " · stopped early")]
    for status in (*ended_otherwise, streaming.NO_FRAME_STATUS, None):
        assert streaming.offer_stopped_result(status, shown) == gr.update(), status
    assert streaming.offer_stopped_result(stopped, streaming.shown_state(recipe)) == gr.update(), "no image shown"
    assert streaming.offer_stopped_result(stopped, None) == gr.update()


# --- weights ---------------------------------------------------------------------------------------------------

def test_real_squeezenet_weights_from_the_keras_cache(client, tmp_path, monkeypatch):
    """ImageNet weights through the registry's real path (a KERAS_HOME seeded from ../shared, no download): the
    served dream makes the chosen layers' activations grow."""
    from conftest import SQUEEZENET_WEIGHTS
    from neuralart.models import REGISTRY

    if not SQUEEZENET_WEIGHTS.is_file():
        pytest.skip(f"real SqueezeNet weights not found at {SQUEEZENET_WEIGHTS}")
    models_folder = tmp_path / "keras" / "models"
    models_folder.mkdir(parents=True)
    shutil.copyfile(SQUEEZENET_WEIGHTS, models_folder / REGISTRY["squeezenet"].weights_notop.filename)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    losses = {}
    for weights in ("imagenet", "random"):
        job = client.submit(**dream_kwargs(weights=weights, iterations=20, max_side=128), api_name="/dream")
        losses[weights] = [float(re.search(r"· dream strength ([-+.e0-9]+)", output[1]).group(1))
                           for output in job if " · dream strength " in output[1]]
        assert job.outputs()[-1][1].endswith("done")
    trained, untrained = losses["imagenet"], losses["random"]
    # The objective grows over the run (by 1.9-2.5x across seeds and precisions at these settings; the random
    # roll makes the first reading noisy, so the bar is 1.5x)...
    assert trained[-1] > 1.5 * trained[0] and trained[-1] == max(trained), trained
    assert trained[0] > 50 * untrained[0], losses  # ...and comes from trained filters, not a random stand-in.


MISSING_VGG16 = "VGG16's trained weights are not on this server and cannot be downloaded now"


def test_missing_weights_are_said_in_a_sentence_without_server_paths(client, tmp_path, monkeypatch, caplog):
    """What the browser sees names the network and what to do; the file and the folder go to the server's log."""
    from gradio_client.exceptions import AppError

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras-home"))
    with caplog.at_level("WARNING", logger="neuralart.app"), pytest.raises(AppError) as caught:
        final_outputs(client, backbone="vgg16", weights="imagenet")
    message = str(caught.value)
    assert MISSING_VGG16 in message and "random (untrained)" in message
    assert str(tmp_path) not in message and "Traceback" not in message and "URL" not in message
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in caplog.text


def test_a_run_that_cannot_start_says_why_in_its_status(tmp_path, monkeypatch):
    """The status box, which said "Loading the network…", says what is missing before the error toast, rather
    than loading forever."""
    import gradio as gr

    from neuralart.ui import dream_tab

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras-home"))
    run = dream_tab.run_dream(str(PHOTO), **dream_values(backbone="vgg16", weights="imagenet"))
    statuses = []
    with pytest.raises(gr.Error, match=MISSING_VGG16):
        for outputs in run:
            statuses.append(outputs[1])
    assert statuses[0] == "Loading the network…"
    assert statuses[-1].startswith("Not started: ") and MISSING_VGG16 in statuses[-1]


def test_feature_maps_and_kernels_that_fail_clear_the_last_answer(tmp_path, monkeypatch):
    """A request for feature maps or kernels that fails clears the image and says why in its status (before the
    error toast), rather than leaving the previous request's image and status as if they answered it."""
    import gradio as gr

    from neuralart.ui import features_tab as app

    maps = list(app.show_feature_maps(str(PHOTO), "squeezenet", "random", "fire3_concat"))
    assert len(maps) == 1 and maps[0][0].ndim == 3 and maps[0][1].startswith("fire3_concat: ")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras-home"))
    for handler in (lambda: app.show_feature_maps(str(PHOTO), "vgg16", "imagenet", "block1_conv1"),
                    lambda: app.show_kernels("vgg16", "imagenet")):
        outputs = []
        with pytest.raises(gr.Error, match=MISSING_VGG16):
            for output in handler():
                outputs.append(output)
        assert outputs[-1][0] is None
        assert outputs[-1][1].startswith("Not shown: ") and MISSING_VGG16 in outputs[-1][1]


def test_a_run_that_fails_before_its_first_image_says_so(monkeypatch):
    import neuralart.deepdream
    from neuralart.ui import dream_tab, streaming

    def failing_dream(image, config, backbone=None):
        raise ValueError("This photo is too dull to dream about.")
        yield  # A generator: the error comes with the first frame asked for, not when it is built.

    monkeypatch.setattr(neuralart.deepdream, "dream", failing_dream)
    with pytest.warns(UserWarning, match="too dull"):
        outputs = list(dream_tab.run_dream(str(PHOTO), **dream_values()))
    assert outputs[-1][1] == streaming.NO_FRAME_STATUS


# --- hostile uploads and absurd numbers ----------------------------------------------------------------------

def test_every_hostile_upload_gets_its_clear_message(client, tmp_path):
    from gradio_client.exceptions import AppError

    from neuralart.images import load_image

    for case in hostile_inputs.corpus():
        path = case.write(tmp_path / "uploads")
        if case.refused:
            with pytest.raises(AppError) as caught:
                final_outputs(client, photo=path)
            assert re.search(case.message, str(caught.value)), (case.name, str(caught.value))
        else:
            # Zero iterations return the input: what the server worked on is exactly what our loader makes of it.
            image, status, *_ = final_outputs(client, photo=path, iterations=0, max_side=128)
            served = read_pixels(image)
            case.check(served)
            expected = load_image(str(path), max_side=128)
            assert served.shape == expected.shape, case.name
            assert np.abs(served.astype(int) - expected.astype(int)).max() <= 1, case.name
    assert_normal_job_completes(client)


def test_oversized_upload_is_refused_by_the_server(server):
    import httpx

    response = httpx.post(server + "gradio_api/upload", files={"files": ("big.jpg", os.urandom(21 << 20))},
                          timeout=60)
    assert response.status_code == 413 and "maximum allowed size" in response.text


ABSURD = [
    (dict(iterations=-1), r"less than minimum value 0"),
    (dict(iterations=1e9), r"greater than maximum value 200"),
    (dict(iterations="many"), r"must be a finite number, got 'many'"),
    (dict(octaves=0), r"less than minimum value 1"),
    (dict(octaves=100), r"greater than maximum value 8"),
    (dict(octaves=2.5), r"octaves must be a whole number"),
    (dict(octaves=None), r"must be a finite number, got None"),
    (dict(octave_scale=-3), r"less than minimum value 1.05"),
    (dict(max_side=10**6), r"greater than maximum value 2048"),
    (dict(max_side=-5), r"less than minimum value 64"),
    (dict(step_size=5.0), r"greater than maximum value 0.1"),
    (dict(max_loss=-1), r"less than minimum value 0"),
    (dict(seed=-1), r"less than minimum value 0"),
    (dict(seed=1e20), r"seed must be between 0 and"),
    (dict(layers=[1e9] * 8), r"greater than maximum value 5"),
    (dict(layers=[0.0] * 8), r"give at least one layer a non-zero weight"),
    (dict(backbone="resnet_from_space"), r"not in the list of choices"),
    (dict(weights="/etc/passwd"), r"not in the list of choices"),
]


@pytest.mark.parametrize("overrides, message", ABSURD, ids=lambda value: str(value)[:40])
def test_absurd_api_values_get_clear_errors(client, overrides, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message):
        final_outputs(client, **overrides)


def call_with_raw_json(url: str, api_name: str, body: str) -> tuple[str, str]:
    """Send a JSON body as text (so NaN and Infinity reach the server) through the queued REST API; return the
    last server-sent event and its data."""
    import httpx

    response = httpx.post(f"{url}gradio_api/call/{api_name}", content=body,
                          headers={"content-type": "application/json"}, timeout=30)
    response.raise_for_status()
    event_id = response.json()["event_id"]
    event = data = ""
    with httpx.stream("GET", f"{url}gradio_api/call/{api_name}/{event_id}", timeout=60) as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data = line.split(":", 1)[1].strip()
    return event, data


def raw_dream_data(url: str, photo_path: str, **replaced) -> list:
    """/dream's positional data array, the photo given by its path on the server."""
    defaults = endpoint_parameters(url, "dream")
    values = {**defaults, **dream_values(), "photo": {"path": photo_path, "meta": {"_type": "gradio.FileData"}},
              **replaced}
    return [values[name] for name in defaults]


@pytest.mark.parametrize("name", ["octaves", "iterations", "step_size", "max_side", "layer_0"])
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_get_clear_errors(server, name, literal):
    import httpx

    upload = httpx.post(server + "gradio_api/upload", files={"files": PHOTO.open("rb")}, timeout=30).json()[0]
    values = raw_dream_data(server, upload, **{name: "@@number@@"})
    body = json.dumps({"data": values}).replace('"@@number@@"', literal)
    event, data = call_with_raw_json(server, "dream", body)
    assert event == "error", (event, data)
    message = json.loads(data)["error"]
    assert re.search(r"must be a finite number, got (nan|inf|-inf)", message), message


def test_files_outside_the_app_are_forbidden(server):
    import httpx

    for path in ("/etc/passwd", str(ROOT / "app.py"), str(ROOT.parent / "shared" / "README.md"), "/proc/self/environ"):
        response = httpx.get(f"{server}gradio_api/file={path}", timeout=10)
        assert response.status_code == 403, (path, response.status_code)
    escaped = httpx.get(f"{server}gradio_api/file=%2Fetc%2Fpasswd", timeout=10)
    assert escaped.status_code == 403
    direct = httpx.post(f"{server}gradio_api/run/dream", json={"data": []}, timeout=10)
    assert direct.status_code in (403, 404) and "queue" in direct.text.lower(), "api_open must be False"
    for path in ("/etc/passwd", str(PHOTO)):  # An API caller naming a file on the server instead of uploading.
        values = raw_dream_data(server, path)
        event, data = call_with_raw_json(server, "dream", json.dumps({"data": values}))
        assert event == "error", (path, event, data)


# --- recipes -------------------------------------------------------------------------------------------------

RECIPE_RUN = dict(octaves=2, octave_scale=1.5, iterations=4, step_size=0.02, max_loss=0, max_side=80, seed=7)
RECIPE_LAYERS = [0.5, 1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 1.5]


def test_recipe_round_trip_restores_settings_and_reproduces_the_image(client):
    from gradio_client import handle_file

    from neuralart import images, recipes
    from neuralart.ui import dream_tab

    image, *_, download = final_outputs(client, layers=RECIPE_LAYERS, **RECIPE_RUN)
    stored = recipes.config_from_recipe(images.read_recipe(download), "dream")
    assert stored == dream_tab.dream_config(dream_values(layers=RECIPE_LAYERS, **RECIPE_RUN))

    updates = client.predict(handle_file(download), api_name="/restore_dream")
    restored = dict(zip(endpoint_order(client, "dream")[1:], (update["value"] for update in updates)))
    assert {name: restored[name] for name in SHORT_JOB} == {**SHORT_JOB, **RECIPE_RUN}
    sliders = [restored[dream_tab.layer_name(index)] for index in range(dream_tab.MAX_LAYER_SLIDERS)]
    assert sliders[:len(RECIPE_LAYERS)] == RECIPE_LAYERS and not any(sliders[len(RECIPE_LAYERS):])
    labels = [update.get("label") for update in updates[2:2 + dream_tab.MAX_LAYER_SLIDERS]]
    assert labels[:len(SQUEEZENET_LAYERS)] == list(SQUEEZENET_LAYERS)

    again, *_ = client.predict(photo=handle_file(str(PHOTO)), **restored, api_name="/dream")
    assert np.array_equal(read_pixels(again), read_pixels(image)), "same recipe, same seed: same image"
    assert np.array_equal(read_pixels(image), images.load_image(download))


def test_restore_refuses_files_without_our_recipe(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from neuralart import images

    plain = tmp_path / "plain.png"
    images.save_png(plain, np.zeros((20, 20, 3), np.uint8))
    with pytest.raises(AppError, match="carries no recipe"):
        client.predict(handle_file(str(plain)), api_name="/restore_dream")
    other = tmp_path / "other.png"
    images.save_png(other, np.zeros((20, 20, 3), np.uint8), {"technique": "style", "version": "0", "config": {}})
    with pytest.raises(AppError, match="made with the style technique"):
        client.predict(handle_file(str(other)), api_name="/restore_dream")
    with pytest.raises(AppError, match=r"Invalid file type.*\.png"):
        client.predict(handle_file(str(PHOTO)), api_name="/restore_dream")


def test_restore_warns_about_settings_the_tab_cannot_show(tmp_path):
    import gradio as gr

    from neuralart import images, recipes
    from neuralart.deepdream import DreamConfig
    from neuralart.ui import restore, widgets

    path = tmp_path / "cli.png"
    config = DreamConfig(backbone="squeezenet", weights=None, tile_size=256, frame_every=3, max_loss=None)
    images.save_png(path, np.zeros((20, 20, 3), np.uint8), recipes.recipe_for("dream", config))
    form = {"backbone": gr.Dropdown(widgets.backbone_choices("dream")), "weights": gr.Radio(widgets.WEIGHT_CHOICES),
            "max_loss": gr.Slider(0, 100)}
    with pytest.warns(UserWarning, match=r"except these.*tile_size=256.*frame_every=3"):
        updates = restore.recipe_updates(str(path), "dream", form)
    assert [update["value"] for update in updates] == ["squeezenet", "random", 0]


def technique_runs() -> dict:
    """Per technique: a recipe's config (non-default, small, within the sliders' ranges) and the core call."""
    from neuralart.deepdream import DreamConfig, dream

    layers = dict(zip(SQUEEZENET_LAYERS, RECIPE_LAYERS))
    runs = {"dream": (DreamConfig(backbone="squeezenet", weights=None, layers=layers, octaves=2, octave_scale=1.5,
                                  iterations=4, step_size=0.02, max_loss=None, max_side=96, seed=3),
                      lambda config: dream(str(PHOTO), config))}
    with contextlib.suppress(ImportError):
        from neuralart.features import FilterConfig, visualize

        runs["filters"] = (FilterConfig(backbone="squeezenet", weights=None, layer="fire3_concat", filters="1-2",
                                        mode="classic", iterations=4, size=64, seed=5), visualize)
    with contextlib.suppress(ImportError):
        from neuralart.style_transfer import StyleConfig, stylize

        runs["style"] = (StyleConfig(backbone="squeezenet", weights=None, content_weight=100.0, style_weight=10.0,
                                     tv_weight=1e-4, iterations=10, optimizer="adam", max_side=96,
                                     multiscale=False, smoothing=1.5, seed=4),
                         lambda config: stylize(str(PHOTO), [str(STYLE_PICTURE)], config))
    return runs


@pytest.mark.parametrize("technique", ["dream", "filters", "style"])
def test_each_tab_restores_a_recipe_and_reproduces_its_image(technique, tmp_path):
    """A PNG carrying a recipe, dropped on its tab, sets the widgets so that Run makes the same config again,
    and with it the same image as the core technique made (same seed, same machine)."""
    import gradio as gr

    import app
    from neuralart import images, recipes

    runs = technique_runs()
    functions = {fn.api_name: fn for fn in app.build_demo().fns.values()}
    if technique not in runs or technique not in functions:
        pytest.skip(f"the {technique} tab is not built yet")
    config, run_core = runs[technique]
    expected = list(run_core(config))[-1].image
    made = tmp_path / "made.png"
    images.save_png(made, expected, recipes.recipe_for(technique, config))

    restore, run = functions[f"restore_{technique}"], functions[technique]
    updates = restore.fn(str(made))
    restored = {widget._id: update["value"] for widget, update in zip(restore.outputs, updates) if "value" in update}
    photos = iter([str(PHOTO)] + ([str(STYLE_PICTURE)] if technique == "style" else []))  # No dream guide.
    named = dict(zip(run.input_keyword_names, run.inputs))
    values = {name: next(photos, None) if isinstance(widget, gr.Image) else restored.get(widget._id, widget.value)
              for name, widget in named.items()}
    outputs = list(run.fn(**values))[-1]
    image = outputs[0]
    download = next(value for widget, value in zip(run.outputs, outputs) if isinstance(widget, gr.DownloadButton))
    assert recipes.config_from_recipe(images.read_recipe(download), technique) == config
    assert np.array_equal(image, expected), "the restored settings made another image"


# --- load ----------------------------------------------------------------------------------------------------

def test_eight_concurrent_sessions_finish_or_get_queue_full(tmp_path):
    """Queue bounded at 3: of eight sessions submitting at once, some run, the rest are told the queue is full,
    and nothing else goes wrong; then the server still serves."""
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    with served_app(tmp_path / "gradio", NEURALART_QUEUE_SIZE="3") as (_, url):
        clients = [Client(url, verbose=False, download_files=str(tmp_path / f"client{index}"))
                   for index in range(8)]
        start = threading.Barrier(len(clients))
        results: dict[int, str] = {}

        def session(index: int) -> None:
            start.wait()
            try:
                status = final_outputs(clients[index], iterations=20, seed=index).status
                results[index] = "finished" if status.endswith("done") else f"odd status: {status}"
            except AppError as error:
                results[index] = f"app error: {error}"
            except Exception as error:  # The client reports a full queue as QueueError; anything else fails.
                full = "queue is full" in str(error).lower()
                results[index] = "queue full" if full else f"{type(error).__name__}: {error}"

        threads = [threading.Thread(target=session, args=(index,)) for index in range(len(clients))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        outcomes = sorted(results.values())
        assert len(outcomes) == 8 and set(outcomes) <= {"finished", "queue full"}, outcomes
        assert outcomes.count("finished") >= 3 and outcomes.count("queue full") >= 1, outcomes
        assert_normal_job_completes(clients[0])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def app_process(tmp_path):
    """`python app.py` as students get it, on a free port; yields (url, psutil.Process)."""
    psutil = pytest.importorskip("psutil")
    import httpx

    port = free_port()
    environment = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_TEMP_DIR": str(tmp_path / "gradio"),
                   "GRADIO_ANALYTICS_ENABLED": "False", "TF_CPP_MIN_LOG_LEVEL": "2"}
    environment.pop("GRADIO_SERVER_NAME", None)
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=environment, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.3)
        yield url, psutil.Process(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_fifty_jobs_do_not_grow_the_server_memory(app_process, tmp_path):
    import httpx
    from gradio_client import Client

    url, server_process = app_process
    assert httpx.get(f"{url}gradio_api/file=/etc/passwd", timeout=10).status_code == 403
    client = Client(url, verbose=False, download_files=str(tmp_path / "downloads"))
    for seed in range(10):  # Warm-up: TensorFlow, the backbone and its traced step are built here.
        final_outputs(client, seed=seed)
    before = server_process.memory_info().rss
    for seed in range(50):
        status = final_outputs(client, seed=100 + seed).status
        assert status.endswith("done")
    after = server_process.memory_info().rss
    print(f"server RSS after warm-up {before / 2**20:.0f} MiB, after 50 jobs {after / 2**20:.0f} MiB "
          f"({(after - before) / before:+.1%})")
    assert after < before * 1.10
