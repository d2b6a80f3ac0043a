"""What runs on a Ray worker: a job's frames (the app), or a batch item's final image (the batch).

Jobs travel as data. Image files are read where the job is submitted and sent as their bytes, since a worker on
another machine cannot open a path on this one; the worker decodes them with the same safe loader as ever.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

from .. import images, recipes
from ..frames import Frame
from ..images import ImageInputError
from ..jobs import Job, run_job
from ..models import WeightsUnavailableError
from ..runtime import THREADS_VARIABLE

# What a job's stream yields first, once the worker has accepted its inputs (a refusal raises instead).
STARTED = "started"
# Failures that running again cannot mend: the batch reports them at once instead of retrying.
REFUSALS = (ImageInputError, WeightsUnavailableError, ValueError)


def thread_environment(cpus: int) -> dict:
    """A worker's environment: TensorFlow's threads limited to the CPUs Ray gave it, so that workers sharing a
    machine do not slow each other down."""
    return {"env_vars": {THREADS_VARIABLE: str(cpus)}}


def portable(job: Job) -> Job:
    """`job` with every image file replaced by its bytes, ready to run on any machine of the cluster."""
    return dataclasses.replace(job, images={name: _portable(source) for name, source in job.images.items()})


def _portable(source):
    if isinstance(source, (list, tuple)):
        return [_portable(part) for part in source]
    if isinstance(source, (str, os.PathLike)) and os.path.isfile(source):
        with open(source, "rb") as file:
            return file.read()
    return source


class JobWorker:
    """The body of one of the app's Ray actors. It runs one job at a time; the networks a job builds stay in this
    process's backbone cache, warm for the next job."""

    def frames(self, job: Job) -> Iterator[Frame | str]:
        """STARTED once the job's inputs are accepted, then its frames. Ray's cancellation of this stream closes
        the technique's generator at the chunk it is in."""
        frames = run_job(job)
        yield STARTED
        try:
            yield from frames
        finally:
            frames.close()

    def process(self) -> int:
        """This worker's process id."""
        return os.getpid()


def final_png(job: Job) -> bytes:
    """Run `job` to its end here; its last image as a PNG carrying the job's recipe."""
    last = None
    frames = run_job(job)
    try:
        for last in frames:
            pass
    finally:
        frames.close()
    if last is None:
        raise RuntimeError("the run produced no image")
    return images.encode_png(last.image, recipes.recipe_for(job.technique, job.config))


def item_outcome(job: Job) -> tuple[bytes | None, str | None]:
    """A batch item's (PNG, None), or (None, why) when its inputs or settings are refused. Any other failure
    raises, so that the item is tried again."""
    try:
        return final_png(job), None
    except REFUSALS as error:
        return None, str(error)
