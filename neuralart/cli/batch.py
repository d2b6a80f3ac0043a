"""`python -m neuralart batch dream|style|atlas ...`: many images at once, in this process or on a Ray cluster.

    batch dream PHOTOS -o FOLDER [dream flags]              every image of a folder, or every frame of a video
    batch style PHOTOS STYLE [STYLE ...] -o FOLDER [flags]  the same, stylized
    batch atlas -o FOLDER [filter flags] [--layers a,b]     one grid of filters per feature layer of a network

Each output is FOLDER/<name>.png carrying its recipe. Outputs that exist already are skipped, so a batch that was
interrupted resumes where it stopped; each is written to a temporary file in FOLDER and renamed, so a file under
its final name is always whole. `--ray ADDRESS|local` runs the items as Ray tasks across a cluster
(docs/scaling.md).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator

from .. import images
from .flags import add_config_arguments, add_presets, config_from_args
from .output import write_report

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm")
INPUTS_HELP = "a folder of images (JPEG, PNG, WEBP or BMP), or a video file (any format FFmpeg reads)"


@dataclasses.dataclass
class Inputs:
    """A batch's inputs: the output name of each, and (lazily, in the same order) what each job takes."""

    names: list[str]
    sources: Callable[[], Iterator[object]]


def add_command(subparsers) -> None:
    from ..deepdream import PRESETS as DREAM_PRESETS
    from ..deepdream import DreamConfig
    from ..features import FilterConfig
    from ..style_transfer import PRESETS as STYLE_PRESETS
    from ..style_transfer import StyleConfig

    parser = subparsers.add_parser(
        "batch", help="dream or stylize a folder of images (or a video's frames), or render a filter atlas",
        description="Many images at once: every output is written whole or not at all, existing ones are skipped "
                    "(run again to resume), failed items are tried again; --ray spreads them over a Ray cluster.")
    kinds = parser.add_subparsers(dest="kind", required=True)
    dream = kinds.add_parser("dream", help="DeepDream every image of a folder, or every frame of a video")
    dream.add_argument("inputs", help=INPUTS_HELP)
    style = kinds.add_parser("style", help="stylize every image of a folder, or every frame of a video")
    style.add_argument("inputs", help=INPUTS_HELP)
    style.add_argument("styles", nargs="+", metavar="style", help="one or more style images")
    atlas = kinds.add_parser("atlas", help="a grid of the first filters of every feature layer of a network")
    atlas.add_argument("--layers", dest="atlas_layers",
                       type=lambda text: tuple(part.strip() for part in text.split(",") if part.strip()),
                       help="only these layers, e.g. fire2_concat,fire5_concat [default: every feature layer]")
    for kind, config_class, presets, skip in ((dream, DreamConfig, DREAM_PRESETS, ()),
                                              (style, StyleConfig, STYLE_PRESETS, ()),
                                              (atlas, FilterConfig, None, ("layer", "layers"))):
        add_batch_arguments(kind, video=kind is not atlas)
        if presets:
            add_presets(kind, presets)
        add_config_arguments(kind, config_class, skip=skip)
    parser.set_defaults(run=run)


def add_batch_arguments(parser: argparse.ArgumentParser, video: bool) -> None:
    parser.add_argument("-o", "--output", required=True, metavar="FOLDER", help="folder to write the PNGs to")
    parser.add_argument("--ray", metavar="ADDRESS", help="run the items as Ray tasks: `local` (a cluster on this "
                        "machine), `auto` (the one `ray start` began here) or a head node's host:port")
    parser.add_argument("--worker-cpus", type=positive, default=1, metavar="N",
                        help="CPUs per Ray task (TensorFlow uses that many threads) [default: 1]")
    parser.add_argument("--retries", type=lambda text: positive(text, low=0), default=2, metavar="N",
                        help="times a failed item is tried again before it is reported [default: 2]")
    if video:
        parser.add_argument("--every", type=positive, default=1, metavar="N",
                            help="of a video, take every N-th frame [default: 1]")
    parser.add_argument("--report", metavar="FILE.json", help="write the summary and every failure as JSON")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")


