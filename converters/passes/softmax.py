"""Move a trailing softmax out of the exported graph and into post-processing.

A full-int8 TFLite softmax output has the fixed scale 1/256: every probability below ~0.2 % becomes
0, so a 1000-class model's output is mostly zeros and its int8 parity cannot be judged. Exported
models therefore end at the logits; the manifest records ``postprocess: softmax`` and every
consumer (verify, the Android core) applies it in float.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploytool.converters.passes.graph import GraphRewriter
from deploytool.core.keras_env import keras


@dataclass
class SoftmaxReport:
    """Which layer's softmax was detached (None if the model did not end in one)."""

    detached_from: str | None = None

    @property
    def postprocess(self) -> str | None:
        """"softmax" when consumers must apply it, else None."""
        return "softmax" if self.detached_from else None

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return {"detached_from": self.detached_from, "postprocess": self.postprocess}


def _is_softmax(layer) -> bool:
    activation = getattr(layer, "activation", None)
    return activation is keras.activations.softmax or \
        getattr(activation, "__name__", "") == "softmax" or isinstance(layer, keras.layers.Softmax)


def _detach_keras3(model):
    """:func:`detach_softmax` for a stock Keras 3 functional model: a new model on the same
    layers, ending at the softmax's input, or at a linear copy of a softmax Dense."""
    from deploytool.core.keras_env import keras3

    keras = keras3()
    history = model.outputs[0]._keras_history
    last = history.operation
    # this model's call of the layer (a layer shared with another model has several)
    last_input = last._inbound_nodes[history.node_index].input_tensors[0]
    activation = getattr(last, "activation", None)
    softmax_layer = isinstance(last, keras.layers.Softmax) or (
        isinstance(last, keras.layers.Activation) and getattr(activation, "__name__", "") == "softmax")
    softmax_dense = isinstance(last, keras.layers.Dense) and \
        getattr(activation, "__name__", "") == "softmax"
    if not (softmax_layer or softmax_dense) or len(last_input.shape) != 2:
        return model, SoftmaxReport()
    if softmax_layer:
        logits = last_input
    else:
        linear = type(last).from_config({**last.get_config(), "activation": "linear"})
        logits = linear(last_input)
        linear.set_weights(last.get_weights())
    return keras.Model(model.inputs, logits, name=model.name), SoftmaxReport(detached_from=last.name)


def detach_softmax(model, custom_objects=None):
    """Return ``(model, SoftmaxReport)``: the model ending at its logits if its single output was a
    softmax (an Activation/Softmax layer, or a Dense with softmax activation); otherwise unchanged.
    Works on tf_keras and stock Keras 3 models."""
    from deploytool.core.keras_env import is_keras3_model

    if len(model.outputs) != 1:
        return model, SoftmaxReport()
    if is_keras3_model(model):
        return _detach_keras3(model)
    last = model.get_layer(model.output_names[0])
    if not _is_softmax(last) or len(last.input.shape) != 2:
        return model, SoftmaxReport()
    graph = GraphRewriter(model, custom_objects)
    if isinstance(last, (keras.layers.Activation, keras.layers.Softmax)):
        graph.bypass(last.name)
    else:
        graph.update_layer(last.name, activation="linear")
    return graph.build(), SoftmaxReport(detached_from=last.name)
