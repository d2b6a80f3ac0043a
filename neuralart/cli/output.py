"""Running a technique to a file: progress on stderr, the last image written (in the format its name asks for)
with its recipe, a JSON report; on Ctrl-C, the last image so far, marked as stopped."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator

from .. import images
from ..frames import Frame
from .progress import Progress


def add_output_arguments(parser: argparse.ArgumentParser, *, recipe: bool = True) -> None:
    """-o, --report, --quiet (and --recipe where a technique's settings can be restored)."""
    parser.add_argument("-o", "--output", required=True,
                        help="image file to write: .png, .webp (both lossless) or .jpg, with the run's recipe inside")
    parser.add_argument("--report", metavar="FILE.json", help="write final losses, iterations and wall time as JSON")
    if recipe:
        parser.add_argument("--recipe", metavar="FILE.png", help="start from the settings stored in an image made "
                            "here; flags given explicitly win")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")


def stopped_path(output: str) -> str:
    """Where a stopped run's image goes: beside `output`, its name marked ("out.png" -> "out-stopped.png")."""
    stem, ending = os.path.splitext(output)
    return f"{stem}-stopped{ending}"


def run_to_file(frames: Iterator[Frame], output: str, recipe: dict, report_path: str | None,
                quiet: bool = False, report_extra: Callable[[Frame], dict] | None = None) -> Frame:
    """Drive a technique with a progress bar, write the last image (with its recipe) and a JSON report. Ctrl-C
    writes the last image so far instead, marked as stopped in its name and recipe, and says where."""
    images.format_for(output)  # A name we cannot write is refused before any work.
    start = time.perf_counter()
    last = None
    try:
        with Progress(quiet) as progress:
            for frame in frames:
                last = frame
                progress.update(frame)
    except KeyboardInterrupt:
        getattr(frames, "close", lambda: None)()
        if last is not None:
            recipe = {**recipe, "stopped": {"iteration": last.iteration, "of": last.total_iterations}}
            output = stopped_path(output)
            _write(output, last, recipe, report_path, start, report_extra)
            print(f"stopped at iteration {last.iteration} of {last.total_iterations}: wrote {output}",
                  file=sys.stderr)
        raise
    if last is None:
        raise RuntimeError("the run produced no image")
    _write(output, last, recipe, report_path, start, report_extra)
    if not quiet:
        print(f"wrote {output}", file=sys.stderr)
    return last


def _write(output: str, last: Frame, recipe: dict, report_path: str | None, start: float,
           report_extra: Callable[[Frame], dict] | None) -> None:
    images.save_image(output, last.image, recipe)
    if report_path:
        report = {"technique": recipe["technique"], "output": output, "iterations": last.iteration,
                  "total_iterations": last.total_iterations, "stopped": "stopped" in recipe,
                  "wall_time_s": round(time.perf_counter() - start, 3), "final_losses": dict(last.losses),
                  "image_size": list(last.image.shape[:2]), "recipe": recipe}
        if report_extra:
            report.update(report_extra(last))
        write_report(report_path, report)


def write_report(path: str, report: dict) -> None:
    with open(path, "w") as file:
        json.dump(report, file, indent=2)


def peak_memory_mb() -> float | None:
    """This process's peak resident memory so far, in MiB (None where the platform cannot tell)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)
