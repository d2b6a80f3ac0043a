"""Network surgery for inference: the same function, cheaper to run (batch normalisations folded into their
convolutions, parallel 1x1 branches merged into one convolution, layers computing in bfloat16)."""

from __future__ import annotations

import dataclasses

import numpy as np

from .. import runtime


def inference_model(model, precision: str = "float32", *, fold_batch_norms: bool = True,
                    merge_pointwise: bool = True):
    """`model` rebuilt to run faster in techniques that never train it; returns `model` when nothing changes.

    - Each batch normalisation that directly follows a linear convolution is folded into that convolution's
      kernel and bias: at inference it is a per-channel affine map (Ioffe & Szegedy 2015), so the folded model
      computes the same function up to float rounding, without two extra passes over every activation forward
      and backward (InceptionV3 and MobileNet normalise after every convolution).
    - Linear 1x1 convolutions that read the same tensor (the branches of an Inception block) become one
      convolution whose output is split: one larger matrix product instead of several, and backward one input
      gradient instead of several summed. A stride-1 "same" average pool feeding only such a convolution moves
      behind it (both are linear, and a bias survives an average of valid pixels), so it pools the branch's
      few output channels instead of the block's many input channels. See `_pointwise_groups`.
    - With precision "bfloat16" every layer computes in bfloat16 under Keras' "bfloat16" policy, set per layer
      so the process-wide policy stays untouched. Weights are stored in bfloat16: the "mixed_bfloat16" policy
      would keep them float32 and cast every kernel on every call, for the same rounded values. The input is
      cast on entry; outputs are bfloat16 and the techniques cast them to float32 before any loss.
    """
    import keras

    precision = runtime.resolve_precision(precision)
    folds = _foldable_batch_norms(model) if fold_batch_norms else {}
    groups = _pointwise_groups(model) if merge_pointwise else []
    if not folds and not groups and precision == "float32":
        return model
    policy = runtime.KERAS_POLICIES[precision]
    folded_norms = {norm.name for norm in folds.values()}

    def clone_layer(layer):
        if layer.name in folded_norms:
            return keras.layers.Lambda(_pass_through, name=layer.name, dtype=policy)
        config = layer.get_config()
        config["dtype"] = policy
        if layer.name in folds:
            config["use_bias"] = True
        return layer.__class__.from_config(config)

    merger = _PointwiseMerger(groups, policy)
    clone = keras.models.clone_model(model, clone_function=clone_layer, call_function=merger.call)
    replaced = merger.replaced_layers()
    for layer in model.layers:
        if layer.weights and layer.name not in folded_norms and layer.name not in replaced:
            clone.get_layer(layer.name).set_weights(_inference_weights(layer, folds))
    for group in groups:
        kernels, biases = zip(*(_kernel_and_bias(member.convolution, folds) for member in group.members))
        clone.get_layer(group.name).set_weights([np.concatenate(kernels, axis=-1), np.concatenate(biases)])
    return clone


def _inference_weights(layer, folds: dict) -> list:
    """`layer`'s weights with its batch normalisation folded in, if it has one."""
    return _folded_weights(layer, folds[layer.name]) if layer.name in folds else layer.get_weights()


def _kernel_and_bias(convolution, folds: dict) -> tuple:
    """A convolution's inference kernel and bias, with a zero bias where it has none."""
    weights = _inference_weights(convolution, folds)
    return weights[0], weights[1] if len(weights) > 1 else np.zeros(convolution.filters, np.float32)


@dataclasses.dataclass(frozen=True)
class _PointwiseMember:
    convolution: object  # a linear 1x1 Conv2D
    pool: object | None  # the stride-1 "same" AveragePooling2D it read, now applied to its output instead


@dataclasses.dataclass(frozen=True)
class _PointwiseGroup:
    name: str
    members: tuple[_PointwiseMember, ...]


def _output_layer_names(model) -> set[str]:
    """Names of the layers whose outputs are the model's: rewriting them would change what the model returns."""
    return {tensor._keras_history.operation.name for tensor in model.outputs}


def _pointwise_groups(model) -> list[_PointwiseGroup]:
    """Linear 1x1 stride-1 convolutions grouped by the tensor they read (directly, or through an average pool
    that only they read), where merging saves something: two or more members, or a pool to move."""
    from keras import layers

    output_names = _output_layer_names(model)
    by_source: dict[int, list[_PointwiseMember]] = {}
    for convolution in model.layers:
        if not _is_pointwise(convolution, layers):
            continue
        pool = convolution.input._keras_history.operation
        if not _is_movable_pool(pool, layers) or pool.name in output_names:
            pool = None
        source = (pool or convolution).input
        by_source.setdefault(id(source), []).append(_PointwiseMember(convolution, pool))
    return [_PointwiseGroup(f"{members[0].convolution.name}_merged_pointwise", tuple(members))
            for members in by_source.values()
            if len(members) > 1 or members[0].pool is not None]


