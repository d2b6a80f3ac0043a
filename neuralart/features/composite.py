"""Combined objectives on a network: an expression's terms resolved against a backbone (a `FigurePlan`), the traced
function that measures them on a batch of images (each image with its own weights over the terms), Lucid's
diversity term, and the traced quality step for rows of images that share parts of their parameterization."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ..models import Backbone, inference_model
from ..models.preactivation import activation_parts
from .algebra import Term
from .config import FilterConfig
from .objectives import check_targets, default_layer
from .param import spectrum_to_planes
from .steps import make_adam_ascent, to_view
from .transform import view_function


@dataclasses.dataclass(frozen=True)
class FigurePlan:
    """Terms resolved against a network: full layer names (a class term's is the classifier's output), which
    activation each term pushes ("output", "pre" or "revive", as `Plan.optimised`) and reports, the layer whose
    Gram matrices the diversity term compares (None without one), the fixed input size of a network that has one,
    and the sign (-1 for `negative`)."""

    terms: tuple[Term, ...]
    optimised: tuple[str, ...]
    measured: tuple[str, ...]
    diversity_layer: str | None
    view_size: tuple[int, int] | None
    sign: float

    @property
    def key(self) -> tuple:
        """What the traced functions depend on; the terms' indices and weights are tensor arguments."""
        return (tuple((term.kind, term.layer) for term in self.terms), self.optimised, self.measured,
                self.diversity_layer, self.view_size is not None)

    @property
    def indices(self) -> tuple[int, ...]:
        return tuple(term.index for term in self.terms)


def resolve_layer(name: str, backbone: Backbone) -> str:
    """A layer of the network by its name, or by the part of an offered layer's name before "_" ("fire5" for
    "fire5_concat" when that is the only offered layer starting "fire5_")."""
    known = {layer.name for layer in backbone.model.layers}
    if name in known:
        return name
    matches = [layer for layer in backbone.spec.feature_layers if layer.startswith(name + "_")]
    if len(matches) == 1:
        return matches[0]
    offered = ", ".join(matches or backbone.spec.feature_layers or sorted(known))
    reason = "could be any of" if matches else "has no layer named"
    raise ValueError(f"{backbone.name} {reason} {name!r}; " + ("say which: " if matches else "try one of: ")
                     + offered)


def figure_plan(terms: Sequence[Term], backbone: Backbone, *, negative: bool = False,
                diversity: bool = False) -> FigurePlan:
    """Resolve and check `terms` against the network, before any work starts."""
    model = backbone.model
    resolved = []
    for term in terms:
        layer = model.layers[-1].name if term.kind == "class" else resolve_layer(term.layer, backbone)
        output = model.get_layer(layer).output
        if term.kind == "class" and len(output.shape) != 2:
            raise ValueError(f"{term} needs a classifier output; {backbone.name} has none here (pick a network "
                             "with a classifier head)")
        if term.kind != "class" and len(output.shape) != 4:
            raise ValueError(f"{layer} is not a convolutional feature map; pick one of "
                             f"{', '.join(backbone.spec.feature_layers)}")
        check_targets((term.index,), int(output.shape[-1]), layer, term.kind)
        resolved.append(Term(term.kind, layer, term.index))
    # As for a grid: logits and what a filter dislikes are pushed before the nonlinearity; otherwise the output,
    # reviving filters silent on the grey start through their pre-activation.
    pre = tuple(negative or term.kind == "class" for term in resolved)
    optimised = tuple("pre" if before else "revive" for before in pre)
    measured = tuple("pre" if before else "output" for before in pre)
    fixed = tuple(model.input_shape[1:3])
    view_size = fixed if all(side is not None for side in fixed) else None
    return FigurePlan(tuple(resolved), optimised, measured, _diversity_layer(resolved, backbone) if diversity
                      else None, view_size, -1.0 if negative else 1.0)


