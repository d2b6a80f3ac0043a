"""The image loader against hostile and awkward uploads (tests/hostile_inputs.py), plus its size and file helpers."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image, ImageFile

import hostile_inputs
from neuralart import images
from neuralart.images import ImageInputError, load_image

CORPUS = hostile_inputs.corpus()
REFUSED = [case for case in CORPUS if case.refused]
ACCEPTED = [case for case in CORPUS if not case.refused]


def test_corpus_is_large_and_varied():
    names = [case.name for case in CORPUS]
    assert len(names) == len(set(names))
    assert len(REFUSED) >= 20 and len(ACCEPTED) >= 10
    required = {"decompression_bomb", "truncated_jpeg", "truncated_png", "zero_bytes", "text_renamed_png", "svg",
                "one_by_one", "one_by_ten_thousand", "sixteen_bit_grey", "cmyk_jpeg", "palette_transparency",
                "grey_alpha_la", "animated_gif", "animated_webp", "exif_rotated", "huge_png_header", "pdf"}
    assert required <= set(names)


def assert_clear(message: str) -> None:
    """A message a student can act on: one or two sentences, no traceback, no internal names."""
    assert 20 <= len(message) <= 400, message
    assert "Traceback" not in message and "File \"" not in message
    assert "PngImagePlugin" not in message and "DecompressionBomb" not in message and "DOS" not in message
    assert re.search(r"(Please|Try|choose|upload)", message), message


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.name)
def test_hostile_file_is_refused_clearly(case, tmp_path):
    path = case.write(tmp_path)
    with pytest.raises(ImageInputError) as caught:
        load_image(str(path), max_side=256)
    assert re.search(case.message, str(caught.value)), str(caught.value)
    assert_clear(str(caught.value))


@pytest.mark.parametrize("case", ACCEPTED, ids=lambda case: case.name)
def test_awkward_image_is_converted_faithfully(case, tmp_path):
    pixels = load_image(str(case.write(tmp_path)), max_side=256)
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
    case.check(pixels)


@pytest.mark.parametrize("case", [case for case in REFUSED if case.name in
                                  ("zero_bytes", "truncated_jpeg", "svg", "decompression_bomb", "png_text_bomb")],
                         ids=lambda case: case.name)
def test_bytes_and_file_objects_are_refused_the_same_way(case):
    for source in (case.data, io.BytesIO(case.data)):
        with pytest.raises(ImageInputError, match=case.message):
            load_image(source)


@pytest.mark.parametrize("name", ["decompression_bomb", "huge_png_header", "huge_jpeg_header", "huge_bmp_header",
                                  "one_by_ten_thousand", "long_and_thin"])
def test_sizes_are_refused_before_any_pixel_is_decoded(name, monkeypatch):
    case = next(case for case in CORPUS if case.name == name)

    def refuse_to_decode(self, *args, **kwargs):
        raise AssertionError(f"{name}: pixels were decoded before the size check")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse_to_decode)
    with pytest.raises(ImageInputError, match=case.message):
        load_image(case.data)


def test_megapixel_limit_is_configurable():
    data = hostile_inputs.encoded(hostile_inputs.smooth_photo(200, 100), "PNG")
    assert load_image(data, max_megapixels=0.02).shape == (100, 200, 3)
    with pytest.raises(ImageInputError, match=r"200x100 \(0.0 megapixels\); the limit is 0.01 megapixels"):
        load_image(data, max_megapixels=0.01)


def test_big_phone_jpeg_decodes_at_reduced_scale(monkeypatch):
    """A 24-megapixel JPEG with max_side 500 is decoded by libjpeg at 1/8..1/2 scale, not in full, and looks the
    same as a full decode shrunk afterwards."""
    data = hostile_inputs.encoded(hostile_inputs.smooth_photo(6000, 4000), "JPEG", quality=90)
    decoded_sizes = []
    from neuralart.images import loading

    real_to_rgb = loading._to_rgb_array
    monkeypatch.setattr(loading, "_to_rgb_array", lambda image: decoded_sizes.append(image.size) or real_to_rgb(image))
    pixels = load_image(data, max_side=500)
    assert pixels.shape == (333, 500, 3)
    assert max(decoded_sizes[0]) <= 1500, decoded_sizes
    full = images.shrink_to_longest_side(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), 500)
    assert np.abs(pixels.astype(int) - full.astype(int)).mean() < 2.0


def test_missing_file_and_bad_arrays():
    with pytest.raises(ImageInputError, match="No image file"):
        load_image("/nonexistent/photo.jpg")
    with pytest.raises(ImageInputError, match="uint8 or uint16"):
        load_image(np.zeros((32, 32, 3), np.float64))
    with pytest.raises(ImageInputError, match="channels"):
        load_image(np.zeros((32, 32, 2), np.uint8))
    ramp = np.linspace(0, 65535, 32 * 32).reshape(32, 32).astype(np.uint16)
    assert load_image(ramp).max() == 255


def test_max_side_shrinks_but_never_enlarges():
    data = hostile_inputs.encoded(hostile_inputs.smooth_photo(300, 150), "PNG")
    assert load_image(data, max_side=100).shape == (50, 100, 3)
    assert load_image(data, max_side=1000).shape == (150, 300, 3)


def test_recipe_survives_a_png_round_trip_and_garbage_is_ignored():
    recipe = {"technique": "dream", "version": "0", "config": {"seed": 7, "layers": {"a": 1.5}}}
    data = images.encode_png(np.zeros((20, 30, 3), np.uint8), recipe)
    assert images.read_recipe(data) == recipe
    assert load_image(data).shape == (20, 30, 3)
    for case_name in ("garbage_recipe_chunk", "png_text_bomb", "truncated_png", "zero_bytes", "svg"):
        case = next(case for case in CORPUS if case.name == case_name)
        assert images.read_recipe(case.data) is None
    assert images.read_recipe(hostile_inputs.encoded(hostile_inputs.smooth_photo(), "JPEG")) is None


@pytest.mark.parametrize("space", [images.CAFFE, images.INCEPTION,
                                   images.InputSpace(bgr=True, mean=(10.0, 20.0, 30.0), scale=0.25)])
@pytest.mark.parametrize("shape", [(5, 7, 3), (2, 5, 7, 3)])
def test_input_spaces_map_tensors_bit_for_bit_as_arrays_with_the_reversed_gradient(space, shape, rng):
    """Tensors take a faster path through the channel reversal than arrays; it must give the same bits, and its
    gradient must be the upstream gradient with its channels reversed back (times the scale)."""
    import tensorflow as tf

    pixels = rng.uniform(0, 255, shape).astype(np.float32)
    upstream = rng.normal(size=shape).astype(np.float32)
    tensor = tf.constant(pixels)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        model_input = space.to_model(tensor)
        weighted = tf.reduce_sum(model_input * upstream)
    assert model_input.shape == shape
    np.testing.assert_array_equal(model_input.numpy(), space.to_model(pixels))
    order = slice(None, None, -1) if space.bgr else slice(None)
    np.testing.assert_array_equal(tape.gradient(weighted, tensor).numpy(),
                                  upstream[..., order] * np.float32(space.scale))


@pytest.mark.parametrize("space", [images.CAFFE, images.INCEPTION,
                                   images.InputSpace(bgr=True, mean=(10.0, 20.0, 30.0), scale=0.25)])
def test_pixels_kept_in_the_network_order_map_to_the_same_model_input(space, rng):
    """An image kept in the network's channel order (style transfer optimises one so) reaches the same model
    input, bit for bit, as tensor and as array; the reordering undoes itself; the gradient passes unflipped."""
    import tensorflow as tf

    pixels = rng.uniform(0, 255, (5, 7, 3)).astype(np.float32)
    ordered = space.in_network_order(pixels)
    np.testing.assert_array_equal(space.in_network_order(ordered), pixels)
    assert np.array_equal(ordered[..., 0], pixels[..., 2]) == space.bgr
    tensor = tf.constant(ordered)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        model_input = space.ordered_to_model(tensor)
    np.testing.assert_array_equal(model_input.numpy(), space.to_model(pixels))
    np.testing.assert_array_equal(space.ordered_to_model(ordered), space.to_model(pixels))
    np.testing.assert_array_equal(tape.gradient(model_input, tensor).numpy(),
                                  np.full(pixels.shape, space.scale, np.float32))


@pytest.mark.parametrize("space", [images.CAFFE, images.INCEPTION,
                                   images.InputSpace(bgr=False, mean=(100.0, 100.0, 100.0), scale=0.5)])
def test_input_spaces_take_unit_images_as_they_take_pixels(space, rng):
    """The unit range (-1..1) maps into a backbone's input as its pixels do, whether the shortcut for one mean
    per image (a scalar map, or none for InceptionV3) applies or not; and back again."""
    import tensorflow as tf

    unit = rng.uniform(-1, 1, (2, 5, 7, 3)).astype(np.float32)
    expected = space.to_model(images.minus1_1_to_pixels(unit))
    got = space.from_minus1_1(tf.constant(unit))
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(space.to_pixels(np.asarray(got)), images.minus1_1_to_pixels(unit), atol=1e-3)


def test_colour_statistics_are_matched_to_one_reference_or_a_blend(rng):
    """The recoloured image has the reference's colour mean and covariance; with a 50/50 blend of two references
    of one size, those of their pixels pooled; and it keeps the image's layout."""
    rows, columns = np.mgrid[0:60, 0:80]
    image = np.stack([rows * 2 + 40, columns + 60, 100 + 60 * np.sin(rows / 7) * np.cos(columns / 9)],
                     axis=-1).astype(np.uint8)
    warm = np.clip(rng.normal([170, 110, 70], [25, 20, 15], (50, 50, 3)), 0, 255).astype(np.uint8)
    cool = np.clip(rng.normal([60, 110, 160], [15, 25, 20], (50, 50, 3)), 0, 255).astype(np.uint8)

    def statistics(pixels):
        flat = pixels.reshape(-1, 3).astype(float)
        return flat.mean(axis=0), np.cov(flat.T, bias=True)

    for references, pooled in (([warm], warm), ([warm, cool], np.concatenate([warm, cool]))):
        result = images.match_color_statistics(image, references)
        assert result.dtype == np.uint8 and result.shape == image.shape
        mean, covariance = statistics(result)
        expected_mean, expected_covariance = statistics(pooled)
        np.testing.assert_allclose(mean, expected_mean, atol=1.0)
        np.testing.assert_allclose(covariance, expected_covariance, atol=0.03 * np.abs(expected_covariance).max())
        assert np.corrcoef(image.astype(float).sum(axis=2).ravel(), result.astype(float).sum(axis=2).ravel())[0, 1] \
            > 0.8
    weighted = images.match_color_statistics(image, [warm, cool], [1.0, 0.0])
    np.testing.assert_array_equal(weighted, images.match_color_statistics(image, [warm]))
