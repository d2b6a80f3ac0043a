"""The app's workers on a Ray cluster: a pool of actors, as many as the cluster's machines hold, and the executor
that runs each job on one of them and streams its frames back as they come.

Each actor takes `cpus` CPUs and runs one job at a time. The pool places them node by node (as many on each node
as its CPUs allow) and follows the cluster: a watcher re-reads the nodes every few seconds, starts workers on
machines that joined and forgets those of machines that left, and tells whoever follows the pool (the app's
queue) how many workers there are now.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator

from ..frames import Frame
from ..jobs import Job
from . import WorkerLostError
from .connection import import_ray
from .worker import STARTED, JobWorker, portable, thread_environment

LOG = logging.getLogger("neuralart.cluster")
WATCH_SECONDS = 5.0
# Frames a worker may run ahead of the page before it waits: enough to never wait on a page that keeps up,
# few enough that a page that stalls does not fill the object store.
FRAMES_AHEAD = 16
NO_WORKER_MESSAGE = ("no machine of the cluster has %d CPUs for a worker: jobs wait until one joins (or set "
                     "NEURALART_RAY_WORKER_CPUS lower)")
LOST_MESSAGE = ("The worker running this job stopped (its process or its machine went away), so the run ended "
                "early. Press Run again: another worker will take it.")


@dataclasses.dataclass(eq=False)
class Worker:
    """One actor of the pool and the node it was placed on."""

    actor: object
    node: str


def node_capacity(cpus: int) -> dict[str, int]:
    """{node id: how many workers of `cpus` CPUs it holds} for every live node of the cluster."""
    ray = import_ray()
    capacity = {}
    for node in ray.nodes():
        slots = int(node.get("Resources", {}).get("CPU", 0) // cpus) if node.get("Alive") else 0
        if slots:
            capacity[node["NodeID"]] = slots
    return capacity


class WorkerPool:
    """The app's workers: `cpus` CPUs each, as many as the live nodes hold, one job at a time each."""

    def __init__(self, cpus: int):
        self.cpus = cpus
        self._changed = threading.Condition()
        self._idle: list[Worker] = []
        self._busy: set[Worker] = set()
        self._capacity: dict[str, int] = {}
        self._followers: list[Callable[[int], None]] = []
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        if not self.resize():
            LOG.warning(NO_WORKER_MESSAGE, self.cpus)

    @property
    def size(self) -> int:
        """Workers the cluster holds now."""
        return sum(self._capacity.values())

    def follow(self, on_resize: Callable[[int], None]) -> None:
        """Call `on_resize(workers)` now and whenever the number of workers changes."""
        self._followers.append(on_resize)
        on_resize(self.size)

    def resize(self) -> int:
        """Match the workers to the cluster's live nodes now; returns how many there are."""
        ray = import_ray()
        capacity = node_capacity(self.cpus)
        with self._changed:
            before = self.size
            self._capacity = capacity
            # Idle workers beyond what their node holds now (none, if it left) end; busy ones when their job does.
            placed = collections.Counter(worker.node for worker in (*self._idle, *self._busy))
            for worker in list(self._idle):
                if placed[worker.node] > capacity.get(worker.node, 0):
                    self._idle.remove(worker)
                    placed[worker.node] -= 1
                    ray.kill(worker.actor)
            for node, slots in capacity.items():
                # New workers join the front of the idle line and `acquire` takes from its back: a job gets the
                # worker that ran the latest one (its networks are warm), a cold one only when all those are busy.
                self._idle[:0] = [self._start(node) for _ in range(slots - placed[node])]
            self._changed.notify_all()
            size = self.size
        if size != before:
            LOG.info("the cluster holds %d workers of %d CPUs", size, self.cpus)
            if not size:
                LOG.warning(NO_WORKER_MESSAGE, self.cpus)
            for on_resize in self._followers:
                on_resize(size)
        return size

    def _start(self, node: str) -> Worker:
        ray = import_ray()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        actor_class = ray.remote(JobWorker).options(
            num_cpus=self.cpus, runtime_env=thread_environment(self.cpus),
            scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False))
        return Worker(actor_class.remote(), node)

    def acquire(self, timeout: float | None = None) -> Worker:
        """A worker free for a job (waiting for one if all are busy); give it back with `release`."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._idle, timeout):
                raise WorkerLostError("No worker of the cluster became free; please try again in a moment.")
            worker = self._idle.pop()
            self._busy.add(worker)
            return worker

    def release(self, worker: Worker, alive: bool = True) -> None:
        """Take back a worker whose job ended; a lost one is replaced."""
        with self._changed:
            self._busy.discard(worker)
            placed = sum(other.node == worker.node for other in (*self._idle, *self._busy))
            if alive and placed < self._capacity.get(worker.node, 0):
                self._idle.append(worker)
                self._changed.notify()
                return
        if alive:
            import_ray().kill(worker.actor)
        self.resize()

    def watch(self, seconds: float | None = None) -> None:
        """Follow the cluster's nodes every `seconds` (default WATCH_SECONDS) from now on, on a background thread,
        until `close`."""
        seconds = seconds or WATCH_SECONDS

        def follow_nodes():
            while not self._stop.wait(seconds):
                try:
                    self.resize()
                except Exception:  # The cluster can be briefly unreachable; the next look will tell.
                    LOG.warning("could not read the cluster's nodes", exc_info=True)

        self._watcher = threading.Thread(target=follow_nodes, name="neuralart-cluster-watch", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        """Stop watching and end the idle workers (busy ones end with the connection)."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
        ray = import_ray()
        with self._changed:
            for worker in self._idle:
                ray.kill(worker.actor)
            self._idle.clear()
            self._capacity = {}


