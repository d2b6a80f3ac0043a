"""The one thing every technique yields: a `Frame`, an intermediate (or final) image plus its progress.

Techniques are generators of Frames so that a caller (the web app, the CLI, a notebook) can show results as they
stream in and stop a run by closing the generator. `limit_time` bounds a run's wall-clock time without threads.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping

import numpy as np


@dataclasses.dataclass(frozen=True)
class Frame:
    """An image a technique produced, and where it stands.

    image: uint8 array of shape (height, width, 3).
    step: steps done so far (1-based once any work is done; 0 for a frame shown before the first step).
    total_steps: steps the whole run will do, known when it starts.
    losses: named scalar losses or objectives at this step (plain floats).
    stage: a short human-readable phase ("octave 2/3", "scale 1/2", "filters 0-15").
    stage_done: True for the frame that closes a stage (an octave, a scale): callers keep these.
    """

    image: np.ndarray
    step: int
    total_steps: int
    losses: Mapping[str, float] = dataclasses.field(default_factory=dict)
    stage: str = ""
    stage_done: bool = False

    def __post_init__(self) -> None:
        image = self.image
        if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
                and image.shape[2] == 3):
            raise TypeError(f"Frame.image must be uint8 HxWx3, got {getattr(image, 'dtype', type(image))} "
                            f"{getattr(image, 'shape', '')}")
        if not 0 <= self.step <= self.total_steps:
            raise ValueError(f"Frame.step {self.step} is outside 0..{self.total_steps}")

    @property
    def done(self) -> bool:
        """True for the last frame of a run that went to the end."""
        return self.step == self.total_steps


def limit_time(frames: Iterator[Frame], seconds: float | None,
               clock: Callable[[], float] = time.monotonic) -> Iterator[Frame]:
    """Pass frames through until `seconds` have passed, then close the run and stop.

    The budget is checked between frames, so a run stops within one chunk of work after its budget; the last
    frame passed on is the last good image. Returns (as the generator's return value) True when it cut the run
    short, so `yield from` callers can tell a finished run from a timed-out one.
    """
    start = clock()
    try:
        for frame in frames:
            yield frame
            if seconds is not None and clock() - start > seconds and not frame.done:
                return True
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()
    return False
