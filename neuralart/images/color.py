"""Colour: luminance (YIQ), histogram matching and colour statistics, for style transfer's colour choices."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .ranges import pixels_to_uint8

# NTSC YIQ: Y is the luminance, I and Q carry the colour. Gatys et al. (2016), "Preserving color in neural artistic
# style transfer", transfer style on Y alone and keep the photo's I and Q.
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114],
                        [0.595716, -0.274453, -0.321263],
                        [0.211456, -0.522591, 0.311135]], dtype=np.float64)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


def rgb_to_yiq(pixels) -> np.ndarray:
    """Float RGB 0..255 (height, width, 3) to YIQ with Y in 0..255."""
    return (np.asarray(pixels, dtype=np.float64) @ _RGB_TO_YIQ.T).astype(np.float32)


def yiq_to_rgb(yiq) -> np.ndarray:
    """The inverse of `rgb_to_yiq` (float, not clipped)."""
    return (np.asarray(yiq, dtype=np.float64) @ _YIQ_TO_RGB.T).astype(np.float32)


def luminance_image(image: np.ndarray, like: np.ndarray | None = None) -> np.ndarray:
    """A uint8 image's luminance as a grey uint8 RGB image (Y in all three channels).

    With `like`, the luminance is first shifted and stretched to the mean and spread of `like`'s luminance, as
    Gatys et al. do to the style image so that its brightness does not leak into the photo.
    """
    luma = rgb_to_yiq(image)[..., 0]
    if like is not None:
        target = rgb_to_yiq(like)[..., 0]
        luma = (luma - luma.mean()) / max(float(luma.std()), 1e-6) * float(target.std()) + float(target.mean())
    return pixels_to_uint8(np.repeat(luma[..., None], 3, axis=2))


def with_chroma_of(pixels, reference: np.ndarray) -> np.ndarray:
    """Float RGB `pixels` recoloured to uint8: their luminance with the colour (I, Q) of the uint8 `reference`
    of the same size."""
    yiq = rgb_to_yiq(reference)
    yiq[..., 0] = rgb_to_yiq(pixels)[..., 0]
    return pixels_to_uint8(yiq_to_rgb(yiq))


def match_color_histogram(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """A uint8 image whose per-channel colour histograms follow those of the uint8 `reference` (any size)."""
    from skimage.exposure import match_histograms

    return pixels_to_uint8(match_histograms(image, reference, channel_axis=-1))


# A colour spread below this variance (pixel units², i.e. a standard deviation of one grey level) counts as this
# much: a flat image has no colour axes to map, and dividing by its near-zero spread would only amplify noise.
MIN_COLOR_VARIANCE = 1.0


def match_color_statistics(image: np.ndarray, references: Sequence[np.ndarray],
                           weights: Sequence[float] | None = None) -> np.ndarray:
    """A uint8 image whose pixels have the colour mean and covariance of the uint8 `references` (any sizes),
    pooled with `weights` as one mixture of their pixels.

    The map is affine: x -> A (x - mean) + reference mean with A = R^1/2 C^-1/2 (symmetric square roots of the
    reference and image covariances), which of all maps to those statistics turns colours the least. Shapes and
    shading stay; the palette becomes the references'.
    """
    weights = np.full(len(references), 1.0 / len(references)) if weights is None else np.asarray(weights, float)
    weights = weights / weights.sum()
    mean, covariance = _color_statistics(image)
    statistics = [_color_statistics(reference) for reference in references]
    target_mean = sum(weight * reference_mean for weight, (reference_mean, _) in zip(weights, statistics))
    # The covariance of the mixture: the weighted second moments about the pooled mean.
    target_covariance = sum(weight * (reference_covariance + np.outer(reference_mean - target_mean,
                                                                      reference_mean - target_mean))
                            for weight, (reference_mean, reference_covariance) in zip(weights, statistics))
    transform = _symmetric_power(target_covariance, 0.5) @ _symmetric_power(covariance, -0.5)
    pixels = np.asarray(image, dtype=np.float64).reshape(-1, 3)
    return pixels_to_uint8(((pixels - mean) @ transform.T + target_mean).reshape(np.shape(image)))


def _color_statistics(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pixels = np.asarray(image, dtype=np.float64).reshape(-1, 3)
    return pixels.mean(axis=0), np.cov(pixels, rowvar=False, bias=True)


def _symmetric_power(matrix: np.ndarray, power: float) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.maximum(values, MIN_COLOR_VARIANCE) ** power) @ vectors.T

