"""neural art studio: how convolutional networks see the world, and art made from it.

Each technique is a frozen config dataclass plus a generator of `Frame`s:
- `dream(image, DreamConfig(...))`: DeepDream;
- `visualize(FilterConfig(...))`: feature visualization (plus `feature_maps` and `kernel_tiles`);
- `stylize(content, styles, StyleConfig(...))`: neural style transfer;
Nothing heavy happens at import: TensorFlow is imported when a technique first runs.
"""

from .deepdream import DreamConfig, dream
from .frames import Frame, limit_time
from .images import ImageInputError, load_image
from .models import REGISTRY, Backbone, WeightsUnavailableError, backbone_from_model, get_backbone
from .features import FilterConfig, feature_maps, kernel_tiles, visualize
from .style_transfer import StyleConfig, stylize

__version__ = "0.1.0"

__all__ = ["Backbone", "DreamConfig", "Frame", "ImageInputError", "REGISTRY", "WeightsUnavailableError",
           "__version__", "backbone_from_model", "dream", "get_backbone", "limit_time", "load_image",
           "FilterConfig", "feature_maps", "kernel_tiles", "visualize", "StyleConfig", "stylize"]
