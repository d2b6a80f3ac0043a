"""neural art studio: how convolutional networks see the world, and art made from it.

Each technique is a frozen config dataclass plus a generator of `Frame`s:
- `dream(image, DreamConfig(...), guide=..., mask=...)`: DeepDream (channels, a guide image, a mask);
- `zoom(image, ZoomConfig(...))`: a DeepDream zoom animation, frame after frame;
- `visualize(FilterConfig(...))`: feature visualization (plus `feature_maps` and `kernel_tiles`);
- `stylize(content, styles, StyleConfig(...))`: neural style transfer.
Nothing heavy happens at import: TensorFlow is imported when a technique first runs. The web app's package,
`neuralart.ui`, sits on top of this one; nothing here imports it.
"""

from .deepdream import DreamConfig, ZoomConfig, dream, zoom
from .features import FilterConfig, MapsConfig, feature_maps, kernel_tiles, visualize
from .frames import Frame
from .images import ImageInputError, load_image
from .loop import limit_time
from .models import REGISTRY, Backbone, WeightsUnavailableError, backbone_from_model, get_backbone
from .style_transfer import StyleConfig, stylize

__version__ = "0.2.0"

__all__ = ["Backbone", "DreamConfig", "FilterConfig", "Frame", "ImageInputError", "MapsConfig", "REGISTRY",
           "StyleConfig", "WeightsUnavailableError", "ZoomConfig", "__version__", "backbone_from_model", "dream",
           "feature_maps", "get_backbone", "kernel_tiles", "limit_time", "load_image", "stylize", "visualize", "zoom"]
