"""Measuring tools for the benchmark: wall clocks, the matmul peak, FLOPs of a traced step, peak memory, a measure
run in a fresh process, and the report written as Markdown and JSON.

The machine this runs on may be shared, so every timing is the best of a few repetitions (the least disturbed),
and a reference and the project are timed alternately in the same process, so a burst of outside load slows
both rather than one.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def best_time(function: Callable[[], object], repeats: int = 3) -> tuple[float, object]:
    """(the shortest of `repeats` wall-clock times of `function()`, its last result)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def alternate(functions: dict[str, Callable[[], object]], repeats: int) -> dict[str, tuple[float, object]]:
    """Time each function `repeats` times, interleaved (a, b, a, b, ...); best time and last result of each."""
    results = {name: (float("inf"), None) for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            value = function()
            elapsed = time.perf_counter() - start
            results[name] = (min(results[name][0], elapsed), value)
    return results


def matmul_peak(dtype_name: str, size: int = 2048, chained: int = 8, repeats: int = 4) -> float:
    """Achieved GFLOP/s of square matrix products in `dtype_name` ('float32' or 'bfloat16'), the best of
    `repeats` timings of `chained` products run in one traced call (no Python between them)."""
    import tensorflow as tf

    dtype = tf.as_dtype(dtype_name)
    generator = tf.random.Generator.from_seed(0)
    left = tf.cast(generator.normal([size, size]), dtype)
    right = tf.cast(generator.normal([size, size]) / size ** 0.5, dtype)

    @tf.function
    def products(left, right):
        for _ in range(chained):
            left = tf.matmul(left, right)
        return left

    products(left, right).numpy()
    seconds, _ = best_time(lambda: products(left, right).numpy(), repeats)
    return 2.0 * size ** 3 * chained / seconds / 1e9


def peaks(quick: bool = False) -> dict[str, float]:
    """The matmul peak in float32 and bfloat16 (GFLOP/s), best over two sizes."""
    sizes = (2048,) if quick else (2048, 2560)
    return {dtype: round(max(matmul_peak(dtype, size) for size in sizes), 1) for dtype in ("float32", "bfloat16")}


def step_flops(function, *specs) -> float:
    """Floating-point operations of the matrix-product ops (convolutions forward and backward, matmuls) in one
    call of the traced `function` at the fully specified `specs`; elementwise work is not counted."""
    graph = function.get_concrete_function(*specs).graph
    return float(sum(_operation_flops(operation) for operation in graph.get_operations()))


def _operation_flops(operation) -> float:
    kind = operation.type
    try:
        if kind == "Conv2D":
            output, kernel = operation.outputs[0].shape.as_list(), operation.inputs[1].shape.as_list()
            return 2.0 * np.prod(output) * kernel[0] * kernel[1] * kernel[2]
        if kind == "Conv2DBackpropInput":
            output_gradient, kernel = operation.inputs[2].shape.as_list(), operation.inputs[1].shape.as_list()
            return 2.0 * np.prod(output_gradient) * kernel[0] * kernel[1] * kernel[2]
        if kind in ("MatMul", "BatchMatMulV2"):
            left = operation.inputs[0].shape.as_list()
            transposed = operation.get_attr("transpose_a" if kind == "MatMul" else "adj_x")
            inner = left[-2] if transposed else left[-1]
            return 2.0 * np.prod(operation.outputs[0].shape.as_list()) * inner
    except (TypeError, ValueError):  # A dimension unknown at trace time: not countable.
        return 0.0
    return 0.0


def peak_rss_megabytes() -> float:
    """This process's peak resident memory so far, in MB (Linux reports kilobytes)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def in_fresh_process(script: Path, arguments: list[str], label: str, environment: dict | None = None) -> dict:
    """Run `script --json FILE *arguments` in a new Python process, so that its peak memory and its traces are its
    own; the JSON it wrote (or {"error": its last lines}), with its seconds and the load average around it.
    An environment value of None removes that variable."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as file:
        result_path = file.name
    merged = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(environment or {})}
    print(f"[bench] {label} ...", file=sys.stderr, flush=True)
    load_before, started = os.getloadavg()[0], time.perf_counter()
    completed = subprocess.run([sys.executable, str(script), "--json", result_path, *arguments], capture_output=True,
                               text=True, env={key: value for key, value in merged.items() if value is not None})
    try:
        result = json.loads(Path(result_path).read_text()) if completed.returncode == 0 else None
    finally:
        os.unlink(result_path)
    if result is None:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
        result = {"error": " / ".join(tail)}
    # The 1-minute load average before and after: above the core count, other processes shared the machine.
    result.update(process_s=round(time.perf_counter() - started, 1),
                  load_average=[round(load_before, 2), round(os.getloadavg()[0], 2)])
    print(f"[bench] {label} done in {result['process_s']} s", file=sys.stderr, flush=True)
    return result


def write_report(out: Path, stem: str, report: dict, markdown: str) -> None:
    """The report as STEM.json and STEM.md under OUT, and the Markdown on stdout."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2))
    (out / f"{stem}.md").write_text(markdown)
    print(markdown)
    print(f"wrote {out / (stem + '.md')} and {out / (stem + '.json')}", file=sys.stderr)


def report_header(script: str, argv: list[str] | None, started: float) -> dict:
    """What every report starts with: the command that made it, when, on which Python, in how many seconds."""
    return {"command": " ".join(["python", script, *(argv if argv is not None else sys.argv[1:])]),
            "date": datetime.datetime.now().isoformat(timespec="seconds"), "python": platform.python_version(),
            "wall_s": round(time.perf_counter() - started, 1)}


def bench_parser(description: str, cases, stem: str, default_out: Path) -> argparse.ArgumentParser:
    """The options every multi-case benchmark takes: --quick, --cases, --out, and the internal --run-case and
    --json by which it runs one case in a fresh process."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and iterations")
    parser.add_argument("--cases", help=f"comma-separated subset of: {', '.join(cases)}")
    parser.add_argument("--out", default=str(default_out), help=f"folder for {stem}.md and {stem}.json")
    parser.add_argument("--run-case", help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    return parser
