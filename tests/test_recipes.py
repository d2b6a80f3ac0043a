"""Recipes: every config survives the trip into a PNG and back, and recipes written by the previous version (whose
settings had other names) still restore, in the core and in the app."""

from __future__ import annotations

import numpy as np
import pytest

from neuralart import images, recipes
from neuralart.deepdream import DreamConfig
from neuralart.features import FilterConfig
from neuralart.style_transfer import StyleConfig

# What version 0.1.0 wrote: its field names (step, steps, learning_rate) and every field it had.
OLD_RECIPES = {
    "dream": {"backbone": "squeezenet", "weights": None, "layers": {"fire5_concat": 1.0}, "step": 0.02,
              "octaves": 2, "octave_scale": 1.4, "iterations": 7, "max_loss": None, "max_side": 256,
              "tile_size": 1024, "roll": True, "frame_every": 5, "seed": 3},
    "filters": {"backbone": "squeezenet", "weights": None, "layer": "fire3_concat", "filters": "0-3",
                "objective": "channel", "class_index": 0, "negative": False, "mode": "classic", "steps": 12,
                "learning_rate": 0.5, "size": 64, "batch_size": 16, "frame_every": 8, "seed": 1},
    "style": {"backbone": "squeezenet", "weights": None, "content_layers": None, "style_layers": None,
              "content_weight": None, "style_weight": 3.0, "tv_weight": None, "style_blend": None,
              "iterations": 40, "optimizer": "adam", "smoothing": 3.0, "learning_rate": 2.0, "beta_1": 0.9,
              "epsilon": 0.1, "init": "content", "max_side": 256, "style_scale": 1.0, "preserve_colors": "none",
              "multiscale": False, "multiscale_min_side": 256, "frame_every": 5, "seed": 0},
}
EXPECTED = {
    "dream": DreamConfig(backbone="squeezenet", weights=None, layers={"fire5_concat": 1.0}, step_size=0.02, octaves=2,
                         iterations=7, max_loss=None, max_side=256, seed=3),
    "filters": FilterConfig(backbone="squeezenet", weights=None, layer="fire3_concat", filters="0-3", mode="classic",
                            iterations=12, step_size=0.5, size=64, seed=1),
    "style": StyleConfig(backbone="squeezenet", weights=None, style_weight=3.0, iterations=40, optimizer="adam",
                         step_size=2.0, beta_1=0.9, init="content", max_side=256, multiscale=False),
}


@pytest.mark.parametrize("technique", sorted(OLD_RECIPES))
def test_recipes_of_the_previous_version_restore_under_the_new_names(technique):
    old = {"technique": technique, "version": "0.1.0", "config": OLD_RECIPES[technique]}
    assert recipes.config_from_recipe(old, technique) == EXPECTED[technique]


@pytest.mark.parametrize("technique", sorted(EXPECTED))
def test_every_config_goes_into_a_png_and_comes_back(technique, tmp_path):
    path = tmp_path / "made.png"
    images.save_png(path, np.zeros((8, 8, 3), np.uint8), recipes.recipe_for(technique, EXPECTED[technique]))
    assert recipes.config_from_recipe(images.read_recipe(str(path)), technique) == EXPECTED[technique]


def test_the_app_restores_a_recipe_of_the_previous_version(tmp_path):
    """The DeepDream tab's restore sets the renamed step size from an old PNG."""
    import gradio as gr

    from neuralart.ui import restore

    path = tmp_path / "old.png"
    images.save_png(path, np.zeros((8, 8, 3), np.uint8),
                    {"technique": "dream", "version": "0.1.0", "config": OLD_RECIPES["dream"]})
    form = {"step_size": gr.Slider(0.001, 0.1), "iterations": gr.Slider(0, 200)}
    with pytest.warns(UserWarning, match="except these"):  # The layers and seed have no widget in this form.
        updates = restore.recipe_updates(str(path), "dream", form)
    assert [update["value"] for update in updates] == [0.02, 7]


def test_unknown_settings_are_refused_not_dropped():
    with pytest.raises(ValueError, match="does not know: sparkle"):
        recipes.config_from_recipe({"technique": "dream", "version": "9", "config": {"sparkle": 1}})
