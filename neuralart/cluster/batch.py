"""Batches: many jobs, each making one output file, run in this process or as Ray tasks spread over a cluster.

A batch is a sequence of `BatchItem`s (a job and the file its final image is for). A runner yields each item's
`ItemResult` as it finishes: the final image as a PNG carrying the job's recipe, or why the item failed. Writing
the files is the caller's part (the `batch` command writes each atomically). An item whose inputs or settings are
refused is reported at once; any other failure, a worker that died included, is tried again up to `retries` times
and then reported, and the other items go on.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator

from ..jobs import Job
from . import ClusterError
from .worker import item_outcome, portable, thread_environment


@dataclasses.dataclass(frozen=True)
class BatchItem:
    """One output of a batch: the job that makes it and the file it is for."""

    job: Job
    output: str


@dataclasses.dataclass(frozen=True)
class ItemResult:
    """How an item ended: its final image as a PNG carrying its recipe, or the reason it failed."""

    item: BatchItem
    png: bytes | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.png is None


class InProcessRunner:
    """Runs the items one after the other in this process."""

    def __init__(self, retries: int = 2):
        self.retries = retries

    def results(self, items: Iterable[BatchItem]) -> Iterator[ItemResult]:
        for item in items:
            yield self.run(item)

    def run(self, item: BatchItem) -> ItemResult:
        failure = None
        for _ in range(self.retries + 1):
            try:
                png, refusal = item_outcome(item.job)
            except Exception as error:  # Not the input's fault: another attempt may succeed.
                failure = error
                continue
            return ItemResult(item, png, refusal)
        return ItemResult(item, error=f"failed {self.retries + 1} times: {failure}")


class RayRunner:
    """Runs each item as a Ray task of `cpus` CPUs on the cluster this process is connected to
    (neuralart.cluster.connection.connect). Ray runs a task again when it raises or its worker dies; at most
    `in_flight` items (default: twice the tasks the cluster can run at once) are submitted ahead, so that a long
    batch (the frames of a video) does not sit in the object store all at once."""

    def __init__(self, retries: int = 2, cpus: int = 1, in_flight: int | None = None):
        self.retries, self.cpus, self.in_flight = retries, cpus, in_flight

    def results(self, items: Iterable[BatchItem]) -> Iterator[ItemResult]:
        from .connection import import_ray
        from .pool import node_capacity

        ray = import_ray()
        task = ray.remote(item_outcome).options(num_cpus=self.cpus, max_retries=self.retries, retry_exceptions=True,
                                                runtime_env=thread_environment(self.cpus))
        slots = sum(node_capacity(self.cpus).values())
        if not slots:
            raise ClusterError(f"No machine of the cluster has {self.cpus} CPUs for a task: ask for fewer.")
        in_flight = self.in_flight or 2 * slots
        waiting = iter(items)
        running: dict = {}
        try:
            while True:
                for item in itertools.islice(waiting, in_flight - len(running)):
                    running[task.remote(portable(item.job))] = item
                if not running:
                    return
                (finished,), _ = ray.wait(list(running), num_returns=1)
                yield self._result(finished, running.pop(finished))
        finally:
            for reference in running:
                ray.cancel(reference, force=True)

    def _result(self, reference, item: BatchItem) -> ItemResult:
        from ray import exceptions

        from .connection import import_ray

        try:
            png, refusal = import_ray().get(reference)
        except exceptions.RayTaskError as error:
            cause = error.cause if isinstance(error.cause, Exception) else error
            return ItemResult(item, error=f"failed {self.retries + 1} times: {cause}")
        except exceptions.RayError as error:
            summary = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return ItemResult(item, error=f"its worker failed {self.retries + 1} times: {summary}")
        return ItemResult(item, png, refusal)
