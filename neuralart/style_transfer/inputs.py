"""The images a style transfer run works with: the photo and the styles after colour preservation, the sizes of
its scales, each scale's starting image and targets, and how optimised pixels are shown."""

from __future__ import annotations

import numpy as np

from .. import images
from .config import MAX_SIDE, StyleConfig

# The largest side a style image is seen at: the result's largest side, so that up to a style scale of 1 the
# style's texture keeps its size relative to the print at every scale (larger style scales stop here).
MAX_STYLE_SIDE = MAX_SIDE
# Style images are read this large unless a scale needs them larger (a style scale above 1 at large sizes).
STYLE_READ_SIDE = 2048
# Frames are converted to uint8 this many rows at a time.
DISPLAY_ROWS = 512


def style_read_side(result_side: int, style_scale: float) -> int:
    """The longest side to read style images at for a result whose longest side is `result_side`."""
    needed = result_side * style_scale
    return STYLE_READ_SIDE if needed <= STYLE_READ_SIDE else MAX_STYLE_SIDE


def load_content(source, config: StyleConfig) -> np.ndarray:
    """The photo at the size a run of `config` works at: shrunk to the longest side, or enlarged to it when the
    config asks."""
    photo = images.load_image(source, max_side=config.max_side)
    if config.enlarge and max(photo.shape[:2]) < config.max_side:
        photo = images.resize_to_longest_side(photo, config.max_side)
    return photo


def scale_shapes(size: tuple[int, int], multiscale: bool, min_side: int,
                 network_min_side: int = 1) -> list[tuple[int, int]]:
    """(height, width) of each scale, smallest first, ending at `size`: halving from `size` while the longest side
    stays at least `min_side` and the shortest at least what the network needs."""
    shapes = [tuple(size)]
    while multiscale:
        smaller = images.scaled_size(shapes[0], 0.5)
        if max(smaller) < min_side or min(smaller) < network_min_side:
            break
        shapes.insert(0, smaller)
    return shapes


class StyleInputs:
    """The photo, the style images and the images the network sees of them, for one run."""

    def __init__(self, config: StyleConfig, input_space: images.InputSpace, network_min_side: int,
                 content: np.ndarray, styles: list[np.ndarray], blend: list[float], masks=None):
        self.config, self.input_space, self.network_min_side, self.blend = config, input_space, network_min_side, blend
        self.masks = masks  # A StyleMasks (one mask per style), or None: every style everywhere.
        mode = config.preserve_colors
        if mode == "histogram":
            styles = [images.match_color_histogram(style, content) for style in styles]
        self.content = content
        if mode == "luminance":
            self.seen_content = images.luminance_image(content)
            self.seen_styles = [images.luminance_image(style, like=content) for style in styles]
        else:
            self.seen_content, self.seen_styles = content, styles
        height, width = content.shape[:2]
        if min(height, width) < network_min_side:
            raise ValueError(f"The photo is {width}x{height}; this network needs at least {network_min_side} "
                             "pixels on each side. Please use a larger photo or image size.")
        self.shapes = scale_shapes((height, width), config.multiscale, config.multiscale_min_side, network_min_side)
        if config.init == "recolored" and masks is None:
            self.recolored_content = images.match_color_statistics(self.seen_content, self.seen_styles, blend)
        elif config.init == "recolored":
            # Each region in its own style's colours, the photo where no mask reaches.
            self.recolored_content = masks.composite(self.seen_content, [
                images.match_color_statistics(self.seen_content, [style]) for style in self.seen_styles])

    def ordered(self, image: np.ndarray) -> np.ndarray:
        """A uint8 or float RGB image as float pixels in the network's channel order, the form optimised."""
        return self.input_space.in_network_order(np.asarray(image, dtype=np.float32))

    def initial_pixels(self, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        init = self.config.init
        if init == "recolored":
            return self.ordered(images.resize_uint8(self.recolored_content, shape))
        if init == "content":
            return self.ordered(images.resize_uint8(self.seen_content, shape))
        if init == "style":
            start = images.resize_uint8(self.seen_styles[0], shape)
        else:
            # Grey with mild noise: the structure then comes from the losses alone, as in Gatys et al.'s noise
            # start.
            start = np.clip(127.5 + 25.0 * rng.standard_normal((*shape, 3)), 0, 255)
            if self.config.preserve_colors == "luminance":
                start = np.repeat(start.mean(axis=2, keepdims=True), 3, axis=2)
        if self.masks is not None:  # Only the masked regions start elsewhere: the photo stays outside them.
            photo = images.resize_uint8(self.seen_content, shape)
            start = self.masks.composite(photo, [images.pixels_to_uint8(start)] * self.masks.count)
        return self.ordered(start)

    def targets(self, features, shape: tuple[int, int], gram_of=None):
        """Content features and style Gram matrices at this scale (computed once per scale), with the traced
        `features` of the run's steps; `gram_of` as in `style_targets` (default: `features` in one piece)."""
        import tensorflow as tf

        content_targets, _ = features(tf.constant(self.ordered(images.resize_uint8(self.seen_content, shape))))
        gram_of = gram_of or (lambda pixels: features(tf.constant(pixels))[1])
        return list(content_targets), self.style_targets(shape, gram_of)

    def style_targets(self, shape: tuple[int, int], gram_of) -> list:
        """Per style layer, the styles' blended Gram matrix; with masks, each style's own, stacked (styles,
        channels, channels). `gram_of(pixels)` gives an image's Gram matrices per style layer."""
        import tensorflow as tf

        if self.masks is not None:
            per_style = [gram_of(self.ordered(self.style_at(style, shape))) for style in self.seen_styles]
            return [tf.stack(layer) for layer in zip(*per_style)]
        blended = None
        for weight, style in zip(self.blend, self.seen_styles):
            if weight == 0:
                continue
            grams = gram_of(self.ordered(self.style_at(style, shape)))
            weighted = [weight * gram for gram in grams]
            blended = weighted if blended is None else [total + gram for total, gram in zip(blended, weighted)]
        return blended

    def style_at(self, style: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """The style image as the network sees it at this scale: its longest side `style_scale` times the
        result's (at most MAX_STYLE_SIDE), but never so small that the network cannot take it."""
        height, width = style.shape[:2]
        side = min(MAX_STYLE_SIDE, max(shape) * self.config.style_scale)
        factor = max(side / max(height, width), self.network_min_side / min(height, width))
        return images.resize_uint8(style, images.scaled_size((height, width), factor))

    def display(self, pixels, shape: tuple[int, int]) -> np.ndarray:
        if self.config.preserve_colors == "luminance":
            # Back to RGB: the reordering is its own inverse.
            return images.with_chroma_of(self.ordered(pixels), images.resize_uint8(self.content, shape))
        # A band of rows at a time: a print's float temporaries would be as large as the image.
        pixels = np.asarray(pixels)
        return np.concatenate([images.pixels_to_uint8(self.ordered(pixels[top:top + DISPLAY_ROWS]))
                               for top in range(0, pixels.shape[0], DISPLAY_ROWS)])