class RayExecutor:
    """Runs each job on a free worker of `pool`; `frames(job)` behaves as the in-process executor's does."""

    def __init__(self, pool: WorkerPool, acquire_timeout: float | None = 600.0):
        self.pool = pool
        self.acquire_timeout = acquire_timeout

    def frames(self, job: Job) -> Iterator[Frame]:
        """The job's frames, computed on a worker. Returns once the worker has accepted the job's inputs (a
        refusal raises here, as in-process); closing the result cancels the job on the worker."""
        job = portable(job)
        for attempt in (1, 2):
            run = self._submit(job)
            try:
                first = run.receive()
            except WorkerLostError:
                # Lost before the job began (its machine left just now): another worker takes it, once.
                if attempt == 2:
                    raise
                continue
            if first != STARTED:
                run.close()
                raise RuntimeError(f"the worker began the job with {first!r}")
            return run

    def _submit(self, job: Job) -> RemoteRun:
        worker = self.pool.acquire(self.acquire_timeout)
        try:
            stream = worker.actor.frames.options(
                num_returns="streaming", _generator_backpressure_num_objects=FRAMES_AHEAD).remote(job)
        except BaseException:
            self.pool.release(worker)
            raise
        return RemoteRun(self.pool, worker, stream)


class RemoteRun:
    """A job's frames as they come back from its worker: an iterator that can be closed like a generator."""

    def __init__(self, pool: WorkerPool, worker: Worker, stream):
        self.pool, self.worker, self.stream = pool, worker, stream
        self.ended = False

    def __iter__(self) -> RemoteRun:
        return self

    def __next__(self) -> Frame:
        if self.ended:
            raise StopIteration
        return self.receive()

    def receive(self):
        """The stream's next item. The job's own error raises as itself, a worker that went away as
        WorkerLostError; when anything ends the stream, the run is closed."""
        ray = import_ray()
        from ray import exceptions

        try:
            return ray.get(next(self.stream))
        except exceptions.RayTaskError as error:
            self.close()
            raise (error.cause if isinstance(error.cause, Exception) else error) from None
        except (exceptions.RayActorError, exceptions.WorkerCrashedError, exceptions.ObjectLostError,
                exceptions.OwnerDiedError, exceptions.NodeDiedError) as error:
            self.close(lost=True)
            raise WorkerLostError(LOST_MESSAGE) from error
        except BaseException:  # The end of the stream, or this process interrupted.
            self.close()
            raise

    def close(self, lost: bool = False) -> None:
        """End the run: a job still going is cancelled on its worker (its technique's generator is closed at the
        chunk it is in), and the worker goes back to the pool."""
        if self.ended:
            return
        self.ended = True
        if not lost and not self.stream.is_finished():
            import_ray().cancel(self.stream)
        self.pool.release(self.worker, alive=not lost)

    def __del__(self) -> None:
        # A run dropped without being closed still frees its worker; at exit, Ray may be gone already.
        with contextlib.suppress(Exception):
            self.close()
