"""Scaling out on Ray, against running in-process, on this machine.

    python bench/cluster.py                      # both measures (about 15-25 minutes on a 2-core CPU)
    python bench/cluster.py --quick              # fewer iterations and repetitions (a few minutes)
    python bench/cluster.py --cases overhead     # one of: overhead, throughput
    python bench/cluster.py --out DIR            # where cluster.md and cluster.json go (default bench/results/)

overhead: a default DeepDream (InceptionV3's layers and settings, longest side 512 px, random weights: the same
work as ImageNet's) run in this process and on a warm worker of a local Ray cluster holding every core, timed
alternately; the Ray path's time per job over the in-process one. Both use every core as TensorFlow threads
(NEURALART_THREADS), so the difference is Ray's alone: submitting the job, shipping its photo and streaming its
frames back.

throughput: twelve SqueezeNet dreams (the real weights from ../shared when present, else random; 256 px) in this
process one after the other, then as Ray tasks with one worker of every core, then with two workers of half the
cores each; items per minute, and each against in-process. Every path is warmed up first (networks built, steps
traced), as a long batch would be.

Each measure runs in a fresh process. Never part of the test suite.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

from measure import bench_parser, in_fresh_process, report_header, write_report

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_OUT = HERE / "results"
PHOTOS = [ROOT / "assets" / name for name in ("astronaut.jpg", "chelsea.jpg", "coffee.jpg", "rocket.jpg")]
SQUEEZENET_WEIGHTS = ROOT.parent / "shared" / "weights" / "squeezenet1_1_notop_tf.h5"
BATCH_ITEMS = 12
CASES = ("overhead", "throughput")


def main(argv: list[str] | None = None) -> int:
    options = parse_arguments(argv)
    if options.run_case:
        sys.path.insert(0, str(ROOT))
        result = {"overhead": overhead, "throughput": throughput}[options.run_case](options)
        Path(options.json).write_text(json.dumps(result, indent=2))
        return 0
    names = options.cases.split(",") if options.cases else list(CASES)
    started = time.perf_counter()
    results = [run_case(name, options) for name in names]
    report = {**report_header("bench/cluster.py", argv, started), "cores": cores(), "results": results}
    write_report(Path(options.out), "cluster", report, markdown(report))
    return 0


def parse_arguments(argv):
    return bench_parser(__doc__, CASES, "cluster", DEFAULT_OUT).parse_args(argv)


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def run_case(name: str, options) -> dict:
    """Run one measure in a fresh Python process; its result, or what it died of."""
    arguments = ["--run-case", name, *(["--quick"] if options.quick else [])]
    # The in-process reference must not go to a cluster named in the caller's environment.
    result = in_fresh_process(Path(__file__).resolve(), arguments, name,
                              {"NEURALART_THREADS": str(cores()), "NEURALART_RAY_ADDRESS": None})
    return {"case": name, **result}


def connect_local():
    from neuralart.cluster.connection import connect

    connect("local", cpus=cores(), quiet=True)


def overhead(options) -> dict:
    """Seconds per default 512-px DeepDream, in-process and on a warm Ray worker, alternately."""
    from neuralart.cluster.pool import RayExecutor, WorkerPool
    from neuralart.deepdream import DreamConfig
    from neuralart.jobs import InProcess, Job

    config = DreamConfig(weights=None, max_side=512, **({"iterations": 5} if options.quick else {}))
    job = Job("dream", config, {"image": str(PHOTOS[2])})
    connect_local()
    pool = WorkerPool(cores())
    executors = {"in_process": InProcess(), "ray": RayExecutor(pool)}
    times: dict[str, list[float]] = {name: [] for name in executors}
    repeats = 1 if options.quick else 3
    for round_number in range(repeats + 1):  # The first round builds the networks and traces the steps.
        for name, executor in executors.items():
            started = time.perf_counter()
            frames = sum(1 for _ in executor.frames(job))
            if round_number:
                times[name].append(time.perf_counter() - started)
    pool.close()
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {"case": "overhead", "job": f"DeepDream {config.backbone}, {config.octaves} octaves x "
            f"{config.iterations} iterations, 512 px, {frames} frames", "seconds": times,
            "median_s": {name: round(value, 3) for name, value in medians.items()},
            "ray_over_in_process": round(medians["ray"] / medians["in_process"], 4)}


def throughput(options) -> dict:
    """Items per minute of a 12-item SqueezeNet batch: in-process, 1 Ray worker of every core, 2 of half."""
    from neuralart.cluster.batch import BatchItem, InProcessRunner, RayRunner
    from neuralart.deepdream import DreamConfig
    from neuralart.jobs import Job

    weights = str(SQUEEZENET_WEIGHTS) if SQUEEZENET_WEIGHTS.is_file() else None
    config = DreamConfig(backbone="squeezenet", weights=weights, max_side=256,
                         **({"iterations": 5, "octaves": 2} if options.quick else {}))
    items = [BatchItem(Job("dream", config, {"image": str(PHOTOS[index % len(PHOTOS)])}), f"item{index}.png")
             for index in range(BATCH_ITEMS)]
    connect_local()
    runners = {"in_process": InProcessRunner(), "ray_1_worker": RayRunner(cpus=cores()),
               "ray_2_workers": RayRunner(cpus=max(1, cores() // 2))}
    per_minute = {}
    for name, runner in runners.items():
        warm_up = 2 if name == "ray_2_workers" else 1
        assert all(not result.failed for result in runner.results(items[:warm_up]))
        started = time.perf_counter()
        failed = [result.item.output for result in runner.results(items) if result.failed]
        assert not failed, failed
        per_minute[name] = round(BATCH_ITEMS * 60 / (time.perf_counter() - started), 3)
    return {"case": "throughput", "batch": f"{BATCH_ITEMS} DeepDreams, SqueezeNet ({'real' if weights else 'random'} "
            f"weights), {config.octaves} octaves x {config.iterations} iterations, 256 px",
            "items_per_minute": per_minute,
            "against_in_process": {name: round(value / per_minute["in_process"], 3)
                                   for name, value in per_minute.items()}}


def markdown(report: dict) -> str:
    lines = ["# Ray against in-process", "", f"Command: `{report['command']}` ({report['date']}, {report['cores']} "
             f"cores, {report['wall_s']} s in all)", ""]
    for result in report["results"]:
        if "error" in result:
            lines.append(f"- {result['case']}: failed ({result['error']})")
        elif result["case"] == "overhead":
            median = result["median_s"]
            lines.append(f"- overhead ({result['job']}): in-process {median['in_process']} s, Ray {median['ray']} s "
                         f"per job (medians); Ray / in-process = {result['ray_over_in_process']}")
        else:
            rates = ", ".join(f"{name} {value}/min ({result['against_in_process'][name]}x)"
                              for name, value in result["items_per_minute"].items())
            lines.append(f"- throughput ({result['batch']}): {rates}")
        lines.append(f"  (1-minute load average {result['load_average'][0]} before, {result['load_average'][1]} "
                     f"after, on {report['cores']} cores)")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
