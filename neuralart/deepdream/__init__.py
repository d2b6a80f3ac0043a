"""DeepDream (Mordvintsev, Olah & Tyka, 2015): amplify what a network sees by gradient ascent on the image.

The recipe follows the classic Keras listing: the objective is a weighted sum over chosen layers of the mean
squared activation (a 2-pixel border left out); the gradient is normalised by its mean absolute value; the image is
processed at `octaves` scales, smallest first, each `octave_scale` times the previous; after each octave the
detail that shrinking and re-enlarging the original loses is re-injected, so the photo stays sharp.

Beyond that listing: the image is randomly rolled before every iteration and its gradient is computed tile by tile
(as the TensorFlow DeepDream tutorial does), so images larger than a tile dream without seams and within memory;
randomness comes only from `seed`. The backbone computes in bfloat16 where the CPU has bfloat16 instructions
(neuralart.models.inference_model); the objective, the gradient and the image stay float32. One traced call takes
one iteration: with the network inside a `tf.while_loop`, TF's oneDNN graph pass misses its fast max-pool
gradient in some traces, and several iterations per call saved nothing measurable (docs/performance.md).

Beyond the classic dream: terms may be single channels ("mixed4:97"), a guide image steers whole-layer terms
towards its own features (`objective`), and a mask limits where the dream acts. `zoom` dreams frame after frame
into a zoom animation.

`dream(image, config)` yields a `Frame` every `frame_every` iterations (or sooner, once a second of work has
passed; neuralart.loop) and one that closes each octave (`stage_done=True`). Modules: `config`, `objective` (terms,
guide), `ascent` (the traced step), `run` (the octave loop), `zoom` (animations).
"""

from .ascent import ascent_function
from .config import FAST_PRESET, PRESETS, DreamConfig
from .objective import parse_term
from .run import MAX_LOSS_NOTE, dream, octave_shapes
from .zoom import ZoomConfig, zoom

__all__ = ["FAST_PRESET", "MAX_LOSS_NOTE", "PRESETS", "DreamConfig", "ZoomConfig", "ascent_function", "dream",
           "octave_shapes", "parse_term", "zoom"]
