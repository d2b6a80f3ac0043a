"""A scale larger than a tile, refined tile by tile in bounded memory (the idea of crowsonkb's Caffe-era
style_transfer: differently placed tiles each iteration, statistics of the whole image).

Each iteration is one pass over a layout of tiles whose cores partition the image (neuralart.style_transfer.tiles)
and whose boundaries move from pass to pass. A tile's step takes the gradient of the *whole image's* loss with
respect to its core's pixels: its content targets are the content photo's features at the same positions, and its
style gradient comes from the Gram matrices of the whole image, summed over every core in the previous passes, so
every tile is pulled towards one set of statistics and the image stays one picture (no change of texture or colour
from tile to tile). Each core then takes one Adam step: Adam keeps its state per pixel, so stepping the image a
tile at a time is stepping it whole, and its memory is three images, where L-BFGS's history would be a dozen.

Only a tile's window goes through the network at once, so the network's memory is bounded by the tile, not the
image. The losses a frame reports are the whole image's, summed over the cores as the pass measured them.
"""

from __future__ import annotations

import numpy as np

from .regions import region_loss_weights
from .steps import ADAM_BETA_2
from .tiles import REACH_SHARE, tile_layout, tile_steps

# Adam's step size, beta_1 and epsilon when a run's own optimizer is L-BFGS: of the settings tried on refining an
# enlarged image (SqueezeNet, 192 -> 384 px), these lowered the loss fastest; the chapter's (5, 0.99, 0.1), made
# for starting from the photo, overshoot there.
REFINING_ADAM = (4.0, 0.9, 0.1)


class _Sums:
    """Per-core parts of the whole image's losses, added up over a pass (in float64: a pass adds many)."""

    def __init__(self):
        self.content, self.grams, self.weights, self.variation = None, None, None, 0.0

    def add(self, content, grams, weights, variation) -> None:
        parts = (np.asarray(content, np.float64) if content is not None else None,
                 [np.asarray(gram, np.float64) for gram in grams], [np.asarray(weight, np.float64)
                                                                    for weight in weights])
        if self.grams is None:
            self.content, self.grams, self.weights = parts
        else:
            if content is not None:
                self.content = self.content + parts[0]
            self.grams = [total + gram for total, gram in zip(self.grams, parts[1])]
            self.weights = [total + weight for total, weight in zip(self.weights, parts[2])]
        self.variation += float(variation)

    def normalised_grams(self) -> list[np.ndarray]:
        """Per style layer, [regions, channels, channels]: each region's Gram matrix of the whole image."""
        return [grams / np.maximum(weights, 1e-3)[:, None, None] for grams, weights in zip(self.grams, self.weights)]


def _window_masks(masks, tile, regions: int):
    """The masks within a tile's window; without masks, one region that is everywhere (or `regions` of them,
    where only the content's features are wanted)."""
    top, left, bottom, right = tile.window
    if masks is None:
        return np.ones((bottom - top, right - left, regions), np.float32)
    return masks[top:bottom, left:right]


def enlarged(pixels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Float pixels resized bilinearly to `shape` (height, width), a channel at a time with PIL: an image this
    large would otherwise enter TensorFlow's memory pool, which keeps what it once held."""
    from PIL import Image

    height, width = shape
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(pixels[..., channel], np.float32), "F")
                                .resize((width, height), Image.Resampling.BILINEAR))
                     for channel in range(pixels.shape[-1])], axis=-1).clip(0.0, 255.0)


def whole_statistics(steps, pixels: np.ndarray, side: int, masks=None, *, content_maps=None,
                     assemble: bool = False, convert=None):
    """The sums of an image's statistics over the cores of a fixed layout, one tile at a time, with the content
    sums against `content_maps` where given; and, with `assemble`, its content feature maps put together from
    the cores (else None). `convert` turns a window of `pixels` into float pixels in the network's order (by
    default they are already)."""
    import tensorflow as tf

    sums, rows = _Sums(), {}
    for tile in tile_layout(pixels.shape[:2], side, steps.align, steps.margins(side)[1]):
        top, left, bottom, right = tile.window
        window = pixels[top:bottom, left:right]
        content, grams, weights, variation = steps.statistics(
            tf.constant(convert(window) if convert else window), tf.constant(_window_masks(masks, tile,
                                                                                          steps.regions)),
            tf.constant(tile.core_box(pixels.shape[:2]), tf.int32))
        parts = [_core_part(features.numpy(), tile, stride) for features, stride in zip(content,
                                                                                         steps.content_strides)]
        differences = None
        if content_maps is not None:
            differences = [np.sum(np.square(part.astype(np.float64) - _block(content_map, part, tile, stride)))
                           for part, content_map, stride in zip(parts, content_maps, steps.content_strides)]
        sums.add(differences, grams, weights, variation)
        if assemble:
            rows.setdefault(tile.core[0], []).append(parts)
    if not assemble:
        return sums, None
    return sums, [np.concatenate([np.concatenate([row[index] for row in rows[top]], axis=1) for top in sorted(rows)])
                  for index in range(len(steps.content_strides))]


