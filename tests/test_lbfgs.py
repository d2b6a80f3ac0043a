"""The projected L-BFGS that style transfer uses by default (neuralart.lbfgs), on problems with known answers."""

import numpy as np
import pytest

from neuralart.lbfgs import LbfgsStepper


def quadratic(rng, size=300, quartic=1e-6):
    """A convex, badly conditioned quadratic (plus a small quartic) whose unbounded minimum lies partly outside
    0..255."""
    matrix = rng.standard_normal((size, size)) / np.sqrt(size)
    matrix = matrix @ matrix.T + 0.01 * np.eye(size)
    target = rng.uniform(-100, 400, size)

    def value_and_gradient(x):
        residual = x.astype(np.float64) - target
        value = 0.5 * residual @ matrix @ residual + quartic * np.sum(residual ** 4)
        gradient = matrix @ residual + 4 * quartic * residual ** 3
        return value, gradient.astype(np.float32)
    return value_and_gradient


def test_chunks_take_the_path_of_one_call(rng):
    function = quadratic(rng)
    start = rng.uniform(0, 255, 300)
    chunked, whole = LbfgsStepper(start, 0.0, 255.0), LbfgsStepper(start, 0.0, 255.0)
    done = sum(chunked.iterate(function, chunk) for chunk in (4, 7, 9))
    assert done == whole.iterate(function, 20) == 20
    np.testing.assert_array_equal(chunked.x, whole.x)
    assert chunked.evaluations == whole.evaluations


def test_values_fall_every_iteration_and_stay_within_bounds(rng):
    function = quadratic(rng)
    stepper = LbfgsStepper(rng.uniform(0, 255, 300), 0.0, 255.0)
    values = []
    for _ in range(30):
        stepper.iterate(function, 1)
        values.append(stepper.value)
        assert stepper.x.min() >= 0.0 and stepper.x.max() <= 255.0
    assert all(later < earlier for earlier, later in zip(values, values[1:]))


def test_reaches_the_bounded_minimum_of_a_separable_problem(rng):
    """With independent coordinates the bounded minimum is the clipped unbounded one."""
    curvature = np.exp(rng.uniform(-3, 3, 200))  # condition number ~400
    target = rng.uniform(-100, 400, 200)

    def value_and_gradient(x):
        residual = x.astype(np.float64) - target
        return 0.5 * np.sum(curvature * residual ** 2), (curvature * residual).astype(np.float32)

    stepper = LbfgsStepper(np.full(200, 128.0), 0.0, 255.0)
    stepper.iterate(value_and_gradient, 200)
    np.testing.assert_allclose(stepper.x, np.clip(target, 0, 255), atol=0.05)


def test_about_as_good_as_scipys_bounded_routine(rng):
    """On a coupled problem it ends within 1% of SciPy's L-BFGS-B optimum (SciPy comes with scikit-image)."""
    from scipy.optimize import Bounds, minimize

    function = quadratic(rng)
    start = rng.uniform(0, 255, 300)
    optimum = minimize(function, start, jac=True, method="L-BFGS-B", bounds=Bounds(np.zeros(300), np.full(300, 255.0)),
                       options={"maxiter": 2000, "ftol": 0.0, "gtol": 1e-10}).fun
    initial = function(start)[0]
    stepper = LbfgsStepper(start, 0.0, 255.0)
    stepper.iterate(function, 300)
    assert stepper.value - optimum <= 0.01 * (initial - optimum), (stepper.value, optimum, initial)


def test_stops_at_a_minimum_instead_of_looping(rng):
    stepper = LbfgsStepper(np.full(10, 3.0), 0.0, 255.0)
    done = stepper.iterate(lambda x: (float(np.sum(x.astype(np.float64) ** 2)), 2 * x), 500)
    assert stepper.finished and done < 500
    assert np.abs(stepper.x).max() == pytest.approx(0.0, abs=1e-3)  # the lower bound
