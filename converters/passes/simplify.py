"""Exact simplifications of the exported graph.

A k x k convolution (plain, grouped or depthwise) with 'same' padding over a 1 x 1 feature map only
ever multiplies its centre tap with data; every other tap meets zero padding. It is replaced by a
1 x 1 convolution holding the centre tap: the same numbers, less work, and one less edge case for
runtimes (OpenCV's TFLite importer computes a 3x3 depthwise convolution on a 1x1 map wrongly).

A 'valid' k x k average pooling is a depthwise convolution whose every tap is 1/(k*k): the same
numbers in float (the rewrite is checked on images). In an int8 .tflite it keeps the model in one
XNNPACK partition: LiteRT's XNNPACK delegate takes no int8 AVERAGE_POOL_2D, so each one splits the
graph and runs on the reference kernel between two partitions (on LeNet-BN, int8 ran slower than
float32 for that alone: see docs/commands/bench.md, "Why int8 can be slower").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deploytool.converters.passes.graph import GraphRewriter
from deploytool.core.keras_env import keras


@dataclass
class RewriteReport:
    """Which layers a rewrite changed, recorded under the rewrite's name."""

    rewrite: str
    layers: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Plain-JSON form: {rewrite: layers}."""
        return {self.rewrite: list(self.layers)}


def _degenerate(layer) -> bool:
    if not isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)) or \
            isinstance(layer, keras.layers.Conv2DTranspose):
        return False
    height, width = layer.input.shape[1:3]
    return (height, width) == (1, 1) and layer.padding == "same" and \
        tuple(layer.kernel_size) != (1, 1) and tuple(layer.dilation_rate) == (1, 1)


def _rewrite_each(model, rewrite: str, wanted, change, custom_objects=None):
    """Apply ``change(graph, layer)`` to every layer of ``model`` that ``wanted`` picks; return
    ``(model, RewriteReport)``, the model itself when no layer is picked."""
    layers = [layer for layer in model.layers if wanted(layer)]
    report = RewriteReport(rewrite, [layer.name for layer in layers])
    if not layers:
        return model, report
    graph = GraphRewriter(model, custom_objects)
    for layer in layers:
        change(graph, layer)
    return graph.build(), report


def _centre_tap(graph: GraphRewriter, layer) -> None:
    weights = graph.weights(layer.name)
    row, column = (layer.kernel_size[0] - 1) // 2, (layer.kernel_size[1] - 1) // 2
    kernel = weights[0][row:row + 1, column:column + 1]
    graph.update_layer(layer.name, kernel_size=[1, 1], strides=[1, 1], padding="valid")
    graph.set_weights(layer.name, [kernel, *weights[1:]])


def centre_tap_convolutions(model, custom_objects=None):
    """Return ``(model, RewriteReport)`` with every k x k 'same' convolution over a 1 x 1 map
    replaced by its centre tap as a 1 x 1 convolution (unchanged model when there is none)."""
    return _rewrite_each(model, "centre_tap_convolutions", _degenerate, _centre_tap, custom_objects)


def _rewritable_pool(layer) -> bool:
    return type(layer) is keras.layers.AveragePooling2D and layer.padding == "valid" and \
        layer.data_format == "channels_last" and layer.input.shape[-1] is not None


def _pool_as_depthwise(graph: GraphRewriter, layer) -> None:
    height, width = layer.pool_size
    channels = int(layer.input.shape[-1])
    graph.update_layer(layer.name, class_name="DepthwiseConv2D", kernel_size=[height, width],
                       strides=list(layer.strides), padding="valid", depth_multiplier=1,
                       use_bias=False, activation="linear", dilation_rate=[1, 1])
    graph.entry(layer.name)["config"].pop("pool_size", None)
    graph.set_weights(layer.name, [np.full((height, width, channels, 1), 1.0 / (height * width),
                                           np.float32)])


def average_pools_as_depthwise(model, custom_objects=None):
    """Return ``(model, RewriteReport)`` with every 'valid' AveragePooling2D replaced by a
    depthwise convolution of the same window and strides whose taps are all 1/(k*k) (unchanged
    model when there is none)."""
    return _rewrite_each(model, "average_pools_as_depthwise", _rewritable_pool,
                         _pool_as_depthwise, custom_objects)
