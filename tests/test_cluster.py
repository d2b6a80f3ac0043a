"""Scaling out, without a cluster: the app is unchanged (and Ray not imported) when no cluster is named, jobs
travel as data, the queue's concurrency can follow the workers, and batches run in this process, skipping what
exists, retrying what failed and never leaving a half-written file under its final name.

The same parts on real Ray clusters are in test_cluster_app.py and test_cluster_batch.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from neuralart import DreamConfig, cli, images
from neuralart.cluster import ClusterError, WorkerLostError, app_executor, requested_address, worker_cpus
from neuralart.cluster.batch import BatchItem, InProcessRunner
from neuralart.jobs import InProcess, Job

PHOTO = ROOT / "assets" / "coffee.jpg"
QUICK_DREAM = ["--backbone", "squeezenet", "--weights", "none", "--max-side", "64", "--iterations", "2",
               "--octaves", "1", "--quiet"]


@pytest.fixture
def photo_folder(tmp_path):
    """Three small photos, named as a teacher's folder might name them."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("chelsea.jpg", "coffee.jpg", "rocket.jpg"):
        (folder / name).write_bytes((ROOT / "assets" / name).read_bytes())
    return folder


# --- no cluster named: nothing changes ----------------------------------------------------------------------

def test_without_a_cluster_the_app_runs_jobs_here_and_never_imports_ray(monkeypatch):
    monkeypatch.delenv("NEURALART_RAY_ADDRESS", raising=False)
    assert requested_address() is None and isinstance(app_executor(), InProcess)
    code = ("import sys, app; demo = app.build_demo(); from neuralart.ui import streaming; streaming.executor(); "
            "limits = {fn.concurrency_limit for fn in demo.fns.values() if fn.concurrency_id == 'tensorflow'}; "
            "print('ray' in sys.modules, limits, demo._queue.default_concurrency_limit)")
    environment = {key: value for key, value in os.environ.items() if key != "NEURALART_RAY_ADDRESS"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**environment, "GRADIO_ANALYTICS_ENABLED": "False"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["False", "{'default'}", "1"], "one job at a time, as before"


def test_cluster_settings_are_read_from_the_environment():
    assert requested_address({"NEURALART_RAY_ADDRESS": " local "}) == "local"
    assert requested_address({"NEURALART_RAY_ADDRESS": ""}) is None
    assert worker_cpus({}) == 2 and worker_cpus({"NEURALART_RAY_WORKER_CPUS": "3"}) == 3
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(ClusterError, match="NEURALART_RAY_WORKER_CPUS must be a positive whole number"):
            worker_cpus({"NEURALART_RAY_WORKER_CPUS": bad})


def test_a_cluster_named_without_ray_installed_says_how_to_install_it(monkeypatch):
    from neuralart.cluster import connection

    monkeypatch.setitem(sys.modules, "ray", None)  # What `import ray` meets where Ray is not installed.
    with pytest.raises(ClusterError, match=r"pip install -r requirements-ray.txt"):
        connection.connect("local")


# --- jobs travel as data -------------------------------------------------------------------------------------

def test_a_portable_job_carries_its_image_files_as_bytes(tmp_path):
    from neuralart.cluster.worker import portable
    from neuralart.style_transfer import StyleConfig

    style_file = ROOT / "assets" / "styles" / "swirls.jpg"
    array = np.zeros((20, 20, 3), np.uint8)
    job = Job("style", StyleConfig(), {"content": str(PHOTO), "styles": [style_file, array]})
    moved = portable(job)
    assert moved.images["content"] == PHOTO.read_bytes()
    assert moved.images["styles"][0] == style_file.read_bytes() and moved.images["styles"][1] is array
    assert moved.config == job.config and moved.technique == "style"
    assert np.array_equal(images.load_image(moved.images["content"]), images.load_image(PHOTO))
    missing = portable(Job("dream", job.config.__class__(), {"image": str(tmp_path / "gone.jpg")}))
    assert missing.images["image"] == str(tmp_path / "gone.jpg"), "the worker's loader names what is missing"


def test_a_lost_worker_is_a_message_the_app_shows():
    from neuralart.ui import streaming

    assert WorkerLostError in streaming.EXPECTED_ERRORS


# --- the queue follows the workers ---------------------------------------------------------------------------

def test_the_tensorflow_queue_admits_as_many_jobs_as_it_is_told(monkeypatch):
    """Before the first job (each event's own limit) and after (its group's queue, which Gradio creates on the
    first job and afterwards only lowers by itself)."""
    import app
    from neuralart.ui.streaming import TF_JOBS

    monkeypatch.delenv("NEURALART_RAY_ADDRESS", raising=False)
    demo = app.build_demo()
    tf_events = [fn for fn in demo.fns.values() if fn.concurrency_id == TF_JOBS]
    app.set_concurrency(demo, TF_JOBS, 3)
    assert tf_events and all(fn.concurrency_limit == 3 for fn in tf_events)
    demo._queue.create_event_queue_for_fn(tf_events[0])  # What Gradio does when the first job comes.
    assert demo._queue.event_queue_per_concurrency_id[TF_JOBS].concurrency_limit == 3
    app.set_concurrency(demo, TF_JOBS, 5)
    assert demo._queue.event_queue_per_concurrency_id[TF_JOBS].concurrency_limit == 5
    others = [fn for fn in demo.fns.values() if fn.concurrency_id != TF_JOBS]
    assert all(fn.concurrency_limit != 5 for fn in others)


# --- batches in this process ---------------------------------------------------------------------------------

def test_a_refused_item_is_reported_at_once_and_a_failing_one_after_its_retries(monkeypatch):
    from neuralart.cluster import batch

    calls: dict[str, int] = {}

    def outcome(job):
        name = job.images["image"]
        calls[name] = calls.get(name, 0) + 1
        if name == "flaky" and calls[name] < 2:
            raise RuntimeError("out of memory, for once")
        if name == "broken":
            raise RuntimeError("always")
        if name == "refused":
            return None, "The file is empty (0 bytes)."
        return f"png of {name}".encode(), None

    monkeypatch.setattr(batch, "item_outcome", outcome)
    config = DreamConfig()
    items = [BatchItem(Job("dream", config, {"image": name}), f"{name}.png")
             for name in ("good", "flaky", "broken", "refused", "last")]
    results = {result.item.output: result for result in InProcessRunner(retries=2).results(items)}
    assert results["good.png"].png == b"png of good" and results["last.png"].png == b"png of last"
    assert results["flaky.png"].png == b"png of flaky" and calls["flaky"] == 2
    assert results["broken.png"].failed and results["broken.png"].error == "failed 3 times: always"
    assert calls["broken"] == 3
    assert results["refused.png"].error == "The file is empty (0 bytes)." and calls["refused"] == 1


def test_an_output_is_whole_under_its_final_name_or_absent(tmp_path, monkeypatch):
    from neuralart.cli.batch import write_atomically

    target = tmp_path / "out.png"
    data = images.encode_png(np.full((40, 40, 3), 7, np.uint8))
    seen_while_writing = []
    real_replace = os.replace

    def interrupted(source, destination):
        seen_while_writing.append(sorted(os.listdir(tmp_path)))
        raise KeyboardInterrupt  # Killed between writing and renaming.

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(str(target), data)
    assert seen_while_writing[0][0].startswith(".out.png.") and seen_while_writing[0][0].endswith(".part")
    assert os.listdir(tmp_path) == [], "neither the final name nor the temporary file is left"
    monkeypatch.setattr(os, "replace", real_replace)
    write_atomically(str(target), data)
    assert os.listdir(tmp_path) == ["out.png"] and target.read_bytes() == data
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~current_umask()), "an ordinary file, not a private one"


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_batch_dream_writes_each_photo_then_skips_them_all(photo_folder, tmp_path, capsys):
    output, report = tmp_path / "dreams", tmp_path / "report.json"
    arguments = ["batch", "dream", str(photo_folder), "-o", str(output), "--seed", "3", *QUICK_DREAM]
    assert cli.main([*arguments, "--report", str(report)]) == 0
    assert sorted(os.listdir(output)) == ["chelsea.png", "coffee.png", "rocket.png"]
    recipe = images.read_recipe(str(output / "coffee.png"))
    assert recipe["technique"] == "dream" and recipe["config"]["seed"] == 3
    summary = json.loads(report.read_text())
    assert (summary["done"], summary["skipped"], summary["failed"]) == (3, 0, 0)
    before = {name: (output / name).stat().st_mtime_ns for name in os.listdir(output)}
    assert cli.main([*arguments[:-1], "--report", str(report)]) == 0
    assert json.loads(report.read_text())["skipped"] == 3 and json.loads(report.read_text())["done"] == 0
    assert before == {name: (output / name).stat().st_mtime_ns for name in os.listdir(output)}
    assert "0 done, 3 skipped, 0 failed" in capsys.readouterr().err


