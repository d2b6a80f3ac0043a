"""`python -m neuralart zoom INPUT -o OUT.webm [flags]`: a DeepDream zoom animation.

Each finished frame is written at once as a PNG (carrying the render's recipe) into a folder beside the output
(`--frames-dir`); the animation is encoded from them at the end, or when Ctrl-C stops the render, so nothing made
is lost. Run the same command again and it resumes after the last frame on disk. The output's suffix picks the
format: .webm (VP9) or .mp4 (H.264) videos, .webp or .gif animated images; `--also` writes more of them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import images, recipes
from .dream import GUIDE_HELP, PHOTO_HELP
from .flags import add_config_arguments, config_from_args
from .output import write_report
from .progress import Progress

FRAME_PATTERN = "frame_{:05d}.png"


def add_command(subparsers) -> None:
    from ..deepdream import ZoomConfig

    parser = subparsers.add_parser(
        "zoom", help="make a DeepDream zoom animation",
        description="Dream, zoom in a little (and turn and move, if asked), dream again: the classic infinite "
                    "zoom. Frames are kept as PNGs as they come; Ctrl-C encodes what is made, and running the same "
                    "command again resumes.")
    parser.add_argument("input", help=PHOTO_HELP)
    parser.add_argument("-o", "--output", required=True, help="animation to write: .webm (VP9, plays in every "
                        "current browser), .mp4 (H.264), .webp or .gif (animated images)")
    parser.add_argument("--also", action="append", default=[], metavar="FILE",
                        help="also write the animation here (e.g. a .gif); may be given several times")
    parser.add_argument("--frames-dir", metavar="DIR", help="folder for the frames' PNGs [default: the output's "
                        "name with -frames]; frames already there are kept and the render resumes after them")
    parser.add_argument("--guide", metavar="IMAGE", help=GUIDE_HELP)
    parser.add_argument("--report", metavar="FILE.json", help="write frames, iterations and wall time as JSON")
    parser.add_argument("--recipe", metavar="FILE.png", help="start from the settings stored in a frame made here; "
                        "flags given explicitly win")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    add_config_arguments(parser, ZoomConfig)
    parser.set_defaults(run=run)


def run(args) -> None:
    from ..deepdream import ZoomConfig

    config = config_from_args(ZoomConfig, args, "zoom")
    outputs = [args.output, *args.also]
    for output in outputs:
        images.check_animation_path(output)
    folder = Path(args.frames_dir) if args.frames_dir else Path(args.output).with_name(
        Path(args.output).stem + "-frames")
    recipe = recipes.recipe_for("zoom", config)
    start = time.perf_counter()
    resumed = len(frames_on_disk(folder, recipe))
    interrupted, last = render(args, config, folder, recipe, resumed)
    made = frames_on_disk(folder, recipe)
    if made:
        for output in outputs:
            images.write_animation(output, FrameFiles(made), config.fps)
    if args.report:
        write_report(args.report, {
            "technique": "zoom", "outputs": outputs if made else [], "frames_dir": str(folder), "frames": len(made),
            "frames_resumed": resumed, "planned_frames": config.frames, "fps": config.fps,
            "iterations": None if last is None else last.iteration,
            "final_losses": {} if last is None else dict(last.losses),
            "wall_time_s": round(time.perf_counter() - start, 3), "recipe": recipe})
    if not args.quiet:
        wrote = f"wrote {', '.join(outputs)} ({len(made)} frames)" if made else "no frame was made"
        print(wrote + (f"; frames in {folder}" if made else ""), file=sys.stderr)
    if interrupted:
        print(f"stopped after frame {len(made)} of {config.frames}; run the same command again to resume",
              file=sys.stderr)
        raise KeyboardInterrupt


def render(args, config, folder: Path, recipe: dict, resumed: int):
    """Make the frames after the `resumed` ones, each written as a PNG as it comes. Returns (whether Ctrl-C
    stopped it, the last Frame seen)."""
    from ..deepdream import zoom

    if resumed >= config.frames:
        return False, None
    folder.mkdir(parents=True, exist_ok=True)
    start = args.input if not resumed else folder / FRAME_PATTERN.format(resumed)
    if resumed and not args.quiet:
        print(f"resuming after frame {resumed} of {config.frames} in {folder}", file=sys.stderr)
    frames = zoom(start, config, guide=args.guide, done_frames=resumed)
    number, last = resumed, None
    try:
        with Progress(args.quiet) as progress:
            for frame in frames:
                last = frame
                progress.update(frame)
                if frame.stage_done:
                    number += 1
                    images.save_png(folder / FRAME_PATTERN.format(number), frame.image, recipe)
    except KeyboardInterrupt:
        return True, last
    finally:
        frames.close()
    return False, last


def frames_on_disk(folder: Path, recipe: dict) -> list[Path]:
    """The frames 1, 2, ... found in `folder` without a gap; a ValueError when they were made with other settings."""
    paths = []
    while (folder / FRAME_PATTERN.format(len(paths) + 1)).is_file():
        paths.append(folder / FRAME_PATTERN.format(len(paths) + 1))
    if paths:
        stored = images.read_recipe(str(paths[0]))
        if stored is None or stored.get("config") != recipe["config"]:
            raise ValueError(f"{folder} holds frames made with other settings (or by something else); choose "
                             "another --frames-dir, or give --recipe with one of its frames to continue it")
    return paths


class FrameFiles(Sequence):
    """Frame PNGs read one at a time as the encoder asks, so a long animation never sits whole in memory."""

    def __init__(self, paths: list[Path]):
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index) -> np.ndarray:
        return images.load_image(self.paths[index])
