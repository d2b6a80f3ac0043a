"""Render the example style images in assets/styles/: procedural textures, so the app ships styles it may share.

Run from the repository root: `python assets/make_style_textures.py`. The output is deterministic (fixed seeds), and
the files it writes are committed beside this script; each is listed in assets/README.md.

- swirls.jpg: short brush strokes that follow a field of vortices, in night blues and yellows (and
  swirls-large.jpg, the same texture over a 1536-px square, for prints);
- mosaic.jpg: a stained-glass mosaic of jittered cells with dark lead lines;
- waves.jpg: stacked, foam-capped wave bands in indigo and teal;
- strokes.jpg: criss-crossing broad strokes in warm earth colours.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = 384
# The large swirls: detail enough for a 4096-px print with the style seen at its own size.
LARGE_SIZE = 1536
FOLDER = Path(__file__).resolve().parent / "styles"


def swirls(rng: np.random.Generator, size: int = SIZE) -> Image.Image:
    """`size` px square; larger sizes keep the strokes' size in pixels and add strokes and vortices with the area,
    so a large render is the same texture with more of it (a style with real detail for prints)."""
    palette = np.array([[16, 36, 94], [32, 74, 150], [70, 120, 190], [230, 200, 70], [245, 230, 150],
                        [20, 30, 60]])
    area = (size / SIZE) ** 2
    image = Image.new("RGB", (size, size), (24, 48, 110))
    draw = ImageDraw.Draw(image)
    vortices = round(6 * area)
    centres = rng.uniform(0, size, (vortices, 2))
    spins = rng.choice([-1.0, 1.0], vortices) * rng.uniform(0.6, 1.4, vortices)
    for _ in range(round(5000 * area)):
        x, y = rng.uniform(0, size, 2)
        colour = tuple(int(value) for value in palette[rng.integers(len(palette))])
        points = [(x, y)]
        for _ in range(8):
            direction = _vortex_direction(np.array([x, y]), centres, spins)
            x, y = x + 3.0 * direction[0], y + 3.0 * direction[1]
            points.append((x, y))
        draw.line(points, fill=colour, width=int(rng.integers(2, 5)))
    return image.filter(ImageFilter.SMOOTH)


def _vortex_direction(point: np.ndarray, centres: np.ndarray, spins: np.ndarray) -> np.ndarray:
    """Unit direction at `point` of a sum of vortices: each turns around its centre, weaker farther away."""
    offsets = point - centres
    distances = np.sqrt((offsets ** 2).sum(axis=1)) + 20.0
    flow = (np.stack([-offsets[:, 1], offsets[:, 0]], axis=1) * (spins / distances ** 1.5)[:, None]).sum(axis=0)
    return flow / (np.linalg.norm(flow) + 1e-9)


def mosaic(rng: np.random.Generator) -> Image.Image:
    cells = 70
    seeds = rng.uniform(0, SIZE, (cells, 2))
    colours = rng.choice(np.array([[180, 30, 40], [30, 90, 170], [230, 180, 40], [40, 140, 80], [120, 50, 140],
                                   [220, 110, 30], [200, 210, 220]]), cells)
    rows, columns = np.mgrid[0:SIZE, 0:SIZE]
    distances = (rows[..., None] - seeds[:, 1]) ** 2 + (columns[..., None] - seeds[:, 0]) ** 2
    order = np.sort(distances, axis=2)
    nearest = np.argmin(distances, axis=2)
    pixels = colours[nearest].astype(np.float64)
    # Lead lines where the two nearest seeds are almost equally near; a little grain inside each pane.
    edge = np.sqrt(order[..., 1]) - np.sqrt(order[..., 0]) < 3.0
    pixels[edge] = (25, 20, 20)
    pixels += rng.normal(0, 8, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def waves(rng: np.random.Generator) -> Image.Image:
    rows, columns = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    pixels = np.zeros((SIZE, SIZE, 3))
    band_height = 32
    for band in range(SIZE // band_height + 2):
        top = band * band_height - band_height
        phase, amplitude = rng.uniform(0, 2 * np.pi), rng.uniform(6, 14)
        crest = top + amplitude * np.sin(columns / rng.uniform(18, 30) + phase)
        below = rows >= crest
        colour = np.array([20, 40, 110]) if band % 2 else np.array([30, 110, 130])
        pixels[below] = colour + rng.normal(0, 6, 3)
        foam = below & (rows < crest + 4)
        pixels[foam] = (235, 240, 230)
    pixels += rng.normal(0, 5, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).filter(ImageFilter.SMOOTH)


def strokes(rng: np.random.Generator) -> Image.Image:
    palette = np.array([[150, 70, 30], [200, 120, 50], [230, 190, 120], [90, 50, 30], [170, 40, 30],
                        [240, 220, 180]])
    image = Image.new("RGB", (SIZE, SIZE), (200, 150, 90))
    draw = ImageDraw.Draw(image)
    for _ in range(900):
        x, y = rng.uniform(-20, SIZE + 20, 2)
        angle = rng.choice([0.5, 2.2]) + rng.normal(0, 0.2)
        length = rng.uniform(20, 60)
        colour = tuple(int(value) for value in palette[rng.integers(len(palette))] + rng.integers(-15, 16, 3))
        end = (x + length * np.cos(angle), y + length * np.sin(angle))
        draw.line([(x, y), end], fill=colour, width=int(rng.integers(5, 12)))
    return image.filter(ImageFilter.SMOOTH_MORE)


TEXTURES = {"swirls": swirls, "mosaic": mosaic, "waves": waves, "strokes": strokes}


def main() -> None:
    FOLDER.mkdir(exist_ok=True)
    for seed, (name, render) in enumerate(TEXTURES.items()):
        render(np.random.default_rng(seed)).save(FOLDER / f"{name}.jpg", quality=92)
    swirls(np.random.default_rng(0), LARGE_SIZE).save(FOLDER / "swirls-large.jpg", quality=90)


if __name__ == "__main__":
    main()