def positive(text: str, low: int = 1) -> int:
    """A whole number of at least `low`, from a flag's text."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be {low} or more, got {value}")
    return value


def run(args) -> int:
    from ..cluster.batch import BatchItem

    inputs, make_job = plan(args)
    os.makedirs(args.output, exist_ok=True)
    outputs = [os.path.join(args.output, f"{name}.png") for name in inputs.names]
    skipped = sum(os.path.exists(output) for output in outputs)
    items = (BatchItem(make_job(source), output) for output, source in zip(outputs, inputs.sources())
             if not os.path.exists(output))
    started = time.perf_counter()
    with runner_for(args) as runner:
        done, failures = write_results(runner, items, len(outputs) - skipped, args.quiet)
    summary = {"done": done, "skipped": skipped, "failed": len(failures),
               "seconds": round(time.perf_counter() - started, 3), "failures": failures}
    report_summary(args, summary)
    return 1 if failures else 0


def plan(args) -> tuple[Inputs, Callable]:
    """The batch's inputs and the function that makes each input's job."""
    from ..jobs import Job

    if args.kind == "atlas":
        from ..features import FilterConfig
        from ..models import REGISTRY

        config = config_from_args(FilterConfig, args, "filters")
        layers = list(args.atlas_layers or REGISTRY[config.backbone].feature_layers)
        return (Inputs([f"{config.backbone}-{layer}" for layer in layers], lambda: iter(layers)),
                lambda layer: Job("filters", dataclasses.replace(config, layer=layer)))
    if args.kind == "dream":
        from ..deepdream import PRESETS, DreamConfig

        config = config_from_args(DreamConfig, args, "dream", PRESETS)
        return read_inputs(args.inputs, args.every, config.max_side), lambda image: Job("dream", config,
                                                                                         {"image": image})
    from ..style_transfer import PRESETS, StyleConfig

    config = config_from_args(StyleConfig, args, "style", PRESETS)
    styles = list(args.styles)
    return (read_inputs(args.inputs, args.every, config.max_side),
            lambda image: Job("style", config, {"content": image, "styles": styles}))


def read_inputs(path: str, every: int, max_side: int | None) -> Inputs:
    """The images of a folder (by name), or every `every`-th frame of a video, shrunk to `max_side` as it is
    decoded (the technique would shrink it alike)."""
    if os.path.isdir(path):
        files = sorted(name for name in os.listdir(path) if name.lower().endswith(PHOTO_SUFFIXES)
                       and not name.startswith("."))
        if not files:
            raise ValueError(f"{path} holds no JPEG, PNG, WEBP or BMP image.")
        stems = [os.path.splitext(name)[0] for name in files]
        names = [stem if stems.count(stem) == 1 else name.replace(".", "-") for stem, name in zip(stems, files)]
        return Inputs(names, lambda: (os.path.join(path, name) for name in files))
    if os.path.isfile(path) and path.lower().endswith(VIDEO_SUFFIXES):
        count = images.video_frame_count(path)
        stem = os.path.splitext(os.path.basename(path))[0]
        return Inputs([f"{stem}-frame{index:06d}" for index in range(0, count, every)],
                      lambda: images.read_video_frames(path, every, max_side))
    raise ValueError(f"{path} is neither a folder of images nor a video ({', '.join(VIDEO_SUFFIXES)}).")


@contextlib.contextmanager
def runner_for(args) -> Iterator:
    """The runner `--ray` asks for; a cluster this command connected to is left when the batch ends."""
    from ..cluster.batch import InProcessRunner, RayRunner

    if not args.ray:
        yield InProcessRunner(args.retries)
        return
    from ..cluster.connection import connect, disconnect

    connected_here = connect(args.ray, quiet=True)
    try:
        yield RayRunner(args.retries, args.worker_cpus)
    finally:
        if connected_here:
            disconnect()


def write_results(runner, items, total: int, quiet: bool) -> tuple[int, dict[str, str]]:
    """Write each finished item's PNG atomically, with a progress bar (and the time left) on a terminal; returns
    how many were written and {output: why} for the items that failed."""
    done, failures = 0, {}
    bar = None
    if not quiet and sys.stderr.isatty() and total:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="image", file=sys.stderr, dynamic_ncols=True)
    try:
        for result in runner.results(items):
            if result.failed:
                failures[result.item.output] = result.error
            else:
                write_atomically(result.item.output, result.png)
                done += 1
            if bar is not None:
                bar.set_postfix(failed=len(failures), refresh=False)
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return done, failures


def write_atomically(path: str, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then rename it to `path`: a file under the final name is
    always whole, even if this process is killed mid-write. (The temporary name starts with a dot and does not
    end in .png, so a later run neither skips nor lists it.)"""
    folder, name = os.path.split(path)
    temporary = os.path.join(folder, f".{name}.{os.getpid()}-{secrets.token_hex(4)}.part")
    try:
        with open(temporary, "xb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def report_summary(args, summary: dict) -> None:
    if args.report:
        write_report(args.report, {"kind": args.kind, "output": args.output, **summary})
    for output, why in summary["failures"].items():
        print(f"failed: {output}: {why}", file=sys.stderr)
    if not args.quiet:
        print(f"batch {args.kind}: {summary['done']} done, {summary['skipped']} skipped, {summary['failed']} failed "
              f"in {summary['seconds']:.1f} s", file=sys.stderr)
