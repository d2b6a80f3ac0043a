"""Every change of pixel form happens here: decoding uploads, sizes, dtypes, value ranges, grids and PNG files.

Three float forms are used by the techniques:
- *pixels*: float32 RGB in 0..255, the form images are loaded into;
- *unit*: float32 RGB in -1..1 (pixels / 127.5 - 1), the space DeepDream ascends in, as the seed does for
  InceptionV3, so one step size means the same for every backbone;
- *model input*: what a backbone expects, described by its `InputSpace` (channel order, mean, scale).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import struct
from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP")
DEFAULT_MAX_MEGAPIXELS = 40.0
MIN_SIDE = 16
MAX_ASPECT_RATIO = 20.0
RECIPE_KEY = "neuralart-recipe"


class ImageInputError(ValueError):
    """An image a user gave cannot be used; the message says why and what to do."""


# --- loading -------------------------------------------------------------------------------------------------

def load_image(source, *, max_side: int | None = None,
               max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> np.ndarray:
    """Decode `source` into a uint8 RGB array (height, width, 3), safely.

    source: a path, bytes, a binary file object, a PIL image or a numpy array.
    The size is checked from the header before any pixel is decoded, so a small file that would decode to
    gigabytes is refused cheaply. EXIF orientation is applied, 16-bit images are rescaled rather than clipped,
    transparency is composited on white, CMYK is converted and animated images contribute their first frame.
    With `max_side`, the image is shrunk (never enlarged) so its longest side is at most that.
    """
    if isinstance(source, np.ndarray):
        image = _image_from_array(source)
    elif isinstance(source, Image.Image):
        image = source
    else:
        image = _open_lazily(source)
    _check_dimensions(image.size, max_megapixels)
    _check_shape(image.size[::-1])
    try:
        image.seek(0)
        if max_side is not None:
            # JPEG can decode at 1/2, 1/4 or 1/8 scale directly: a 40-megapixel phone photo then costs a few
            # megabytes and a tenth of a second instead of 120 MB and seconds. The draft stays at least
            # `max_side` on both sides, so the final resize below still only shrinks.
            image.draft(None, (max_side, max_side))
        image.load()
        image = ImageOps.exif_transpose(image)
        pixels = _to_rgb_array(image)
    except (OSError, SyntaxError, ValueError, struct.error, Image.DecompressionBombError) as error:
        raise ImageInputError(_corrupt_message(error)) from error
    _check_shape(pixels.shape)
    if max_side is not None:
        pixels = fit_longest_side(pixels, max_side)
        _check_shape(pixels.shape)
    return pixels


def _open_lazily(source) -> Image.Image:
    """Open the file and read only its header; refuse formats we do not accept."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    elif isinstance(source, (str, os.PathLike)) and not os.path.isfile(source):
        raise ImageInputError(f"No image file at {os.fspath(source)!r}.")
    if _is_empty(source):
        raise ImageInputError("The file is empty (0 bytes). Please upload a JPEG, PNG, WEBP or BMP image.")
    try:
        return Image.open(source, formats=ALLOWED_FORMATS)
    except UnidentifiedImageError as error:
        raise ImageInputError(_unsupported_message(source)) from error
    except Image.DecompressionBombError as error:
        raise ImageInputError(_bomb_message(error)) from error
    except ValueError as error:
        # PIL refuses, among others, text chunks that would inflate past its limit (a metadata bomb).
        if "too large" in str(error).lower():
            raise ImageInputError("The image carries metadata (text) too large to read safely. Please save "
                                  "it again without metadata, as PNG or JPEG.") from error
        raise ImageInputError(_corrupt_message(error)) from error
    except (OSError, SyntaxError, struct.error) as error:
        raise ImageInputError(_corrupt_message(error)) from error


def _is_empty(source) -> bool:
    if isinstance(source, (str, os.PathLike)):
        return os.path.getsize(source) == 0
    if hasattr(source, "seek") and hasattr(source, "tell"):
        position = source.tell()
        end = source.seek(0, io.SEEK_END)
        source.seek(position)
        return end == position == 0
    return False


def _corrupt_message(error: Exception) -> str:
    return (f"The image could not be decoded ({error}); it may be truncated or corrupt. "
            "Try saving it again as PNG or JPEG.")


def _bomb_message(error: Exception) -> str:
    """PIL refuses absurd sizes while reading the header; say so in the same words as `_check_dimensions`."""
    found = re.search(r"\((\d+) pixels\)", str(error))
    size = f" ({int(found.group(1)) / 1e6:,.0f} megapixels)" if found else ""
    return (f"The image is far too large{size}; the limit is {DEFAULT_MAX_MEGAPIXELS:g} megapixels. "
            "Please resize it first.")


