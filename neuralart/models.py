"""Backbones as data: which network, how it wants its pixels, its layers and its defaults per technique.

`get_backbone(name, weights)` builds a registry entry once per process (thread-safely) and returns a `Backbone`:
the Keras model plus its `BackboneSpec`, with cached multi-output models for any set of layers. Techniques take
a `Backbone`, so tests can pass a tiny random one made with `backbone_from_model`.

ImageNet weights come through `keras.utils.get_file`, cached under `$KERAS_HOME/models/` exactly where
`keras.applications` keeps them; when the download fails the user is told which file to put where.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable, Mapping
from types import MappingProxyType

import numpy as np

from . import images, runtime
from .images import InputSpace

KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
SQUEEZENET_URL = ("https://github.com/DeepCognition/keras-squeezenet/releases/download/v0.4/"
                  "squeezenet_weights_tf_dim_ordering_tf_kernels_notop.h5")


class WeightsUnavailableError(RuntimeError):
    """ImageNet weights are neither cached nor downloadable; the message names the file and the folder."""


@dataclasses.dataclass(frozen=True)
class WeightsFile:
    """One weights file as `keras.utils.get_file` caches it: name in the cache, where it comes from, its hash."""

    filename: str
    origin: str
    file_hash: str | None = None


@dataclasses.dataclass(frozen=True)
class BackboneSpec:
    """Everything a technique needs to know about a network, without building it.

    build: (include_top, weights_path or None) -> keras.Model with named layers and free spatial size.
    feature_layers: the layers offered for feature visualization, in network order.
    dream_layers: the layers offered for DeepDream weights.
    defaults: per-technique default layer weights, e.g. defaults["dream"] = {"mixed3": 3.0, ...}.
    min_size: the smallest input side the network accepts.
    top_size: the fixed input side of the classifier head, or None if the backbone has no head.
    """

    name: str
    title: str
    build: Callable
    input_space: InputSpace
    weights_notop: WeightsFile | None
    weights_top: WeightsFile | None
    feature_layers: tuple[str, ...]
    dream_layers: tuple[str, ...]
    defaults: Mapping[str, Mapping[str, float]]
    min_size: int = 32
    top_size: int | None = None


# --- architectures -------------------------------------------------------------------------------------------

def _keras_application(constructor_name: str) -> Callable:
    def build(include_top: bool, weights_path: str | None):
        import keras

        constructor = getattr(keras.applications, constructor_name)
        if include_top:
            return constructor(include_top=True, weights=weights_path)
        return constructor(include_top=False, weights=weights_path, input_shape=(None, None, 3))
    return build


def _mobilenet(include_top: bool, weights_path: str | None):
    import keras

    # MobileNet refuses a free input size with ImageNet weights, so the size is fixed when weights are loaded.
    shape = (224, 224, 3) if include_top or weights_path else (None, None, 3)
    return keras.applications.MobileNet(alpha=0.25, include_top=include_top, weights=weights_path,
                                        input_shape=shape)


SQUEEZENET_FIRES = ((2, 16, 64), (3, 16, 64), (4, 32, 128), (5, 32, 128),
                    (6, 48, 192), (7, 48, 192), (8, 64, 256), (9, 64, 256))
SQUEEZENET_POOL_AFTER = (3, 5)


def _squeezenet(include_top: bool, weights_path: str | None):
    """SqueezeNet 1.1 without its classifier (Iandola et al., 2016), layer names as in the Keras port
    with '/' replaced by '_' because Keras 3 does not allow '/' in layer names."""
    if include_top:
        raise ValueError("squeezenet is offered without its classifier head; pick vgg16 or inception_v3 "
                         "for class visualization")
    import keras
    from keras import layers

    inputs = keras.Input((None, None, 3), name="input")
    x = layers.Conv2D(64, 3, strides=2, padding="valid", activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for fire, squeeze, expand in SQUEEZENET_FIRES:
        x = _fire_module(x, fire, squeeze, expand)
        if fire in SQUEEZENET_POOL_AFTER:
            x = layers.MaxPooling2D(3, strides=2, name=f"pool{fire}")(x)
    model = keras.Model(inputs, x, name="squeezenet")
    if weights_path:
        _load_squeezenet_weights(model, weights_path)
    return model


def _fire_module(x, fire: int, squeeze: int, expand: int):
    from keras import layers

    prefix = f"fire{fire}"
    x = layers.Conv2D(squeeze, 1, activation="relu", name=f"{prefix}_squeeze1x1")(x)
    left = layers.Conv2D(expand, 1, activation="relu", name=f"{prefix}_expand1x1")(x)
    right = layers.Conv2D(expand, 3, padding="same", activation="relu", name=f"{prefix}_expand3x3")(x)
    return layers.Concatenate(name=f"{prefix}_concat")([left, right])


def _load_squeezenet_weights(model, path: str) -> None:
    """Assign kernels and biases group by group: the file's layer names contain '/', ours '_'."""
    import h5py

    with h5py.File(path, "r") as file:
        for layer in model.layers:
            if not layer.weights:
                continue
            group_name = layer.name.replace("_", "/")
            if group_name not in file:
                raise ValueError(f"{path} has no weights for layer {group_name!r}; is it a SqueezeNet 1.1 file?")
            arrays = []
            file[group_name].visititems(lambda _, item: arrays.append(item[()]) if hasattr(item, "shape") else None)
            kernel = next(array for array in arrays if array.ndim == 4)
            bias = next(array for array in arrays if array.ndim == 1)
            layer.set_weights([kernel, bias])


