"""L-BFGS, with optional box bounds by projection, advanced a chunk of iterations at a time (style transfer's
default).

The search direction is the classic two-loop recursion over the last `history` steps (Nocedal & Wright,
Numerical Optimization, algorithm 7.4); a step tries `first_trial` times the direction, clips it to the bounds (if
any) and halves it until the value falls. This is what jcjohnson/neural-style and most style transfer code run (an
unbounded L-BFGS with the image clipped), here with the clip inside every step so the image never leaves the pixel
range, and with two changes that made style transfer converge faster (docs/performance.md):

- The initial inverse Hessian of the recursion is diagonal instead of a multiple of the identity: each variable
  is scaled by 1 / (root mean square of its recent gradients + a floor), as Adam scales its steps, times the
  usual curvature factor s.y / y.D.y. Pixels whose gradients are large (edges, saturated colours) and pixels in
  flat regions then move at rates that suit them; with one scale for all, the history of five steps cannot learn
  so many curvatures.
- The first trial step is longer than the direction (1.5 times): the curvature the history sees underestimates
  how far the style loss keeps falling along it, and most steps were accepted at their first trial.

Not SciPy's L-BFGS-B: it gains about as much per iteration, but its own bookkeeping per iteration (mostly the
bound handling) costs as much as the network's step.

Vectors stay float32, as the image and its gradient are: each iteration reads them about 20 times.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

# A step is halved at most this many times (by default) looking for a lower value; after that the history is
# dropped and the next iteration starts again from a scaled gradient step. A second failure in a row ends the
# run: the point is (numerically) a minimum within the bounds.
MAX_HALVINGS = 10
# Curvature pairs with s.y at or below this fraction of |s||y| are skipped: they would make the inverse-Hessian
# estimate indefinite.
CURVATURE_FLOOR = 1e-10
# The diagonal scaling's floor, as a share of the mean gradient RMS: variables whose gradients are (nearly) zero
# get at most 1 / DIAGONAL_FLOOR times the mean scale, not an unbounded one.
DIAGONAL_FLOOR = 0.1


class LbfgsStepper:
    """Minimise f(x) for low <= x <= high (scalars, or arrays the shape of x; both None: no bounds).
    `iterate(value_and_gradient, n)` advances n iterations; the state (point, value, gradient, history) persists
    between calls, so chunks of 4, 7 and 9 iterations take exactly the path of one call of 20.

    value_and_gradient(x) -> (value, gradient) takes and returns flat float32 arrays.
    gradient_decay: the decay of the running mean of squared gradients behind the diagonal scaling; None scales
    every variable alike (the textbook recursion).
    first_trial: the length, as a multiple of the direction, of each iteration's first trial step.
    max_halvings: how many times a step is halved looking for a lower value before the iteration fails.
    """

    def __init__(self, x0: np.ndarray, low, high, history: int = 5, *,
                 gradient_decay: float | None = 0.9, first_trial: float = 1.5, max_halvings: int = MAX_HALVINGS):
        self.max_halvings = int(max_halvings)
        self.low, self.high = _bound(low), _bound(high)
        self.x = self._project(np.array(x0, dtype=np.float32).ravel())  # A copy: never the caller's array.
        self.history = deque(maxlen=history)  # (s, y, 1 / s.y) of the latest steps
        self.gradient_decay, self.first_trial = gradient_decay, float(first_trial)
        self._squared_gradients: np.ndarray | None = None  # running mean, not yet bias-corrected
        self._averaged = 0
        self.value: float | None = None
        self.gradient: np.ndarray | None = None
        self.evaluations = 0
        self.finished = False
        self._failed_last = False

    def iterate(self, value_and_gradient: Callable, iterations: int) -> int:
        """Advance up to `iterations` iterations; return how many were done (fewer once `finished`)."""
        if self.value is None:
            self.value, self.gradient = self._evaluate(value_and_gradient, self.x)
            self._average_squared_gradient()
        done = 0
        while done < iterations and not self.finished:
            if self._step(value_and_gradient):
                done += 1
        return done

    def _evaluate(self, value_and_gradient: Callable, x: np.ndarray) -> tuple[float, np.ndarray]:
        self.evaluations += 1
        value, gradient = value_and_gradient(x)
        return float(value), np.asarray(gradient, dtype=np.float32).ravel()

    def _step(self, value_and_gradient: Callable) -> bool:
        """One iteration; True when it lowered the value."""
        direction = self.direction()
        # Without history the direction's length is a guess (a mean of one unit); with it, the trial is longer.
        length = self.first_trial if self.history else 1.0
        for _ in range(self.max_halvings + 1):
            candidate = self._project(self.x + length * direction)
            value, gradient = self._evaluate(value_and_gradient, candidate)
            if value < self.value:
                self._accept(candidate, value, gradient)
                self._failed_last = False
                return True
            length *= 0.5
        # No lower value along this direction: forget the curvature (it misled) and start over from the gradient.
        self.finished = self._failed_last or not self.history
        self._failed_last = True
        self.history.clear()
        return False

    def _project(self, x: np.ndarray) -> np.ndarray:
        """x clipped into the bounds (x itself without bounds)."""
        if self.low is None and self.high is None:
            return x
        return np.clip(x, self.low, self.high)

    def _accept(self, candidate: np.ndarray, value: float, gradient: np.ndarray) -> None:
        step, change = candidate - self.x, gradient - self.gradient
        curvature = _dot(step, change)
        if curvature > CURVATURE_FLOOR * np.sqrt(_dot(step, step) * _dot(change, change)):
            self.history.append((step, change, 1.0 / curvature))
        self.x, self.value, self.gradient = candidate, value, gradient
        self._average_squared_gradient()

    def direction(self) -> np.ndarray:
        """-H g by the two-loop recursion; without history, the scaled gradient moving a mean of one unit."""
        scaling = self._diagonal_scaling()
        vector = -self.gradient
        if not self.history:
            vector = vector if scaling is None else scaling * vector
            return vector / max(float(np.mean(np.abs(vector))), 1e-12)
        coefficients = []
        for step, change, inverse_curvature in reversed(self.history):
            coefficient = inverse_curvature * _dot(step, vector)
            vector = vector - coefficient * change
            coefficients.append(coefficient)
        step, change, inverse_curvature = self.history[-1]
        if scaling is None:
            vector = vector * (1.0 / (inverse_curvature * _dot(change, change)))  # H0 = (s.y / y.y) I
        else:
            scaled_change = scaling * change
            vector = scaling * vector * (1.0 / (inverse_curvature * _dot(change, scaled_change)))  # (s.y / y.D.y) D
        for (step, change, inverse_curvature), coefficient in zip(self.history, reversed(coefficients)):
            vector = vector + (coefficient - inverse_curvature * _dot(change, vector)) * step
        return vector

    def _average_squared_gradient(self) -> None:
        """Take the current gradient into the running mean of squared gradients (once per accepted point)."""
        if self.gradient_decay is None:
            return
        decay, squared = self.gradient_decay, np.square(self.gradient)
        if self._squared_gradients is None:
            self._squared_gradients = (1.0 - decay) * squared
        else:
            self._squared_gradients = decay * self._squared_gradients + (1.0 - decay) * squared
        self._averaged += 1

    def _diagonal_scaling(self) -> np.ndarray | None:
        """D, the diagonal of the initial inverse Hessian (mean 1); None without diagonal scaling.
        D_i = 1 / (RMS of variable i's recent gradients + a floor), the RMS bias-corrected as Adam's is."""
        if self.gradient_decay is None or self._squared_gradients is None:
            return None
        correction = np.float32(1.0 / (1.0 - self.gradient_decay ** self._averaged))
        root_mean_square = np.sqrt(self._squared_gradients * correction)
        floor = DIAGONAL_FLOOR * float(np.mean(root_mean_square))
        if floor <= 0.0:  # Every gradient so far is zero: nothing to scale by.
            return None
        scaling = 1.0 / (root_mean_square + np.float32(floor))
        return scaling * np.float32(1.0 / float(np.mean(scaling)))


def _bound(bound):
    """A bound as float32 (a scalar, or an array flattened like x), or None."""
    if bound is None:
        return None
    bound = np.asarray(bound, dtype=np.float32)
    return bound.ravel() if bound.ndim else bound


def _dot(first: np.ndarray, second: np.ndarray) -> float:
    """Dot product of two float32 vectors (BLAS sums them in blocks, so a 1M-pixel image loses little)."""
    return float(np.dot(first, second))
