"""Lucid's random transformations: each iteration the network sees the image shifted, scaled and rotated a little,
so only patterns that survive those changes are rewarded. The warp is a bilinear sampler written to compile well
under XLA, with its own backward pass."""

from __future__ import annotations

import math

import numpy as np

from .. import images
from .param import planes_to_zero1

# Lucid's random transformations: scale 0.9..1.1, rotation within 10 degrees, and shifts of a few pixels
# (here 1/16 of the image side), with grey filling whatever the moved image no longer covers.
TRANSFORM_SCALE = (0.9, 1.1)
TRANSFORM_DEGREES = 10.0
TRANSFORM_SHIFT = 1 / 16
FILL_GREY = 0.5


def sample_bilinear(images, transforms, output_size, fill: float):
    """Output pixel (x, y) of image i is images[i] sampled bilinearly at (t0 x + t1 y + t2, t3 x + t4 y + t5),
    with `fill` outside the image (TF ops; the gather compiles well under XLA, the same op eagerly is slow)."""
    import tensorflow as tf

    shape = tf.shape(images)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    # A 2-pixel border of `fill`, and each pixel stored with its right, lower and lower-right neighbours, so one
    # gather fetches all four corners. Coordinates are clamped onto the border, where every corner is `fill`.
    padded = tf.pad(images, [[0, 0], [2, 2], [2, 2], [0, 0]], constant_values=fill)
    quads = tf.concat([padded[:, :-1, :-1], padded[:, :-1, 1:], padded[:, 1:, :-1], padded[:, 1:, 1:]], axis=-1)
    quad_width = width + 3
    columns = tf.cast(tf.range(output_size[1]), tf.float32)[None, None, :]
    rows = tf.cast(tf.range(output_size[0]), tf.float32)[None, :, None]
    t = transforms[:, :, None, None]
    x = tf.clip_by_value(t[:, 0] * columns + t[:, 1] * rows + t[:, 2] + 2.0, 0.0, tf.cast(width + 2, tf.float32))
    y = tf.clip_by_value(t[:, 3] * columns + t[:, 4] * rows + t[:, 5] + 2.0, 0.0, tf.cast(height + 2, tf.float32))
    left, top = tf.floor(x), tf.floor(y)
    right_share, lower_share = x - left, y - top
    index = (tf.range(batch)[:, None, None] * ((height + 3) * quad_width)
             + tf.cast(top, tf.int32) * quad_width + tf.cast(left, tf.int32))
    corners = tf.gather(tf.reshape(quads, [-1, 4 * channels]), index)
    corners = tf.reshape(corners, tf.concat([tf.shape(index), [4, channels]], axis=0))
    weights = tf.stack([(1 - right_share) * (1 - lower_share), right_share * (1 - lower_share),
                        (1 - right_share) * lower_share, right_share * lower_share], axis=-1)
    return tf.reduce_sum(corners * weights[..., None], axis=3)


def inverse_affine_transforms(transforms):
    """The inverse of each affine transform (batch, 8) in the same form (TF ops)."""
    import tensorflow as tf

    a, b, shift_x, c, d, shift_y = (transforms[:, index] for index in range(6))
    determinant = a * d - b * c
    inverse_a, inverse_b, inverse_c, inverse_d = d / determinant, -b / determinant, -c / determinant, a / determinant
    zero = tf.zeros_like(a)
    return tf.stack([inverse_a, inverse_b, -(inverse_a * shift_x + inverse_b * shift_y),
                     inverse_c, inverse_d, -(inverse_c * shift_x + inverse_d * shift_y), zero, zero], axis=1)


