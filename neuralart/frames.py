"""The one thing every technique yields: a `Frame`, an intermediate (or final) image plus its progress.

Techniques are generators of Frames so that a caller (the web app, the CLI, a notebook) can show results as they
stream in and stop a run by closing the generator.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping

import numpy as np


@dataclasses.dataclass(frozen=True)
class Frame:
    """An image a technique produced, and where it stands.

    image: uint8 array of shape (height, width, 3).
    iteration: iterations done so far (0 for a frame shown before the first one).
    total_iterations: iterations the whole run will do, as planned when it starts (it falls when a stage ends
    early, as a DeepDream octave at max_loss does).
    losses: named scalar losses or objectives at this iteration (plain floats).
    stage: a short phase in words a student knows ("octave 2 of 3 (533×400)", "scale 1 of 2 (256×192)").
    stage_done: True for the frame that closes a stage (an octave, a scale): callers keep these.
    note: an expert's detail the stage leaves out (a switch of precision, why an octave ended early), or "".
    """

    image: np.ndarray
    iteration: int
    total_iterations: int
    losses: Mapping[str, float] = dataclasses.field(default_factory=dict)
    stage: str = ""
    stage_done: bool = False
    note: str = ""

    def __post_init__(self) -> None:
        image = self.image
        if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
                and image.shape[2] == 3):
            raise TypeError(f"Frame.image must be uint8 HxWx3, got {getattr(image, 'dtype', type(image))} "
                            f"{getattr(image, 'shape', '')}")
        if not 0 <= self.iteration <= self.total_iterations:
            raise ValueError(f"Frame.iteration {self.iteration} is outside 0..{self.total_iterations}")

    @property
    def done(self) -> bool:
        """True for the last frame of a run that went to the end."""
        return self.iteration == self.total_iterations

    @property
    def step(self) -> int:
        """Deprecated name of `iteration` (before version 0.2)."""
        warnings.warn("Frame.step is now Frame.iteration", DeprecationWarning, stacklevel=2)
        return self.iteration

    @property
    def total_steps(self) -> int:
        """Deprecated name of `total_iterations` (before version 0.2)."""
        warnings.warn("Frame.total_steps is now Frame.total_iterations", DeprecationWarning, stacklevel=2)
        return self.total_iterations
