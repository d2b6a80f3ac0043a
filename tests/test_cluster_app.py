"""The app on a real Ray cluster that these tests start on this machine: NEURALART_RAY_ADDRESS=local (a head of
two CPUs, one two-CPU worker), driven through gradio_client as in test_app.py.

The worker processes log every DeepDream chunk (tests/cluster_hooks.py), so the tests see which process ran a job
and when each chunk started, and can slow the chunks down to stop a run in the middle.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cluster_hooks import SLOW_FILE, read_events, worker_environment
from conftest import ROOT, SQUEEZENET_WEIGHTS
from test_app import (PHOTO, assert_normal_job_completes, cancel_a_long_dream_after_three_images, dream_kwargs,
                      dream_values, read_pixels, served_app)

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -r requirements-ray.txt)")

WORKER_CPUS = 2


@pytest.fixture(scope="module")
def cluster_folder(tmp_path_factory):
    """A local Ray head of two CPUs whose workers log their chunks here and find the real SqueezeNet weights (when
    ../shared has them) in a KERAS_HOME of their own; shut down, with every process it started, at the end."""
    from neuralart.cluster import connection, stop_app_executor
    from neuralart.models import REGISTRY

    folder = tmp_path_factory.mktemp("cluster")
    keras_home = folder / "keras"
    (keras_home / "models").mkdir(parents=True)
    if SQUEEZENET_WEIGHTS.is_file():
        shutil.copyfile(SQUEEZENET_WEIGHTS, keras_home / "models" / REGISTRY["squeezenet"].weights_notop.filename)
    connection.connect("local", cpus=2, runtime_env=worker_environment(folder, KERAS_HOME=str(keras_home)))
    try:
        yield folder
    finally:
        stop_app_executor()
        connection.disconnect()


@pytest.fixture(scope="module")
def server(cluster_folder, tmp_path_factory):
    with served_app(tmp_path_factory.mktemp("gradio"), NEURALART_RAY_ADDRESS="local",
                    NEURALART_RAY_WORKER_CPUS=str(WORKER_CPUS)) as (demo, url):
        yield demo, url


@pytest.fixture
def client(server, tmp_path):
    from gradio_client import Client

    return Client(server[1], verbose=False, download_files=str(tmp_path))


@pytest.fixture
def slow_chunks(cluster_folder):
    """Each chunk of the workers' dreams sleeps 0.3 s while this fixture is in use."""
    (cluster_folder / SLOW_FILE).touch()
    yield
    (cluster_folder / SLOW_FILE).unlink()


def in_process_image(values: dict, keras_home: Path, threads: int) -> np.ndarray:
    """The DeepDream tab's final image for `values`, computed in a fresh process without Ray with the worker's
    TensorFlow threads (their number changes the float sums, and so the last bit of some pixels)."""
    code = ("import json, sys, numpy as np; from neuralart.jobs import Job, run_job; "
            "from neuralart.ui.dream_tab import dream_config; values = json.loads(sys.argv[1]); "
            "last = list(run_job(Job('dream', dream_config(values), {'image': sys.argv[2]})))[-1]; "
            "np.save(sys.argv[3], last.image)")
    saved = keras_home.parent / "in_process.npy"
    environment = {**os.environ, "KERAS_HOME": str(keras_home), "NEURALART_THREADS": str(threads)}
    environment.pop("NEURALART_RAY_ADDRESS", None)
    result = subprocess.run([sys.executable, "-c", code, json.dumps(values), str(PHOTO), str(saved)], cwd=ROOT,
                            env=environment, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return np.load(saved)


def test_the_queue_admits_as_many_jobs_as_there_are_workers(server):
    from neuralart.cluster import app_executor
    from neuralart.ui.streaming import TF_JOBS

    demo, _ = server
    assert app_executor().pool.size == 1, "two CPUs hold one worker of two"
    limits = {fn.concurrency_limit for fn in demo.fns.values() if fn.concurrency_id == TF_JOBS}
    assert limits == {1}


def test_a_job_streams_from_a_worker_and_ends_as_it_does_in_process(client, cluster_folder):
    if not SQUEEZENET_WEIGHTS.is_file():
        pytest.skip(f"real SqueezeNet weights not found at {SQUEEZENET_WEIGHTS}")
    started = time.monotonic()
    settings = dict(weights="imagenet", octaves=2, iterations=10, max_side=128, seed=7, max_loss=0)
    job = client.submit(**dream_kwargs(**settings), api_name="/dream")
    streamed = [output[0] for output in job if isinstance(output[0], str)]
    assert len({hashlib.sha256(Path(path).read_bytes()).hexdigest() for path in streamed}) >= 3, streamed
    image, status, _, _, gallery, *_ = job.outputs()[-1]
    assert status.endswith("done") and len(gallery) == 2
    workers = {pid for kind, pid, _ in read_events(cluster_folder, started) if kind == "chunk"}
    assert workers and os.getpid() not in workers, "the chunks ran in a worker process"
    expected = in_process_image(dream_values(**settings), cluster_folder / "keras", WORKER_CPUS)
    assert np.array_equal(read_pixels(image), expected)


def test_stop_ends_the_workers_job_within_one_chunk(client, cluster_folder, slow_chunks, monkeypatch):
    """As test_app.py's check, on the worker: after job.cancel() at most the chunk already under way may start,
    the worker closes the run, and the worker takes the next job."""
    from neuralart.ui import streaming

    monkeypatch.setattr(streaming, "IMAGE_INTERVAL_SECONDS", 0.0)  # One image per chunk.
    started = time.monotonic()
    cancelled_at = cancel_a_long_dream_after_three_images(client)
    deadline = time.monotonic() + 5
    while not any(kind == "closed" for kind, _, _ in read_events(cluster_folder, started)):
        assert time.monotonic() < deadline, "the worker never closed the run"
        time.sleep(0.05)
    time.sleep(1.0)  # Long enough for three more chunks, were the run still going.
    events = read_events(cluster_folder, started)
    closed_at = next(when for kind, _, when in events if kind == "closed")
    chunk_starts = [when for kind, _, when in events if kind == "chunk"]
    assert closed_at - cancelled_at < 1.0, "the run was not closed within one chunk of the cancel"
    assert sum(when > cancelled_at for when in chunk_starts) <= 1, events
    assert not [when for when in chunk_starts if when > closed_at], "a chunk ran after the run was closed"
    worker = {pid for kind, pid, _ in events}
    assert len(worker) == 1
    monkeypatch.undo()
    next_job = time.monotonic()
    assert_normal_job_completes(client)
    assert {pid for _, pid, _ in read_events(cluster_folder, next_job)} == worker, "the same worker, free again"


def test_a_worker_that_dies_mid_job_ends_the_run_with_a_message_and_the_app_goes_on(client, cluster_folder,
                                                                                    slow_chunks):
    from neuralart.ui import dream_tab

    started = time.monotonic()
    run = dream_tab.run_dream(str(PHOTO), **dream_values(iterations=200))
    outputs = []
    with pytest.warns(UserWarning, match="The worker running this job stopped .* Press Run again"):
        for output in run:
            outputs.append(output)
            if sum(isinstance(each[0], np.ndarray) for each in outputs) == 2:
                worker = read_events(cluster_folder, started)[-1][1]
                os.kill(worker, signal.SIGKILL)
    image, status = outputs[-1][:2]
    assert isinstance(image, np.ndarray) and status.endswith("stopped early"), status
    after = time.monotonic()
    assert_normal_job_completes(client)
    replacement = {pid for _, pid, _ in read_events(cluster_folder, after)}
    assert replacement and worker not in replacement, "a new worker took the next job"