# Formats PIL cannot name but students meet: recognised by their first bytes so the message can say what to do.
_SIGNATURES = (
    (re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<svg", re.DOTALL), "an SVG drawing (vector graphics)"),
    (re.compile(rb"^....ftyp(heic|heix|hevc|heim|heis|mif1|msf1)", re.DOTALL),
     "a HEIC photo (the iPhone's default; choose 'Most Compatible' in the camera settings or export as JPEG)"),
    (re.compile(rb"^....ftyp(avif|avis)", re.DOTALL), "an AVIF image"),
    (re.compile(rb"^%PDF-"), "a PDF document"),
)


def _unsupported_message(source) -> str:
    """Name what the file is, if we can tell, so the user knows what to convert."""
    kind = _sniff_kind(source) or "not an image we can read"
    return f"The file is {kind}. Please upload a {', '.join(ALLOWED_FORMATS[:-1])} or {ALLOWED_FORMATS[-1]} image."


def _sniff_kind(source) -> str | None:
    try:
        if hasattr(source, "seek"):
            source.seek(0)
            head = source.read(512)
            source.seek(0)
        else:
            with open(source, "rb") as file:
                head = file.read(512)
    except OSError:
        return None
    for pattern, kind in _SIGNATURES:
        if pattern.match(head):
            return kind
    try:
        with Image.open(source) as probe:
            return f"a {probe.format} image"
    except Exception:  # Any failure here only means we cannot name the format.
        return None


def _image_from_array(array: np.ndarray) -> Image.Image:
    if array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3:
        return Image.fromarray(array, "RGB")
    if array.dtype not in (np.uint8, np.uint16) or array.ndim not in (2, 3):
        raise ImageInputError(f"Expected a uint8 or uint16 image array, got {array.dtype} {array.shape}.")
    if array.ndim == 3 and array.shape[2] not in (1, 3, 4):
        raise ImageInputError(f"Expected 1, 3 or 4 channels, got an array of shape {array.shape}.")
    if array.dtype == np.uint16:
        array = (array.astype(np.float32) / 257.0).round().astype(np.uint8)
    return Image.fromarray(array.squeeze(-1) if array.ndim == 3 and array.shape[2] == 1 else array)


def _check_dimensions(size: tuple[int, int], max_megapixels: float) -> None:
    width, height = size
    megapixels = width * height / 1e6
    if megapixels > max_megapixels:
        raise ImageInputError(f"The image is {width}x{height} ({megapixels:.1f} megapixels); the limit is "
                              f"{max_megapixels:g} megapixels. Please resize it first.")


def _check_shape(shape: tuple[int, ...]) -> None:
    height, width = shape[:2]
    if min(height, width) < MIN_SIDE:
        raise ImageInputError(f"The image is {width}x{height}; each side must be at least {MIN_SIDE} pixels. "
                              "Please upload a larger image.")
    if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        raise ImageInputError(f"The image is {width}x{height}, too long and thin; the longer side may be at "
                              f"most {MAX_ASPECT_RATIO:g} times the shorter. Please crop it first.")


def _to_rgb_array(image: Image.Image) -> np.ndarray:
    """Bring any PIL mode to uint8 RGB without hiding colours or clipping high bit depths."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        grey = np.asarray(image, dtype=np.float32)
        # 16-bit files decode to 'I;16' or 'I'; a plain convert('L') would clip everything above 255.
        top = 65535.0 if mode.startswith("I;16") or grey.max(initial=0) > 255 else 255.0
        if mode == "F":
            top = max(float(grey.max(initial=0)), 1.0)
        grey = np.clip(grey / top * 255.0, 0, 255).round().astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Transparent pixels may hold arbitrary colours: composite on white instead of dropping alpha.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


# --- sizes ---------------------------------------------------------------------------------------------------

def fit_longest_side(image: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink a uint8 image so its longest side is at most `max_side` (never enlarges)."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image
    return resize_uint8(image, (max(1, round(height * scale)), max(1, round(width * scale))))


def resize_uint8(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a uint8 image to (height, width) with a high-quality filter."""
    height, width = size
    if image.shape[:2] == (height, width):
        return image
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS))


def scaled_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """(height, width) multiplied by `scale` and rounded, at least 1 pixel each."""
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def resize_float(image, size):
    """Resize a float image tensor (height, width, 3) bilinearly, anti-aliased when shrinking (TF op)."""
    import tensorflow as tf

    return tf.image.resize(image, size, method="bilinear", antialias=True)


