"""Captions drawn into images: a band of text under each tile of a grid (its filter, class or image), and a title
band above a row. Drawn with the font that ships inside Pillow, so a PNG reads the same on every machine."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .sizes import image_grid

TEXT_COLOUR = (30, 30, 30)
BAND_COLOUR = (255, 255, 255)
ELLIPSIS = "…"
MIN_FONT_SIZE, MAX_FONT_SIZE = 9, 16


def caption_font_size(width: int) -> int:
    """A font size that fits a few characters under a tile `width` pixels wide, within 9 to 16 points."""
    return int(np.clip(width // 9, MIN_FONT_SIZE, MAX_FONT_SIZE))


def band_height(font_size: int) -> int:
    """The height of a caption band: the font's ascent and descent plus a little air."""
    ascent, descent = _font(font_size).getmetrics()
    return ascent + descent + 4


def _font(size: int):
    return ImageFont.load_default(size=size)


def fitted_text(text: str, width: int, font_size: int) -> str:
    """`text`, shortened with an ellipsis until it fits within `width` pixels."""
    font = _font(font_size)
    shortened = text
    while shortened and font.getlength(shortened) > width - 2:
        shortened = shortened[:-2] + ELLIPSIS if len(shortened) > 2 else ""
    return shortened


def caption_band(text: str, width: int, font_size: int | None = None, *, centred: bool = True) -> np.ndarray:
    """A white band `width` pixels wide holding `text` (centred, or from the left), uint8 (height, width, 3)."""
    font_size = font_size or caption_font_size(width)
    band = Image.new("RGB", (width, band_height(font_size)), BAND_COLOUR)
    shown = fitted_text(text, width, font_size)
    font = _font(font_size)
    left = (width - font.getlength(shown)) / 2 if centred else 2
    ImageDraw.Draw(band).text((left, 2), shown, fill=TEXT_COLOUR, font=font)
    return np.asarray(band)


def captioned(tile: np.ndarray, caption: str, font_size: int | None = None) -> np.ndarray:
    """A uint8 tile with its caption in a band underneath."""
    band = caption_band(caption, tile.shape[1], font_size)
    return np.concatenate([_rgb(tile), band], axis=0)


def labelled_grid(tiles: Sequence[np.ndarray], captions: Sequence[str], columns: int | None = None,
                  padding: int = 2) -> np.ndarray:
    """A grid of equally sized uint8 tiles (as `image_grid` lays them out), each over its caption."""
    if len(tiles) != len(captions):
        raise ValueError(f"labelled_grid needs one caption per tile; got {len(tiles)} tiles, {len(captions)} "
                         "captions")
    if not tiles:
        raise ValueError("labelled_grid needs at least one tile")
    font_size = caption_font_size(tiles[0].shape[1])
    return image_grid([captioned(tile, caption, font_size) for tile, caption in zip(tiles, captions)], columns,
                      padding)


def titled(image: np.ndarray, title: str, font_size: int | None = None) -> np.ndarray:
    """`image` under a band holding `title`, written from the left."""
    font_size = font_size or max(caption_font_size(image.shape[1] // 4), 12)
    band = caption_band(title, image.shape[1], font_size, centred=False)
    return np.concatenate([band, _rgb(image)], axis=0)


def stack_rows(rows: Sequence[np.ndarray], padding: int = 2, background: int = 255) -> np.ndarray:
    """uint8 images one under the other, left-aligned, the narrower ones padded with `background`."""
    if not rows:
        raise ValueError("stack_rows needs at least one row")
    width = max(row.shape[1] for row in rows)
    height = sum(row.shape[0] for row in rows) + padding * (len(rows) - 1)
    stacked = np.full((height, width, 3), background, dtype=np.uint8)
    top = 0
    for row in rows:
        stacked[top:top + row.shape[0], :row.shape[1]] = _rgb(row)
        top += row.shape[0] + padding
    return stacked


def _rgb(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)
