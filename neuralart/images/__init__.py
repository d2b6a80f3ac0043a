"""Every change of pixel form happens in this package: decoding uploads, sizes, dtypes, value ranges, input
spaces, colour, grids and files. Its modules, one job each: `loading` (safe decoding), `sizes`, `ranges` (float
forms named by their range: pixels 0..255, minus1_1, zero1), `spaces` (what each backbone wants), `color`,
`files` (images carrying their recipe), `captions` (text drawn under tiles and over rows), `masks` (where an
effect acts), `warp` (zoom, rotate, shift) and `video` (animations as WebM, MP4, WebP or GIF)."""

from .captions import (band_height, caption_band, caption_font_size, captioned, fitted_text, labelled_grid,
                       stack_rows, titled)
from .color import (luminance_image, match_color_histogram, match_color_statistics, rgb_to_yiq, with_chroma_of,
                    yiq_to_rgb)
from .files import (RECIPE_KEY, WRITABLE_FORMATS, encode_image, encode_png, format_for, read_recipe, save_image,
                    save_png)
from .loading import (ALLOWED_FORMATS, DEFAULT_MAX_MEGAPIXELS, MAX_ASPECT_RATIO, MIN_SIDE, ImageInputError,
                      load_image)
from .masks import feather_inwards, load_mask, mask_values, soften_edges
from .ranges import (minus1_1_to_pixels, minus1_1_to_uint8, normalize_channels, normalize_for_display,
                     pixels_to_uint8, stretch_to_uint8, uint8_to_minus1_1, uint8_to_pixels, zero1_to_pixels,
                     zero1_to_uint8)
from .sizes import (enlarge_nearest, image_grid, resize_float, resize_to_longest_side, resize_uint8, scaled_size,
                    shrink_to_longest_side)
from .spaces import CAFFE, INCEPTION, InputSpace
from .video import (ANIMATION_SUFFIXES, check_animation_path, count_video_frames, open_video, read_video_frames,
                    video_frame_count, write_animation)
from .warp import zoom_image

__all__ = ["ALLOWED_FORMATS", "ANIMATION_SUFFIXES", "band_height", "CAFFE", "caption_band", "caption_font_size",
           "captioned", "check_animation_path", "count_video_frames", "DEFAULT_MAX_MEGAPIXELS", "encode_image",
           "encode_png", "enlarge_nearest", "feather_inwards", "fitted_text", "format_for", "image_grid",
           "ImageInputError", "INCEPTION", "InputSpace", "labelled_grid", "load_image", "load_mask",
           "luminance_image", "mask_values", "match_color_histogram", "match_color_statistics", "MAX_ASPECT_RATIO",
           "MIN_SIDE", "minus1_1_to_pixels", "minus1_1_to_uint8", "normalize_channels", "normalize_for_display",
           "open_video", "pixels_to_uint8", "read_recipe", "read_video_frames", "RECIPE_KEY", "resize_float",
           "resize_to_longest_side", "resize_uint8", "rgb_to_yiq", "save_image", "save_png", "scaled_size",
           "shrink_to_longest_side", "soften_edges", "stack_rows", "stretch_to_uint8", "titled", "uint8_to_minus1_1",
           "uint8_to_pixels", "video_frame_count", "with_chroma_of", "WRITABLE_FORMATS", "write_animation",
           "yiq_to_rgb", "zero1_to_pixels", "zero1_to_uint8", "zoom_image"]
