"""Tiles with their captions: what a feature-visualization frame shows, one image per filter, class or image of a
row, each named, so that a grid PNG says which tile is which and a gallery can show them one by one."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from .. import images
from ..frames import Frame
from .classes import IMAGENET_CLASS_COUNT, class_name


@dataclasses.dataclass(frozen=True)
class TiledFrame(Frame):
    """A Frame whose image is made of tiles: `tiles` holds each (tile, caption) in the image's order, for
    callers that show them one by one (the app's gallery). Its `note` may say something the caller should pass on
    (e.g. that another network stood in for the one asked for)."""

    tiles: tuple[tuple[np.ndarray, str], ...] = ()


def target_caption(objective: str, layer: str, target: int, classes: int | None = None) -> str:
    """A tile's short name: the filter's index, the class's name (for an ImageNet head) or the layer's name."""
    if objective == "class":
        return class_name(target) if classes == IMAGENET_CLASS_COUNT else f"class {target}"
    if objective == "layer":
        return layer
    return str(target)


def with_value(caption: str, value: float, captions: str) -> str:
    """The caption a tile shows: with its achieved activation when `captions` is "activation"."""
    return f"{caption}: {value:.3g}" if captions == "activation" else caption


def tiled_image(tiles: Sequence[np.ndarray], captions: Sequence[str], mode: str,
                columns: int | None = None) -> np.ndarray:
    """The grid of `tiles`, each over its caption unless `mode` is "none"."""
    if mode == "none":
        return images.image_grid(list(tiles), columns)
    return images.labelled_grid(list(tiles), list(captions), columns)


def titled_rows(rows: Sequence[tuple[str, np.ndarray]]) -> np.ndarray:
    """Row images one under the other, each under its title."""
    return images.stack_rows([images.titled(image, title) for title, image in rows], padding=6)
