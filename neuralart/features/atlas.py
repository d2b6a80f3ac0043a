"""The chapter's figure as one atlas: the first filters of an early, a middle and a late layer, one captioned row
per layer (for VGG16, the chapter's network: block1_conv1, block3_conv1 and block5_conv1), so that colours and
edges, textures and object parts stand side by side.

Each row is a grid run of its layer (neuralart.features.render), streamed as it forms; a frame closes each row.
When the chapter's layers are asked of a network whose ImageNet weights cannot be had, SqueezeNet stands in with
its own early, middle and late layers, and every frame's `note` (and the atlas's first line) says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from .. import images
from ..models import REGISTRY, Backbone, WeightsUnavailableError
from .config import FilterConfig
from .objectives import backbone_for, plan_for
from .render import _FilterRun
from .tiles import TiledFrame, titled_rows

# Early, middle and late layers per network: the chapter's for VGG, and the like for the others.
CHAPTER_LAYERS = {
    "vgg16": ("block1_conv1", "block3_conv1", "block5_conv1"),
    "vgg19": ("block1_conv1", "block3_conv1", "block5_conv1"),
    "squeezenet": ("conv1", "fire5_concat", "fire9_concat"),
    "inception_v3": ("mixed0", "mixed5", "mixed10"),
    "mobilenet": ("conv_pw_1_relu", "conv_pw_7_relu", "conv_pw_13_relu"),
}
DEPTHS = ("early", "middle", "late")
STAND_IN = "squeezenet"
# The chapter preset: the first eight filters of VGG16's early, middle and late layers.
CHAPTER_PRESET = {"figure": "atlas", "backbone": "vgg16", "filters": "0-7", "layers": ""}


def chapter_layers(backbone: Backbone) -> tuple[str, ...]:
    """The network's early, middle and late layers: its entry in CHAPTER_LAYERS, or else the first, middle and
    last of the layers it offers."""
    if backbone.name in CHAPTER_LAYERS:
        return CHAPTER_LAYERS[backbone.name]
    offered = backbone.spec.feature_layers
    return tuple(dict.fromkeys((offered[0], offered[len(offered) // 2], offered[-1])))


def atlas(config: FilterConfig, backbone: Backbone | None = None) -> Iterator[TiledFrame]:
    """The atlas `config` asks for (its `layers`, or the chapter's), rows checked before this returns."""
    note = ""
    if backbone is None:
        backbone, config, note = atlas_backbone(config)
    layers = config.atlas_layers or chapter_layers(backbone)
    runs = []
    for layer in layers:
        row_config = dataclasses.replace(config, figure="grid", layers="", layer=layer)
        runs.append(_FilterRun(row_config, backbone, plan_for(row_config, backbone)))
    depths = DEPTHS if not config.atlas_layers and len(layers) == len(DEPTHS) else ()
    return _AtlasRun(config, runs, depths, note).frames()


def atlas_backbone(config: FilterConfig) -> tuple[Backbone, FilterConfig, str]:
    """The network for an atlas, the config it runs with and a note: the one asked for, or SqueezeNet in its
    place when the chapter's layers are asked of a network whose ImageNet weights are not available."""
    try:
        return backbone_for(config), config, ""
    except WeightsUnavailableError as error:
        if config.atlas_layers or config.backbone == STAND_IN:
            raise
        stand_in = dataclasses.replace(config, backbone=STAND_IN)
        asked, used = (REGISTRY[name].title.split(" (")[0] for name in (config.backbone, STAND_IN))
        note = f"{used} stands in for {asked}, whose ImageNet weights are not here: {error}"
        return backbone_for(stand_in), stand_in, note


class _AtlasRun:
    """The rows' runs one after the other, on one cadence, framed together."""

    def __init__(self, config: FilterConfig, runs: list[_FilterRun], depths: tuple[str, ...], note: str):
        self.config = config
        self.runs = runs
        self.depths = depths
        self.note = note
        self.cadence = runs[0].cadence
        for run in runs:
            run.cadence = self.cadence
        self.total_iterations = sum(run.total_iterations for run in runs)

    def frames(self) -> Iterator[TiledFrame]:
        for number, run in enumerate(self.runs):
            for _ in run.advance():
                row_done = run.iterations == run.total_iterations
                if self.cadence.frame_due(force=row_done):
                    yield self._frame(number, row_done)

    def _title(self, number: int) -> str:
        layer = self.runs[number].plan.layer
        return f"{self.depths[number]}: {layer}" if self.depths else layer

    def _frame(self, number: int, row_done: bool) -> TiledFrame:
        rows, tiles, losses = [], [], {}
        for index, run in enumerate(self.runs[:number + 1]):
            targets = run.started()
            rows.append((self._title(index), run.grid(targets, columns=len(run.plan.targets))))
            tiles.extend((tile, f"{run.plan.layer} · {caption}") for tile, caption in run.captioned(targets))
            losses.update({f"{run.plan.layer} · {run.labels[target]}": run.values[target] for target in targets})
        if self.config.captions == "none":
            image = images.stack_rows([image for _, image in rows], padding=6)
        else:
            image = titled_rows(rows)
            if self.note:
                image = images.titled(image, self.note.split(":")[0])
        iterations = sum(run.iterations for run in self.runs)
        return TiledFrame(image=image, iteration=iterations, total_iterations=self.total_iterations, losses=losses,
                          stage=f"atlas · row {number + 1} of {len(self.runs)} · {self.runs[number].plan.layer}",
                          stage_done=row_done, tiles=tuple(tiles), note=self.note)
