"""Joining a Ray cluster, or starting a small one on this machine, with this package shipped to its workers."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from . import ClusterError

LOCAL = "local"
# A local cluster's shared-memory object store: frames and batch results pass through it, a few megabytes each,
# and Ray would otherwise reserve a third of the machine's memory for it.
LOCAL_OBJECT_STORE_BYTES = 256 * 2**20
# Ray lowers its workers' priority (niceness 15) so that its own services stay responsive on machines that run
# nothing else. A local cluster shares this machine with the app and whatever else runs here, where its jobs would
# then get less of the CPU than the same jobs in-process: they keep the app's priority instead.
LOCAL_SYSTEM_CONFIG = {"worker_niceness": 0}
INSTALL_HINT = "install it with `pip install -r requirements-ray.txt`"


def import_ray():
    """The `ray` module, or a ClusterError that says how to install it."""
    try:
        import ray
    except ImportError as error:
        raise ClusterError(f"Running on a Ray cluster needs Ray, which is not installed: {INSTALL_HINT}.") from error
    return ray


def package_folder() -> str:
    """This package's folder, shipped to the workers so that they run exactly this version of the code."""
    import neuralart

    return os.path.dirname(os.path.abspath(neuralart.__file__))


def connect(address: str, *, cpus: int | None = None, runtime_env: Mapping | None = None,
            quiet: bool = False) -> bool:
    """Connect this process to the cluster at `address` (`auto`: the one started on this machine with `ray
    start`; `local`: a new one on this machine, ended with this process; else `host:port` of a head node).
    A local cluster offers `cpus` CPUs (default: all of this machine's). Nothing happens when this process is
    already connected: returns whether it connected now. `runtime_env` adds to what the workers get (this
    package); `quiet` keeps Ray's start-up messages and the workers' output off this process's terminal."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    environment = dict(runtime_env or {})
    environment["py_modules"] = [*environment.get("py_modules", []), package_folder()]
    options = dict(runtime_env=environment, log_to_driver=not quiet,
                   logging_level=logging.WARNING if quiet else logging.INFO)
    try:
        if address == LOCAL:
            # Ray's own `local`: always a new cluster, even where `ray start` left one running on this machine.
            ray.init(address=LOCAL, num_cpus=cpus, object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                     include_dashboard=False, _system_config=LOCAL_SYSTEM_CONFIG, **options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise ClusterError(f"Could not connect to the Ray cluster at {address!r}: {error}. Start it first (`ray "
                           "start --head` on its head machine; see docs/scaling.md), or use `local`.") from error
    return True


def disconnect() -> None:
    """Leave the cluster (a `local` one ends with it)."""
    ray = import_ray()
    if ray.is_initialized():
        ray.shutdown()
