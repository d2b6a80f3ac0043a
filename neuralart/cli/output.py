"""Running a technique to a file: progress on stderr, the last image written with its recipe, a JSON report."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator

from .. import images
from ..frames import Frame
from .progress import Progress


def add_output_arguments(parser: argparse.ArgumentParser, *, recipe: bool = True) -> None:
    """-o, --report, --quiet (and --recipe where a technique's settings can be restored)."""
    parser.add_argument("-o", "--output", required=True, help="PNG file to write")
    parser.add_argument("--report", metavar="FILE.json", help="write final losses, iterations and wall time as JSON")
    if recipe:
        parser.add_argument("--recipe", metavar="FILE.png", help="start from the settings stored in a PNG made "
                            "here; flags given explicitly win")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")


def run_to_file(frames: Iterator[Frame], output: str, recipe: dict, report_path: str | None,
                quiet: bool = False, report_extra: Callable[[Frame], dict] | None = None) -> Frame:
    """Drive a technique with a progress bar, write the last image (with its recipe) and a JSON report."""
    start = time.perf_counter()
    last = None
    with Progress(quiet) as progress:
        for frame in frames:
            last = frame
            progress.update(frame)
    if last is None:
        raise RuntimeError("the run produced no image")
    images.save_png(output, last.image, recipe)
    if report_path:
        report = {"technique": recipe["technique"], "output": output, "iterations": last.iteration,
                  "wall_time_s": round(time.perf_counter() - start, 3), "final_losses": dict(last.losses),
                  "image_size": list(last.image.shape[:2]), "recipe": recipe}
        if report_extra:
            report.update(report_extra(last))
        write_report(report_path, report)
    if not quiet:
        print(f"wrote {output}", file=sys.stderr)
    return last


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