# --- value ranges --------------------------------------------------------------------------------------------

def uint8_to_pixels(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32)


def pixels_to_uint8(pixels) -> np.ndarray:
    """Float 0..255 (numpy or tensor) to uint8, rounding and clipping."""
    return np.clip(np.rint(np.asarray(pixels, dtype=np.float32)), 0, 255).astype(np.uint8)


def uint8_to_unit(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / 127.5 - 1.0


def unit_to_uint8(unit) -> np.ndarray:
    return pixels_to_uint8((np.asarray(unit, dtype=np.float32) + 1.0) * 127.5)


def unit_to_pixels(unit):
    return (unit + 1.0) * 127.5


def normalize_for_display(image, mean: float = 0.5, std: float = 0.1) -> np.ndarray:
    """The chapter's deprocess for feature visualizations: centre on `mean`, spread `std`, clip, to uint8.

    A visualization's absolute values mean nothing, only its contrasts; this shows them at a fixed contrast.
    """
    image = np.asarray(image, dtype=np.float32)
    image = (image - image.mean()) / (image.std() + 1e-5) * std + mean
    return pixels_to_uint8(np.clip(image, 0, 1) * 255.0)


def normalize_channels(maps: np.ndarray) -> np.ndarray:
    """Feature maps (height, width, channels) to uint8, each channel stretched to its own 0..255 range."""
    maps = np.asarray(maps, dtype=np.float32)
    low = maps.min(axis=(0, 1), keepdims=True)
    high = maps.max(axis=(0, 1), keepdims=True)
    return pixels_to_uint8((maps - low) / np.maximum(high - low, 1e-8) * 255.0)


@dataclasses.dataclass(frozen=True)
class InputSpace:
    """How a backbone wants its pixels: model_input = (pixels[channel_order] - mean) * scale.

    `mean` is given in the model's channel order. Works on numpy arrays and TF tensors alike.
    """

    bgr: bool
    mean: tuple[float, float, float]
    scale: float = 1.0

    def to_model(self, pixels):
        if self.bgr and not isinstance(pixels, np.ndarray):
            return self._scaled(_reversed_and_shifted(pixels, -np.asarray(self.mean, dtype=np.float32)))
        return self.ordered_to_model(self.in_network_order(pixels))

    def in_network_order(self, pixels):
        """RGB pixels with their channels in the order the network reads (BGR for caffe-style spaces); applied
        again, it gives RGB back."""
        return _reverse_channels(pixels) if self.bgr else pixels

    def ordered_to_model(self, ordered):
        """Model input from pixels already in the network's channel order: a shift, and a scale where it is not 1.
        An image optimised in this order spares every traced step the channel flip (about 0.5 ms of a 24 ms
        SqueezeNet style step at 384 px)."""
        offset = -np.asarray(self.mean, dtype=np.float32)
        if isinstance(ordered, np.ndarray):
            centred = ordered + offset
        else:
            import tensorflow as tf

            centred = tf.nn.bias_add(ordered, tf.constant(offset))  # Broadcasts much faster than a subtraction.
        return self._scaled(centred)

    def _scaled(self, centred):
        # Multiplying by one changes nothing but costs a pass over the image (caffe-style spaces have scale 1).
        return centred if self.scale == 1.0 else centred * np.float32(self.scale)

    def to_pixels(self, model_input):
        pixels = model_input / np.float32(self.scale) + np.asarray(self.mean, dtype=np.float32)
        return _reverse_channels(pixels) if self.bgr else pixels

    def from_unit(self, unit):
        if self.bgr or len(set(self.mean)) > 1:
            return self.to_model(unit_to_pixels(unit))
        # One mean for all channels: a scalar affine map, and none at all for InceptionV3, whose -1..1 is the
        # unit range itself. Subtracting a per-channel vector broadcasts slowly on CPU (1.2 ms of a 533x799
        # DeepDream step).
        factor, offset = 127.5 * self.scale, (127.5 - self.mean[0]) * self.scale
        scaled = unit if factor == 1.0 else unit * np.float32(factor)
        return scaled if offset == 0.0 else scaled + np.float32(offset)

    @property
    def pixel_range(self) -> tuple[float, float]:
        """The smallest and largest model-input value a valid pixel maps to (for clipping)."""
        means = np.asarray(self.mean, dtype=np.float32)
        return float(((0 - means) * self.scale).min()), float(((255 - means) * self.scale).max())


def _reversed_and_shifted(pixels, offset: np.ndarray):
    """pixels[..., ::-1] + offset for a float32 tensor (..., 3), as one product with the channel-reversing
    permutation matrix and a bias add: bit for bit the same values (each output is one input times one, plus
    zeros), and forward and backward about twice as fast on CPU as tf.reverse and a subtraction, which were 6% of
    a SqueezeNet style step."""
    import tensorflow as tf

    rows = tf.reshape(pixels, [-1, 3])
    reversed_rows = tf.matmul(rows, tf.constant(np.eye(3, dtype=np.float32)[::-1]))
    return tf.reshape(tf.nn.bias_add(reversed_rows, tf.constant(offset)), tf.shape(pixels))


def _reverse_channels(pixels):
    """RGB <-> BGR. A tensor is flipped with tf.reverse: the gradient of the strided slice `[..., ::-1]` costs
    several times as much on CPU, and it sat inside every traced step of the caffe-style backbones."""
    if isinstance(pixels, np.ndarray):
        return pixels[..., ::-1]
    import tensorflow as tf

    return tf.reverse(pixels, axis=[-1])


CAFFE = InputSpace(bgr=True, mean=(103.939, 116.779, 123.68))
INCEPTION = InputSpace(bgr=False, mean=(127.5, 127.5, 127.5), scale=1 / 127.5)


# --- grids ---------------------------------------------------------------------------------------------------

def image_grid(images: Sequence[np.ndarray], columns: int | None = None, padding: int = 2,
               background: int = 255) -> np.ndarray:
    """Stitch equally sized uint8 images into one grid image, row by row."""
    if not images:
        raise ValueError("image_grid needs at least one image")
    count = len(images)
    columns = columns or int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    height, width = images[0].shape[:2]
    grid = np.full((rows * (height + padding) + padding, columns * (width + padding) + padding, 3),
                   background, dtype=np.uint8)
    for index, image in enumerate(images):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        grid[top:top + height, left:left + width] = image if image.ndim == 3 else image[:, :, None]
    return grid


# --- files ---------------------------------------------------------------------------------------------------

def encode_png(image: np.ndarray, recipe: Mapping | None = None) -> bytes:
    """A lossless PNG of a uint8 image, carrying `recipe` (JSON) in a text chunk when given."""
    info = PngImagePlugin.PngInfo()
    if recipe is not None:
        info.add_itxt(RECIPE_KEY, json.dumps(recipe, sort_keys=True))
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def save_png(path: str | os.PathLike, image: np.ndarray, recipe: Mapping | None = None) -> None:
    with open(path, "wb") as file:
        file.write(encode_png(image, recipe))


def read_recipe(source) -> dict | None:
    """The recipe stored in a PNG written by `save_png`, or None when it carries none."""
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source, formats=("PNG",)) as image:
            text = image.text.get(RECIPE_KEY) if hasattr(image, "text") else None
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        return None
    if text is None:
        return None
    try:
        recipe = json.loads(text)
    except json.JSONDecodeError:
        return None
    return recipe if isinstance(recipe, dict) else None