# --- the registry --------------------------------------------------------------------------------------------

def _vgg_conv_layers(convs_per_block: tuple[int, ...]) -> tuple[str, ...]:
    return tuple(f"block{block}_conv{conv}" for block, count in enumerate(convs_per_block, start=1)
                 for conv in range(1, count + 1))


def _keras_weights(folder: str, stem: str, hash_notop: str | None, hash_top: str | None):
    notop = WeightsFile(f"{stem}_notop.h5", f"{KERAS_APPLICATIONS_URL}{folder}/{stem}_notop.h5", hash_notop)
    top = WeightsFile(f"{stem}.h5", f"{KERAS_APPLICATIONS_URL}{folder}/{stem}.h5", hash_top)
    return notop, top


_VGG16_LAYERS = _vgg_conv_layers((2, 2, 3, 3, 3))
_VGG19_LAYERS = _vgg_conv_layers((2, 2, 4, 4, 4))
_VGG_STYLE = {f"block{block}_conv1": 1.0 for block in range(1, 6)}
_SQUEEZENET_LAYERS = ("conv1",) + tuple(f"fire{fire}_concat" for fire, _, _ in SQUEEZENET_FIRES)

REGISTRY: Mapping[str, BackboneSpec] = MappingProxyType({
    "vgg16": BackboneSpec(
        name="vgg16", title="VGG16 (Simonyan & Zisserman 2014)", build=_keras_application("VGG16"),
        input_space=images.CAFFE,
        **dict(zip(("weights_notop", "weights_top"), _keras_weights(
            "vgg16", "vgg16_weights_tf_dim_ordering_tf_kernels",
            "6d6bbae143d832006294945121d1f1fc", "64373286793e3c8b2b4e3219cbf3544b"))),
        feature_layers=_VGG16_LAYERS, dream_layers=_VGG16_LAYERS[4:],
        defaults=MappingProxyType({
            "dream": {"block4_conv2": 1.0, "block4_conv3": 1.0, "block5_conv2": 0.5},
            "features": {"block3_conv1": 1.0},
            "style_content": {"block5_conv2": 1.0},
            "style": _VGG_STYLE}),
        top_size=224),
    "vgg19": BackboneSpec(
        name="vgg19", title="VGG19 (Simonyan & Zisserman 2014)", build=_keras_application("VGG19"),
        input_space=images.CAFFE,
        **dict(zip(("weights_notop", "weights_top"), _keras_weights(
            "vgg19", "vgg19_weights_tf_dim_ordering_tf_kernels",
            "253f8cb515780f3b799900260a226db6", "cbe5617147190e668d6c5d5026f83318"))),
        feature_layers=_VGG19_LAYERS, dream_layers=_VGG19_LAYERS[4:],
        defaults=MappingProxyType({
            "dream": {"block4_conv2": 1.0, "block4_conv4": 1.0, "block5_conv2": 0.5},
            "features": {"block3_conv1": 1.0},
            "style_content": {"block5_conv2": 1.0},
            "style": _VGG_STYLE}),
        top_size=224),
    "inception_v3": BackboneSpec(
        name="inception_v3", title="InceptionV3 (Szegedy et al. 2015)",
        build=_keras_application("InceptionV3"), input_space=images.INCEPTION,
        **dict(zip(("weights_notop", "weights_top"), _keras_weights(
            "inception_v3", "inception_v3_weights_tf_dim_ordering_tf_kernels",
            "bcbd6486424b2319ff4ef7d526e38f63", "9a0d58056eeedaa3f26cb7ebd46da564"))),
        feature_layers=tuple(f"mixed{index}" for index in range(11)),
        dream_layers=tuple(f"mixed{index}" for index in range(11)),
        defaults=MappingProxyType({
            "dream": {"mixed2": 0.2, "mixed3": 3.0, "mixed4": 2.0, "mixed5": 1.5},
            "features": {"mixed4": 1.0}}),
        min_size=75, top_size=299),
    "squeezenet": BackboneSpec(
        name="squeezenet", title="SqueezeNet 1.1 (Iandola et al. 2016), small and fast",
        build=_squeezenet, input_space=images.CAFFE,
        weights_notop=WeightsFile("squeezenet_weights_tf_dim_ordering_tf_kernels_notop.h5", SQUEEZENET_URL,
                                  "80b66c92d79d4310e07fb60a297bf0d1"),
        weights_top=None,
        feature_layers=_SQUEEZENET_LAYERS, dream_layers=_SQUEEZENET_LAYERS[1:],
        defaults=MappingProxyType({
            "dream": {"fire5_concat": 1.0, "fire7_concat": 1.0, "fire9_concat": 1.0},
            "features": {"fire5_concat": 1.0},
            "style_content": {"fire7_concat": 1.0},
            "style": {"conv1": 1.0, "fire2_concat": 1.0, "fire3_concat": 1.0, "fire5_concat": 1.0,
                      "fire7_concat": 1.0}}),
        min_size=48),
    "mobilenet": BackboneSpec(
        name="mobilenet", title="MobileNet v1, width 0.25 (Howard et al. 2017), tiny",
        build=_mobilenet, input_space=images.INCEPTION,
        weights_notop=WeightsFile("mobilenet_2_5_224_tf_no_top.h5",
                                  f"{KERAS_APPLICATIONS_URL}mobilenet/mobilenet_2_5_224_tf_no_top.h5"),
        weights_top=WeightsFile("mobilenet_2_5_224_tf.h5",
                                f"{KERAS_APPLICATIONS_URL}mobilenet/mobilenet_2_5_224_tf.h5"),
        feature_layers=tuple(f"conv_pw_{index}_relu" for index in range(1, 14)),
        dream_layers=tuple(f"conv_pw_{index}_relu" for index in range(1, 14)),
        defaults=MappingProxyType({
            "dream": {"conv_pw_5_relu": 1.0, "conv_pw_7_relu": 1.0, "conv_pw_9_relu": 1.0},
            "features": {"conv_pw_7_relu": 1.0}}),
        top_size=224),
})