def test_batch_reports_a_bad_file_and_finishes_the_others(photo_folder, tmp_path, capsys):
    (photo_folder / "broken.png").write_bytes(b"not a picture at all")
    output = tmp_path / "dreams"
    status = cli.main(["batch", "dream", str(photo_folder), "-o", str(output), *QUICK_DREAM[:-1]])
    assert status == 1
    assert sorted(os.listdir(output)) == ["chelsea.png", "coffee.png", "rocket.png"]
    err = capsys.readouterr().err
    assert f"failed: {output / 'broken.png'}: The file is not an image we can read" in err
    assert "3 done, 0 skipped, 1 failed" in err


def test_batch_style_stylizes_every_photo_with_the_same_styles(photo_folder, tmp_path):
    output = tmp_path / "styled"
    style = ROOT / "assets" / "styles" / "waves.jpg"
    assert cli.main(["batch", "style", str(photo_folder), str(style), "-o", str(output), "--backbone",
                     "squeezenet", "--weights", "none", "--max-side", "96", "--iterations", "2", "--no-multiscale",
                     "--quiet"]) == 0
    assert sorted(os.listdir(output)) == ["chelsea.png", "coffee.png", "rocket.png"]
    assert images.read_recipe(str(output / "rocket.png"))["technique"] == "style"
    assert images.load_image(str(output / "rocket.png")).shape[2] == 3


