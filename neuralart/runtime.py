"""What this machine can do fast, and the switches that choose how the techniques use it.

Precision: convolutions in bfloat16 run about twice as fast as in float32 on CPUs with bfloat16 dot-product
instructions (Intel AMX, or AVX-512 BF16 on recent Intel and AMD cores; Kalamkar et al. 2019, "A Study of BFLOAT16
for Deep Learning Training"), and lose little for these techniques: the losses and the optimised image stay in
float32, only the network's layers and style transfer's Gram products (summed in float32, rounded once; see
neuralart.losses.gram_matrix) compute in bfloat16. Elsewhere bfloat16 is emulated and slow,
so `auto` picks it only where the CPU has those instructions.

Switches, read when a run starts (never at import):
- NEURALART_PRECISION = auto | float32 | bfloat16 (default auto): force float32 for exact, comparable numbers;
- NEURALART_XLA = 0 | 1 (default 0): compile float32 traced steps with XLA (its CPU convolutions refuse
  bfloat16). XLA's convolution gradients measured slower than TensorFlow's oneDNN kernels on CPU
  (docs/performance.md), so it is off. Under XLA, DeepDream does not tile the image (XLA compiles neither
  the tile loop nor a choice between the two), so very large images take more memory;
- NEURALART_THREADS = N: N intra-op threads and one op at a time, applied when the first backbone is built
  (default: TensorFlow's own choice, which measured as fast or faster).

Memory allocator: TensorFlow's default CPU allocator gives large tensors back to the system once freed, so every
step page-faults its activations in afresh; its BFC allocator keeps them and reuses them, which makes whole runs
markedly faster (docs/performance.md). TensorFlow reads TF_CPU_ALLOCATOR_USE_BFC when it
first allocates, so it is set (unless already set) when this module is imported, before any technique imports
TensorFlow; a program that ran TensorFlow before importing neuralart keeps the allocator it had.

Nothing here imports TensorFlow at import time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

PRECISIONS = ("auto", "float32", "bfloat16")
BFLOAT16_FLAGS = ("amx_bf16", "avx512_bf16")
CPUINFO = "/proc/cpuinfo"
PRECISION_VARIABLE = "NEURALART_PRECISION"
XLA_VARIABLE = "NEURALART_XLA"
THREADS_VARIABLE = "NEURALART_THREADS"
# The Keras dtype policy that computes a layer in bfloat16 while keeping its variables in float32.
KERAS_POLICIES = {"float32": "float32", "bfloat16": "bfloat16"}
ALLOCATOR_VARIABLE = "TF_CPU_ALLOCATOR_USE_BFC"

os.environ.setdefault(ALLOCATOR_VARIABLE, "true")  # See the module docstring: must precede TensorFlow's start.


def cpu_flags(path: str = CPUINFO) -> frozenset[str]:
    """The instruction-set flags of the first CPU in `path` (Linux's /proc/cpuinfo); empty when unreadable."""
    try:
        with open(path) as file:
            for line in file:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def cpu_model(path: str = CPUINFO) -> str:
    """The CPU's model name, for benchmark reports ('unknown' when unreadable)."""
    try:
        with open(path) as file:
            for line in file:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    return value.strip()
    except OSError:
        pass
    return "unknown"


def supports_bfloat16(flags: Iterable[str] | None = None) -> bool:
    """True when the CPU has native bfloat16 dot products (AMX-BF16 or AVX-512 BF16)."""
    flags = cpu_flags() if flags is None else frozenset(flags)
    return any(flag in flags for flag in BFLOAT16_FLAGS)


def resolve_precision(requested: str = "auto", environ: Mapping[str, str] | None = None,
                      flags: Iterable[str] | None = None) -> str:
    """'float32' or 'bfloat16'. An explicit request wins; 'auto' follows NEURALART_PRECISION, then the CPU."""
    check_precision("precision", requested)
    if requested != "auto":
        return requested
    environ = os.environ if environ is None else environ
    from_environment = environ.get(PRECISION_VARIABLE, "auto").strip().lower() or "auto"
    check_precision(PRECISION_VARIABLE, from_environment)
    if from_environment != "auto":
        return from_environment
    return "bfloat16" if supports_bfloat16(flags) else "float32"


def check_precision(name: str, value) -> str:
    if value not in PRECISIONS:
        raise ValueError(f"{name} must be one of {', '.join(PRECISIONS)}; got {value!r}")
    return value


def keras_policy(precision: str) -> str:
    """The Keras dtype policy name for a resolved precision."""
    return KERAS_POLICIES[resolve_precision(precision)]


def xla_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether traced steps should be compiled with XLA (NEURALART_XLA=1); off by default, see above."""
    environ = os.environ if environ is None else environ
    value = environ.get(XLA_VARIABLE, "0").strip().lower()
    if value not in ("0", "1", "false", "true", "off", "on", ""):
        raise ValueError(f"{XLA_VARIABLE} must be 0 or 1; got {value!r}")
    return value in ("1", "true", "on")


def available_cores() -> int:
    """Cores this process may run on (respects CPU affinity and container limits seen through it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def thread_settings(environ: Mapping[str, str] | None = None) -> tuple[int, int] | None:
    """(intra-op, inter-op) threads asked for with NEURALART_THREADS=N (N inside an op, one op at a time), or
    None to keep TensorFlow's own choice (every core, for both), which the benchmark measured as fast or faster
    on the 2-core machine."""
    environ = os.environ if environ is None else environ
    text = environ.get(THREADS_VARIABLE, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{THREADS_VARIABLE} must be a positive whole number; got {text!r}")
    return int(text), 1


def configure_threads(environ: Mapping[str, str] | None = None) -> bool:
    """Apply NEURALART_THREADS to TensorFlow if it is set and TensorFlow's runtime has not started; True when
    applied. TensorFlow fixes its thread pools when it first runs an op; after that this changes nothing."""
    settings = thread_settings(environ)
    if settings is None:
        return False
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(settings[0])
        tf.config.threading.set_inter_op_parallelism_threads(settings[1])
    except RuntimeError:
        return False
    return True


def describe() -> dict:
    """The facts a benchmark report needs about this machine and these switches."""
    flags = cpu_flags()
    return {"cpu": cpu_model(), "cores": available_cores(),
            "bfloat16_instructions": sorted(flag for flag in BFLOAT16_FLAGS if flag in flags),
            "avx512": "avx512f" in flags, "precision": resolve_precision(), "xla": xla_enabled(),
            "threads": thread_settings() or "tensorflow default",
            "bfc_allocator": os.environ.get(ALLOCATOR_VARIABLE, "")}
