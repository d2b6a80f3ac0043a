"""The networks' architectures: keras.applications constructors, and SqueezeNet 1.1 written out here."""

from __future__ import annotations

from collections.abc import Callable


def keras_application(constructor_name: str) -> Callable:
    def build(include_top: bool, weights_path: str | None):
        import keras

        constructor = getattr(keras.applications, constructor_name)
        if include_top:
            return constructor(include_top=True, weights=weights_path)
        return constructor(include_top=False, weights=weights_path, input_shape=(None, None, 3))
    return build


def mobilenet(include_top: bool, weights_path: str | None):
    import keras

    # MobileNet refuses a free input size with ImageNet weights, so the size is fixed when weights are loaded.
    shape = (224, 224, 3) if include_top or weights_path else (None, None, 3)
    return keras.applications.MobileNet(alpha=0.25, include_top=include_top, weights=weights_path,
                                        input_shape=shape)


SQUEEZENET_FIRES = ((2, 16, 64), (3, 16, 64), (4, 32, 128), (5, 32, 128),
                    (6, 48, 192), (7, 48, 192), (8, 64, 256), (9, 64, 256))
SQUEEZENET_POOL_AFTER = (3, 5)


def squeezenet(include_top: bool, weights_path: str | None):
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

