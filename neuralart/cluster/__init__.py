"""Running the studio's jobs elsewhere: on a Ray cluster (docs/scaling.md).

The web app and the batch command hand `neuralart.jobs.Job`s to whatever runs them. Without a cluster they run in
this process, as `neuralart.jobs.InProcess` does; given one (NEURALART_RAY_ADDRESS for the app, `--ray` for a
batch), they run on Ray: the app's jobs on a pool of actors that keep their networks warm and stream frames back
(`pool`), a batch's items as Ray tasks spread over the cluster (`batch`). Either way the worker calls
`neuralart.jobs.run_job`, so every technique that module knows runs remotely too.

Ray is optional (requirements-ray.txt): nothing in this package imports it until a cluster is asked for.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping

ADDRESS_VARIABLE = "NEURALART_RAY_ADDRESS"
WORKER_CPUS_VARIABLE = "NEURALART_RAY_WORKER_CPUS"
DEFAULT_WORKER_CPUS = 2


class ClusterError(ValueError):
    """The cluster that was named cannot be used; the message says why and what to do."""


class WorkerLostError(RuntimeError):
    """The worker running a job stopped (its process or its machine went away); the job can simply be run again."""


def requested_address(environ: Mapping[str, str] | None = None) -> str | None:
    """The cluster the app should use (NEURALART_RAY_ADDRESS: `auto`, `local` or an address), or None."""
    environ = os.environ if environ is None else environ
    return environ.get(ADDRESS_VARIABLE, "").strip() or None


def worker_cpus(environ: Mapping[str, str] | None = None) -> int:
    """CPUs each of the app's workers takes (NEURALART_RAY_WORKER_CPUS, default 2)."""
    environ = os.environ if environ is None else environ
    text = environ.get(WORKER_CPUS_VARIABLE, "").strip() or str(DEFAULT_WORKER_CPUS)
    if not text.isdigit() or int(text) < 1:
        raise ClusterError(f"{WORKER_CPUS_VARIABLE} must be a positive whole number; got {text!r}")
    return int(text)


# The app's one pool of workers, made on first use: like the backbone cache, it is an expensive resource that all
# of the app's users share, so it lives as long as the process.
_APP_EXECUTOR = None
_APP_EXECUTOR_LOCK = threading.Lock()


def app_executor(on_resize: Callable[[int], None] | None = None):
    """Where the web app's jobs run: in this process without NEURALART_RAY_ADDRESS (and Ray is not imported);
    with it, on the shared pool of Ray workers, connected and started on first use. `on_resize(workers)` is
    called with the number of workers now and whenever it changes."""
    global _APP_EXECUTOR
    address = requested_address()
    if address is None:
        from ..jobs import InProcess

        return InProcess()
    with _APP_EXECUTOR_LOCK:
        if _APP_EXECUTOR is None:
            from .connection import connect
            from .pool import RayExecutor, WorkerPool

            connect(address)
            pool = WorkerPool(worker_cpus())
            pool.watch()
            _APP_EXECUTOR = RayExecutor(pool)
        if on_resize is not None:
            _APP_EXECUTOR.pool.follow(on_resize)
        return _APP_EXECUTOR


def stop_app_executor() -> None:
    """Stop the app's pool (its watcher and its workers), so that a later job starts a new one."""
    global _APP_EXECUTOR
    with _APP_EXECUTOR_LOCK:
        if _APP_EXECUTOR is not None:
            _APP_EXECUTOR.pool.close()
            _APP_EXECUTOR = None
