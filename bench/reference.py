"""The chapter's own loops, written by us in their modern Keras form, as the baselines bench/speed.py times.

Each reference is what a careful reader of the chapter would run today: one compiled (`tf.function`) gradient step
per iteration, as keras-io's examples write it and as the chapter's `K.function` is a compiled graph; float32;
the loop itself in Python with numpy round trips between steps; the chapter's hyperparameters. `warm_up` traces
every shape a run will see, so the clock measures steady-state work, not tracing.

- `ChapterDream`: Deep Learning with Python, 8.2 (DeepDream): InceptionV3 mixed2..5 weighted 0.2/3/2/1.5, loss =
  weighted sum of squared activations (2-pixel border left out) over their element count, gradient divided by
  its mean absolute value, step 0.01, 3 octaves of scale 1.4, 20 iterations each, stop an octave once the loss
  exceeds 10, lost detail re-injected after each octave.
- `ChapterStyle`: the chapter's neural style transfer (Gatys et al. 2015 in the form of the TensorFlow blog listing
  it follows): Adam (learning rate 5, beta_1 0.99, epsilon 0.1) on the preprocessed image, which starts as the
  content image and is clipped to the valid pixel range after every step; the best image is kept. Losses: mean
  squared content difference, mean squared difference of Gram matrices (divided by the number of positions),
  total variation (squared right and down differences, summed to the power 1.25); layers and loss weights are
  parameters so the same loss can judge the project's result.
- `ChapterFilters`: 5.4 (visualizing convnet filters): 20 steps of size 1 up the gradient of a filter's mean
  activation, the gradient divided by its root mean square, from grey noise (128 + 20 * uniform), one filter at
  a time.

These classes know nothing of the project's code paths (no tiling, no bfloat16, no folded batch norms); they take a
plain float32 Keras model.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

import keras

CHAPTER_DREAM_LAYERS = {"mixed2": 0.2, "mixed3": 3.0, "mixed4": 2.0, "mixed5": 1.5}
CHAPTER_ADAM = {"learning_rate": 5.0, "beta_1": 0.99, "epsilon": 0.1}


def _resize(image: np.ndarray, shape) -> np.ndarray:
    """Bilinear resize of a float (height, width, 3) array (the chapter uses scipy's order-1 zoom)."""
    return tf.image.resize(image, shape, method="bilinear").numpy()


class ChapterDream:
    """The chapter's DeepDream loop on a float32 model that takes inputs in -1..1 (InceptionV3)."""

    def __init__(self, model, layer_settings=CHAPTER_DREAM_LAYERS, step: float = 0.01, octaves: int = 3,
                 octave_scale: float = 1.4, iterations: int = 20, max_loss: float | None = 10.0):
        self.layer_settings = dict(layer_settings)
        self.step, self.octaves, self.octave_scale = step, octaves, octave_scale
        self.iterations, self.max_loss = iterations, max_loss
        names = list(self.layer_settings)
        self.extractor = keras.Model(model.input, [model.get_layer(name).output for name in names])
        self.coefficients = [self.layer_settings[name] for name in names]
        # Like the chapter's K.function on a placeholder of free size: one graph for every octave.
        self.loss_and_gradient = tf.function(
            self.untraced_step, input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32)])
        self.steps_done = 0

    def untraced_step(self, image):
        """Loss and normalised gradient of a (1, height, width, 3) image (traced by the caller)."""
        with tf.GradientTape() as tape:
            tape.watch(image)
            loss = tf.constant(0.0)
            for coefficient, activation in zip(self.coefficients, self.extractor(image, training=False)):
                scaling = tf.cast(tf.reduce_prod(tf.shape(activation)), tf.float32)
                loss += coefficient * tf.reduce_sum(tf.square(activation[:, 2:-2, 2:-2, :])) / scaling
        gradient = tape.gradient(loss, image)
        gradient /= tf.maximum(tf.reduce_mean(tf.abs(gradient)), 1e-7)
        return loss, gradient

    def shapes(self, size) -> list[tuple[int, int]]:
        """The chapter's successive shapes, smallest first."""
        return [tuple(int(side / self.octave_scale ** octave) for side in size)
                for octave in range(self.octaves)][::-1]

    def warm_up(self, size) -> None:
        for shape in self.shapes(size):
            self.loss_and_gradient(tf.zeros([1, *shape, 3]))

    def gradient_ascent(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        loss = 0.0
        for _ in range(self.iterations):
            loss_value, gradient = self.loss_and_gradient(tf.constant(image))
            loss = float(loss_value)
            if self.max_loss is not None and loss > self.max_loss:
                break
            image = image + self.step * gradient.numpy()
            self.steps_done += 1
        return image, loss

    def run(self, unit_image: np.ndarray) -> tuple[np.ndarray, float]:
        """Dream a (height, width, 3) image in -1..1; returns the result (same range, unclipped) and last loss."""
        original = unit_image.astype(np.float32)
        shapes = self.shapes(original.shape[:2])
        image = original
        shrunk_original = _resize(original, shapes[0])
        loss = 0.0
        self.steps_done = 0
        for shape in shapes:
            image = _resize(image, shape)
            image, loss = self.gradient_ascent(image[None])
            image = image[0]
            upscaled_shrunk = _resize(shrunk_original, shape)
            same_size_original = _resize(original, shape)
            image = image + same_size_original - upscaled_shrunk
            shrunk_original = same_size_original
        return image, loss


def gram_matrix(features):
    """Gram matrix of a (1, height, width, channels) feature map, divided by the number of positions."""
    features = tf.cast(features, tf.float32)
    flat = tf.reshape(features, [-1, tf.shape(features)[-1]])
    return tf.matmul(flat, flat, transpose_a=True) / tf.cast(tf.shape(flat)[0], tf.float32)


def total_variation(image, power: float = 1.25):
    corner = image[:, :-1, :-1, :]
    down = tf.square(corner - image[:, 1:, :-1, :])
    right = tf.square(corner - image[:, :-1, 1:, :])
    return tf.reduce_sum(tf.pow(down + right, power))


class ChapterStyle:
    """The chapter's Adam style-transfer loop, and the loss that judges any result on the same terms.

    model: float32 Keras model taking preprocessed (caffe-style) input; `preprocess`/`deprocess` map RGB pixels
    0..255 to that input and back. content_layers/style_layers: {layer: weight}; weights are normalised to sum
    to one per kind, so equal weights are the chapter's 1/number-of-layers.
    """

    def __init__(self, model, content_layers, style_layers, content_weight: float, style_weight: float,
                 tv_weight: float, preprocess, deprocess, mean_bgr=(103.939, 116.779, 123.68)):
        self.content_layers = {name: weight / sum(content_layers.values()) for name, weight in content_layers.items()}
        self.style_layers = {name: weight / sum(style_layers.values()) for name, weight in style_layers.items()}
        self.loss_weights = (content_weight, style_weight, tv_weight)
        self.preprocess, self.deprocess = preprocess, deprocess
        self.low = -np.asarray(mean_bgr, np.float32)
        self.high = 255.0 - np.asarray(mean_bgr, np.float32)
        names = list(dict.fromkeys(list(self.content_layers) + list(self.style_layers)))
        self.names = names
        self.extractor = keras.Model(model.input, [model.get_layer(name).output for name in names])
        self._compute_grads = tf.function(self._loss_and_gradient)
        self._terms = tf.function(self._terms_of)

    def targets(self, content_pixels: np.ndarray, style_pixels: np.ndarray):
        """Content features and style Gram matrices, computed once as the chapter does."""
        content_outputs = self.extractor(self.preprocess(content_pixels)[None], training=False)
        style_outputs = self.extractor(self.preprocess(style_pixels)[None], training=False)
        content = {name: output for name, output in zip(self.names, content_outputs) if name in self.content_layers}
        style = {name: gram_matrix(output) for name, output in zip(self.names, style_outputs)
                 if name in self.style_layers}
        return content, style

    def _terms_of(self, image, content_targets, style_targets):
        outputs = dict(zip(self.names, self.extractor(image, training=False)))
        content = tf.add_n([weight * tf.reduce_mean(tf.square(outputs[name] - content_targets[name]))
                            for name, weight in self.content_layers.items()])
        style = tf.add_n([weight * tf.reduce_mean(tf.square(gram_matrix(outputs[name]) - style_targets[name]))
                          for name, weight in self.style_layers.items()])
        content_weight, style_weight, tv_weight = self.loss_weights
        return content_weight * content + style_weight * style + tv_weight * total_variation(image)

    def _loss_and_gradient(self, image, content_targets, style_targets):
        with tf.GradientTape() as tape:
            loss = self._terms_of(image, content_targets, style_targets)
        return loss, tape.gradient(loss, image)

    def loss_of(self, pixels: np.ndarray, content_targets, style_targets) -> float:
        """The total loss of an RGB image (pixels 0..255, any float or uint8 array): the common judge."""
        image = tf.constant(self.preprocess(np.asarray(pixels, np.float32))[None])
        return float(self._terms(image, content_targets, style_targets))

    def warm_up(self, content_pixels: np.ndarray, targets) -> None:
        image = tf.Variable(self.preprocess(content_pixels)[None])
        self._compute_grads(image, *targets)
        keras.optimizers.Adam(**CHAPTER_ADAM).apply_gradients([(tf.zeros_like(image), image)])

    def run(self, content_pixels: np.ndarray, targets, iterations: int) -> tuple[np.ndarray, float]:
        """Adam from the content image; returns the best image (RGB pixels) and its loss."""
        image = tf.Variable(self.preprocess(content_pixels)[None])
        optimizer = keras.optimizers.Adam(**CHAPTER_ADAM)
        best_loss, best_image = float("inf"), None
        for _ in range(iterations):
            loss, gradient = self._compute_grads(image, *targets)
            optimizer.apply_gradients([(gradient, image)])
            image.assign(tf.clip_by_value(image, self.low, self.high))
            if float(loss) < best_loss:
                # The chapter keeps the best image as a numpy copy of the (pre-step) image.
                best_loss, best_image = float(loss), image.numpy()
        return self.deprocess(best_image[0]), best_loss


class ChapterFilters:
    """The chapter's filter visualization: one filter at a time, 20 unit-RMS steps of size 1 (5.4)."""

    def __init__(self, model, layer_name: str, size: int = 150, steps: int = 20, step: float = 1.0):
        self.size, self.steps, self.step = size, steps, step
        extractor = keras.Model(model.input, model.get_layer(layer_name).output)

        @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32), tf.TensorSpec([], tf.int32)])
        def loss_and_gradient(image, filter_index):
            with tf.GradientTape() as tape:
                tape.watch(image)
                loss = tf.reduce_mean(extractor(image, training=False)[..., filter_index])
            gradient = tape.gradient(loss, image)
            gradient /= tf.sqrt(tf.reduce_mean(tf.square(gradient))) + 1e-5
            return loss, gradient

        self.loss_and_gradient = loss_and_gradient

    def warm_up(self) -> None:
        self.loss_and_gradient(tf.zeros([1, self.size, self.size, 3]), tf.constant(0))

    def pattern(self, filter_index: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
        image = (rng.random((1, self.size, self.size, 3)) * 20 + 128.0).astype(np.float32)
        loss = 0.0
        for _ in range(self.steps):
            loss_value, gradient = self.loss_and_gradient(tf.constant(image), tf.constant(filter_index))
            loss = float(loss_value)
            image += gradient.numpy() * self.step
        return image[0], loss
