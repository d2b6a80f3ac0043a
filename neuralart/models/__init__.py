"""Backbones: the registry of networks as data, building them once per process, their ImageNet weights, and the
surgery that makes them cheaper to run. Modules: `registry` (the data), `architectures`, `weights`, `backbone`
(built networks and their cache), `surgery` (inference rewrites) and `preactivation` (cutting a layer before its
nonlinearity)."""

from .backbone import Backbone, backbone_from_model, get_backbone
from .registry import (BACKBONE_NAMES, CHAPTER_LOSS_WEIGHTS, CUSTOM_BACKBONE, REGISTRY, BackboneSpec,
                       backbone_setting, weights_setting)
from .surgery import inference_model
from .weights import (WeightsFile, WeightsUnavailableError, fetch_weights, keras_home, missing_weights_message,
                      weights_cached, weights_downloadable, weights_from_text)

__all__ = ["BACKBONE_NAMES", "Backbone", "BackboneSpec", "CHAPTER_LOSS_WEIGHTS", "CUSTOM_BACKBONE", "REGISTRY",
           "WeightsFile", "WeightsUnavailableError", "backbone_from_model", "backbone_setting", "fetch_weights",
           "get_backbone", "inference_model", "keras_home", "missing_weights_message", "weights_cached",
           "weights_downloadable", "weights_from_text", "weights_setting"]
