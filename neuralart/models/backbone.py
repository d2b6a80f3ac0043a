"""Built backbones: a Keras model plus its spec, with cached layer models and traced steps, built once per process.

`get_backbone(name, weights)` builds a registry entry once (thread-safely) and returns a `Backbone`. Techniques take
a `Backbone`, so tests can pass a tiny random one made with `backbone_from_model`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from types import MappingProxyType

from .. import images, runtime
from ..images import InputSpace
from .registry import BACKBONE_NAMES, CUSTOM_BACKBONE, REGISTRY, BackboneSpec
from .surgery import inference_model
from .weights import fetch_weights


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


def backbone_from_model(model, input_space: InputSpace = images.CAFFE, *, name: str = CUSTOM_BACKBONE,
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

