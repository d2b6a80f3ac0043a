"""What a dream ascends: weighted terms, each a whole layer ("mixed4"), one of its channels ("mixed4:97") or a
whole layer matched to a guide image's features.

`DreamConfig.layers` keys name the terms; `parse_term` reads them (no TensorFlow). `prepare_objective` resolves
them against a network: it checks layers and channel indices, computes the guide's feature directions once, and
picks the traced step (neuralart.deepdream.ascent) for this combination of terms.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

import numpy as np

from .. import images
from ..models import Backbone

CHANNEL_SEPARATOR = ":"
_TERM = re.compile(r"^(?P<layer>[^:]+?)(?::(?P<channel>\d+))?$")
# The guide's feature directions kept per layer: enough to cover what a guide image shows, few enough that
# matching every position against them costs a fraction of the network's own step.
GUIDE_DIRECTIONS = 256
# Feature vectors shorter than this (a position where nothing in the layer responds) have no direction.
MIN_FEATURE_NORM = 1e-6


def parse_term(key: str) -> tuple[str, int | None]:
    """'mixed4' -> ('mixed4', None); 'mixed4:97' -> ('mixed4', 97). A ValueError says what a key looks like."""
    match = _TERM.match(key.strip()) if isinstance(key, str) else None
    if match is None:
        raise ValueError(f"layers: {key!r} is not LAYER or LAYER:CHANNEL (a channel is a whole number, as in "
                         "mixed4:97)")
    channel = match.group("channel")
    return match.group("layer").strip(), None if channel is None else int(channel)


def check_terms(layers: Mapping[str, float]) -> None:
    """Each key of a layer-weight mapping reads as a term (see `parse_term`)."""
    for key in layers:
        parse_term(key)


@dataclasses.dataclass(frozen=True)
class Layout:
    """The shape of an objective, which decides the traced step: the layers the network outputs, each term as
    (index into those layers, kind: "layer", "channel" or "guided"), and whether a mask limits the step."""

    layers: tuple[str, ...]
    terms: tuple[tuple[int, str], ...]
    masked: bool = False

    @classmethod
    def plain(cls, layer_names: tuple[str, ...]) -> Layout:
        return cls(tuple(layer_names), tuple((index, "layer") for index in range(len(layer_names))))

    @property
    def has_extras(self) -> bool:
        """Whether the step takes more than the plain dream's arguments (channels, guide, mask)."""
        return self.masked or any(kind != "layer" for _, kind in self.terms)

    @property
    def guided_count(self) -> int:
        return sum(kind == "guided" for _, kind in self.terms)


@dataclasses.dataclass(frozen=True)
class Objective:
    """A resolved objective: term names (for the frames' losses), their weights, the layout, and the extra
    arguments of its traced step other than the mask (channel indices, guide strength and directions)."""

    names: tuple[str, ...]
    weights: tuple[float, ...]
    layout: Layout
    extras: Mapping


def prepare_objective(layers: Mapping[str, float], backbone: Backbone, guide: np.ndarray | None = None,
                      guide_strength: float = 1.0, masked: bool = False) -> Objective:
    """Resolve non-zero `layers` weights against `backbone`. With a `guide` (uint8 image), whole-layer terms match
    the guide's features, blended with the plain objective by `guide_strength`; channel terms stay as they are."""
    active = {key: weight for key, weight in layers.items() if weight}
    parsed = {key: parse_term(key) for key in active}
    backbone.check_layers({layer for layer, _ in parsed.values()})
    layer_names = tuple(dict.fromkeys(layer for layer, _ in parsed.values()))
    terms, channels = [], []
    for layer, channel in parsed.values():
        if channel is not None:
            _check_channel(backbone, layer, channel)
        kind = "channel" if channel is not None else ("guided" if guide is not None else "layer")
        terms.append((layer_names.index(layer), kind))
        channels.append(channel or 0)
    layout = Layout(layer_names, tuple(terms), masked)
    extras = {}
    if layout.has_extras:
        extras = {"channels": np.asarray(channels, np.int32), "strength": np.float32(guide_strength),
                  "guides": guide_directions(backbone, layout, guide)}
    return Objective(tuple(active), tuple(float(weight) for weight in active.values()), layout, extras)


def layer_channels(backbone: Backbone, layer: str) -> int:
    """How many channels `layer` of the network outputs."""
    return int(backbone.model.get_layer(layer).output.shape[-1])


def _check_channel(backbone: Backbone, layer: str, channel: int) -> None:
    count = layer_channels(backbone, layer)
    if not 0 <= channel < count:
        raise ValueError(f"{layer} has {count} channels (0-{count - 1}); channel {channel} does not exist")


def guide_directions(backbone: Backbone, layout: Layout, guide: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """Unit feature directions of the guide at each guided term's layer ((n, channels) each), at most
    GUIDE_DIRECTIONS of them, chosen evenly over the guide's positions so a rerun picks the same ones."""
    guided = [layout.layers[index] for index, kind in layout.terms if kind == "guided"]
    if not guided:
        return ()
    model = backbone.layer_model(tuple(guided))
    unit = images.uint8_to_minus1_1(guide)
    activations = model(backbone.input_space.from_minus1_1(unit)[None], training=False)
    activations = activations if isinstance(activations, (list, tuple)) else [activations]
    directions = []
    for layer, activation in zip(guided, activations):
        features = np.asarray(activation, dtype=np.float32)[0].reshape(-1, activation.shape[-1])
        norms = np.linalg.norm(features, axis=1)
        alive = features[norms > MIN_FEATURE_NORM * max(float(norms.max(initial=0.0)), 1e-30)]
        if not len(alive) or norms.max(initial=0.0) <= 0:
            raise ValueError(f"the guide image excites nothing at {layer}; choose another guide or layer")
        chosen = alive[np.linspace(0, len(alive) - 1, min(len(alive), GUIDE_DIRECTIONS)).round().astype(int)]
        directions.append(chosen / np.linalg.norm(chosen, axis=1, keepdims=True))
    return tuple(directions)
