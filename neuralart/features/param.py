"""Feature visualization's image parameterizations: the chapter's grey-noise start, and Lucid's Fourier basis with
decorrelated colours (Mordvintsev et al. 2018, "Differentiable Image Parameterizations").

In the Fourier basis each frequency is scaled by 1/f, the spectrum of natural images, so a step changes broad
structure more than pixel-level detail; colours are decorrelated as in ImageNet, and a sigmoid keeps pixels in
range without clipping.
"""

from __future__ import annotations

import math

import numpy as np

# The chapter's start: uniform noise 0..20 on a grey of 128, in pixel units.
CLASSIC_GREY = 128.0
CLASSIC_NOISE = 20.0
# The square root of ImageNet's RGB colour covariance (as measured for Lucid): column 0 is roughly luminance.
# Optimising in its coordinates lets one step change brightness and colour in natural proportions.
COLOUR_CORRELATION_SQRT = np.array([[0.26, 0.09, 0.02],
                                    [0.27, 0.00, -0.05],
                                    [0.27, -0.09, 0.03]], dtype=np.float32)
COLOUR_BASIS = COLOUR_CORRELATION_SQRT / np.max(np.linalg.norm(COLOUR_CORRELATION_SQRT, axis=0))
SPECTRUM_INIT_STD = 0.01
# Lucid divides the Fourier image by 4 before the sigmoid; it keeps pixels in the sigmoid's steep middle for
# longer, where gradients pass through it almost undiminished.
SPECTRUM_DIVISOR = 4.0


def grey_noise_start(size: int, rng: np.random.Generator) -> np.ndarray:
    """The chapter's starting image: grey 128 plus uniform noise 0..20, float pixels (size, size, 3)."""
    return (rng.random((size, size, 3)) * CLASSIC_NOISE + CLASSIC_GREY).astype(np.float32)


def frequency_scale(height: int, width: int) -> np.ndarray:
    """Per-frequency scale of the Fourier parameterization: 1/f, capped at the lowest frequency, times
    sqrt(pixels) so that the inverse FFT is unitary and a step in spectrum space is a step in pixel space.
    Shape (height, width // 2 + 1), matching a real 2-D FFT."""
    vertical = np.fft.fftfreq(height)[:, None]
    horizontal = np.fft.rfftfreq(width)[None, :]
    frequency = np.sqrt(vertical ** 2 + horizontal ** 2)
    scale = 1.0 / np.maximum(frequency, 1.0 / max(height, width))
    return (scale * math.sqrt(height * width)).astype(np.float32)


def spectrum_to_zero1_image(spectrum, scale, image_size, bgr: bool = False):
    """Spectra (batch, 3, h, w//2+1, real/imaginary) to images (batch, h, w, 3) in 0..1 (TF ops); with `bgr`,
    the same images with their channels in BGR order, as caffe-style networks read them."""
    return planes_to_zero1(spectrum_to_planes(spectrum, scale, image_size, bgr))


def spectrum_to_planes(spectrum, scale, image_size, bgr: bool = False):
    """Spectra (batch, 3, h, w//2+1, real/imaginary) to colour planes (batch, 3, h, w) before the sigmoid, in
    RGB order or with `bgr` in BGR order (TF ops).

    The spectra are in decorrelated colour coordinates; the colour basis turns them into colours (mixing the
    spectra, which the inverse FFT commutes with, as a batched matrix product).
    """
    import tensorflow as tf

    basis = COLOUR_BASIS[::-1] if bgr else COLOUR_BASIS  # Reordering the basis's rows reorders the channels.
    # Scaled as (real, imaginary) pairs and reinterpreted as complex numbers in place: splitting the pairs and
    # joining them into complex numbers (and the gradients of both) cost a noticeable share of a step.
    pairs = spectrum * tf.stack([scale, scale], axis=-1)
    shape = tf.shape(pairs)
    mixed = tf.matmul(tf.constant(basis / SPECTRUM_DIVISOR, tf.float32)[None], tf.reshape(pairs, [shape[0], 3, -1]))
    return tf.signal.irfft2d(_pairs_as_complex(tf.reshape(mixed, shape)), fft_length=image_size)


def _pairs_as_complex(pairs):
    """float32 (..., 2) real and imaginary parts -> complex64 (...), the same bytes (TF ops)."""
    import tensorflow as tf

    @tf.custom_gradient
    def reinterpret(pairs):
        # TensorFlow's gradient of a real function of complex z is d/d(real) + i d/d(imaginary): as pairs, the
        # same bytes again.
        return tf.bitcast(pairs, tf.complex64), lambda upstream: tf.bitcast(upstream, tf.float32)
    return reinterpret(pairs)


def planes_to_zero1(planes):
    """Colour planes (batch, 3, h, w) to images (batch, h, w, 3) in 0..1: a sigmoid keeps every pixel within
    range without clipping (which would stop gradients)."""
    import tensorflow as tf

    return tf.sigmoid(tf.transpose(planes, [0, 2, 3, 1]))

