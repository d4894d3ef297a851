"""The input normalization moved into the graph, as its first operation, so that the model takes
8-bit pixels as they are (a ``model -> (model, report)`` pass on the tf_keras path).

A uint8-input .tflite is fed raw pixels by the standard clients (MediaPipe Tasks, the Task
Library): its input must mean pixels, with scale 1 and zero point 0. One scale and zero point
cannot express a per-channel mean and std (ImageNet-style models), so the model computes
``pixel * scale[c] + offset[c]`` itself (a ``Rescaling`` layer, the same float32 operations in the
same order as :meth:`deploytool.core.preprocessing.Preprocessing.apply`) and its preprocessing
record becomes the resize and channel order alone. Exact: the first layer computes what the
preprocessing computed."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from deploytool.core.errors import UserError
from deploytool.core.preprocessing import Preprocessing

LAYER_NAME = "pixel_normalization"


@dataclass
class PixelInputReport:
    """The normalization the graph now computes, per channel, and the preprocessing left."""

    scale: tuple
    offset: tuple
    preprocessing: Preprocessing

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return {"layer": LAYER_NAME, "scale": list(self.scale), "offset": list(self.offset)}

    def summary(self) -> str:
        """One line for the console."""
        return (f"normalization moved into the graph ({LAYER_NAME}: pixel * "
                f"{_values(self.scale)} + {_values(self.offset)}): the model takes 8-bit pixels")


def _values(values) -> str:
    return f"{values[0]:.6g}" if len(set(values)) == 1 else "(" + ", ".join(f"{v:.6g}" for v in values) + ")"


def pixel_preprocessing(preprocessing: Preprocessing) -> Preprocessing:
    """``preprocessing`` without its normalization: the same resize, fit and channel order,
    pixels left as they are (scale 1, offset 0)."""
    channels = preprocessing.channels
    return replace(preprocessing, scale=(1.0,) * channels, offset=(0.0,) * channels,
                   preset=None, mean=(0.0,) * channels, std=(1.0,) * channels)


def normalization_in_graph(model, preprocessing: Preprocessing, custom_objects=None):
    """``model`` (a functional tf_keras model with one image input) with its normalization as a
    first layer after the input: it takes pixels, with the same layers, names and weights after
    that layer; and the report."""
    from deploytool.converters.passes.graph import GraphRewriter

    if len(getattr(model, "inputs", None) or []) != 1:
        raise UserError(f"{model.name}: the normalization goes into the graph of a model with "
                        "one image input; convert with --int8-io int8 or float")
    graph = GraphRewriter(model, custom_objects)
    (input_layer,) = graph.config["input_layers"]
    graph.insert_after(input_layer[0], "Rescaling", {
        "name": LAYER_NAME, "trainable": False, "dtype": "float32",
        "scale": [float(v) for v in np.asarray(preprocessing.scale, np.float32)],
        "offset": [float(v) for v in np.asarray(preprocessing.offset, np.float32)]})
    return graph.build(), PixelInputReport(preprocessing.scale, preprocessing.offset,
                                           pixel_preprocessing(preprocessing))