# --- colour: luminance and histograms (style transfer's colour preservation) ------------------------------------

# NTSC YIQ: Y is the luminance, I and Q carry the colour. Gatys et al. (2016), "Preserving color in neural artistic
# style transfer", transfer style on Y alone and keep the photo's I and Q.
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114],
                        [0.595716, -0.274453, -0.321263],
                        [0.211456, -0.522591, 0.311135]], dtype=np.float64)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


def rgb_to_yiq(pixels) -> np.ndarray:
    """Float RGB 0..255 (height, width, 3) to YIQ with Y in 0..255."""
    return (np.asarray(pixels, dtype=np.float64) @ _RGB_TO_YIQ.T).astype(np.float32)


def yiq_to_rgb(yiq) -> np.ndarray:
    """The inverse of `rgb_to_yiq` (float, not clipped)."""
    return (np.asarray(yiq, dtype=np.float64) @ _YIQ_TO_RGB.T).astype(np.float32)


def luminance_image(image: np.ndarray, like: np.ndarray | None = None) -> np.ndarray:
    """A uint8 image's luminance as a grey uint8 RGB image (Y in all three channels).

    With `like`, the luminance is first shifted and stretched to the mean and spread of `like`'s luminance, as
    Gatys et al. do to the style image so that its brightness does not leak into the photo.
    """
    luma = rgb_to_yiq(image)[..., 0]
    if like is not None:
        target = rgb_to_yiq(like)[..., 0]
        luma = (luma - luma.mean()) / max(float(luma.std()), 1e-6) * float(target.std()) + float(target.mean())
    return pixels_to_uint8(np.repeat(luma[..., None], 3, axis=2))