BACKBONE_NAMES = tuple(REGISTRY)


# --- weights -------------------------------------------------------------------------------------------------

def keras_home() -> str:
    """The Keras cache folder, read at call time (Keras itself reads KERAS_HOME only once, at import)."""
    if "KERAS_HOME" in os.environ:
        return os.environ["KERAS_HOME"]
    base = os.path.expanduser("~")
    return os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")


def fetch_weights(weights_file: WeightsFile, backbone_name: str) -> str:
    """Path of the cached weights file, downloading it into `$KERAS_HOME/models/` if needed."""
    import keras

    try:
        return keras.utils.get_file(weights_file.filename, weights_file.origin, file_hash=weights_file.file_hash,
                                    cache_subdir="models", cache_dir=keras_home())
    except Exception as error:  # get_file raises plain Exception subclasses for every network failure.
        raise WeightsUnavailableError(missing_weights_message(weights_file, backbone_name, error)) from error


def missing_weights_message(weights_file: WeightsFile, backbone_name: str, error: Exception | None = None) -> str:
    folder = os.path.join(keras_home(), "models")
    reason = f" ({type(error).__name__}: {error})" if error else ""
    return (f"The ImageNet weights for {backbone_name} are not available{reason}. "
            f"Missing file: {weights_file.filename}. Download it from {weights_file.origin} and put it in "
            f"{folder}{os.sep} (set KERAS_HOME to use another folder), or choose random weights.")


# --- inference models: the same function, cheaper to run ----------------------------------------------------

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
      would keep them float32 and cast every kernel on every call, for the same rounded values (1-2% of a
      step). The input is cast on entry; outputs are bfloat16 and the techniques cast them to float32 before any
      loss.
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


# --- built backbones -----------------------------------------------------------------------------------------

