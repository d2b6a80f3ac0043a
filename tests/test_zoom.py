"""Zoom animations: the frames (core), the videos and animated images they become, the `zoom` command (stop,
resume, clear errors), and a real Chromium playing what we write."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from neuralart import cli, images
from neuralart.deepdream import ZoomConfig, zoom
from neuralart.deepdream.zoom import _ZoomRun

TINY = dict(backbone="custom", weights=None, frames=4, iterations=2, octaves=1, max_loss=None, max_side=None,
            step_size=0.05, fps=8)
QUICK = ["--backbone", "squeezenet", "--weights", "none", "--max-side", "64", "--iterations", "1", "--octaves", "1",
         "--quiet"]


def video_frames(frames) -> list[np.ndarray]:
    return [frame.image for frame in frames if frame.stage_done]


def flicker(frames: list[np.ndarray], config: ZoomConfig) -> float:
    """Mean change between each frame and the previous one moved by the camera: what the camera does not
    explain."""
    run = _ZoomRun.__new__(_ZoomRun)
    run.config = config
    return float(np.mean([np.abs(later.astype(float) - run.warp(earlier).astype(float)).mean()
                          for earlier, later in zip(frames, frames[1:])]))


@pytest.fixture
def photo_file(tmp_path, photo):
    path = tmp_path / "photo.png"
    images.save_png(path, photo)
    return path


# --- the frames ------------------------------------------------------------------------------------------------

def test_zoom_yields_progress_and_one_closing_frame_per_video_frame(photo, tiny_backbone):
    frames = list(zoom(photo, ZoomConfig(**TINY), tiny_backbone))
    closing = [frame for frame in frames if frame.stage_done]
    assert [frame.stage for frame in closing] == [f"frame {number} of 4" for number in range(1, 5)]
    assert all(frame.image.shape == photo.shape for frame in closing)
    assert frames[-1].done and frames[-1].iteration == 4 * 2
    assert [frame.iteration for frame in frames] == sorted(frame.iteration for frame in frames)
    assert any("frame 2 of 4 · octave 1 of 1" in frame.stage for frame in frames if not frame.stage_done)


def test_resumed_render_gives_the_same_frames(photo, tiny_backbone):
    config = ZoomConfig(**TINY, rotate=2.0, shift_x=1.5, blend=0.3)
    whole = video_frames(zoom(photo, config, tiny_backbone))
    resumed = video_frames(zoom(whole[1], config, tiny_backbone, done_frames=2))
    assert len(resumed) == 2
    for expected, again in zip(whole[2:], resumed):
        np.testing.assert_array_equal(expected, again)


def test_temporal_blend_calms_the_frames(photo, tiny_backbone):
    config = ZoomConfig(**{**TINY, "frames": 5})
    calm = ZoomConfig(**{**TINY, "frames": 5, "blend": 0.6})
    assert flicker(video_frames(zoom(photo, calm, tiny_backbone)), calm) < 0.6 * flicker(
        video_frames(zoom(photo, config, tiny_backbone)), config)


def test_closing_the_run_stops_it_keeping_the_frames_made(photo, tiny_backbone):
    run = zoom(photo, ZoomConfig(**{**TINY, "frames": 50}), tiny_backbone)
    made = []
    for frame in run:
        if frame.stage_done:
            made.append(frame.image)
        if len(made) == 3:
            run.close()
            break
    with pytest.raises(StopIteration):
        next(run)
    assert len(made) == 3


def test_zoom_warp_magnifies_about_the_centre():
    image = np.zeros((41, 41, 3), np.uint8)
    image[18:23, 18:23] = 255
    zoomed = images.zoom_image(image, 2.0)
    assert zoomed[20, 20].min() == 255 and zoomed[16, 16].min() > 200 and zoomed[12, 12].max() < 30
    moved = images.zoom_image(image, 1.0, shift=(10, 0))
    assert moved[20, 30].min() > 200 and moved[20, 20].max() < 60


@pytest.mark.parametrize("field, value, message", [
    ("frames", 0, "frames must be between 1"), ("zoom", 0, "zoom must be between 0.5"),
    ("zoom", float("nan"), "zoom must be a finite number"), ("fps", 0, "fps must be between 1"),
    ("rotate", float("inf"), "rotate must be a finite number"), ("blend", 1.0, "blend must be between 0"),
    ("frames", 2.5, "frames must be a whole number"),
])
def test_bad_video_settings_are_clear_errors(field, value, message):
    with pytest.raises(ValueError, match=message):
        ZoomConfig(**{field: value})


def test_resume_point_is_checked(photo, tiny_backbone):
    with pytest.raises(ValueError, match="done_frames"):
        zoom(photo, ZoomConfig(**TINY), tiny_backbone, done_frames=4)


# --- videos and animated images --------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".webm", ".mp4", ".webp", ".gif"])
def test_eight_frames_make_an_animation_of_eight_frames(tmp_path, photo, tiny_backbone, suffix):
    config = ZoomConfig(**{**TINY, "frames": 8, "zoom": 1.1})
    frames = video_frames(zoom(photo, config, tiny_backbone))
    path = tmp_path / f"zoom{suffix}"
    images.write_animation(path, frames, config.fps)
    assert len(frames) == 8 and images.count_video_frames(path) == 8


def test_video_of_odd_size_decodes_to_the_frames(tmp_path, rng):
    frames = [rng.integers(0, 256, (33, 45, 3), dtype=np.uint8) // 64 * 64 for _ in range(3)]
    path = tmp_path / "odd.webm"
    images.write_animation(path, frames, 4)
    import av

    with av.open(str(path)) as video:
        decoded = [frame.to_ndarray(format="rgb24") for frame in video.decode(video=0)]
    assert len(decoded) == 3 and decoded[0].shape == (34, 46, 3)


@pytest.mark.parametrize("path, fps, message", [
    ("zoom.avi", 24, "cannot write an animation as .avi"), ("zoom", 24, "without a suffix"),
    ("zoom.webm", 0, "fps must be between"), ("zoom.webm", float("nan"), "fps must be between"),
])
def test_bad_animation_settings_are_clear_errors(tmp_path, path, fps, message):
    with pytest.raises(ValueError, match=message):
        images.write_animation(tmp_path / path, [np.zeros((16, 16, 3), np.uint8)], fps)


def test_no_frames_make_no_animation(tmp_path):
    with pytest.raises(ValueError, match="at least one frame"):
        images.write_animation(tmp_path / "zoom.webm", [], 24)


# --- the command -----------------------------------------------------------------------------------------------

def test_zoom_command_writes_frames_video_and_report(tmp_path, photo_file):
    output, report = tmp_path / "zoom.mp4", tmp_path / "report.json"
    assert cli.main(["zoom", str(photo_file), "-o", str(output), "--also", str(tmp_path / "zoom.gif"), "--frames",
                     "8", "--zoom", "1.05", "--rotate", "1", "--fps", "12", "--report", str(report), *QUICK]) == 0
    assert images.count_video_frames(output) == 8 and images.count_video_frames(tmp_path / "zoom.gif") == 8
    pngs = sorted((tmp_path / "zoom-frames").glob("frame_*.png"))
    assert len(pngs) == 8 and images.read_recipe(str(pngs[0]))["technique"] == "zoom"
    data = json.loads(report.read_text())
    assert data["frames"] == 8 and data["frames_resumed"] == 0 and data["iterations"] == 8


def test_stopped_render_keeps_its_frames_and_resumes_to_the_same_video(tmp_path, photo_file, monkeypatch):
    from neuralart.cli import progress

    whole = tmp_path / "whole.webm"
    assert cli.main(["zoom", str(photo_file), "-o", str(whole), "--frames", "6", "--blend", "0.2", *QUICK]) == 0
    real_update, seen = progress.Progress.update, []

    def interrupting_update(self, frame):
        seen.append(frame.stage_done)
        if sum(seen) == 3:  # Ctrl-C as the third frame arrives, before it is written
            raise KeyboardInterrupt
        real_update(self, frame)

    monkeypatch.setattr(progress.Progress, "update", interrupting_update)
    stopped = tmp_path / "stopped.webm"
    assert cli.main(["zoom", str(photo_file), "-o", str(stopped), "--frames", "6", "--blend", "0.2", *QUICK]) == 130
    kept = sorted((tmp_path / "stopped-frames").glob("frame_*.png"))
    assert len(kept) == 2 and images.count_video_frames(stopped) == 2
    monkeypatch.setattr(progress.Progress, "update", real_update)
    assert cli.main(["zoom", str(photo_file), "-o", str(stopped), "--frames", "6", "--blend", "0.2", *QUICK]) == 0
    assert images.count_video_frames(stopped) == 6
    for first, second in zip(sorted((tmp_path / "whole-frames").glob("*.png")),
                             sorted((tmp_path / "stopped-frames").glob("*.png"))):
        np.testing.assert_array_equal(images.load_image(str(first)), images.load_image(str(second)))


def test_frames_made_with_other_settings_are_not_mixed_in(tmp_path, photo_file, capsys):
    output = tmp_path / "zoom.webm"
    assert cli.main(["zoom", str(photo_file), "-o", str(output), "--frames", "2", *QUICK]) == 0
    assert cli.main(["zoom", str(photo_file), "-o", str(output), "--frames", "2", "--seed", "9", *QUICK]) == 2
    assert "holds frames made with other settings" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["-o", "zoom.avi"], "cannot write an animation as .avi"), (["--frames", "0"], "frames must be between 1"),
    (["--zoom", "0"], "zoom must be between 0.5"), (["--zoom", "nan"], "zoom must be a finite number"),
    (["--guide", "missing.png"], "No image file"),
])
def test_bad_zoom_flags_are_one_clear_line(tmp_path, photo_file, capsys, flags, message):
    arguments = ["zoom", str(photo_file), "-o", str(tmp_path / "zoom.webm"), *QUICK, *flags]
    arguments = [str(tmp_path / argument) if argument in ("zoom.avi", "missing.png") else argument
                 for argument in arguments]
    assert cli.main(arguments) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and "Traceback" not in error


# --- in a real browser -----------------------------------------------------------------------------------------

PLAYED_JS = """async (source) => {
  const video = document.createElement('video');
  video.muted = true;
  video.src = source;
  document.body.appendChild(video);
  const ended = new Promise((resolve) => { video.onended = resolve; video.onerror = resolve; });
  await video.play().catch(() => {});
  await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 10000))]);
  return {duration: video.duration, error: video.error && video.error.message,
          frames: video.getVideoPlaybackQuality().totalVideoFrames};
}"""


@pytest.mark.browser
@pytest.mark.slow
def test_chromium_plays_the_videos_we_write(tmp_path, photo, tiny_backbone, browser):
    """Each video format decodes in Chromium: its duration is the frames over the fps, and it plays every
    frame."""
    config = ZoomConfig(**{**TINY, "frames": 8, "fps": 4})
    frames = video_frames(zoom(photo, config, tiny_backbone))
    for suffix in (".webm", ".mp4"):
        images.write_animation(tmp_path / f"zoom{suffix}", frames, config.fps)
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    page = browser.new_page()
    try:
        page.goto(url)
        for suffix in (".webm", ".mp4"):
            played = page.evaluate(PLAYED_JS, url + f"zoom{suffix}")
            assert played["error"] is None, (suffix, played)
            assert played["duration"] == pytest.approx(2.0, abs=0.05), (suffix, played)
            assert played["frames"] == 8, (suffix, played)
    finally:
        page.close()
        server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *arguments):
        pass


def test_frame_folder_defaults_beside_the_output(tmp_path, photo_file):
    output = tmp_path / "out" / "dream.webp"
    output.parent.mkdir()
    assert cli.main(["zoom", str(photo_file), "-o", str(output), "--frames", "2", *QUICK]) == 0
    assert Path(output.parent / "dream-frames" / "frame_00002.png").is_file()
