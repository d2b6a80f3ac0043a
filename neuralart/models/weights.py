"""ImageNet weights: which file each backbone needs, where Keras caches it, and what to tell a user without it.

Files come through `keras.utils.get_file`, cached under `$KERAS_HOME/models/` exactly where `keras.applications`
keeps them; when the download fails the user is told which file to put where.
"""

from __future__ import annotations

import dataclasses
import os

KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
SQUEEZENET_URL = ("https://github.com/DeepCognition/keras-squeezenet/releases/download/v0.4/"
                  "squeezenet_weights_tf_dim_ordering_tf_kernels_notop.h5")


class WeightsUnavailableError(RuntimeError):
    """ImageNet weights are neither cached nor downloadable; the message names the file and the folder (for the
    command line; the web app says it without server paths, from `backbone_name`)."""

    def __init__(self, message: str, backbone_name: str = "", weights_file: WeightsFile | None = None):
        super().__init__(message)
        self.backbone_name = backbone_name
        self.weights_file = weights_file


@dataclasses.dataclass(frozen=True)
class WeightsFile:
    """One weights file as `keras.utils.get_file` caches it: name in the cache, where it comes from, its hash."""

    filename: str
    origin: str
    file_hash: str | None = None


def keras_weights(folder: str, stem: str, hash_notop: str | None, hash_top: str | None):
    """The (no-top, top) weights files of a network published with keras.applications."""
    notop = WeightsFile(f"{stem}_notop.h5", f"{KERAS_APPLICATIONS_URL}{folder}/{stem}_notop.h5", hash_notop)
    top = WeightsFile(f"{stem}.h5", f"{KERAS_APPLICATIONS_URL}{folder}/{stem}.h5", hash_top)
    return notop, top


def keras_home() -> str:
    """The Keras cache folder, read at call time (Keras itself reads KERAS_HOME only once, at import)."""
    if "KERAS_HOME" in os.environ:
        return os.environ["KERAS_HOME"]
    base = os.path.expanduser("~")
    return os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")


def fetch_weights(weights_file: WeightsFile, backbone_name: str) -> str:
    """Path of the cached weights file, downloading it into `$KERAS_HOME/models/` if needed."""
    import keras

    try:
        return keras.utils.get_file(weights_file.filename, weights_file.origin, file_hash=weights_file.file_hash,
                                    cache_subdir="models", cache_dir=keras_home())
    except Exception as error:  # get_file raises plain Exception subclasses for every network failure.
        raise WeightsUnavailableError(missing_weights_message(weights_file, backbone_name, error), backbone_name,
                                      weights_file) from error


def missing_weights_message(weights_file: WeightsFile, backbone_name: str, error: Exception | None = None) -> str:
    folder = os.path.join(keras_home(), "models")
    reason = f" ({type(error).__name__}: {error})" if error else ""
    return (f"The ImageNet weights for {backbone_name} are not available{reason}. "
            f"Missing file: {weights_file.filename}. Download it from {weights_file.origin} and put it in "
            f"{folder}{os.sep} (set KERAS_HOME to use another folder), or choose random weights.")

def weights_cached(weights_file: WeightsFile) -> bool:
    """Whether the file is in the Keras cache already (a run then needs no download)."""
    return os.path.isfile(os.path.join(keras_home(), "models", weights_file.filename))


def weights_downloadable(weights_file: WeightsFile, timeout: float = 1.0) -> bool:
    """Whether the file's server answers on its port now (a quick connection, no download)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(weights_file.origin)
    try:
        with socket.create_connection((parts.hostname, parts.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def weights_from_text(text: str | None) -> str | None:
    """The CLI's and the app's spelling of a weights choice to `get_backbone`'s: 'imagenet', 'none' or 'random'
    (None: random initialisation) or a path to a weights file."""
    if text is None or text.lower() in ("none", "random"):
        return None
    return "imagenet" if text.lower() == "imagenet" else text
