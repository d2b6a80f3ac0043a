"""What a run tells the person watching it, in words a student knows: a status line, a progress bar with the time
left, and the expert's details (every loss term, the technical notes) one click away."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from html import escape

from ..frames import Frame

# Loss names as frames carry them -> as people read them.
LOSS_WORDS = {"loss": "dream strength", "total": "total loss", "content": "content loss", "style": "style loss",
              "tv": "smoothness (total variation) loss"}
# Before this share of the run, a time left would be a guess.
ESTIMATE_AFTER = 0.02


def seconds_in_words(seconds: float) -> str:
    """12 s, 3 min 05 s, 1 h 02 min."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def fraction_done(frame: Frame) -> float:
    return frame.iteration / frame.total_iterations if frame.total_iterations else 1.0


def progress_html(frame: Frame | None, elapsed: float, ended: str = "") -> str:
    """A progress bar with the share done and the time left (or, once `ended`, how the run ended)."""
    fraction = 0.0 if frame is None else fraction_done(frame)
    percent = round(100 * fraction)
    if ended:
        words = f"{ended} after {seconds_in_words(elapsed)}" if frame is not None else ended
    elif frame is None:
        words = "starting…"
    elif fraction < ESTIMATE_AFTER or elapsed < 1.0:
        words = f"{percent}% · estimating the time left…"
    else:
        words = f"{percent}% · about {seconds_in_words(elapsed * (1 - fraction) / fraction)} left"
    return (f'<div class="run-progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" '
            f'aria-valuenow="{percent}"><div class="run-progress-bar" style="width: {percent}%"></div>'
            f'<span class="run-progress-words">{escape(words)}</span></div>')


def status_line(frame: Frame, elapsed: float, main_loss: str | None = None) -> str:
    """'Octave 2 of 3 (533×400) · iteration 25 of 60 · dream strength 0.41 · 12.3 s'. The elapsed seconds end
    the line: the page marks a line that still ends so after its run has ended as stopped."""
    parts = [frame.stage[:1].upper() + frame.stage[1:] if frame.stage else "Working",
             f"iteration {frame.iteration} of {frame.total_iterations}"]
    if main_loss and main_loss in frame.losses:
        parts.append(f"{LOSS_WORDS.get(main_loss, main_loss)} {frame.losses[main_loss]:.3g}")
    return " · ".join(parts + [f"{elapsed:.1f} s"])


def final_status_line(frame: Frame, elapsed: float, line: Callable[[Frame, float], str] = status_line) -> str:
    """The last frame's line: done, or stopped early (time budget or an error, already warned)."""
    return line(frame, elapsed) + (" · done" if frame.done else " · stopped early")


def details_markdown(frame: Frame | None, labels: Mapping[str, str] | None = None) -> str:
    """The expert's view of a frame: every loss or objective it carries, and its technical note."""
    if frame is None:
        return ""
    labels = {**LOSS_WORDS, **(labels or {})}
    rows = "\n".join(f"| {escape(labels.get(name, name))} | {value:.6g} |" for name, value in frame.losses.items())
    table = f"| term | value |\n|---|---|\n{rows}\n" if rows else ""
    note = f"\n{escape(frame.note)}\n" if frame.note else ""
    return f"**{escape(frame.stage)}**, iteration {frame.iteration} of {frame.total_iterations}\n\n{table}{note}"
