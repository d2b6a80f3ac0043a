"""The command line: flags come from the config dataclasses, outputs carry recipes, errors are one clear line."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re

import numpy as np
import pytest

from neuralart import cli, images
from neuralart.deepdream import DreamConfig

QUICK = ["--backbone", "squeezenet", "--weights", "none", "--max-side", "96", "--iterations", "2",
         "--octaves", "2", "--quiet"]


@pytest.fixture
def photo_file(tmp_path, photo):
    path = tmp_path / "photo.png"
    images.save_png(path, np.asarray(images.resize_uint8(photo, (96, 120))))
    return path


def test_every_config_field_has_a_flag():
    parser = cli.build_parser()
    dream_parser = parser._subparsers._group_actions[0].choices["dream"]
    options = {option for action in dream_parser._actions for option in action.option_strings}
    for field in dataclasses.fields(DreamConfig):
        flag = "--" + field.name.replace("_", "-")
        assert flag in options, flag
    assert "--no-roll" in options


def test_defaults_come_from_the_dataclass():
    from neuralart.cli.flags import config_from_args

    args = cli.build_parser().parse_args(["dream", "in.png", "-o", "out.png"])
    assert config_from_args(DreamConfig, args, "dream") == DreamConfig()


def test_dream_writes_png_with_recipe_and_report(tmp_path, photo_file):
    output, report = tmp_path / "out.png", tmp_path / "report.json"
    assert cli.main(["dream", str(photo_file), "-o", str(output), "--report", str(report),
                     "--layers", "fire3_concat=1,fire5_concat=2", "--seed", "7", *QUICK]) == 0
    recipe = images.read_recipe(str(output))
    assert recipe["technique"] == "dream"
    assert recipe["config"]["layers"] == {"fire3_concat": 1.0, "fire5_concat": 2.0}
    assert recipe["config"]["seed"] == 7
    data = json.loads(report.read_text())
    assert data["iterations"] == 4
    assert set(data["final_losses"]) == {"loss", "fire3_concat", "fire5_concat"}
    assert data["wall_time_s"] > 0


def test_recipe_flag_restores_settings_and_reproduces(tmp_path, photo_file):
    first, second = tmp_path / "first.png", tmp_path / "second.png"
    assert cli.main(["dream", str(photo_file), "-o", str(first), "--seed", "11", "--step-size", "0.03", *QUICK]) == 0
    assert cli.main(["dream", str(photo_file), "-o", str(second), "--recipe", str(first), "--quiet"]) == 0
    assert images.read_recipe(str(second))["config"] == images.read_recipe(str(first))["config"]
    np.testing.assert_array_equal(images.load_image(str(first)), images.load_image(str(second)))


def test_explicit_flags_win_over_the_recipe(tmp_path, photo_file):
    first, second = tmp_path / "first.png", tmp_path / "second.png"
    assert cli.main(["dream", str(photo_file), "-o", str(first), "--seed", "11", *QUICK]) == 0
    assert cli.main(["dream", str(photo_file), "-o", str(second), "--recipe", str(first), "--seed=12",
                     "--quiet"]) == 0
    restored = images.read_recipe(str(second))["config"]
    assert restored["seed"] == 12 and restored["iterations"] == 2 and restored["backbone"] == "squeezenet"


def test_bad_input_is_one_clear_line(tmp_path, capsys):
    bogus = tmp_path / "notes.png"
    bogus.write_text("not an image")
    assert cli.main(["dream", str(bogus), "-o", str(tmp_path / "out.png"), *QUICK]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "Traceback" not in error


def test_bad_number_is_a_clear_error(tmp_path, photo_file, capsys):
    assert cli.main(["dream", str(photo_file), "-o", str(tmp_path / "o.png"), *QUICK, "--octaves", "0"]) == 2
    assert "octaves must be between" in capsys.readouterr().err


def test_missing_weights_names_file_and_folder(tmp_path, photo_file, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-cache"))
    assert cli.main(["dream", str(photo_file), "-o", str(tmp_path / "o.png"), "--backbone", "vgg19",
                     "--weights", "imagenet", "--quiet"]) == 2
    error = capsys.readouterr().err
    assert "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5" in error
    assert str(tmp_path / "empty-cache" / "models") in error
    assert "Traceback" not in error


def test_old_flag_names_still_work_and_say_what_to_write_instead(tmp_path, photo_file, capsys):
    output = tmp_path / "out.png"
    assert cli.main(["dream", str(photo_file), "-o", str(output), "--step", "0.03", *QUICK]) == 0
    assert "--step is deprecated; use --step-size" in capsys.readouterr().err
    assert images.read_recipe(str(output))["config"]["step_size"] == 0.03

    from neuralart.cli.flags import config_from_args
    from neuralart.features import FilterConfig
    from neuralart.style_transfer import StyleConfig

    parser = cli.build_parser()
    filters = config_from_args(FilterConfig, parser.parse_args(["filters", "-o", "g.png", "--steps", "7",
                                                                "--learning-rate", "0.1"]), "filters")
    assert (filters.iterations, filters.step_size) == (7, 0.1)
    style = config_from_args(StyleConfig, parser.parse_args(["style", "c.png", "s.png", "-o", "o.png",
                                                             "--learning-rate", "2.5"]), "style")
    assert style.step_size == 2.5
    errors = capsys.readouterr().err
    assert "--steps is deprecated; use --iterations" in errors and "use --step-size" in errors


# --- what a user sees on the command line (issue: rough edges on the command line) -------------------------------

class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def frames_of(count: int, stage: str = "octave 1/1"):
    from neuralart.frames import Frame

    for iteration in range(1, count + 1):
        yield Frame(image=np.zeros((4, 4, 3), np.uint8), iteration=iteration, total_iterations=count,
                    losses={"loss": float(iteration)}, stage=stage)


def test_progress_is_a_bar_with_time_left_on_a_terminal_and_silent_elsewhere():
    from neuralart.cli.progress import Progress

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        with Progress(stream=stream) as progress:
            for frame in frames_of(5):
                progress.update(frame)
    shown = terminal.getvalue()
    assert "5/5" in shown and "octave 1/1" in shown and re.search(r"<\d\d:\d\d", shown), shown
    assert pipe.getvalue() == ""
    with Progress(quiet=True, stream=Terminal()) as progress:
        assert not progress.enabled


def test_ctrl_c_keeps_the_last_image_marked_as_stopped(tmp_path, photo_file, monkeypatch, capsys):
    import neuralart.deepdream

    def interrupted(image, config, backbone=None, **named_images):
        yield from frames_of(3)
        raise KeyboardInterrupt

    monkeypatch.setattr(neuralart.deepdream, "dream", interrupted)
    output, report = tmp_path / "out.png", tmp_path / "report.json"
    assert cli.main(["dream", str(photo_file), "-o", str(output), "--report", str(report), *QUICK]) == 130
    stopped = tmp_path / "out-stopped.png"
    assert stopped.is_file() and not output.exists()
    assert images.read_recipe(str(stopped))["stopped"] == {"iteration": 3, "of": 3}
    assert str(stopped) in capsys.readouterr().err
    assert json.loads(report.read_text())["stopped"] is True


@pytest.mark.parametrize("ending, magic", [(".jpg", b"\xff\xd8"), (".jpeg", b"\xff\xd8"), (".webp", b"RIFF"),
                                           (".png", b"\x89PNG")])
def test_the_output_is_written_in_the_format_its_name_asks_for(tmp_path, photo_file, ending, magic):
    output = tmp_path / f"out{ending}"
    assert cli.main(["dream", str(photo_file), "-o", str(output), "--seed", "4", *QUICK]) == 0
    assert output.read_bytes().startswith(magic)
    assert images.read_recipe(str(output))["config"]["seed"] == 4


def test_an_output_name_we_cannot_write_is_refused_before_any_work(tmp_path, photo_file, capsys):
    assert cli.main(["dream", str(photo_file), "-o", str(tmp_path / "out.tiff"), *QUICK]) == 2
    assert "must end in .png, .jpg, .jpeg or .webp" in capsys.readouterr().err
    assert not list(tmp_path.glob("out*"))


def help_of(*command: str) -> str:
    parser = cli.build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args([*command, "--help"])
    return ""


def test_help_lists_the_valid_choices(capsys):
    expected = {"dream": ["vgg16, vgg19, inception_v3, squeezenet, mobilenet", "layers BACKBONE"],
                "filters": ["channel, neuron, layer, class", "quality, classic"],
                "style": ["lbfgs, adam", "none, luminance, histogram", "recolored, content, noise, style"]}
    for command, phrases in expected.items():
        help_of(command)
        text = " ".join(capsys.readouterr().out.split())
        for phrase in phrases:
            assert phrase in text, (command, phrase)


def test_every_command_takes_the_same_longest_side_range(capsys):
    """One rule for --max-side everywhere (32 to 4096 px): said in --help, enforced before any work."""
    for command in ("dream", "zoom", "style", "featuremaps"):
        help_of(command)
        text = " ".join(capsys.readouterr().out.split())
        option = text[text.rindex("--max-side MAX_SIDE"):]
        assert "(32 to 4096)" in option[:400], (command, option[:400])
    for command, inputs in (("dream", ["in.png"]), ("zoom", ["in.png"]), ("style", ["in.png", "style.png"]),
                            ("featuremaps", ["in.png"])):
        for side in ("31", "4097"):
            assert cli.main([command, *inputs, "-o", "o.png", "--max-side", side]) == 2
            assert f"--max-side must be between 32 and 4096, got {side}" in capsys.readouterr().err, (command, side)


def test_the_layers_command_lists_a_networks_layers_with_their_sizes(capsys):
    assert cli.main(["layers", "squeezenet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    fire5 = next(line for line in lines if line.split()[0] == "fire5_concat")
    assert "27x27" in fire5 and "256 channels" in fire5 and "dream" in fire5
    assert sum(line.startswith("  ") for line in lines) == 9


def test_an_unknown_backbone_is_refused_with_only_the_real_choices(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["dream", "in.png", "-o", "o.png", "--backbone", "custom"])
    error = capsys.readouterr().err
    assert "invalid choice: 'custom'" in error and "squeezenet" in error
    assert "custom" not in error.split("choose from")[1]


@pytest.mark.slow
def test_only_our_own_lines_reach_stderr_unless_verbose(tmp_path, photo_file):
    """TensorFlow's start-up lines (CPU features, oneDNN, absl) are not shown: a run says what it wrote."""
    import subprocess
    import sys

    from conftest import ROOT

    output = tmp_path / "out.png"
    command = [sys.executable, "-m", "neuralart", "dream", str(photo_file), "-o", str(output),
               "--backbone", "squeezenet", "--weights", "none", "--max-side", "64", "--iterations", "1"]
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, env=environment)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [f"wrote {output}"], result.stderr

