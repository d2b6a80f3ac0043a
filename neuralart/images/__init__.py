"""Every change of pixel form happens in this package: decoding uploads, sizes, dtypes, value ranges, input
spaces, colour, grids and files. Its modules, one job each: `loading` (safe decoding), `sizes`, `ranges` (float
forms named by their range: pixels 0..255, minus1_1, zero1), `spaces` (what each backbone wants), `color`,
`files` (PNGs carrying their recipe) and `masks` (region masks as weights 0..1)."""

from .color import (luminance_image, match_color_histogram, match_color_statistics, rgb_to_yiq, with_chroma_of,
                    yiq_to_rgb)
from .files import RECIPE_KEY, encode_png, read_recipe, save_png
from .loading import (ALLOWED_FORMATS, DEFAULT_MAX_MEGAPIXELS, MAX_ASPECT_RATIO, MIN_SIDE, ImageInputError,
                      load_image)
from .masks import feathered, load_mask
from .ranges import (minus1_1_to_pixels, minus1_1_to_uint8, normalize_channels, normalize_for_display,
                     pixels_to_uint8, stretch_to_uint8, uint8_to_minus1_1, uint8_to_pixels, zero1_to_pixels,
                     zero1_to_uint8)
from .sizes import (enlarge_nearest, image_grid, resize_float, resize_to_longest_side, resize_uint8, scaled_size,
                    shrink_to_longest_side)
from .spaces import CAFFE, INCEPTION, InputSpace

__all__ = ["ALLOWED_FORMATS", "CAFFE", "DEFAULT_MAX_MEGAPIXELS", "INCEPTION", "ImageInputError", "InputSpace",
           "MAX_ASPECT_RATIO", "MIN_SIDE", "RECIPE_KEY", "encode_png", "enlarge_nearest", "feathered", "image_grid",
           "load_image", "load_mask", "luminance_image", "match_color_histogram", "match_color_statistics",
           "minus1_1_to_pixels", "minus1_1_to_uint8", "normalize_channels", "normalize_for_display", "pixels_to_uint8",
           "read_recipe", "resize_float", "resize_to_longest_side", "resize_uint8", "rgb_to_yiq", "save_png",
           "scaled_size", "shrink_to_longest_side", "stretch_to_uint8", "uint8_to_minus1_1", "uint8_to_pixels",
           "with_chroma_of", "yiq_to_rgb", "zero1_to_pixels", "zero1_to_uint8"]
