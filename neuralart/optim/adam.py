"""Adam (Kingma & Ba 2015), the update alone, as TensorFlow ops: the state travels in and out as tensors, so a
traced step takes no variable and serves images of any size.

Two placements of epsilon, both from the paper: its Algorithm 1 adds epsilon to the root of the bias-corrected
second moment (Lucid's feature visualization); its faster ordering folds the bias corrections into the step size
and adds an "epsilon hat" to the uncorrected root, as Keras and TF1's AdamOptimizer do (the chapter's style
transfer, whose epsilon of 0.1 makes the difference visible).
"""

from __future__ import annotations

ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-8


def adam_update(parameters, gradient, first_moment, second_moment, count, learning_rate,
                beta_1=ADAM_BETAS[0], beta_2=ADAM_BETAS[1], epsilon=ADAM_EPSILON, *, epsilon_hat: bool = False):
    """One descent step: (parameters, first moment, second moment) after it. `count` is this step's number,
    from 1. To ascend, pass the negated gradient. `epsilon_hat`: epsilon as Keras adds it (see above)."""
    import tensorflow as tf

    first_moment = beta_1 * first_moment + (1.0 - beta_1) * gradient
    second_moment = beta_2 * second_moment + (1.0 - beta_2) * tf.square(gradient)
    if epsilon_hat:
        rate = learning_rate * tf.sqrt(1.0 - tf.pow(beta_2, count)) / (1.0 - tf.pow(beta_1, count))
        return parameters - rate * first_moment / (tf.sqrt(second_moment) + epsilon), first_moment, second_moment
    corrected_first = first_moment / (1.0 - tf.pow(beta_1, count))
    corrected_second = second_moment / (1.0 - tf.pow(beta_2, count))
    step = learning_rate * corrected_first / (tf.sqrt(corrected_second) + epsilon)
    return parameters - step, first_moment, second_moment