def _diversity_layer(terms: Sequence[Term], backbone: Backbone) -> str:
    """The first feature-map term's layer, as Lucid pairs diversity with the objective's own layer; for class
    terms alone, the network's usual layer for feature visualization."""
    for term in terms:
        if term.kind != "class":
            return term.layer
    return default_layer(FilterConfig(), backbone)


def gram_similarity(activation):
    """Lucid's diversity term (lucid/optvis/objectives.py, `diversity`; Olah, Mordvintsev & Schubert 2017,
    "Feature Visualization", section "Diversity"): each image's Gram matrix of the layer's activation (channels
    by channels, summed over positions) scaled to unit Frobenius norm, and the sum over ordered pairs of
    different images of their inner products (cosine similarities), divided by the batch size. A run subtracts
    it, weighted, so that the images drift apart in style while each still excites its objective.
    activation: (batch, height, width, channels). The sum over pairs is computed as the squared norm of the
    summed matrices less each matrix's own, so it costs one pass over the batch (TF ops)."""
    import tensorflow as tf

    shape = tf.shape(activation)
    flat = tf.reshape(tf.cast(activation, tf.float32), [shape[0], -1, shape[3]])
    grams = tf.math.l2_normalize(tf.matmul(flat, flat, transpose_a=True), axis=[1, 2], epsilon=1e-10)
    together = tf.reduce_sum(grams, axis=0)
    return (tf.reduce_sum(tf.square(together)) - tf.reduce_sum(tf.square(grams))) / tf.cast(shape[0], tf.float32)


def values_function(backbone: Backbone, plan: FigurePlan):
    """network input (batch, h, w, 3), weights (batch, terms), indices (terms,) -> (value to push, value to
    report, one per image: the weighted sums of the terms; Lucid's diversity term of the batch, a scalar)."""
    return backbone.cached(("figures_values",) + plan.key, lambda: _make_values(backbone, plan))


def _make_values(backbone: Backbone, plan: FigurePlan):
    import keras
    import tensorflow as tf

    from ..losses import FEATURE_OBJECTIVES

    layers = list(dict.fromkeys([term.layer for term in plan.terms] + [plan.diversity_layer] * bool(
        plan.diversity_layer)))
    needs_pre = {layer: any(term.layer == layer and form != "output"
                            for term, form in zip(plan.terms, plan.optimised)) for layer in layers}
    parts = {layer: activation_parts(backbone.model.get_layer(layer), needs_pre[layer]) for layer in layers}
    part_model = inference_model(keras.Model(backbone.model.inputs, [part.tensor for layer in layers
                                                                     for part in parts[layer]],
                                             name="figure_parts"), backbone.precision)

    def activations(network_input) -> dict:
        outputs = iter([tf.cast(output, tf.float32)
                        for output in tf.nest.flatten(part_model(network_input, training=False))])
        found = {}
        for layer in layers:
            pieces = [part.to_pre(next(outputs)) for part in parts[layer]]
            activated = [part.activate(piece) for part, piece in zip(parts[layer], pieces)]
            found[layer] = (tf.concat(pieces, axis=-1), tf.concat(activated, axis=-1))
        return found

    def values(network_input, weights, indices):
        found = activations(network_input)
        batch = tf.shape(network_input)[0]
        pushed, reported = [], []
        for number, (term, optimised, measured) in enumerate(zip(plan.terms, plan.optimised, plan.measured)):
            pre, output = found[term.layer]
            objective, targets = FEATURE_OBJECTIVES[term.kind], tf.fill([batch], indices[number])
            output_value, pre_value = objective(output, targets), objective(pre, targets)
            pushed.append({"pre": pre_value, "output": output_value,
                           "revive": tf.where(output_value > 0, output_value, pre_value)}[optimised])
            reported.append(pre_value if measured == "pre" else output_value)
        similarity = (gram_similarity(found[plan.diversity_layer][1]) if plan.diversity_layer
                      else tf.zeros([], tf.float32))
        return (tf.reduce_sum(weights * tf.stack(pushed, axis=1), axis=1),
                tf.reduce_sum(weights * tf.stack(reported, axis=1), axis=1), similarity)
    return values


