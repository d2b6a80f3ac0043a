"""The loop every technique shares: how much work to do before the next frame, and a wall-clock budget.

A technique runs its traced steps in chunks and yields a Frame between chunks. `Cadence` sizes the chunks so that
a frame comes every `frame_every` iterations or every `FRAME_SECONDS` of work, whichever is sooner: a large image
or a slow machine still streams, and Stop (which closes the generator at its next yield) acts within about that
long. `limit_time` ends a run once its budget is spent, between frames, keeping the last good image.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from .frames import Frame

FRAME_SECONDS = 1.0


class Cadence:
    """When to hand back a frame, and how many iterations to run before looking again.

    The first frame is due after the first chunk (a single iteration), so a run shows something at once. The cost
    of an iteration is measured on each chunk per unit of `work` (DeepDream passes the pixel count, so an octave's
    new size rescales the estimate; the others pass 1).
    """

    def __init__(self, frame_every: int, clock: Callable[[], float] = time.perf_counter,
                 frame_seconds: float | None = None):
        self.frame_every = frame_every
        self.frame_seconds = FRAME_SECONDS if frame_seconds is None else frame_seconds
        self.clock = clock
        self.last_frame = clock()
        self.iterations_since_frame = 0
        self.frames_handed = 0
        self.seconds_per_work: float | None = None
        self.chunk_started = self.last_frame

    def next_chunk(self, remaining: int, work: float = 1.0) -> int:
        """Iterations to run now: at most `remaining`, and no more than reach the next frame."""
        limit = min(remaining, self.frame_every - self.iterations_since_frame)
        if self.seconds_per_work is None:
            return 1
        seconds_left = self.frame_seconds - (self.clock() - self.last_frame)
        affordable = int(seconds_left / max(self.seconds_per_work * work, 1e-12))
        return max(1, min(limit, affordable))

    def start_chunk(self) -> None:
        self.chunk_started = self.clock()

    def end_chunk(self, iterations: int, work: float = 1.0) -> None:
        """Record a chunk's iterations; read its results before calling, so the time covers real work."""
        self.iterations_since_frame += iterations
        seconds = self.clock() - self.chunk_started
        self.seconds_per_work = seconds / (max(iterations, 1) * work)

    def frame_due(self, force: bool = False) -> bool:
        """Whether a frame is due now (always with `force`); when it is, the next one is counted from now."""
        due = force or self.frames_handed == 0 or (self.iterations_since_frame >= self.frame_every
                                                   or self.clock() - self.last_frame >= self.frame_seconds)
        if due:
            self.last_frame = self.clock()
            self.iterations_since_frame = 0
            self.frames_handed += 1
        return due


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
