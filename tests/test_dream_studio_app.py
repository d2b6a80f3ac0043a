"""The DeepDream tab's studio sections, driven through their handlers in-process: channels, guide and mask reach
the run, bad masks, guides and video settings get clear messages, the zoom section keeps and encodes its frames
(also when stopped), and a channel preview is made. SqueezeNet with random weights and tiny images throughout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from test_app import dream_values

PHOTO = ROOT / "assets" / "coffee.jpg"

pytestmark = pytest.mark.slow


def final_outputs(handler, *arguments, **values):
    outputs = list(handler(*arguments, **values))
    return outputs[-1]


def test_channel_rows_become_channel_terms():
    from neuralart.ui import dream_extras, dream_tab

    layer, channel, weight = dream_extras.channel_names(0)
    config = dream_tab.dream_config({**dream_values(), layer: "fire5_concat", channel: 7, weight: 2.0})
    assert config.layers["fire5_concat:7"] == 2.0 and config.layers["fire5_concat"] == 1.0
    shown = dream_extras.channel_row_values(config)
    assert (shown[layer]["value"], shown[channel], shown[weight]) == ("fire5_concat", 7, 2.0)
    assert "fire9_concat" in shown[layer]["choices"]


def test_dream_with_channel_guide_and_painted_mask(tmp_path):
    from neuralart.ui import dream_extras, dream_tab

    strokes = np.zeros((64, 96, 4), np.uint8)
    strokes[:, 48:] = (255, 255, 255, 255)
    layer_path = tmp_path / "layer.png"
    Image.fromarray(strokes, "RGBA").save(layer_path)
    layer, channel, weight = dream_extras.channel_names(0)
    values = {**dream_values(iterations=3, max_side=96, max_loss=0, mask_feather=0),
              layer: "fire5_concat", channel: 3, weight: 1.0}
    image, status, _, _, gallery, table, download, _ = final_outputs(
        dream_tab.run_dream, str(PHOTO), guide=str(ROOT / "assets" / "rocket.jpg"),
        mask_painting={"background": str(PHOTO), "layers": [str(layer_path)], "composite": None}, **values)
    assert status.endswith("done"), status
    assert set(table["term"]) >= {"loss", "fire5_concat:3"} and len(table) > 3
    from neuralart import images

    photo = images.load_image(PHOTO, max_side=96)
    difference = np.abs(image.astype(int) - photo.astype(int))
    left = difference[:, :image.shape[1] // 2 - 1]
    assert left.max() <= 1 and difference[:, image.shape[1] // 2 + 1:].mean() > 0


@pytest.mark.parametrize("make, message", [
    (lambda path: Image.new("L", (40, 40), 0).save(path), "The mask is empty"),
    (lambda path: path.write_text("not a mask"), "not an image we can read"),
])
def test_bad_mask_file_gets_a_clear_message(tmp_path, make, message):
    import gradio as gr

    from neuralart.ui import dream_tab

    path = tmp_path / "mask.png"
    make(path)
    with pytest.raises(gr.Error, match=message):
        list(dream_tab.run_dream(str(PHOTO), mask_file=str(path), **dream_values()))


def test_bad_guide_gets_a_clear_message(tmp_path):
    import gradio as gr

    from neuralart.ui import dream_tab

    path = tmp_path / "guide.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n cut short")
    with pytest.raises(gr.Error, match="could not be decoded|not an image"):
        list(dream_tab.run_dream(str(PHOTO), guide=str(path), **dream_values()))


def zoom_values(**overrides) -> dict:
    values = {**dream_values(max_side=64), "frames": 3, "zoom": 1.05, "rotate": 0.0, "shift_x": 0.0, "shift_y": 0.0,
              "blend": 0.0, "fps": 6, "iterations": 1, "octaves": 1}
    return {**values, **overrides}


@pytest.mark.parametrize("field, value, message", [
    ("frames", 0, "frames must be between 1"), ("zoom", 0, "zoom must be between 0.5"),
    ("zoom", float("nan"), "zoom must be a finite number"), ("fps", 0, "fps must be between 1"),
])
def test_bad_video_settings_get_clear_messages(field, value, message):
    import gradio as gr

    from neuralart.ui import dream_tab

    with pytest.raises(gr.Error, match=message):
        list(dream_tab.run_zoom(str(PHOTO), **zoom_values(**{field: value})))


def test_zoom_section_streams_keeps_and_encodes_its_frames():
    from neuralart import images
    from neuralart.ui import dream_tab, zoom_section

    outputs = list(dream_tab.run_zoom(str(PHOTO), **zoom_values()))
    image, status, _, _, kept, download, _ = outputs[-1]
    assert status.endswith("done") and status.startswith("Frame 3 of 3")
    video, files = zoom_section.encode_kept_frames(kept)
    assert video.endswith(".webm") and images.count_video_frames(video) == 3
    assert [name[-5:] for name in files] == [".webm", ".webp"] and images.count_video_frames(files[1]) == 3


def test_stopped_zoom_encodes_the_frames_it_made():
    from neuralart import images
    from neuralart.ui import dream_tab, zoom_section

    run = dream_tab.run_zoom(str(PHOTO), **zoom_values(frames=50))
    kept = None
    for output in run:
        if isinstance(output[4], dict) and "folder" in output[4]:
            kept = output[4]
        if kept and len(list(Path(kept["folder"]).glob("frame_*.png"))) >= 2:
            run.close()  # What Stop does
            break
    video, _ = zoom_section.encode_kept_frames(kept)
    assert images.count_video_frames(video) == 2


def test_channel_preview_shows_what_the_channel_responds_to():
    from neuralart.ui import dream_extras

    image, caption = list(dream_extras.preview_channel("squeezenet", "random", "fire5_concat", 4))[-1]
    assert image.dtype == np.uint8 and image.shape[0] >= dream_extras.PREVIEW_SIZE
    assert caption.startswith("fire5_concat channel 4")
