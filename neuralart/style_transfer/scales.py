"""One scale of a style transfer run, optimised a chunk of iterations at a time: L-BFGS on pixels (projected into
0..255), L-BFGS in the smoothed basis (the default), or the chapter's Adam. Each keeps the best image it has seen:
the chapter returns its best image, not its last."""

from __future__ import annotations

import math

import numpy as np

from ..optim import MAX_HALVINGS, LbfgsStepper
from .config import LOSS_TERMS
from .steps import ADAM_BETA_2

LBFGS_HISTORY = 5
# In bfloat16, L-BFGS halves a step at most this many times (instead of MAX_HALVINGS) before it gives up on an
# iteration: late in a run the loss falls by less per iteration than its bfloat16 rounding noise, and a shorter
# step only falls by less, so further halvings are wasted evaluations (docs/performance.md).
BFLOAT16_HALVINGS = 3


class _Best:
    """The lowest-loss point seen so far at one scale, the image or what stands for it (the chapter returns its
    best image, not its last)."""

    def __init__(self):
        self.loss = math.inf
        self.point = None
        self.terms = None

    def offer(self, loss: float, point, terms) -> None:
        if loss < self.loss or self.point is None:
            self.loss, self.point, self.terms = loss, np.array(point, dtype=np.float32), np.asarray(terms)


class LbfgsScale:
    """L-BFGS at one scale, kept within the pixel range (neuralart.lbfgs), advanced a chunk at a time."""

    def __init__(self, run, pixels: np.ndarray, content_targets, style_targets):
        self.run_state, self.content_targets, self.style_targets = run, content_targets, style_targets
        self.shape = pixels.shape
        self.best_seen = _Best()
        self.optimizer = self._optimizer(pixels)
        if run.config.iterations == 0:
            self._value_and_gradient(self.optimizer.x)

    def _optimizer(self, pixels: np.ndarray) -> LbfgsStepper:
        return LbfgsStepper(pixels, 0.0, 255.0, LBFGS_HISTORY, max_halvings=self._max_halvings())

    def _max_halvings(self) -> int:
        return BFLOAT16_HALVINGS if self.run_state.precision == "bfloat16" else MAX_HALVINGS

    def _value_and_gradient(self, flat: np.ndarray):
        pixels = flat.reshape(self.shape)
        terms, gradient = self.run_state.evaluate(pixels, self.content_targets, self.style_targets)
        terms = terms.numpy()
        self.best_seen.offer(float(terms[0]), pixels, terms)
        return float(terms[0]), gradient.numpy()

    def _image(self, optimised: np.ndarray) -> np.ndarray:
        """The image that a point of the optimised variables stands for."""
        return optimised

    @property
    def current(self) -> np.ndarray:
        return self._image(self.best_seen.point)

    @property
    def current_terms(self) -> np.ndarray:
        return self.best_seen.terms

    def run(self, iterations: int) -> tuple[int, bool]:
        done = self.optimizer.iterate(self._value_and_gradient, iterations)
        return done, self.optimizer.finished

    def best(self):
        return self._image(self.best_seen.point), self.best_seen.terms


class SmoothedLbfgsScale(LbfgsScale):
    """L-BFGS at one scale in a smoothed basis (`StyleConfig.smoothing` > 0): the image is the scale's start plus
    S(offset), S = 1 + smoothing x a Gaussian blur of SMOOTHING_SIGMA pixels, and L-BFGS optimises the offset from
    zero, seeing the gradient S^T(image gradient) (S is symmetric, and invertible, so every image is reachable).

    Why: the total-variation and style losses curve steeply for pixel-level changes and gently for broad ones, and
    a history of five steps cannot learn so many curvatures; S lengthens broad steps against fine ones, as a
    preconditioner would, at the cost of two small blurs inside the traced evaluation (no work in numpy). The
    pixel bounds are no longer a box in the offset, so instead of projecting, RANGE_PENALTY holds the image near
    0..255.
    """

    def __init__(self, run, pixels: np.ndarray, content_targets, style_targets):
        import tensorflow as tf

        self.start = tf.constant(pixels, tf.float32)
        self.smoothing = tf.constant(run.config.smoothing, tf.float32)
        super().__init__(run, pixels, content_targets, style_targets)

    def _optimizer(self, pixels: np.ndarray) -> LbfgsStepper:
        return LbfgsStepper(np.zeros(pixels.size, np.float32), None, None, LBFGS_HISTORY,
                            max_halvings=self._max_halvings())

    def _value_and_gradient(self, flat: np.ndarray):
        import tensorflow as tf

        steps, run = self.run_state.steps_function, self.run_state
        objective, terms, gradient = steps.smoothed_value_and_gradient(
            tf.constant(flat.reshape(self.shape)), self.start, self.smoothing, self.content_targets,
            self.style_targets, *run.weights_and_regions)
        objective = float(objective)
        self.best_seen.offer(objective, flat, terms.numpy())
        return objective, gradient.numpy()

    def _image(self, optimised: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        return self.run_state.steps_function.smoothed_image(
            tf.constant(optimised.reshape(self.shape)), self.start, self.smoothing,
            *self.run_state.region_arguments[:1]).numpy()


class AdamScale:
    """Adam at one scale, exactly as the chapter steps it."""

    def __init__(self, run, pixels: np.ndarray, content_targets, style_targets):
        import tensorflow as tf

        self.run_state, self.content_targets, self.style_targets = run, content_targets, style_targets
        config = run.config
        self.hyper = tf.constant([config.step_size, config.beta_1, ADAM_BETA_2, config.epsilon], tf.float32)
        self.pixels = tf.constant(pixels, tf.float32)
        self.first_moment = tf.zeros_like(self.pixels)
        self.second_moment = tf.zeros_like(self.pixels)
        self.step_count = tf.constant(0.0)
        self.best_pixels, self.best_loss = self.pixels, tf.constant(math.inf)
        self.best_terms = tf.zeros([len(LOSS_TERMS)])
        self.current_terms = None
        if config.iterations == 0:  # No step will measure the start: measure it here.
            self.best_terms, _ = run.evaluate(pixels, content_targets, style_targets)
            self.current_terms = self.best_terms.numpy()

    @property
    def current(self):
        return self.pixels.numpy()

    def run(self, iterations: int) -> tuple[int, bool]:
        run = self.run_state
        for _ in range(iterations):  # One traced call per iteration, as DeepDream.
            (self.pixels, self.first_moment, self.second_moment, self.step_count, self.best_pixels, self.best_loss,
             self.best_terms, last_terms) = run.steps_function.adam_step(
                self.pixels, self.first_moment, self.second_moment, self.step_count, self.hyper, self.best_pixels,
                self.best_loss, self.best_terms, self.content_targets, self.style_targets,
                *run.weights_and_regions)
        self.current_terms = last_terms.numpy()
        return iterations, False

    def best(self):
        return self.best_pixels.numpy(), self.best_terms.numpy()



def scale_class(config):
    """The class that optimises one scale for this config."""
    if config.optimizer == "adam":
        return AdamScale
    return SmoothedLbfgsScale if config.smoothing > 0 else LbfgsScale
