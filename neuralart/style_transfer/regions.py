"""Styles by region (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer", spatial
control): each style image comes with a mask, weights 0..1 over the photo, and its Gram matrices are matched by
the result's Gram matrices *within that mask* at every style layer, the mask brought to each layer's resolution
by averaging it over the pixels each feature position stands for. A region's statistics then hold its own
features only, so one region's style does not leak into another's.

Where no mask covers the photo, the photo stays as it is: every change of the image is multiplied by the masks'
coverage (their sum, at most 1), and soft mask edges make the change fade in instead of cutting.
"""

from __future__ import annotations

import numpy as np

from .. import images

# Feature positions whose mask weights sum to less than this (in positions) leave a region's Gram matrix as it
# is, instead of dividing by nearly nothing.
MIN_REGION_WEIGHT = 1e-3


def layer_strides(backbone, layer_names: tuple[str, ...]) -> dict[str, int]:
    """{layer: how many pixels one feature position steps over} (1, 2, 4, ...), measured once per backbone from
    the sizes of two blank inputs' feature maps."""
    def measure():
        import tensorflow as tf

        model = backbone.layer_model(layer_names)
        sizes = []
        for side in (128, 192):
            outputs = model(tf.zeros([1, side, side, 3]), training=False)
            outputs = [outputs] if len(layer_names) == 1 else outputs
            sizes.append([int(output.shape[1]) for output in outputs])
        return {name: max(1, round(64 / max(large - small, 1))) for name, small, large in zip(layer_names, *sizes)}
    return dict(backbone.cached(("layer_strides", tuple(layer_names)), measure))


def layer_weights(masks, features, stride: int):
    """Pixel weights `masks` (height, width, regions) brought to the positions of `features` ([1,] h, w, channels)
    as the mean of each stride x stride block of pixels (TF ops)."""
    import tensorflow as tf

    pooled = masks if stride == 1 else tf.nn.avg_pool2d(masks[None], stride, stride, "SAME")[0]
    shape = tf.shape(features)
    height, width = shape[-3], shape[-2]
    # A feature map of a layer without padding is smaller than the pooled masks (it leaves out the last block).
    pooled = pooled[:height, :width]
    return tf.pad(pooled, [[0, height - tf.shape(pooled)[0]], [0, width - tf.shape(pooled)[1]], [0, 0]],
                  mode="SYMMETRIC")


def weighted_gram_sums(features, weights, regions: int):
    """[regions, channels, channels]: for each region r, the sum over positions p of weights[p, r] f_p f_p^T
    (features ([1,] h, w, channels), weights (h, w, regions); float32, TF ops). Unnormalised, so that sums over
    tiles add up to the whole image's."""
    import tensorflow as tf

    channels = tf.shape(features)[-1]
    flat = tf.reshape(tf.cast(features, tf.float32), [-1, channels])
    flat_weights = tf.reshape(weights, [-1, regions])
    return tf.stack([_weighted_gram(flat, flat_weights[:, region:region + 1]) for region in range(regions)])


def _weighted_gram(flat, weight):
    """F^T diag(weight) F, with its gradient written as one matrix product, (weight F)(U + U^T), where automatic
    differentiation spends two (the weights take no gradient: masks are not optimised)."""
    import tensorflow as tf

    @tf.custom_gradient
    def gram(flat):
        weighted = flat * weight

        def gradient(upstream):
            return tf.matmul(weighted, upstream + tf.transpose(upstream))
        return tf.matmul(weighted, flat, transpose_a=True), gradient
    return gram(flat)


def region_style_loss(features, targets, masks, region_weights, stride: int, regions: int):
    """Sum over regions of region_weights[r] x the mean squared difference between the Gram matrix of `features`
    within region r and its style's (`targets[r]`), at one layer (TF ops)."""
    import tensorflow as tf

    weights = layer_weights(masks, features, stride)
    totals = tf.maximum(tf.reduce_sum(weights, axis=[0, 1]), MIN_REGION_WEIGHT)
    grams = weighted_gram_sums(features, weights, regions) / totals[:, None, None]
    return tf.reduce_sum(region_weights * tf.reduce_mean(tf.square(grams - targets), axis=[1, 2]))


def coverage(masks):
    """How much of the change each pixel takes: the masks' sum, at most 1, shaped (height, width, 1) (TF ops)."""
    import tensorflow as tf

    return tf.minimum(tf.reduce_sum(masks, axis=-1, keepdims=True), 1.0)


class StyleMasks:
    """One mask per style image, read at the photo's size and feathered; resized for each scale."""

    def __init__(self, sources, style_count: int, size: tuple[int, int], feather: float):
        sources = list(sources)
        if len(sources) != style_count:
            raise ValueError(f"{len(sources)} style mask{'s' if len(sources) != 1 else ''} for {style_count} style "
                             f"image{'s' if style_count != 1 else ''}: give one mask per style, in the styles' "
                             "order.")
        self.size = tuple(size)
        pixels = feather * max(size)
        masks = [images.load_mask(source, size, name=f"The mask of style {index}")
                 for index, source in enumerate(sources, start=1)]
        self.masks = np.stack([images.soften_edges(mask, pixels) for mask in masks], axis=-1)

    @property
    def count(self) -> int:
        return self.masks.shape[-1]

    def at(self, shape: tuple[int, int]) -> np.ndarray:
        """The masks at (height, width), float32 (height, width, styles)."""
        if tuple(shape) == self.size:
            return self.masks
        from PIL import Image

        height, width = shape
        return np.stack([np.asarray(Image.fromarray(mask, "F").resize((width, height), Image.Resampling.BILINEAR))
                         for mask in np.moveaxis(self.masks, -1, 0)], axis=-1).clip(0.0, 1.0)

    def composite(self, photo: np.ndarray, per_style: list[np.ndarray]) -> np.ndarray:
        """A uint8 image that is `per_style[s]` where mask s covers the photo and `photo` where none does (masks
        that overlap share their pixels in proportion), at the photo's size."""
        masks = self.at(photo.shape[:2]).astype(np.float64)
        total = masks.sum(axis=-1, keepdims=True)
        shares = masks / np.maximum(total, 1.0)
        mixed = sum(shares[..., index:index + 1] * image.astype(np.float64) for index, image in enumerate(per_style))
        return images.pixels_to_uint8(mixed + (1.0 - np.minimum(total, 1.0)) * photo.astype(np.float64))


def region_loss_weights(blend: list[float]) -> list[float]:
    """Each region's style weight: the blend weights scaled so the largest is 1 (every region at full strength
    by default; a region takes its style as strongly as a single style would)."""
    largest = max(blend)
    return [weight / largest for weight in blend]