def random_transforms(rng: np.random.Generator, count: int, image_size: tuple[int, int],
                      view_size: tuple[int, int] | None = None) -> np.ndarray:
    """`count` random shift/scale/rotation transforms (count, 8) for `sample_bilinear` and `make_view`, drawn
    from `rng`.

    Each maps a pixel of the output (the view, `view_size`, by default the image's own size) to the point of the
    image it samples: rotate and scale about the centre, then shift. Scales are drawn log-uniformly so zooming
    in and out are equally likely.
    """
    height, width = image_size
    view_height, view_width = view_size or image_size
    # Four numbers per transform, drawn transform by transform, so drawing 8 then 8 gives the same sequence as
    # drawing 16 at once: a run's result does not depend on how its steps are split into chunks.
    draws = rng.random((count, 4))
    low, high = np.log(TRANSFORM_SCALE[0]), np.log(TRANSFORM_SCALE[1])
    scales = np.exp(low + (high - low) * draws[:, 0])
    angles = np.deg2rad(TRANSFORM_DEGREES * (2 * draws[:, 1] - 1))
    reach = max(1.0, TRANSFORM_SHIFT * min(height, width))
    shifts = reach * (2 * draws[:, 2:] - 1)
    return np.stack([view_to_image(scale, angle, shift, (height, width), (view_height, view_width))
                     for scale, angle, shift in zip(scales, angles, shifts)]).astype(np.float32)


def view_to_image(scale: float, angle: float, shift, image_size, view_size) -> np.ndarray:
    """The 8 transform parameters for one view: x_image = A @ x_view + b, as ImageProjectiveTransform wants."""
    (height, width), (view_height, view_width) = image_size, view_size
    cosine, sine = math.cos(angle), math.sin(angle)
    ratio_x, ratio_y = width / view_width, height / view_height
    # Columns: how one view pixel to the right / down moves in the image (rotated, scaled, resized).
    a = np.array([[cosine * ratio_x, -sine * ratio_y], [sine * ratio_x, cosine * ratio_y]]) / scale
    view_centre = np.array([(view_width - 1) / 2, (view_height - 1) / 2])
    image_centre = np.array([(width - 1) / 2, (height - 1) / 2])
    b = image_centre + np.asarray(shift) - a @ view_centre
    return np.array([a[0, 0], a[0, 1], b[0], a[1, 0], a[1, 1], b[1], 0.0, 0.0])


def view_function(backbone):
    """`make_view` for this backbone's input space, built once (its compiled pieces serve every run)."""
    return backbone.cached(("features_view",), lambda: make_view(backbone.input_space))


def make_view(input_space: images.InputSpace):
    """A function view(planes, transforms, view_size): colour planes (batch, 3, h, w), before the sigmoid and in
    the network's channel order, to the network's input for each image seen through its own random affine
    transform (batch, 8, as ImageProjectiveTransform takes them), `view_size` pixels, grey where the image does
    not reach.

    Sigmoid, transpose, the bilinear warp and the input's shift and scale run as one XLA-compiled function
    forward and one backward. The backward warp is the inverse warp of the upstream gradient filled with 0, as
    TensorFlow's own gradient of ImageProjectiveTransformV3 is, at a fraction of that op's cost.
    """
    import tensorflow as tf

    def model_view(planes, transforms, view_size):
        seen = sample_bilinear(planes_to_zero1(planes), transforms, view_size, FILL_GREY)
        return input_space.ordered_to_model(images.zero1_to_pixels(seen))

    def planes_gradient(planes, transforms, upstream):
        # The shift and scale are affine, so their gradient is the same at any point: taken at the upstream's.
        with tf.GradientTape() as tape:
            tape.watch(upstream)
            shifted = input_space.ordered_to_model(images.zero1_to_pixels(upstream))
        seen_gradient = tape.gradient(shifted, upstream, output_gradients=upstream)
        image_gradient = sample_bilinear(seen_gradient, inverse_affine_transforms(transforms),
                                         tf.shape(planes)[2:4], 0.0)
        with tf.GradientTape() as tape:
            tape.watch(planes)
            image = planes_to_zero1(planes)
        return tape.gradient(image, planes, output_gradients=image_gradient)

    forward = tf.function(model_view, jit_compile=True)
    backward = tf.function(planes_gradient, jit_compile=True)

    def view(planes, transforms, view_size):
        @tf.custom_gradient
        def viewed(planes):
            return forward(planes, transforms, view_size), lambda upstream: backward(planes, transforms, upstream)
        return viewed(planes)
    return view

