"""The app on a two-node Ray cluster started on this machine with Ray's own testing utility: one one-CPU worker
per node, so two users' jobs run at once, and the number of workers (and of jobs the queue admits) follows the
nodes that join and leave."""

from __future__ import annotations

import time

import pytest

from cluster_hooks import SLOW_FILE, NODE_OPTIONS, read_events, two_node_cluster
from test_app import assert_normal_job_completes, dream_kwargs, served_app

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -r requirements-ray.txt)")


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cluster")
    with two_node_cluster(folder) as cluster:
        yield cluster, folder


@pytest.fixture(scope="module")
def server(two_nodes, tmp_path_factory):
    """The app on the two nodes, one one-CPU worker on each; it looks at the nodes every half second."""
    from neuralart.cluster import pool

    cluster, _ = two_nodes
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pool, "WATCH_SECONDS", 0.5)
        with served_app(tmp_path_factory.mktemp("gradio"), NEURALART_RAY_ADDRESS=cluster.address,
                        NEURALART_RAY_WORKER_CPUS="1") as (demo, url):
            yield demo, url


def clients(url, count: int, folder):
    from gradio_client import Client

    return [Client(url, verbose=False, download_files=str(folder)) for _ in range(count)]


def tensorflow_limit(demo) -> int:
    from neuralart.ui.streaming import TF_JOBS

    queue = demo._queue.event_queue_per_concurrency_id.get(TF_JOBS)
    limits = {fn.concurrency_limit for fn in demo.fns.values() if fn.concurrency_id == TF_JOBS}
    assert len(limits) == 1 and (queue is None or queue.concurrency_limit in limits)
    return limits.pop()


def run_together(url, folder, **settings) -> list:
    """Two clients submit a job each at the same moment; their final outputs."""
    jobs = [client.submit(**dream_kwargs(seed=seed, **settings), api_name="/dream")
            for seed, client in enumerate(clients(url, 2, folder))]
    return [job.result(timeout=300) for job in jobs]


def test_two_clients_run_at_once_on_two_workers(server, two_nodes, tmp_path):
    demo, url = server
    _, folder = two_nodes
    assert tensorflow_limit(demo) == 2
    run_together(url, tmp_path)  # Both workers build their network once.
    (folder / SLOW_FILE).touch()
    try:
        started = time.monotonic()
        outputs = run_together(url, tmp_path, iterations=40)
    finally:
        (folder / SLOW_FILE).unlink()
    assert all(status.endswith("done") for _, status, *_ in outputs)
    spans = {}
    for kind, pid, when in read_events(folder, started):
        first, last = spans.get(pid, (when, when))
        spans[pid] = (min(first, when), max(last, when))
    assert len(spans) == 2, f"two worker processes ran the two jobs: {spans}"
    (first_start, first_end), (second_start, second_end) = sorted(spans.values())
    assert second_start < first_end, f"the jobs ran one after the other: {spans}"


def test_the_workers_follow_the_nodes_that_join_and_leave(server, two_nodes, tmp_path):
    from neuralart.cluster import app_executor

    demo, url = server
    cluster, _ = two_nodes

    def wait_for(workers: int) -> None:
        deadline = time.monotonic() + 90
        while not (app_executor().pool.size == workers and tensorflow_limit(demo) == workers):
            assert time.monotonic() < deadline, f"still {app_executor().pool.size} workers, not {workers}"
            time.sleep(0.2)

    node = cluster.add_node(**NODE_OPTIONS)
    wait_for(3)
    cluster.remove_node(node)
    wait_for(2)
    assert_normal_job_completes(clients(url, 1, tmp_path)[0])
