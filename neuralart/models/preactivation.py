"""Pre-activations: a layer's activation before its final nonlinearity, cut out of a Keras model, and one chosen
channel of it computed alone. Feature visualization pushes these (a filter silent after its ReLU has no gradient;
a class is its logit, not its softmax probability)."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Part:
    """One piece of a layer's activation: a symbolic tensor of the backbone, the function that turns it into
    the pre-activation, and the nonlinearity that turns that into the layer's output."""

    tensor: object
    to_pre: object
    activate: object
    convolution: object = None  # the Conv2D whose pre-activation `to_pre` recomputes, if it is one

    @property
    def width(self) -> int:
        """Channels this part contributes to the layer."""
        return int(self.convolution.filters if self.convolution is not None else self.tensor.shape[-1])


def identity(tensor):
    return tensor


def activation_parts(layer, pre_activation: bool) -> list[Part]:
    """Pieces whose pre-activations, concatenated along channels, give `layer`'s activation before its final
    nonlinearity (and, activated, its output); with `pre_activation` False, the output itself.

    Keras fuses the ReLU into VGG's and SqueezeNet's convolutions and the softmax into the classifier, so the
    pre-activation is recomputed from the layer's input and weights; Inception's and MobileNet's ReLUs are
    separate layers, whose input is the pre-activation; a concatenation is resolved branch by branch.
    """
    import keras
    from keras.src.layers.convolutional.base_conv import BaseConv

    if not pre_activation:
        return [Part(layer.output, identity, identity)]
    if isinstance(layer, (keras.layers.ReLU, keras.layers.Softmax)):
        return [Part(layer.input, identity, layer)]
    if isinstance(layer, keras.layers.Activation):
        return [Part(layer.input, identity, layer.activation)]
    linear = getattr(layer, "activation", None) in (None, keras.activations.linear)
    if isinstance(layer, (BaseConv, keras.layers.Dense)) and not linear:
        convolution = layer if type(layer) is keras.layers.Conv2D else None
        return [Part(layer.input, lambda tensor: linear_part(layer, tensor), layer.activation, convolution)]
    if isinstance(layer, keras.layers.Concatenate) and layer.axis in (-1, 3):
        parts = []
        for tensor in layer.input:
            parts.extend(activation_parts(tensor._keras_history.operation, True))
        return parts
    return [Part(layer.output, identity, identity)]


def linear_part(layer, tensor):
    """A convolution's or dense layer's output without its activation function."""
    import keras

    if isinstance(layer, keras.layers.Dense):
        output = keras.ops.matmul(tensor, layer.kernel)
    else:
        output = layer.convolution_op(tensor, layer.kernel)
    return output + layer.bias if layer.use_bias else output


def can_choose(part: Part) -> bool:
    """Whether `chosen_channel` can compute this part's chosen channel alone: its pre-activation is a tensor of
    the network or a plain 2-D convolution of one, and its nonlinearity acts on each value by itself."""
    import keras

    activate = part.activate
    if isinstance(activate, keras.layers.Softmax) or activate in (keras.activations.softmax,
                                                                  keras.activations.log_softmax):
        return False
    if part.convolution is None:
        return part.to_pre is identity and len(part.tensor.shape) == 4 and part.tensor.shape[-1] is not None
    convolution = part.convolution
    return (convolution.groups == 1 and convolution.data_format == "channels_last"
            and convolution.strides[0] == convolution.strides[1]
            and (tuple(convolution.strides) == (1, 1) or tuple(convolution.dilation_rate) == (1, 1)))


def chosen_channel(parts, outputs, targets):
    """(pre-activation, activation), each (batch, height, width, 1): channel targets[b] of the layer the parts
    make up, for image b. Every part computes its own channel of each image (its index clipped into range), and
    each image takes the one from the part its target lies in."""
    import tensorflow as tf

    starts = np.cumsum([0] + [part.width for part in parts])
    pres = [chosen_pre(part, output, tf.clip_by_value(targets - int(start), 0, part.width - 1))
            for part, output, start in zip(parts, outputs, starts)]
    activations = [part.activate(pre) for part, pre in zip(parts, pres)]
    if len(parts) == 1:
        return pres[0], activations[0]
    which = tf.searchsorted(tf.constant(starts[1:-1], tf.int32), targets, side="right")

    def pick(maps):
        return tf.gather(tf.stack(maps, axis=1), which, axis=1, batch_dims=1)
    return pick(pres), pick(activations)


def chosen_pre(part: Part, tensor, local):
    """Channel local[b] of image b of one part's pre-activation, (batch, height, width, 1)."""
    import tensorflow as tf

    if part.convolution is None:
        return tf.gather(tensor, local, axis=3, batch_dims=1)[..., None]
    return chosen_convolution(part.convolution, tensor, local)


def chosen_convolution(layer, tensor, local):
    """Output channel local[b] of `layer` (a Conv2D without its activation) for image b, alone.

    The batch is laid side by side along channels, each image's input channels meet their own kernel's in one
    depthwise convolution, and a sum over input channels finishes each image's one output channel: a fraction of
    the work of computing every channel of every image and keeping one.
    """
    import tensorflow as tf

    kernel = tf.cast(layer.kernel, tensor.dtype)  # (rows, columns, in, out)
    rows, columns, channels = kernel.shape[0], kernel.shape[1], kernel.shape[2]
    batch, height, width = tf.shape(tensor)[0], tf.shape(tensor)[1], tf.shape(tensor)[2]
    side_by_side = tf.reshape(tf.transpose(tensor, [1, 2, 0, 3]), [1, height, width, batch * channels])
    kernels = tf.reshape(tf.transpose(tf.gather(kernel, local, axis=3), [0, 1, 3, 2]), [rows, columns, -1, 1])
    products = tf.nn.depthwise_conv2d(side_by_side, kernels, strides=[1, *layer.strides, 1],
                                      padding=layer.padding.upper(), dilations=layer.dilation_rate)
    out_height, out_width = tf.shape(products)[1], tf.shape(products)[2]
    summed = tf.reduce_sum(tf.reshape(products, [out_height, out_width, batch, channels]), axis=-1)
    chosen = tf.transpose(summed, [2, 0, 1])[..., None]
    if layer.use_bias:
        chosen += tf.gather(tf.cast(layer.bias, tensor.dtype), local)[:, None, None, None]
    return chosen