def with_chroma_of(pixels, reference: np.ndarray) -> np.ndarray:
    """Float RGB `pixels` recoloured to uint8: their luminance with the colour (I, Q) of the uint8 `reference`
    of the same size."""
    yiq = rgb_to_yiq(reference)
    yiq[..., 0] = rgb_to_yiq(pixels)[..., 0]
    return pixels_to_uint8(yiq_to_rgb(yiq))


def match_color_histogram(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """A uint8 image whose per-channel colour histograms follow those of the uint8 `reference` (any size)."""
    from skimage.exposure import match_histograms

    return pixels_to_uint8(match_histograms(image, reference, channel_axis=-1))


# A colour spread below this variance (pixel units², i.e. a standard deviation of one grey level) counts as this
# much: a flat image has no colour axes to map, and dividing by its near-zero spread would only amplify noise.
MIN_COLOR_VARIANCE = 1.0


def match_color_statistics(image: np.ndarray, references: Sequence[np.ndarray],
                           weights: Sequence[float] | None = None) -> np.ndarray:
    """A uint8 image whose pixels have the colour mean and covariance of the uint8 `references` (any sizes),
    pooled with `weights` as one mixture of their pixels.

    The map is affine: x -> A (x - mean) + reference mean with A = R^1/2 C^-1/2 (symmetric square roots of the
    reference and image covariances), which of all maps to those statistics turns colours the least. Shapes and
    shading stay; the palette becomes the references'.
    """
    weights = np.full(len(references), 1.0 / len(references)) if weights is None else np.asarray(weights, float)
    weights = weights / weights.sum()
    mean, covariance = _color_statistics(image)
    statistics = [_color_statistics(reference) for reference in references]
    target_mean = sum(weight * reference_mean for weight, (reference_mean, _) in zip(weights, statistics))
    # The covariance of the mixture: the weighted second moments about the pooled mean.
    target_covariance = sum(weight * (reference_covariance + np.outer(reference_mean - target_mean,
                                                                      reference_mean - target_mean))
                            for weight, (reference_mean, reference_covariance) in zip(weights, statistics))
    transform = _symmetric_power(target_covariance, 0.5) @ _symmetric_power(covariance, -0.5)
    pixels = np.asarray(image, dtype=np.float64).reshape(-1, 3)
    return pixels_to_uint8(((pixels - mean) @ transform.T + target_mean).reshape(np.shape(image)))


def _color_statistics(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pixels = np.asarray(image, dtype=np.float64).reshape(-1, 3)
    return pixels.mean(axis=0), np.cov(pixels, rowvar=False, bias=True)


def _symmetric_power(matrix: np.ndarray, power: float) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.maximum(values, MIN_COLOR_VARIANCE) ** power) @ vectors.T


def fit_to_longest_side(image: np.ndarray, side: int) -> np.ndarray:
    """Resize a uint8 image (enlarging or shrinking) so its longest side is `side`, keeping its aspect ratio."""
    height, width = image.shape[:2]
    scale = side / max(height, width)
    return resize_uint8(image, (max(1, round(height * scale)), max(1, round(width * scale))))


# --- feature visualization: display forms -----------------------------------------------------------------------

def unit_interval_to_pixels(values):
    """Float 0..1 (numpy or tensor) to float pixels 0..255."""
    return values * np.float32(255.0)


def unit_interval_to_uint8(values) -> np.ndarray:
    """Float 0..1 (numpy or tensor; e.g. a sigmoid's output) to uint8 0..255."""
    return pixels_to_uint8(unit_interval_to_pixels(np.asarray(values, dtype=np.float32)))


def stretch_to_uint8(values) -> np.ndarray:
    """Any float array stretched as a whole to 0..255 (its minimum to 0, its maximum to 255), keeping the
    proportions between its channels: how a learned colour kernel is shown."""
    values = np.asarray(values, dtype=np.float32)
    low, high = float(values.min()), float(values.max())
    return pixels_to_uint8((values - low) / max(high - low, 1e-8) * 255.0)


def enlarge_nearest(image: np.ndarray, min_side: int) -> np.ndarray:
    """Enlarge a small uint8 image by a whole factor, pixel by pixel (no blur), until its shorter side reaches
    `min_side`; feature maps and 3x3 kernels stay readable cell by cell. Larger images are returned unchanged."""
    factor = max(1, -(-min_side // min(image.shape[:2])))
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1) if factor > 1 else image
