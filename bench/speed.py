"""How fast the techniques run on this machine, against the chapter's own loops (bench/reference.py).

    python bench/speed.py                      # everything (about 10-15 minutes on a 2-core CPU)
    python bench/speed.py --quick              # fewer repetitions and iterations (a few minutes)
    python bench/speed.py --cases dream,app    # a subset; see --help for the names
    python bench/speed.py --out DIR            # where results.md and results.json go (default bench/results/)

Every case runs in a fresh process, so its peak memory and TensorFlow's thread settings are its own; the reference
and the project are timed alternately in the same process, after tracing. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from measure import bench_parser, in_fresh_process, report_header, write_report

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results"

# (case, extra arguments, extra environment) per job; a case name on the command line selects its jobs.
JOBS = {
    "peak": [("peak", [], {})],
    "dream": [("dream", [], {})],
    "dream-switch": [("dream-switch", [], {}), ("dream-switch", [], {"NEURALART_THREADS": "2"}),
                     ("dream-switch", [], {"NEURALART_PRECISION": "float32"}),
                     ("dream-switch", [], {"NEURALART_PRECISION": "float32", "NEURALART_XLA": "1"})],
    "dream-precision": [("dream-precision", [], {})],
    "loop-traces": [("loop-traces", [], {})],
    "style-quality": [("style-quality", [], {})],
    "style-speed": [("style-speed", [], {})],
    "style-memory": [("style-memory", ["--size", str(side), "--backbone", backbone, "--iterations", "3"], {})
                     for backbone, side in (("squeezenet", 256), ("squeezenet", 512), ("squeezenet", 1024),
                                            ("vgg19", 1024))],
    "filters": [("filters", [], {})],
    "app": [("app", [], {})],
    "fast": [("fast", [], {})],
}
QUICK_SKIPS = ("style-memory",)


def main(argv: list[str] | None = None) -> int:
    options = parse_arguments(argv)
    if options.run_case:
        return run_case(options)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    names = options.cases.split(",") if options.cases else [name for name in JOBS
                                                           if not (options.quick and name in QUICK_SKIPS)]
    unknown = [name for name in names if name not in JOBS]
    if unknown:
        print(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(JOBS)}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    results = [run_job(case, extra, environment, options) for name in names
               for case, extra, environment in JOBS[name]]
    report = {**report_header("bench/speed.py", argv, started), "results": results}
    write_report(out, "results", report, markdown(report))
    return 0


def parse_arguments(argv):
    parser = bench_parser(__doc__, JOBS, "results", DEFAULT_OUT)
    parser.add_argument("--repeats", type=int, default=None, help="timings per measurement (best is kept)")
    parser.add_argument("--size", type=int, default=512, help=argparse.SUPPRESS)
    parser.add_argument("--backbone", default="squeezenet", help=argparse.SUPPRESS)
    parser.add_argument("--iterations", type=int, default=5, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.repeats is None:
        options.repeats = 1 if options.quick else 2
    return options


def run_job(case: str, extra: list[str], environment: dict, options) -> dict:
    """Run one case in a fresh Python process; its JSON result, or the error it died with."""
    arguments = ["--run-case", case, "--out", options.out, "--repeats", str(options.repeats), *extra,
                 *(["--quick"] if options.quick else [])]
    label = " ".join([case, *extra, *(f"{key}={value}" for key, value in environment.items())])
    result = in_fresh_process(HERE / "speed.py", arguments, label, environment)
    if "error" in result:
        result.update(rows=[], notes=[f"{label}: failed ({result.pop('error')})"])
    result.update(job=label, environment=environment)
    return result


def run_case(options) -> int:
    import cases

    result = cases.CASES[options.run_case](options)
    Path(options.json).write_text(json.dumps(result, indent=2, default=float))
    return 0


# --- the report ----------------------------------------------------------------------------------------------

TABLE_KEYS = ("case", "reference_s", "project_s", "ratio", "reference_loss", "project_loss", "step_gflops_reference",
              "step_gflops_project", "peak_share", "peak_rss_mb")
TABLE_HEADER = ("case", "reference s", "project s", "speed-up", "reference loss", "project loss",
                "step GFLOP/s ref", "step GFLOP/s project", "share of matmul peak", "peak RSS MB")


def markdown(report: dict) -> str:
    machine = next((result.get("machine") for result in report["results"] if result.get("machine")), None)
    peak = best_peaks(report["results"])
    lines = ["# Benchmark results", "", f"Command: `{report['command']}` ({report['date']}, "
             f"{report['wall_s']} s in all)", ""]
    if machine:
        lines.append(f"Machine: {machine['cpu']}, {machine['cores']} cores, bfloat16 instructions: "
                     f"{', '.join(machine['bfloat16_instructions']) or 'none'}; precision used: "
                     f"{machine['precision']}; XLA: {machine['xla']}.")
    if peak:
        lines.append(f"Matmul peak measured in this run (best of every case's measurement): float32 "
                     f"{peak['float32']} GFLOP/s, bfloat16 {peak['bfloat16']} GFLOP/s. The table's share of peak "
                     "is against these; the details give it against the peak measured inside each case too.")
    lines += ["", "| " + " | ".join(TABLE_HEADER) + " |", "|" + "---|" * len(TABLE_HEADER)]
    details = []
    for result in report["results"]:
        for row in result.get("rows", []):
            row = _against_best_peak(row, peak)
            lines.append("| " + " | ".join(_cell(row.get(key)) for key in TABLE_KEYS) + " |")
            extra = {key: value for key, value in row.items() if key not in TABLE_KEYS}
            if extra:
                described = ", ".join(f"{key} {_cell(value)}" for key, value in extra.items())
                details.append(f"- {row['case']}: {described}")
    means = {}
    for result in report["results"]:
        for title, values in result.get("means", {}).items():
            means.setdefault(title, {}).update(values)
    if means:
        lines += ["", "## Means, measured one at a time", ""]
        for title, values in means.items():
            lines.append(f"{title}:")
            lines += [f"- {label}: {value}" for label, value in values.items()]
            lines.append("")
    if details:
        lines += ["", "## Details", ""] + details
    loads = [load for result in report["results"] for load in result.get("load_average", [])]
    if loads:
        lines += ["", f"1-minute load average seen between cases: {min(loads)} to {max(loads)} "
                  f"(on {os.cpu_count()} cores; more than that means other processes shared the machine)."]
    notes = [note for result in report["results"] for note in result.get("notes", [])]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def _against_best_peak(row: dict, peak: dict | None) -> dict:
    """The row with its share of peak taken against the run's best peak (the stricter measure), and the speed-up
    the project's step would have over the reference's if it ran at the bfloat16 matmul peak: a target above
    that is out of reach on this machine by precision and efficiency alone (it would take less arithmetic)."""
    if not (peak and row.get("step_gflops_project") and row.get("precision") in peak):
        return row
    row = dict(row, peak_share_in_case=row.get("peak_share"))
    row["peak_share"] = round(row["step_gflops_project"] / peak[row["precision"]], 2)
    if row.get("step_gflops_reference"):
        row["speedup_at_bfloat16_peak"] = round(peak["bfloat16"] / row["step_gflops_reference"], 2)
    return row


def best_peaks(results: list[dict]) -> dict | None:
    """The highest matmul peak per precision seen anywhere in the run (the least disturbed measurement)."""
    found = [result["peak"] for result in results if result.get("peak")]
    found += [row["peak_gflops"] for result in results for row in result.get("rows", []) if row.get("peak_gflops")]
    if not found:
        return None
    return {precision: max(peak[precision] for peak in found) for precision in ("float32", "bfloat16")}


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{key} {item}" for key, item in value.items())
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
