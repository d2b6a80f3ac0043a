"""Animations: uint8 frames written as a video (WebM with VP9, MP4 with H.264) or an animated image (WebP, GIF),
and the frames of a video read back as uint8 images.

Videos go through PyAV, whose wheels carry their own FFmpeg with libvpx and libx264, so no program needs to be
installed. Both kinds play in the browsers people use (Chromium, Firefox, Safari); WebM is the app's, being
free of patents. Animated images go through Pillow.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

# suffix -> (container, codec, encoder options); None for the animated images Pillow writes.
VIDEO_FORMATS = {
    ".webm": ("webm", "libvpx-vp9", {"crf": "30", "b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"}),
    ".mp4": ("mp4", "libx264", {"crf": "20", "preset": "medium", "movflags": "+faststart"}),
}
IMAGE_FORMATS = {".webp": "WEBP", ".gif": "GIF"}
ANIMATION_SUFFIXES = tuple(VIDEO_FORMATS) + tuple(IMAGE_FORMATS)
MAX_FPS = 120


def check_animation_path(path: str | os.PathLike) -> str:
    """The path's suffix, if it is one we write; otherwise a ValueError naming the ones we do."""
    suffix = Path(path).suffix.lower()
    if suffix not in ANIMATION_SUFFIXES:
        raise ValueError(f"cannot write an animation as {suffix or 'a file without a suffix'}; use one of "
                         f"{', '.join(ANIMATION_SUFFIXES)} (.webm plays in every current browser)")
    return suffix


def write_animation(path: str | os.PathLike, frames: Sequence[np.ndarray], fps: float) -> None:
    """Write uint8 (height, width, 3) frames, all of one size, as the animation `path`'s suffix names."""
    suffix = check_animation_path(path)
    if not len(frames):
        raise ValueError("an animation needs at least one frame")
    if not 0 < fps <= MAX_FPS:
        raise ValueError(f"fps must be between 0 and {MAX_FPS}, got {fps!r}")
    if suffix in IMAGE_FORMATS:
        _write_animated_image(path, frames, fps, IMAGE_FORMATS[suffix])
    else:
        _write_video(path, frames, fps, *VIDEO_FORMATS[suffix])


def _write_video(path, frames: Sequence[np.ndarray], fps: float, container: str, codec: str, options: dict) -> None:
    import fractions

    import av

    # movflags belongs to the MP4 container: +faststart puts the index first, so a browser starts playing at once.
    container_options = {key: value for key, value in options.items() if key == "movflags"}
    with av.open(os.fspath(path), mode="w", format=container, options=container_options) as output:
        stream = output.add_stream(codec, rate=fractions.Fraction(fps).limit_denominator(1001))
        # 4:2:0 colour, the form every browser decodes, halves the colour planes: it needs even sides.
        height, width = (side + side % 2 for side in frames[0].shape[:2])
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {key: value for key, value in options.items() if key != "movflags"}
        for frame in frames:
            even = np.pad(frame, ((0, height - frame.shape[0]), (0, width - frame.shape[1]), (0, 0)), mode="edge")
            output.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(even), format="rgb24")))
        output.mux(stream.encode())


def _write_animated_image(path, frames: Sequence[np.ndarray], fps: float, format_name: str) -> None:
    pictures = [Image.fromarray(frame) for frame in frames]
    duration = max(int(round(1000.0 / fps)), 1)
    options = {"quality": 85} if format_name == "WEBP" else {"optimize": True}
    pictures[0].save(path, format=format_name, save_all=True, append_images=pictures[1:], duration=duration, loop=0,
                     **options)


def count_video_frames(path: str | os.PathLike) -> int:
    """How many frames a file we wrote decodes to (videos by decoding them, animated images by their frames)."""
    if Path(path).suffix.lower() in IMAGE_FORMATS:
        with Image.open(path) as image:
            return getattr(image, "n_frames", 1)
    import av

    with av.open(os.fspath(path)) as video:
        return sum(1 for _ in video.decode(video=0))


def open_video(path: str | os.PathLike):
    """The video at `path`, opened with PyAV; a clear ValueError where it cannot be read."""
    try:
        import av
    except ImportError as error:
        raise ValueError(f"{os.fspath(path)} is a video; reading videos needs PyAV, which is not installed (pip "
                         "install av); or give a folder of its frames as images.") from error
    try:
        return av.open(os.fspath(path))
    except av.error.FFmpegError as error:
        raise ValueError(f"{os.fspath(path)} is not a video that can be read: {error}") from error


def video_frame_count(path: str | os.PathLike) -> int:
    """The number of frames of the video's first video stream (from its header, else by counting packets)."""
    with open_video(path) as container:
        if not container.streams.video:
            raise ValueError(f"{os.fspath(path)} has no video stream.")
        stream = container.streams.video[0]
        return stream.frames or sum(1 for packet in container.demux(stream) if packet.size)


def read_video_frames(path: str | os.PathLike, every: int = 1, max_side: int | None = None):
    """Every `every`-th frame of the video as a uint8 RGB array, shrunk to `max_side`."""
    from .sizes import shrink_to_longest_side

    with open_video(path) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % every == 0:
                pixels = frame.to_ndarray(format="rgb24")
                yield shrink_to_longest_side(pixels, max_side) if max_side else pixels