def _block(content_map: np.ndarray, part: np.ndarray, tile, stride: int) -> np.ndarray:
    """The positions of the whole content map that a core's part of a window's map stands for."""
    top, left = tile.core[0] // stride, tile.core[1] // stride
    return content_map[top:top + part.shape[0], left:left + part.shape[1]]


def _core_part(features: np.ndarray, tile, stride: int) -> np.ndarray:
    """The feature positions of a window's map that its core owns (to the map's end where the core reaches the
    image's edge)."""
    top, left = (tile.core[0] - tile.window[0]) // stride, (tile.core[1] - tile.window[1]) // stride
    last_row = tile.core[2] == tile.window[2]
    last_column = tile.core[3] == tile.window[3]
    bottom = None if last_row else (tile.core[2] - tile.window[0]) // stride
    right = None if last_column else (tile.core[3] - tile.window[1]) // stride
    return features[top:bottom, left:right]


def tiled_grams(steps, pixels: np.ndarray, side: int) -> list[np.ndarray]:
    """The Gram matrices (channels, channels) of an image too large for one piece, per style layer."""
    sums, _ = whole_statistics(steps, pixels, side)
    return [gram[0].astype(np.float32) for gram in sums.normalised_grams()]


class TiledScale:
    """One scale refined tile by tile with Adam: the config's step size, beta_1 and epsilon when its optimizer is
    Adam, else REFINING_ADAM."""

    def __init__(self, run, pixels: np.ndarray, shape: tuple[int, int], style_targets: list[np.ndarray],
                 content: np.ndarray, masks: np.ndarray | None):
        """`pixels`: the start (the scale keeps and steps this array); `content`: the uint8 RGB photo at this
        scale."""
        import tensorflow as tf

        self.run_state, self.shape, self.masks = run, shape, masks
        self.steps = tile_steps(run.backbone, *run.layer_names, regions=1 if masks is None else masks.shape[-1])
        self.side = run.tile_side
        self.margin = self.steps.margins(self.side)[0]
        self.reach = round(self.margin * REACH_SHARE)
        self.targets = [np.asarray(target, np.float32).reshape(-1, *np.shape(target)[-2:])
                        for target in style_targets]
        self.region_weights = np.asarray(region_loss_weights(run.blend) if masks is not None else [1.0], np.float64)
        _, self.content_maps = whole_statistics(self.steps, content, self.side, assemble=True,
                                                convert=run.inputs.ordered)
        self.content_scales = tf.constant([1.0 / content_map.size for content_map in self.content_maps], tf.float32)
        self.content_layer_weights = run.content_layer_weights.numpy().astype(np.float64)
        self.style_layer_weights = run.style_layer_weights.numpy().astype(np.float64)
        self.loss_weights = run.loss_weights.numpy().astype(np.float64)
        config = run.config
        step_size, beta_1, epsilon = ((config.step_size, config.beta_1, config.epsilon) if config.optimizer == "adam"
                                      else REFINING_ADAM)
        self.hyper = tf.constant([step_size, beta_1, ADAM_BETA_2, epsilon], tf.float32)
        self.pixels = np.asarray(pixels, np.float32)
        self.first_moment, self.second_moment = np.zeros_like(self.pixels), np.zeros_like(self.pixels)
        self.passes_done = 0
        self.earlier_sums = None
        self.terms = self.measure()
        # Half precision is plenty for pixels 0..255 kept only to be shown or enlarged, and halves two images.
        self.best_terms, self.best_pixels = self.terms, self.pixels.astype(np.float16)
        self.start_of_pass = np.empty_like(self.best_pixels)

    def measure(self) -> np.ndarray:
        """[total, content, style, tv] of the image as it is now, measured tile by tile (the network forwards
        only); its statistics become the next pass's."""
        self.sums, _ = whole_statistics(self.steps, self.pixels, self.side, self.masks,
                                        content_maps=self.content_maps)
        return self._terms(self.sums)

    def _terms(self, sums: _Sums) -> np.ndarray:
        content = float(np.sum(self.content_layer_weights * sums.content * self.content_scales.numpy()))
        style = 0.0
        for layer_weight, gram, target in zip(self.style_layer_weights, sums.normalised_grams(), self.targets):
            style += layer_weight * float(np.sum(self.region_weights * np.mean(np.square(gram - target), axis=(1, 2))))
        weighted = self.loss_weights * np.array([content, style, sums.variation])
        return np.concatenate([[weighted.sum()], weighted]).astype(np.float32)

    def _upstreams(self) -> list[np.ndarray]:
        """d(style loss)/d(Gram sums) per style layer, at the whole image's Gram matrices extrapolated from the
        last two passes: each pass measured the image before it stepped, so its Gram matrices are a step behind,
        and Adam's momentum turns that delay into overshoot; Adam moves the image smoothly, so a straight line
        through two passes stands for the image as it is now."""
        upstreams = []
        grams = self.sums.normalised_grams()
        if self.earlier_sums is not None:
            grams = [2.0 * gram - earlier for gram, earlier in zip(grams, self.earlier_sums.normalised_grams())]
        for layer_weight, gram, weights, target in zip(self.style_layer_weights, grams,
                                                       self.sums.weights, self.targets):
            scale = layer_weight * self.region_weights * 2.0 / (target.shape[-1] ** 2 * np.maximum(weights, 1e-3))
            upstreams.append((scale[:, None, None] * (gram - target)).astype(np.float32))
        return upstreams

    def refine(self, iterations: int):
        """`iterations` passes; yields (tile number, tiles in the pass) after each tile's step. The image each
        pass started from is kept if its losses (measured by that pass) are the lowest so far: as the chapter's
        Adam, a scale ends with the best image it saw."""
        for _ in range(iterations):
            layout = tile_layout(self.shape, self.side, self.steps.align, self.margin, self.run_state.rng)
            upstreams, sums = self._upstreams(), _Sums()
            np.copyto(self.start_of_pass, self.pixels)
            for index, tile in enumerate(layout, start=1):
                sums.add(*self._step(tile, upstreams))
                yield index, len(layout)
            self.earlier_sums, self.sums = self.sums, sums
            self.passes_done += 1
            self.terms = self._terms(sums)
            if self.terms[0] < self.best_terms[0]:
                self.best_terms = self.terms
                np.copyto(self.best_pixels, self.start_of_pass)

    def best(self) -> tuple[np.ndarray, np.ndarray]:
        """(the best image of the scale, its [total, content, style, tv]), the image as it is now included."""
        terms = self.measure()
        if terms[0] <= self.best_terms[0]:
            return self.pixels, terms
        return self.best_pixels.astype(np.float32), self.best_terms

    def _step(self, tile, upstreams):
        import tensorflow as tf

        top, left, bottom, right = tile.window
        core = np.s_[tile.core[0]:tile.core[2], tile.core[1]:tile.core[3]]
        targets = [content_map[top // stride:-(-bottom // stride), left // stride:-(-right // stride)]
                   for content_map, stride in zip(self.content_maps, self.steps.content_strides)]
        stepped, first, second, content, grams, weights, variation = self.steps.step(
            tf.constant(self.pixels[top:bottom, left:right]), tf.constant(_window_masks(self.masks, tile, 1)),
            tf.constant(tile.core_box(self.shape), tf.int32), tf.constant(tile.reach_box(self.shape, self.reach),
                                                                         tf.int32),
            [tf.constant(target) for target in targets], [tf.constant(upstream) for upstream in upstreams],
            self.content_scales, tf.constant(self.content_layer_weights, tf.float32),
            tf.constant(self.loss_weights, tf.float32), tf.constant(self.first_moment[core]),
            tf.constant(self.second_moment[core]), tf.constant(float(self.passes_done + 1)), self.hyper)
        self.pixels[core], self.first_moment[core], self.second_moment[core] = (
            stepped.numpy(), first.numpy(), second.numpy())
        return content.numpy(), grams, weights, variation
