"""An RGB input for a model that takes grey or BGR (a ``model -> (model, report)`` pass on the
tf_keras path), so that the clients that feed RGB only (MediaPipe Tasks, the Task Library) run
it and its metadata can describe it.

The model gets a fixed 1x1 convolution (no bias) as its first operation after the input: for a
grey model, BT.601 luma (``0.299*R + 0.587*G + 0.114*B``, what deploytool's preprocessing and
PIL compute) to one channel; for a BGR model, the channels reversed. Both are linear in the
channels, so they commute with a normalization that is the same on every channel (grey: the
one channel's, repeated) or reversed with them (BGR): the preprocessing record becomes RGB with
the normalization in RGB order, and the model computes what it computed before, up to float32
rounding of the luma sum.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from deploytool.core.errors import UserError
from deploytool.core.preprocessing import LUMA, Preprocessing

LAYER_NAME = "rgb_input"


@dataclass
class RgbInputReport:
    """What the first layer now computes from RGB, and the preprocessing it leaves."""

    was: str  # "grey" or "BGR"
    preprocessing: Preprocessing

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return {"layer": LAYER_NAME, "was": self.was}

    def summary(self) -> str:
        """One line for the console."""
        what = "BT.601 luma (0.299 R + 0.587 G + 0.114 B)" if self.was == "grey" else \
            "the channels reversed to BGR"
        return f"RGB input: the model's first layer ({LAYER_NAME}) computes {what}"


def needs_rgb_input(preprocessing: Preprocessing) -> bool:
    """Whether the model takes something other than RGB (grey, or BGR)."""
    return preprocessing.channels == 1 or preprocessing.channel_order == "BGR"


def rgb_preprocessing(preprocessing: Preprocessing) -> Preprocessing:
    """``preprocessing`` for the model with :data:`LAYER_NAME` in front: 3 channels in RGB
    order, the normalization repeated (grey) or in RGB order (BGR)."""
    def per_channel(values):
        if values is None:
            return None
        return tuple(values) * 3 if len(values) == 1 else tuple(reversed(values))

    return replace(preprocessing, channels=3, channel_order="RGB",
                   scale=per_channel(preprocessing.scale), offset=per_channel(preprocessing.offset),
                   mean=per_channel(preprocessing.mean), std=per_channel(preprocessing.std))


def rgb_input_in_graph(model, preprocessing: Preprocessing, custom_objects=None):
    """``model`` (a functional tf_keras model with one image input, grey or BGR) taking RGB
    through a first 1x1 convolution, with the same layers, names and weights after it; and the
    report. A model that takes RGB already is a one-line error."""
    from deploytool.converters.passes.graph import GraphRewriter

    if not needs_rgb_input(preprocessing):
        raise UserError(f"{model.name} takes RGB already: --rgb-input has nothing to do")
    if len(getattr(model, "inputs", None) or []) != 1:
        raise UserError(f"{model.name}: --rgb-input takes a model with one image input")
    grey = preprocessing.channels == 1
    kernel = (LUMA.reshape(1, 1, 3, 1) if grey
              else np.eye(3, dtype=np.float32)[::-1].reshape(1, 1, 3, 3))
    graph = GraphRewriter(model, custom_objects)
    (input_layer,) = graph.config["input_layers"]
    entry = graph.entry(input_layer[0])
    key = "batch_input_shape" if "batch_input_shape" in entry["config"] else "batch_shape"
    entry["config"][key] = [*entry["config"][key][:-1], 3]
    graph.insert_after(input_layer[0], "Conv2D", {
        "name": LAYER_NAME, "trainable": False, "dtype": "float32", "filters": kernel.shape[-1],
        "kernel_size": [1, 1], "strides": [1, 1], "padding": "valid", "use_bias": False,
        "activation": "linear"})
    graph.set_weights(LAYER_NAME, [kernel.astype(np.float32)])
    return graph.build(), RgbInputReport("grey" if grey else "BGR", rgb_preprocessing(preprocessing))
