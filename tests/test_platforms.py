"""Most students' machines have no bfloat16 instructions (every Mac, most laptops): there the app and every
technique run end to end in float32.

The CPU is patched to report no bfloat16 support, so these tests mean the same on a CPU that has it.
"""

from __future__ import annotations

import numpy as np
import pytest

from neuralart import runtime

# A laptop's x86 flags: AVX-512 without its BF16 extension. Macs and Windows have no /proc/cpuinfo at all.
LAPTOP_FLAGS = frozenset({"sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl"})
SQUEEZENET = dict(backbone="squeezenet", weights=None)


@pytest.fixture
def no_bfloat16_cpu(monkeypatch):
    """The CPU reports no bfloat16 instructions and NEURALART_PRECISION is unset. Gives the list of (requested,
    resolved) precisions that every resolution made during the test appends to."""
    monkeypatch.delenv(runtime.PRECISION_VARIABLE, raising=False)
    # The same seam says bfloat16 when the flag is there: the patch, not this machine's CPU, decides.
    monkeypatch.setattr(runtime, "cpu_flags", lambda path=runtime.CPUINFO: LAPTOP_FLAGS | {"avx512_bf16"})
    assert runtime.resolve_precision("auto") == "bfloat16"
    monkeypatch.setattr(runtime, "cpu_flags", lambda path=runtime.CPUINFO: LAPTOP_FLAGS)
    assert not runtime.supports_bfloat16() and runtime.resolve_precision("auto") == "float32"

    resolutions: list[tuple[str, str]] = []
    real_resolve = runtime.resolve_precision

    def recording_resolve(requested="auto", *args, **kwargs):
        resolved = real_resolve(requested, *args, **kwargs)
        resolutions.append((requested, resolved))
        return resolved

    monkeypatch.setattr(runtime, "resolve_precision", recording_resolve)
    return resolutions


def run_dream(photo):
    from neuralart import DreamConfig, dream

    return dream(photo, DreamConfig(**SQUEEZENET, iterations=2, max_side=64, octaves=1))


def run_visualize(photo):
    from neuralart import FilterConfig, visualize

    return visualize(FilterConfig(**SQUEEZENET, layer="fire2_concat", filters="0", size=48))


def run_stylize(photo):
    from neuralart import StyleConfig, stylize

    return stylize(photo, photo[::-1, ::-1], StyleConfig(**SQUEEZENET, iterations=2, max_side=64, multiscale=False))


@pytest.mark.slow
@pytest.mark.parametrize("run", [run_dream, run_visualize, run_stylize], ids=["dream", "visualize", "stylize"])
def test_each_technique_runs_in_float32_without_bfloat16_instructions(no_bfloat16_cpu, photo, run):
    from neuralart import get_backbone

    final = list(run(photo))[-1]
    image = final.image
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and min(image.shape[:2]) > 0
    # The run asked for the machine's precision and got float32 every time it asked anything.
    assert ("auto", "float32") in no_bfloat16_cpu
    assert {resolved for _, resolved in no_bfloat16_cpu} == {"float32"}
    # Backbones are cached per process: the one "auto" gives now is the float32 one, whatever ran before.
    assert get_backbone("squeezenet", None, precision="auto").precision == "float32"


@pytest.mark.slow
def test_app_builds_without_bfloat16_instructions(no_bfloat16_cpu):
    import gradio as gr

    import app

    assert isinstance(app.build_demo(), gr.Blocks)
    assert {resolved for _, resolved in no_bfloat16_cpu} <= {"float32"}
