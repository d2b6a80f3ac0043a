"""Set-up of the Ray clusters and worker processes the cluster tests start (Ray's `worker_process_setup_hook`).

Every DeepDream chunk a worker runs is logged, with its process id and the machine-wide monotonic clock, to
EVENTS_FILE in the folder NEURALART_TEST_EVENTS names, and so is the closing of each run; while a file named
`slow` exists in that folder, each chunk first sleeps CHUNK_SECONDS. The tests read the log to see which worker
ran what and when, as tests/test_app.py sees it in-process.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

EVENTS_VARIABLE = "NEURALART_TEST_EVENTS"
EVENTS_FILE = "events.log"
SLOW_FILE = "slow"
CHUNK_SECONDS = 0.3
# Each node of the tests' clusters: one CPU and a small object store (frames and PNGs are small).
NODE_OPTIONS = {"num_cpus": 1, "object_store_memory": 150 * 2**20}


def log_event(folder: Path, kind: str) -> None:
    # One short write in append mode: lines from several processes never interleave.
    with open(folder / EVENTS_FILE, "a") as file:
        file.write(f"{kind} {os.getpid()} {time.monotonic():.6f}\n")


def watch_dream_chunks() -> None:
    """Patch this worker's DeepDream runs to log (and, while asked, slow) every chunk and the closing of the run."""
    folder = os.environ.get(EVENTS_VARIABLE)
    if not folder:
        return
    folder = Path(folder)
    from neuralart.deepdream import run as dream_run

    real_chunk, real_frames = dream_run._DreamRun._ascend_chunk, dream_run._DreamRun.frames

    def logged_chunk(self, image, shifts, shape):
        log_event(folder, "chunk")
        if (folder / SLOW_FILE).exists():
            time.sleep(CHUNK_SECONDS)
        return real_chunk(self, image, shifts, shape)

    def watched_frames(self):
        try:
            yield from real_frames(self)
        finally:
            log_event(folder, "closed")

    dream_run._DreamRun._ascend_chunk = logged_chunk
    dream_run._DreamRun.frames = watched_frames


def read_events(folder: Path, since: float = 0.0) -> list[tuple[str, int, float]]:
    """The (kind, process id, time) events logged at or after `since`, in order."""
    path = folder / EVENTS_FILE
    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        kind, pid, when = line.split()
        if float(when) >= since:
            events.append((kind, int(pid), float(when)))
    return events


def worker_environment(folder: Path, **variables: str) -> dict:
    """The runtime environment that sets up the tests' workers: this hook, its events folder and `variables`."""
    tests = str(Path(__file__).resolve().parent)
    return {"worker_process_setup_hook": "cluster_hooks.watch_dream_chunks",
            "env_vars": {"PYTHONPATH": os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")])),
                         EVENTS_VARIABLE: str(folder), **variables}}


@contextlib.contextmanager
def two_node_cluster(folder: Path, **variables: str):
    """A Ray cluster of two one-CPU nodes on this machine (Ray's own testing utility), this process connected to
    it with the tests' workers (worker_environment); every process it started ends with it."""
    from ray.cluster_utils import Cluster

    from neuralart.cluster import connection, stop_app_executor

    cluster = Cluster(initialize_head=True, head_node_args=dict(NODE_OPTIONS))
    try:
        cluster.add_node(**NODE_OPTIONS)
        connection.connect(cluster.address, runtime_env=worker_environment(folder, **variables))
        yield cluster
    finally:
        stop_app_executor()
        connection.disconnect()
        cluster.shutdown()
