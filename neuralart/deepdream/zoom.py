"""Zoom animations, as Google's DeepDream notebook makes them: dream, magnify a little (and turn and move, if
asked), dream again, frame after frame; the dream keeps growing new detail as the view falls into it.

Each video frame dreams the previous one, warped, with a random generator seeded from (seed, frame number): a
render stopped at frame k and resumed from frame k's PNG gives the same frames as one that never stopped. The seeded
roll (the notebook's "jitter") moves identically on every rerun, and `blend` keeps part of the warped previous
frame in each new one, so the dream changes less from frame to frame and does not flicker.

`zoom(image, config)` yields the Frames of each frame's dream (`stage` "frame 3 of 120 · octave 1 of 2 ...") and then
the finished video frame (`stage_done=True`, `stage` "frame 3 of 120"); iterations count over the whole video.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np

from .. import images
from ..frames import Frame
from ..models import Backbone, get_backbone
from ..settings import setting
from .config import DreamConfig
from .run import dream_frames, objective_for, octave_shapes


@dataclasses.dataclass(frozen=True)
class ZoomConfig(DreamConfig):
    """Settings of one zoom animation: each frame's dream (DeepDream's settings, lighter by default, since every
    frame builds on the dream before it) and the camera's move between frames."""

    octaves: int = setting(2, "number of scales per frame, smallest first", label="Octaves per frame", low=1, high=8,
                           integer=True)
    iterations: int = setting(5, "gradient-ascent iterations per octave of each frame", label="Iterations per octave",
                              low=0, high=1000, integer=True, slider=(0, 50, 1))
    max_side: int | None = setting(512, "shrink the photo so its longest side is at most this many pixels",
                                   label="Longest side (px)", low=32, high=4096, integer=True, optional=True,
                                   slider=(64, 1024, 16))
    frames: int = setting(120, "video frames to make", label="Frames", low=1, high=10_000, integer=True,
                          slider=(1, 600, 1))
    zoom: float = setting(1.05, "magnification from one frame to the next (above 1 zooms in)", label="Zoom per frame",
                          low=0.5, high=2.0, slider=(0.9, 1.2, 0.005))
    rotate: float = setting(0.0, "degrees turned from one frame to the next (counter-clockwise)",
                            label="Rotation per frame (degrees)", low=-45.0, high=45.0, slider=(-5, 5, 0.1))
    shift_x: float = setting(0.0, "pixels the view moves right from one frame to the next", label="Move right (px)",
                             low=-256.0, high=256.0, slider=(-16, 16, 0.5))
    shift_y: float = setting(0.0, "pixels the view moves down from one frame to the next", label="Move down (px)",
                             low=-256.0, high=256.0, slider=(-16, 16, 0.5))
    blend: float = setting(0.0, "share of the warped previous frame kept in each new one (more: calmer, less "
                           "flicker)", label="Temporal blend", low=0.0, high=0.95, slider=(0.0, 0.95, 0.05))
    fps: int = setting(24, "video frames per second", label="Frames per second", low=1, high=60, integer=True)

    def dream_config(self) -> DreamConfig:
        """The settings each frame's dream runs with."""
        names = {field.name for field in dataclasses.fields(DreamConfig)}
        return DreamConfig(**{name: getattr(self, name) for name in names})

    def frame_iterations(self, size: tuple[int, int], min_side: int) -> int:
        """Iterations one frame's dream plans for an image of `size`."""
        return len(octave_shapes(size, self.octaves, self.octave_scale, min_side)) * self.iterations


def zoom(image, config: ZoomConfig = ZoomConfig(), backbone: Backbone | None = None, *, guide=None,
         done_frames: int = 0) -> Iterator[Frame]:
    """Make a zoom animation of `image` (a path, PIL image or uint8 array), yielding Frames as it goes.

    done_frames: frames already made (a resumed render): `image` is then the last of them, and the run makes frames
    done_frames + 1 to `config.frames`. guide: an image every frame's dream is steered towards. Inputs are checked
    before this returns.
    """
    if not isinstance(done_frames, int) or not 0 <= done_frames < config.frames:
        raise ValueError(f"done_frames must be a whole number from 0 to {config.frames - 1} (frames - 1), got "
                         f"{done_frames!r}")
    backbone = backbone or get_backbone(config.backbone, config.weights, precision="auto")
    start = images.load_image(image, max_side=config.max_side)
    objective = objective_for(config, backbone, guide, start.shape[:2])
    return _ZoomRun(config, backbone, objective, start, done_frames).frames()


class _ZoomRun:
    """The state of one animation, created inside `zoom`."""

    def __init__(self, config: ZoomConfig, backbone: Backbone, objective, start: np.ndarray, done_frames: int):
        self.config = config
        self.dream_config = config.dream_config()
        self.backbone = backbone
        self.objective = objective
        self.start = start
        self.done_frames = done_frames
        per_frame = config.frame_iterations(start.shape[:2], backbone.spec.min_size)
        self.total_iterations = per_frame * config.frames
        self.iterations = per_frame * done_frames

    def frames(self) -> Iterator[Frame]:
        previous = self.start
        for number in range(self.done_frames + 1, self.config.frames + 1):
            source = previous if number == 1 else self.warp(previous)
            dreamed = yield from self._dream_frame(source, number)
            previous = self.blended(dreamed, source, number)
            yield Frame(image=previous, iteration=self.iterations, total_iterations=self.total_iterations,
                        losses=dict(self.losses), stage=f"frame {number} of {self.config.frames}", stage_done=True)

    def warp(self, image: np.ndarray) -> np.ndarray:
        """The camera's move from one frame to the next."""
        config = self.config
        return images.zoom_image(image, config.zoom, config.rotate, (config.shift_x, config.shift_y))

    def blended(self, dreamed: np.ndarray, source: np.ndarray, number: int) -> np.ndarray:
        """The new frame: its dream, with `blend` of the warped previous frame kept (not on the first frame, whose
        source is the photo itself)."""
        if not self.config.blend or number == 1:
            return dreamed
        mixed = (1.0 - self.config.blend) * dreamed.astype(np.float32) + self.config.blend * source
        return images.pixels_to_uint8(mixed)

    def _dream_frame(self, source: np.ndarray, number: int):
        """Dream one frame, passing its progress on; returns the dreamed uint8 image."""
        rng = np.random.default_rng([self.config.seed, number])
        planned = self.config.frame_iterations(source.shape[:2], self.backbone.spec.min_size)
        last = None
        for frame in dream_frames(source, self.dream_config, self.backbone, self.objective, None, rng):
            last = frame
            # An octave that max_loss ended early gives up the iterations it did not take.
            total = self.total_iterations - (planned - frame.total_iterations)
            yield Frame(image=frame.image, iteration=self.iterations + frame.iteration, total_iterations=total,
                        losses=frame.losses, stage=f"frame {number} of {self.config.frames} · {frame.stage}")
        self.iterations += last.iteration
        self.total_iterations -= planned - last.total_iterations
        self.losses = last.losses
        return last.image
