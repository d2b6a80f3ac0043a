"""The projected L-BFGS that style transfer uses by default (neuralart.optim.lbfgs), on problems with known answers."""

import numpy as np
import pytest

from neuralart.optim.lbfgs import LbfgsStepper


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


@pytest.mark.parametrize("bounds", ["none", "per variable"])
def test_without_bounds_or_with_bounds_per_variable(rng, bounds):
    """Without bounds it reaches the unbounded minimum (outside 0..255 in places); with an array of bounds, each
    variable is held within its own."""
    curvature = np.exp(rng.uniform(-2, 2, 200))
    target = rng.uniform(-100, 400, 200)

    def value_and_gradient(x):
        residual = x.astype(np.float64) - target
        return 0.5 * np.sum(curvature * residual ** 2), (curvature * residual).astype(np.float32)

    low, high = (None, None) if bounds == "none" else (rng.uniform(-50, 50, 200), rng.uniform(100, 300, 200))
    stepper = LbfgsStepper(np.zeros(200), low, high)
    stepper.iterate(value_and_gradient, 200)
    expected = target if bounds == "none" else np.clip(target, low, high)
    np.testing.assert_allclose(stepper.x, expected, atol=0.05)
    assert (stepper.x < 0).any() and (stepper.x > 255).any()


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


@pytest.mark.parametrize("max_halvings", [3, 10])
def test_a_failed_iteration_costs_one_evaluation_more_than_its_halvings(max_halvings):
    stepper = LbfgsStepper(np.zeros(10), None, None, max_halvings=max_halvings)
    stepper.iterate(lambda x: (float(np.sum(x.astype(np.float64) ** 2)), 2 * x), 1)  # At the minimum already.
    # The start, then one failed iteration, which ends a run that has no history to drop.
    assert stepper.evaluations == 1 + (max_halvings + 1) and stepper.finished


def test_stops_at_a_minimum_instead_of_looping(rng):
    stepper = LbfgsStepper(np.full(10, 3.0), 0.0, 255.0)
    done = stepper.iterate(lambda x: (float(np.sum(x.astype(np.float64) ** 2)), 2 * x), 500)
    assert stepper.finished and done < 500
    assert np.abs(stepper.x).max() == pytest.approx(0.0, abs=1e-3)  # the lower bound


def separable(rng, size=400, spread=4.0):
    """0.5 * sum(c_i (x_i - t_i)^2) with curvatures c spanning e^-spread..e^spread and targets inside the bounds."""
    curvature = np.exp(rng.uniform(-spread, spread, size))
    target = rng.uniform(30, 220, size)

    def value_and_gradient(x):
        residual = x.astype(np.float64) - target
        return 0.5 * np.sum(curvature * residual ** 2), (curvature * residual).astype(np.float32)
    return value_and_gradient


def test_diagonal_scaling_copes_with_variables_of_very_different_curvature(rng):
    """Five curvature pairs cannot learn 400 curvatures spanning a factor of 3000; a per-variable scale from
    the gradients' running RMS can: after 25 iterations the value is hundreds of times lower."""
    function = separable(rng)
    start = np.full(400, 128.0)
    values = {}
    for name, decay in (("scaled", 0.9), ("textbook", None)):
        stepper = LbfgsStepper(start, 0.0, 255.0, gradient_decay=decay, first_trial=1.0)
        stepper.iterate(function, 25)
        values[name] = stepper.value
    assert values["scaled"] < 0.01 * values["textbook"], values


def _dense_inverse_hessian(pairs, initial: np.ndarray) -> np.ndarray:
    """H from the BFGS update applied to each (s, y) pair in order, starting at `initial` (Nocedal & Wright 6.17):
    the matrix that the two-loop recursion applies without forming it."""
    inverse_hessian = initial
    identity = np.eye(len(initial))
    for step, change in pairs:
        rho = 1.0 / (step @ change)
        left = identity - rho * np.outer(step, change)
        inverse_hessian = left @ inverse_hessian @ left.T + rho * np.outer(step, step)
    return inverse_hessian


@pytest.mark.parametrize("decay", [None, 0.9])
def test_direction_is_the_bfgs_matrix_built_from_the_history(decay, rng):
    """The direction equals -H g with H built densely, independently of the recursion: from (s.y / y.y) I
    without diagonal scaling, from (s.y / y.D.y) D with it, D recomputed here from the accepted gradients."""
    size = 12
    function = separable(rng, size=size, spread=2.0)
    stepper = LbfgsStepper(rng.uniform(0, 255, size), 0.0, 255.0, history=3, gradient_decay=decay)
    accepted = []

    def recording(x):
        value, gradient = function(x)
        accepted.append(gradient.astype(np.float64))  # the stepper accepts every point that lowers the value
        return value, gradient

    stepper.iterate(recording, 6)
    assert len(stepper.history) == 3 and stepper.evaluations == len(accepted) == 7  # no step was refused
    pairs = [(step.astype(np.float64), change.astype(np.float64)) for step, change, _ in stepper.history]
    latest_step, latest_change = pairs[-1]
    if decay is None:
        diagonal = np.ones(size)
    else:
        squared = np.zeros(size)
        for gradient in accepted:
            squared = decay * squared + (1 - decay) * gradient ** 2
        root_mean_square = np.sqrt(squared / (1 - decay ** len(accepted)))
        diagonal = 1.0 / (root_mean_square + 0.1 * root_mean_square.mean())
        diagonal /= diagonal.mean()
    initial = np.diag(diagonal) * (latest_step @ latest_change) / (latest_change @ (diagonal * latest_change))
    expected = -_dense_inverse_hessian(pairs, initial) @ stepper.gradient.astype(np.float64)
    np.testing.assert_allclose(stepper.direction(), expected, rtol=2e-3, atol=1e-4 * np.abs(expected).max())


def test_each_iteration_first_tries_a_longer_step(rng):
    """Once there is a history, the first point tried is x + first_trial * direction (clipped)."""
    function = quadratic(rng)
    tried = []

    def recording(x):
        tried.append(np.array(x))
        return function(x)

    stepper = LbfgsStepper(rng.uniform(0, 255, 300), 0.0, 255.0, first_trial=1.5)
    stepper.iterate(recording, 3)
    start, direction = stepper.x.copy(), stepper.direction()
    tried.clear()
    stepper.iterate(recording, 1)
    np.testing.assert_allclose(tried[0], np.clip(start + 1.5 * direction, 0.0, 255.0), rtol=1e-6, atol=1e-4)
