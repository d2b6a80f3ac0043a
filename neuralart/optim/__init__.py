"""Optimisers the techniques share: Adam's update (feature visualization, style transfer) and L-BFGS."""

from .adam import ADAM_BETAS, ADAM_EPSILON, adam_update
from .lbfgs import MAX_HALVINGS, LbfgsStepper

__all__ = ["ADAM_BETAS", "ADAM_EPSILON", "MAX_HALVINGS", "LbfgsStepper", "adam_update"]