def test_batch_atlas_renders_one_grid_per_layer(tmp_path):
    output = tmp_path / "atlas"
    assert cli.main(["batch", "atlas", "-o", str(output), "--backbone", "squeezenet", "--weights", "none",
                     "--layers", "conv1,fire2_concat", "--filters", "0-3", "--mode", "classic", "--iterations", "2",
                     "--size", "48", "--quiet"]) == 0
    assert sorted(os.listdir(output)) == ["squeezenet-conv1.png", "squeezenet-fire2_concat.png"]
    recipe = images.read_recipe(str(output / "squeezenet-fire2_concat.png"))
    assert recipe["technique"] == "filters" and recipe["config"]["layer"] == "fire2_concat"
    assert recipe["config"]["filters"] == "0-3"


def test_batch_dream_takes_the_frames_of_a_video(tmp_path):
    av = pytest.importorskip("av", reason="PyAV is not installed: videos are refused with a message instead")
    video = tmp_path / "clip.mp4"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(5):
            pixels = np.full((48, 64, 3), 40 * index, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    output = tmp_path / "frames"
    assert cli.main(["batch", "dream", str(video), "-o", str(output), "--every", "2", *QUICK_DREAM]) == 0
    assert sorted(os.listdir(output)) == [f"clip-frame{index:06d}.png" for index in (0, 2, 4)]
    assert images.load_image(str(output / "clip-frame000004.png")).shape == (48, 64, 3)


def test_a_video_without_pyav_is_refused_with_what_to_install(tmp_path, monkeypatch, capsys):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00" * 64)
    monkeypatch.setitem(sys.modules, "av", None)
    assert cli.main(["batch", "dream", str(video), "-o", str(tmp_path / "out"), *QUICK_DREAM]) == 2
    assert "reading videos needs PyAV, which is not installed (pip install av)" in capsys.readouterr().err


def test_batch_refuses_an_input_that_is_neither_folder_nor_video(tmp_path, capsys):
    assert cli.main(["batch", "dream", str(PHOTO), "-o", str(tmp_path / "out"), *QUICK_DREAM]) == 2
    assert "is neither a folder of images nor a video" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["batch", "dream", str(empty), "-o", str(tmp_path / "out"), *QUICK_DREAM]) == 2
    assert "holds no JPEG, PNG, WEBP or BMP image" in capsys.readouterr().err


def test_an_interrupted_batch_resumes_where_it_stopped(photo_folder, tmp_path, monkeypatch):
    """Ctrl-C after the first image: it stays; the rerun makes only the other two."""
    from neuralart.cli import batch as batch_command

    output = tmp_path / "dreams"
    real_write, written = batch_command.write_atomically, []

    def write_then_interrupt(path, data):
        real_write(path, data)
        written.append(os.path.basename(path))
        raise KeyboardInterrupt

    monkeypatch.setattr(batch_command, "write_atomically", write_then_interrupt)
    arguments = ["batch", "dream", str(photo_folder), "-o", str(output), *QUICK_DREAM]
    assert cli.main(arguments) == 130
    assert os.listdir(output) == written == ["chelsea.png"]
    monkeypatch.setattr(batch_command, "write_atomically", real_write)
    assert cli.main(arguments) == 0
    assert sorted(os.listdir(output)) == ["chelsea.png", "coffee.png", "rocket.png"]


def test_on_a_terminal_a_batch_shows_a_progress_bar_with_the_time_left(tmp_path, monkeypatch):
    import io

    from neuralart.cli import batch as batch_command
    from neuralart.cluster.batch import ItemResult

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    class Runner:
        def results(self, items):
            for item in items:
                yield ItemResult(item, error="refused") if "bad" in item.output else ItemResult(item, png=b"png")

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    items = [BatchItem(Job("dream", DreamConfig()), str(tmp_path / f"{name}.png")) for name in ("a", "bad", "c")]
    done, failures = batch_command.write_results(Runner(), iter(items), len(items), quiet=False)
    assert done == 2 and failures == {str(tmp_path / "bad.png"): "refused"}
    shown = terminal.getvalue()
    assert "3/3" in shown and "image" in shown and "<" in shown and "failed=1" in shown, shown
    terminal.seek(0)
    terminal.truncate()
    batch_command.write_results(Runner(), iter(items), len(items), quiet=True)
    assert terminal.getvalue() == "", "--quiet shows no bar"