def evaluation_function(backbone: Backbone, plan: FigurePlan):
    """Traced forward pass: (pixels, weights, indices, view size) -> (objective per image, diversity term)."""
    return backbone.cached(("figures_evaluate",) + plan.key, lambda: _make_evaluation(backbone, plan))


def _make_evaluation(backbone: Backbone, plan: FigurePlan):
    import tensorflow as tf

    values = values_function(backbone, plan)
    fixed = plan.view_size is not None

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32),
                                  tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None], tf.int32),
                                  tf.TensorSpec([2], tf.int32)])
    def evaluate(pixels, weights, indices, view_size):
        _, reported, similarity = values(backbone.input_space.to_model(to_view(pixels, view_size, fixed)),
                                         weights, indices)
        return reported, similarity
    return evaluate


def mixed_spectra(parameters, mixing, masks):
    """The images' spectra from shared parameters: image b's is sum over p of mixing[b, p] * masks[p] *
    parameters[p] (masks keep a part to low frequencies). parameters: (parts, 3, h, w//2+1, 2) (TF ops)."""
    import tensorflow as tf

    shape = tf.shape(parameters)
    masked = parameters * masks[:, None, :, :, None]
    mixed = tf.matmul(mixing, tf.reshape(masked, [shape[0], -1]))
    return tf.reshape(mixed, tf.concat([tf.shape(mixing)[:1], shape[1:]], axis=0))


def quality_function(backbone: Backbone, plan: FigurePlan):
    """Traced quality step for a row: Adam on the shared parameters of its images' Fourier spectra, each image
    seen through its own random transformation; ascends sign * (sum of the images' objectives) - diversity
    weight * diversity term. Returns the parameters, Adam's moments, the iterations taken, each image's objective
    as reported and the diversity term."""
    return backbone.cached(("figures_quality",) + plan.key, lambda: _make_quality(backbone, plan))


def _make_quality(backbone: Backbone, plan: FigurePlan):
    import tensorflow as tf

    values = values_function(backbone, plan)
    view = view_function(backbone)
    adam_ascent = make_adam_ascent()
    parameters_spec = tf.TensorSpec([None, 3, None, None, 2], tf.float32)

    @tf.function(input_signature=[
        parameters_spec, parameters_spec, parameters_spec,  # the parameters and Adam's two moment estimates
        tf.TensorSpec([], tf.float32),  # iterations taken so far
        tf.TensorSpec([None, None], tf.float32),  # per-frequency scale (1/f)
        tf.TensorSpec([2], tf.int32),  # image height and width
        tf.TensorSpec([None, None], tf.float32),  # mixing: images by parameters
        tf.TensorSpec([None, None, None], tf.float32),  # each parameter's frequency mask
        tf.TensorSpec([None, 8], tf.float32),  # this step's random transformation, one per image
        tf.TensorSpec([2], tf.int32),  # the size the network sees
        tf.TensorSpec([None, None], tf.float32),  # weights: images by terms
        tf.TensorSpec([None], tf.int32),  # each term's filter or class
        tf.TensorSpec([], tf.float32),  # diversity weight
        tf.TensorSpec([], tf.float32),  # step size
    ])
    def ascend(parameters, first_moment, second_moment, taken, frequency_scale, image_size, mixing, masks,
               transforms, view_size, weights, indices, diversity_weight, step_size):
        with tf.GradientTape() as tape:
            tape.watch(parameters)
            spectra = mixed_spectra(parameters, mixing, masks)
            planes = spectrum_to_planes(spectra, frequency_scale, image_size, bgr=backbone.input_space.bgr)
            pushed, reported, similarity = values(view(planes, transforms, view_size), weights, indices)
            objective = plan.sign * tf.reduce_sum(pushed) - diversity_weight * similarity
        gradient = tape.gradient(objective, parameters)
        return (*adam_ascent(parameters, first_moment, second_moment, gradient, taken + 1.0, step_size),
                taken + 1.0, reported, similarity)
    return ascend