def _is_pointwise(layer, layers) -> bool:
    return (type(layer) is layers.Conv2D and tuple(layer.kernel_size) == (1, 1) and tuple(layer.strides) == (1, 1)
            and tuple(layer.dilation_rate) == (1, 1) and layer.groups == 1
            and layer.activation.__name__ == "linear" and layer.data_format == "channels_last"
            and len(layer._inbound_nodes) == 1)


def _is_movable_pool(layer, layers) -> bool:
    """An average pool that commutes with the 1x1 convolution reading it: stride 1, "same" padding (TF averages
    only the valid pixels, so a constant bias stays itself), and no other reader."""
    return (type(layer) is layers.AveragePooling2D and tuple(layer.strides) == (1, 1) and layer.padding == "same"
            and layer.data_format == "channels_last" and len(layer._inbound_nodes) == 1
            and len(layer._outbound_nodes) == 1)


class _PointwiseMerger:
    """The `call_function` of `inference_model`'s clone: calls every layer as usual, except that each group's
    members become slices of one merged convolution, and their moved pools pass their input through."""

    def __init__(self, groups: list[_PointwiseGroup], policy: str):
        self.policy = policy
        self.group_of = {member.convolution.name: (group, index)
                         for group in groups for index, member in enumerate(group.members)}
        self.moved_pools = {member.pool.name for group in groups for member in group.members if member.pool}
        self.pool_clones: dict = {}
        self.pieces: dict = {}

    def replaced_layers(self) -> set[str]:
        return set(self.group_of) | self.moved_pools

    def call(self, layer, *args, **kwargs):
        import keras

        if layer.name in self.moved_pools:
            self.pool_clones[layer.name] = layer
            return args[0]
        if layer.name not in self.group_of:
            return layer(*args, **kwargs)
        group, index = self.group_of[layer.name]
        if group.name not in self.pieces:
            widths = [member.convolution.filters for member in group.members]
            merged = keras.layers.Conv2D(sum(widths), 1, use_bias=True, dtype=self.policy, name=group.name)(args[0])
            self.pieces[group.name] = keras.ops.split(merged, np.cumsum(widths)[:-1].tolist(), axis=-1)
        piece = self.pieces[group.name][index]
        pool = group.members[index].pool
        return self.pool_clones[pool.name](piece) if pool is not None else piece


def _pass_through(inputs):
    return inputs


def _foldable_batch_norms(model) -> dict:
    """{convolution name: the batch normalisation to fold into it} for every pair where folding is exact:
    a plain Conv2D without activation whose only consumer is a channels-last batch normalisation, and whose own
    output is not one of the model's outputs."""
    from keras import layers

    output_names = _output_layer_names(model)
    folds = {}
    for norm in model.layers:
        if type(norm) is not layers.BatchNormalization or norm.axis not in (-1, 3) or len(norm._inbound_nodes) != 1:
            continue
        convolution = norm.input._keras_history.operation
        if (type(convolution) is layers.Conv2D and convolution.activation.__name__ == "linear"
                and convolution.data_format == "channels_last" and len(convolution._outbound_nodes) == 1
                and convolution.name not in output_names):
            folds[convolution.name] = norm
    return folds


def _folded_weights(convolution, norm) -> list:
    """Kernel and bias of `convolution` followed by `norm` at inference:
    norm(x) = gamma * (x - mean) / sqrt(variance + epsilon) + beta, with x = kernel * input + bias."""
    weights = convolution.get_weights()
    kernel = weights[0].astype(np.float64)
    bias = weights[1].astype(np.float64) if convolution.use_bias else 0.0
    gamma = norm.gamma.numpy() if norm.gamma is not None else 1.0
    beta = norm.beta.numpy() if norm.beta is not None else 0.0
    scale = gamma / np.sqrt(norm.moving_variance.numpy().astype(np.float64) + norm.epsilon)
    folded_bias = (bias - norm.moving_mean.numpy()) * scale + beta
    return [(kernel * scale).astype(np.float32), np.asarray(folded_bias, dtype=np.float32)]

