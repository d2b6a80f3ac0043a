"""Measuring tools for the benchmark: wall clocks, the matmul peak, FLOPs of a traced step, peak memory.

The machine this runs on may be shared, so every timing is the best of a few repetitions (the least disturbed),
and a reference and the project are timed alternately in the same process, so a burst of outside load slows
both rather than one.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable

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