class Backbone:
    """A built network plus its spec, with cached per-layer-set models and compiled steps.

    Everything cached here is derived from the (read-only) model, so sharing a Backbone between threads is
    safe; the lock only keeps two threads from building the same thing twice.
    """

    def __init__(self, spec: BackboneSpec, model, weights: str | None = None, precision: str = "float32",
                 _relatives: dict | None = None):
        self.spec = spec
        self.model = model
        self.weights = weights
        # The precision its layer models compute in ("float32" or "bfloat16"); see `with_precision`.
        self.precision = runtime.resolve_precision(precision)
        self._cache: dict = {}
        # Every precision of one network is one Backbone, whichever of them is asked: {precision: Backbone}.
        self._relatives = {} if _relatives is None else _relatives
        self._relatives.setdefault(self.precision, self)
        self._lock = threading.RLock()

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def input_space(self) -> InputSpace:
        return self.spec.input_space

    def default_layers(self, technique: str) -> Mapping[str, float]:
        return dict(self.spec.defaults.get(technique, {}))

    def check_layers(self, layer_names) -> None:
        known = {layer.name for layer in self.model.layers}
        unknown = [name for name in layer_names if name not in known]
        if unknown:
            offered = ", ".join(self.spec.feature_layers or sorted(known))
            raise ValueError(f"{self.name} has no layer named {', '.join(unknown)}; try one of: {offered}")

    def layer_model(self, layer_names):
        """A model from the backbone's input to the outputs of `layer_names`, in that order (cached)."""
        layer_names = tuple(layer_names)
        self.check_layers(layer_names)

        def build():
            import keras

            outputs = [self.model.get_layer(name).output for name in layer_names]
            features = keras.Model(self.model.input, outputs, name=f"{self.name}_features")
            return inference_model(features, self.precision)
        return self.cached(("layer_model", layer_names), build)

    def with_precision(self, precision: str = "auto") -> "Backbone":
        """This backbone computing in `precision` ('auto', 'float32' or 'bfloat16'; see neuralart.runtime).

        The Keras model is shared; layer models and traced steps are built (and cached) separately per
        precision, so a float32 run and a bfloat16 run never reuse each other's graphs. Each precision is one
        object: the bfloat16 backbone asked for float32 gives back the float32 one it came from.
        """
        precision = runtime.resolve_precision(precision)
        with _RELATIVES_LOCK:
            if precision not in self._relatives:
                Backbone(self.spec, self.model, self.weights, precision, self._relatives)
            return self._relatives[precision]

    def cached(self, key, factory: Callable):
        """Build `factory()` once per key for this backbone (compiled steps, feature models)."""
        with self._lock:
            if key not in self._cache:
                self._cache[key] = factory()
            return self._cache[key]


def backbone_from_model(model, input_space: InputSpace = images.CAFFE, *, name: str = "custom",
                        defaults: Mapping[str, Mapping[str, float]] | None = None, min_size: int = 8) -> Backbone:
    """Wrap any Keras model with named layers as a Backbone (tests use tiny random ones)."""
    layer_names = tuple(layer.name for layer in model.layers if layer.weights)
    spec = BackboneSpec(name=name, title=name, build=lambda *_: model, input_space=input_space,
                        weights_notop=None, weights_top=None, feature_layers=layer_names,
                        dream_layers=layer_names, defaults=MappingProxyType(dict(defaults or {})),
                        min_size=min_size)
    return Backbone(spec, model)


_BACKBONES: dict = {}
_BACKBONES_LOCK = threading.Lock()
_RELATIVES_LOCK = threading.Lock()


def get_backbone(name: str, weights: str | None = "imagenet", *, include_top: bool = False,
                 precision: str = "float32") -> Backbone:
    """The registry's backbone `name`, built once per process for each (weights, include_top).

    weights: "imagenet" (cached download), None (random initialisation) or a path to a weights file.
    precision: what its layer models compute in: "float32", "bfloat16" or "auto" (bfloat16 where the CPU has
    bfloat16 instructions, unless NEURALART_PRECISION says otherwise; see neuralart.runtime).
    """
    return _float32_backbone(name, weights, include_top).with_precision(precision)


def _float32_backbone(name: str, weights, include_top: bool) -> Backbone:
    if name not in REGISTRY:
        raise ValueError(f"Unknown backbone {name!r}; choose one of {', '.join(BACKBONE_NAMES)}")
    spec = REGISTRY[name]
    if weights not in (None, "imagenet") and not os.path.isfile(os.fspath(weights)):
        raise ValueError(f"weights must be 'imagenet', None or a path to a weights file; {weights!r} is none")
    key = (name, None if weights is None else os.fspath(weights), include_top)
    with _BACKBONES_LOCK:
        if key not in _BACKBONES:
            _BACKBONES[key] = Backbone(spec, _build(spec, weights, include_top), weights)
        return _BACKBONES[key]


def _build(spec: BackboneSpec, weights, include_top: bool):
    runtime.configure_threads()  # Only with NEURALART_THREADS set, and only before TensorFlow's first op.
    weights_path = None
    if weights == "imagenet":
        weights_file = spec.weights_top if include_top else spec.weights_notop
        if weights_file is None:
            raise ValueError(f"{spec.name} has no ImageNet weights {'with' if include_top else 'without'} "
                             "a classifier head")
        weights_path = fetch_weights(weights_file, spec.name)
    elif weights is not None:
        weights_path = os.fspath(weights)
    return spec.build(include_top, weights_path)


def parse_weights_option(text: str | None) -> str | None:
    """CLI/UI spelling to `get_backbone`'s: 'imagenet', 'none'/'random' (None) or a path."""
    if text is None or text.lower() in ("none", "random"):
        return None
    return "imagenet" if text.lower() == "imagenet" else text