def test_max_loss_stop_is_reported_honestly(tmp_path, photo_file, capsys):
    """An octave that max_loss ends before any step is not reported as having taken its iterations, and the user
    is told why it ended."""
    output, report = tmp_path / "out.png", tmp_path / "report.json"
    assert cli.main(["dream", str(photo_file), "-o", str(output), "--report", str(report), *QUICK[:-1],
                     "--max-loss", "0.000001"]) == 0
    data = json.loads(report.read_text())
    assert data["iterations"] == 0 and data["planned_iterations"] == 4
    assert len(data["max_loss_stops"]) == 2
    assert all("ended at max_loss after 0 of 2 iterations" in stage for stage in data["max_loss_stops"])
    assert "ended at max_loss" in capsys.readouterr().err


def test_channel_layers_guide_and_mask_flags(tmp_path, photo_file):
    from PIL import Image

    mask = tmp_path / "mask.png"
    Image.fromarray(np.tile(np.where(np.arange(120) < 60, 0, 255).astype(np.uint8), (96, 1))).save(mask)
    output, report = tmp_path / "out.png", tmp_path / "report.json"
    assert cli.main(["dream", str(photo_file), "-o", str(output), "--report", str(report), *QUICK,
                     "--layers", "fire3_concat:7=1,fire5_concat=0.5", "--guide", str(photo_file), "--mask", str(mask),
                     "--max-loss", "none", "--mask-feather", "0", "--max-side", "120"]) == 0
    assert images.read_recipe(str(output))["config"]["layers"] == {"fire3_concat:7": 1.0, "fire5_concat": 0.5}
    assert set(json.loads(report.read_text())["final_losses"]) == {"loss", "fire3_concat:7", "fire5_concat"}
    difference = np.abs(images.load_image(str(output)).astype(int) - images.load_image(str(photo_file)).astype(int))
    assert difference[:, :60].max() <= 1 and difference[:, 60:].mean() > 0


@pytest.mark.parametrize("flags, message", [
    (["--layers", "fire3_concat:x=1"], "LAYER:CHANNEL"),
    (["--layers", "fire3_concat:999=1"], "fire3_concat has 128 channels"),
    (["--mask", "MISSING"], "No image file"),
    (["--guide", "MISSING"], "No image file"),
])
def test_bad_channels_masks_and_guides_are_one_clear_line(tmp_path, photo_file, capsys, flags, message):
    flags = [str(tmp_path / "none.png") if flag == "MISSING" else flag for flag in flags]
    assert cli.main(["dream", str(photo_file), "-o", str(tmp_path / "o.png"), *QUICK, *flags]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and "Traceback" not in error
