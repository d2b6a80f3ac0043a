"""Progress on the command line: a bar with the time left (tqdm), on stderr, only when stderr is a terminal and
--quiet is not given, so scripts and pipes see nothing but our results and errors."""

from __future__ import annotations

import sys

from ..frames import Frame


class Progress:
    """Follows a run's frames: iterations done of the total, the current stage and the first losses."""

    def __init__(self, quiet: bool = False, stream=None, unit: str = "it"):
        self.stream = stream or sys.stderr
        self.enabled = not quiet and bool(getattr(self.stream, "isatty", lambda: False)())
        self.unit = unit
        self.bar = None

    def update(self, frame: Frame) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=frame.total_iterations, file=self.stream, unit=self.unit, dynamic_ncols=True,
                            leave=True)
        self.bar.total = frame.total_iterations
        self.bar.set_description(frame.stage, refresh=False)
        self.bar.set_postfix({name: f"{value:.3g}" for name, value in list(frame.losses.items())[:2]},
                             refresh=False)
        self.bar.update(frame.iteration - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
