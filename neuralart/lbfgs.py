"""L-BFGS with box bounds by projection, advanced a chunk of iterations at a time (style transfer's default).

The search direction is the classic two-loop recursion over the last `history` steps (Nocedal & Wright,
Numerical Optimization, algorithm 7.4), scaled by the latest curvature estimate; a step tries the full direction,
clips it to the bounds and halves it until the value falls. This is what jcjohnson/neural-style and most style
transfer code run (an unbounded L-BFGS with the image clipped), here with the clip inside every step so the image
never leaves the pixel range.

Why not SciPy's L-BFGS-B: on style transfer it gains about as much per iteration as this does, but its own work per
iteration (about 27 ms at 384 px, mostly its bound handling) costs as much as the network's step: with SqueezeNet at
384 px, 73 ms per iteration against 30 ms here (bench/speed.py measures the time to a given loss).

Vectors stay float32, as the image and its gradient are: each iteration reads them about 20 times.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

# A step is halved at most this many times looking for a lower value; after that the history is dropped and the
# next iteration starts again from a scaled gradient step. A second failure in a row ends the run: the point is
# (numerically) a minimum within the bounds.
MAX_HALVINGS = 10
# Curvature pairs with s.y at or below this fraction of |s||y| are skipped: they would make the inverse-Hessian
# estimate indefinite.
CURVATURE_FLOOR = 1e-10


class LbfgsStepper:
    """Minimise f(x) for low <= x <= high. `iterate(value_and_gradient, n)` advances n iterations; the state
    (point, value, gradient, history) persists between calls, so chunks of 4, 7 and 9 iterations take exactly the
    path of one call of 20.

    value_and_gradient(x) -> (value, gradient) takes and returns flat float32 arrays.
    """

    def __init__(self, x0: np.ndarray, low: float, high: float, history: int = 5):
        self.low, self.high = float(low), float(high)
        self.x = np.clip(np.asarray(x0, dtype=np.float32).ravel(), self.low, self.high)
        self.history = deque(maxlen=history)  # (s, y, 1 / s.y) of the latest steps
        self.value: float | None = None
        self.gradient: np.ndarray | None = None
        self.evaluations = 0
        self.finished = False
        self._failed_last = False

    def iterate(self, value_and_gradient: Callable, iterations: int) -> int:
        """Advance up to `iterations` iterations; return how many were done (fewer once `finished`)."""
        if self.value is None:
            self.value, self.gradient = self._evaluate(value_and_gradient, self.x)
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
        length = 1.0
        for _ in range(MAX_HALVINGS + 1):
            candidate = np.clip(self.x + length * direction, self.low, self.high)
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

    def _accept(self, candidate: np.ndarray, value: float, gradient: np.ndarray) -> None:
        step, change = candidate - self.x, gradient - self.gradient
        curvature = _dot(step, change)
        if curvature > CURVATURE_FLOOR * np.sqrt(_dot(step, step) * _dot(change, change)):
            self.history.append((step, change, 1.0 / curvature))
        self.x, self.value, self.gradient = candidate, value, gradient

    def direction(self) -> np.ndarray:
        """-H g by the two-loop recursion; without history, the gradient scaled to move a mean of one unit."""
        vector = -self.gradient
        if not self.history:
            return vector / max(float(np.mean(np.abs(vector))), 1e-12)
        coefficients = []
        for step, change, inverse_curvature in reversed(self.history):
            coefficient = inverse_curvature * _dot(step, vector)
            vector = vector - coefficient * change
            coefficients.append(coefficient)
        step, change, inverse_curvature = self.history[-1]
        vector = vector * (1.0 / (inverse_curvature * _dot(change, change)))  # s.y / y.y
        for (step, change, inverse_curvature), coefficient in zip(self.history, reversed(coefficients)):
            vector = vector + (coefficient - inverse_curvature * _dot(change, vector)) * step
        return vector


def _dot(first: np.ndarray, second: np.ndarray) -> float:
    """Dot product of two float32 vectors (BLAS sums them in blocks, so a 1M-pixel image loses little)."""
    return float(np.dot(first, second))
