"""Neural style transfer (Gatys, Ecker & Bethge, "A Neural Algorithm of Artistic Style", 2015; CVPR 2016).

An image is optimised so that a deep layer of the network sees the *content* photo in it (content loss: mean
squared difference of features), shallower layers see the *style* painting's textures in it (style loss: mean
squared difference of Gram matrices, i.e. channel correlations, which forget where things are), and neighbouring
pixels stay alike (total-variation loss). The three are weighted and summed.

The chapter's algorithm (section 9.3) is `PRESETS["chapter"]`: VGG19, Adam (learning rate 5, beta_1 0.99,
epsilon 0.1) on the image, clipped to valid pixels after every step, starting from the photo, keeping the best image.
(Its listing stores the image *after* the step whose loss was lowest; this keeps the image that loss was measured
on, so the returned image and its reported loss belong together.)
Beyond it, as jcjohnson/neural-style and crowsonkb/style-transfer-pytorch offer:
- L-BFGS (neuralart.optim.lbfgs) as the default optimizer, stepping in a smoothed basis (`StyleConfig.smoothing`: the
  image is its start plus offset + smoothing x a blur of the offset, so broad changes cost fewer iterations;
  with 0, a plain L-BFGS on pixels projected into their range);
- several style images whose Gram matrices are blended with weights, and a style scale;
- initialisation from the photo in the style's palette (its colours' mean and covariance; the default), the photo
  as it is, noise or the (first) style;
- colour preservation: luminance-only transfer (Gatys et al. 2016, "Preserving color in neural artistic style
  transfer") or matching the style's colour histogram to the photo's;
- coarse-to-fine: optimise a small image first, enlarge it and continue, up to the requested size (4096 px);
- scales larger than a tile (`StyleConfig.tile_size`) refined tile by tile in bounded memory, every tile pulled
  towards the whole image's statistics, so the print stays one picture without seams (`tiled`, `tiles`);
- styles by region (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer"): a mask per
  style, Gram matrices per region at every layer, the photo kept where no mask reaches (`regions`);
- an estimate of a run's time and memory on this machine before it starts, from a short probe (`estimate`).

The image is optimised in pixels 0..255 with its channels in the order the network reads them (BGR for the
caffe-style backbones offered here), so the traced step turns it into model input with a shift alone: that is the
chapter's preprocessed image up to the shift, which Adam, clipping and the losses do not see. Frames show it as
RGB. Style Gram matrices are computed once per scale, never per step.

`stylize(content, styles, config, style_masks=None)` yields a `Frame` every `frame_every` iterations (or sooner,
once a second of work has passed; neuralart.loop; between tiles on tiled scales) and one closing each scale
(`stage_done=True`); `Frame.losses` holds the weighted terms "content", "style", "tv" and their sum "total". The
last frame is the best (lowest-loss) image of the final scale. `estimate_run(config, shape)` says beforehand how
long and how much memory a run will take, and `Estimate.check()` refuses one that would not fit.

Modules: `config` (settings and presets), `inputs` (the images and their scales), `smoothing` (the smoothed basis),
`steps` (the traced losses and steps), `scales` (the optimizers of one scale), `tiles` (tile layouts and their
traced steps), `tiled` (a scale refined tile by tile), `regions` (masks and per-region statistics), `estimate`
(time and memory before a run) and `run` (the loop).
"""

from .config import COLOR_MODES, INITS, LOSS_TERMS, MAX_SIDE, OPTIMIZERS, PRESETS, StyleConfig
from .estimate import Estimate, estimate_run
from .inputs import MAX_STYLE_SIDE, scale_shapes
from .run import stylize
from .smoothing import RANGE_PENALTY, SMOOTHING_SIGMA, smoothed
from .steps import StyleSteps, style_steps

__all__ = ["COLOR_MODES", "Estimate", "INITS", "LOSS_TERMS", "MAX_SIDE", "MAX_STYLE_SIDE", "OPTIMIZERS", "PRESETS",
           "RANGE_PENALTY", "SMOOTHING_SIGMA", "StyleConfig", "StyleSteps", "estimate_run", "scale_shapes", "smoothed",
           "style_steps", "stylize"]
