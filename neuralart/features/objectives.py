"""What a feature-visualization run optimises: the config resolved against a network (a `Plan`), and the traced
objective that measures it on a batch of images, one value per image (image b serves target b)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ..models import Backbone, get_backbone, inference_model
from ..models.preactivation import activation_parts, can_choose, chosen_channel
from .config import FilterConfig


@dataclasses.dataclass(frozen=True)
class Plan:
    """A config resolved against a built backbone: the exact layer, targets and sizes."""

    layer: str
    optimised: str  # which activation the steps push: "output", "pre" (before the nonlinearity) or "revive"
    measured: str  # which activation is reported as achieved: "output" or "pre"
    objective: str
    targets: tuple[int, ...]
    labels: tuple[str, ...]
    view_size: tuple[int, int] | None
    sign: float

    @property
    def key(self) -> tuple:
        """What the traced steps depend on (everything else is a tensor argument)."""
        return (self.layer, self.optimised, self.measured, self.objective, self.view_size is not None)


def backbone_for(config: FilterConfig) -> Backbone:
    """The registry backbone a config names, in the precision neuralart.runtime picks for this machine (as
    DeepDream and style transfer use it); with its classifier head where the objective reads a class."""
    return get_backbone(config.backbone, config.weights, include_top=needs_head(config), precision="auto")


def needs_head(config: FilterConfig) -> bool:
    """Whether a run reads a classifier's logits: the class objective, or a class term of its expression."""
    parsed = config.parsed_expression
    if parsed is not None:
        return any(term.kind == "class" for term in parsed.terms)
    return config.objective == "class"


def plan_for(config: FilterConfig, backbone: Backbone) -> Plan:
    """Resolve and check the layer and targets against the network, before any work starts."""
    model = backbone.model
    if config.size < backbone.spec.min_size:
        raise ValueError(f"{backbone.name} needs images of at least {backbone.spec.min_size} pixels; "
                         f"size is {config.size}")
    layer = config.layer or default_layer(config, backbone)
    backbone.check_layers([layer])
    output_rank = len(model.get_layer(layer).output.shape)
    if config.objective == "class":
        if output_rank != 2:
            raise ValueError(f"the class objective needs a classifier output; {layer} of {backbone.name} is a "
                             "feature map (pick a backbone with a classifier head)")
        targets, labels = (config.class_index,), (f"class {config.class_index}",)
    elif output_rank != 4:
        raise ValueError(f"{layer} is not a convolutional feature map; pick one of "
                         f"{', '.join(backbone.spec.feature_layers)}")
    elif config.objective == "layer":
        targets, labels = (0,), (f"layer {layer}",)
    else:
        targets = config.filter_indices
        labels = tuple(f"{'neuron' if config.objective == 'neuron' else 'filter'} {index}" for index in targets)
    check_targets(targets, int(model.get_layer(layer).output.shape[-1]), layer, config.objective)
    # Class logits are always taken before the softmax, and a filter pushed down before its ReLU; otherwise the
    # layer's output is measured, as the chapter does. The quality mode revives filters that are silent on its
    # grey start (no gradient flows back through a ReLU that outputs zero everywhere) by pushing their
    # pre-activation up until they respond, as Lucid's "redirected ReLU" does.
    measured = "pre" if config.objective == "class" or config.negative else "output"
    optimised = "revive" if measured == "output" and config.mode == "quality" else measured
    fixed = tuple(model.input_shape[1:3])
    view_size = fixed if all(side is not None for side in fixed) else None
    return Plan(layer, optimised, measured, config.objective, tuple(targets), labels, view_size,
                 -1.0 if config.negative else 1.0)


def default_layer(config: FilterConfig, backbone: Backbone) -> str:
    if config.objective == "class":
        return backbone.model.layers[-1].name
    defaults = backbone.default_layers("features")
    return next(iter(defaults)) if defaults else backbone.spec.feature_layers[-1]


def check_targets(targets: Sequence[int], count: int, layer: str, objective: str) -> None:
    if targets and max(targets) >= count:
        what = "classes" if objective == "class" else "filters"
        raise ValueError(f"{layer} has {count} {what}; choose indices within 0-{count - 1}")



def objective_function(backbone: Backbone, plan: Plan, form: str):
    """images in pixel units (batch, h, w, 3) -> (value to push, value to report), one per image.

    The value pushed is the objective of the layer's output, of its pre-activation, or ("revive") of the output
    where the filter responds and of the pre-activation where it is silent; the value reported is the output's
    for "revive" and the pushed value otherwise."""
    return backbone.cached(("features_objective", plan.layer, form, plan.objective),
                           lambda: make_objective_function(backbone, plan, form))


def make_objective_function(backbone: Backbone, plan: Plan, form: str, *, choose_channel: bool = True):
    import keras
    import tensorflow as tf

    from ..losses import FEATURE_OBJECTIVES

    layer = backbone.model.get_layer(plan.layer)
    preactivation_parts = activation_parts(layer, True)
    # A filter's or a neuron's objective reads one channel per image: the last linear step then computes only
    # that channel (see neuralart.models.preactivation.chosen_channel), and the network stops at that step's input.
    chosen_only = (choose_channel and plan.objective in ("channel", "neuron")
                   and all(can_choose(part) for part in preactivation_parts))
    parts = preactivation_parts if chosen_only else activation_parts(layer, form in ("pre", "revive"))
    # Computed in the backbone's precision (bfloat16 where the CPU has it); the pieces are cast back to
    # float32 before the last linear step is redone and before any objective.
    part_model = inference_model(keras.Model(backbone.model.inputs, [part.tensor for part in parts],
                                             name="features_parts"), backbone.precision)
    objective = FEATURE_OBJECTIVES[plan.objective]
    input_space = backbone.input_space

    def concatenated(pieces):
        return tf.concat(pieces, axis=-1) if len(pieces) > 1 else pieces[0]

    def values(pixels, targets, model_input=False):
        # `model_input`: the images are already the network's input (see `make_view`).
        network_input = pixels if model_input else input_space.to_model(pixels)
        outputs = [tf.cast(output, tf.float32)
                   for output in tf.nest.flatten(part_model(network_input, training=False))]
        if chosen_only:
            pre, output = chosen_channel(parts, outputs, targets)
            targets = tf.zeros_like(targets)
        else:
            pieces = [part.to_pre(output) for part, output in zip(parts, outputs)]
            pre = concatenated(pieces)
            output = None if form == "pre" else concatenated([part.activate(piece)
                                                              for part, piece in zip(parts, pieces)])
        if form == "pre":
            pushed = objective(pre, targets)
            return pushed, pushed
        output_values = objective(output, targets)
        if form == "output":
            return output_values, output_values
        return tf.where(output_values > 0, output_values, objective(pre, targets)), output_values
    return values

