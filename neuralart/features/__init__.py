"""Feature visualization: images that show what a filter, a unit, a layer or a class of a network responds to.

Two ways to make them, chosen by `FilterConfig.mode`:

- "classic", the chapter's recipe (Erhan et al. 2009, as Chollet's Keras listing "How convolutional neural
  networks see the world" writes it): start from a grey image with a little uniform noise, step up the gradient
  of the filter's mean activation with the gradient normalised to unit RMS (about 20 steps of size 1), skip
  filters whose activation stays at zero, and show each result normalised to mean 0.5 and spread 0.1.
- "quality", the default, as Lucid does it (Olah, Mordvintsev & Schubert 2017, "Feature Visualization";
  Mordvintsev et al. 2018, "Differentiable Image Parameterizations"): the image lives in a Fourier basis scaled
  by 1/f, the spectrum of natural images, so a step changes broad structure more than pixel-level detail; its
  colours are decorrelated as in ImageNet, and a sigmoid keeps pixels in range; Adam optimises it, and the image
  is randomly shifted, scaled and rotated before every step so that only patterns that survive those changes
  are rewarded. A filter silent on the grey start is pushed up before its ReLU until it responds. Results look
  like textures and object parts rather than high-frequency noise.

In both modes many filters are optimised together as one batch (image b ascends filter b's objective), and each
filter's random start and transformations come from its own seed, so a filter looks the same whether it is run
alone or in a grid. Objectives: "channel" (a filter's mean), "neuron" (its centre unit), "layer" (the whole
layer, DeepDream-like) and "class" (a classifier's logit). `negative=True` finds what a filter most dislikes: the
pre-ReLU activation is pushed down, because after a ReLU there is nothing below zero to push.

`visualize(config)` yields a `Frame` holding the grid of tiles every `frame_every` iterations, or sooner once a
second of work has passed (filters in index order, each with the objective its last iteration reported), and
closes with the kept filters ordered by achieved activation (`stage_done=True`); `Frame.losses` gives each
filter's achieved activation ("filter 3": value), grid order first.

Beyond the grid (`FilterConfig.figure`): "diversity" makes a row of different images per objective, pushed apart by
Lucid's diversity term; "interpolation" a row morphing from one objective to another, its images sharing part of
their parameterization; "atlas" a captioned row of filters per layer (the chapter's figure: VGG16's early, middle
and late layers, SqueezeNet standing in when VGG16's weights are not here). `FilterConfig.expression` combines
objectives with weights ("fire5:7 + fire5:12 - 0.5*fire7:3"; "A -> B" for an interpolation), classes are named
("class(goldfish)"), and every tile is captioned with its filter, class or image.

Modules, as Lucid splits the problem: `config`; `param` (image parameterizations); `transform` (random
transformations and the warp); `objectives` (what a run optimises, resolved against the network); `steps` (the
traced steps); `render` (the run); `algebra` (objective expressions); `classes` (ImageNet class names);
`composite` (combined objectives and the diversity term on a network); `figures` (diversity, interpolation);
`atlas` (the chapter's figure); `tiles` (captioned tiles); `maps` (feature maps, kernels and the classifier's
predictions for a photo); `metrics` (the quality measures the benchmark uses).
"""

from .algebra import Combination, Expression, Term, parse_expression
from .atlas import CHAPTER_LAYERS, CHAPTER_PRESET, chapter_layers
from .classes import class_choices, class_index, class_name, class_names
from .config import (CAPTIONS, FIGURES, MAX_FILTERS, MODE_ITERATIONS, MODE_STEP_SIZES, MODES, OBJECTIVES,
                     FilterConfig, parse_filters)
from .figures import objective_values
from .maps import (FeatureMaps, KernelTiles, MapsConfig, Prediction, feature_maps, first_colour_convolution,
                   head_predictions, kernel_tiles, top_predictions)
from .metrics import gram_distances, high_frequency_share, robust_activation
from .objectives import Plan, backbone_for, plan_for
from .render import Rendering, render, visualize
from .tiles import TiledFrame

PRESETS = {"chapter": CHAPTER_PRESET}

__all__ = ["CAPTIONS", "CHAPTER_LAYERS", "CHAPTER_PRESET", "Combination", "Expression", "FIGURES", "FeatureMaps",
           "FilterConfig", "KernelTiles", "MAX_FILTERS", "MODES", "MODE_ITERATIONS", "MODE_STEP_SIZES", "MapsConfig",
           "OBJECTIVES", "PRESETS", "Plan", "Prediction", "Rendering", "Term", "TiledFrame", "backbone_for",
           "chapter_layers", "class_choices", "class_index", "class_name", "class_names", "feature_maps",
           "first_colour_convolution", "gram_distances", "head_predictions", "high_frequency_share", "kernel_tiles",
           "objective_values", "parse_expression", "parse_filters", "plan_for", "render", "robust_activation",
           "top_predictions", "visualize"]
