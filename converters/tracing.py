"""A Keras model (tf_keras or Keras 3) as the TensorFlow function its exporters read: the
inference call traced for a fixed input signature, and that trace frozen into a GraphDef."""

from __future__ import annotations

import contextlib


def input_spec(model, batch: int | None = 1, name: str | None = None):
    """The float32 TensorSpec of ``model``'s image input with batch size ``batch`` (None: any)."""
    from deploytool.core.keras_env import tf

    return tf.TensorSpec((batch, *tuple(model.inputs[0].shape)[1:]), tf.float32, name=name)


def inference_function(model, batch: int | None = 1):
    """``model(images, training=False)`` traced as a concrete function for ``batch`` images. A
    model with several outputs returns them as a dict by output name
    (:func:`~deploytool.core.model_outputs.output_names`), which the exporters keep as the
    outputs' names (a TFLite signature's output names, for one)."""
    from deploytool.core.keras_env import tf
    from deploytool.core.model_outputs import named_outputs

    if len(model.outputs) == 1:
        function = tf.function(lambda images: model(images, training=False))
    else:
        function = tf.function(lambda images: named_outputs(model, model(images, training=False)))
    return function.get_concrete_function(input_spec(model, batch))


def frozen_graph(model, batch: int | None = 1):
    """The inference function with every variable and captured tensor turned into a constant
    (Keras 3 keeps some layer state, Normalization's mean for one, as captured tensors a plain
    trace leaves as extra inputs): the GraphDef, its input names and its output names (in the
    model's output order)."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    from deploytool.core.keras_env import is_keras3_model
    from deploytool.core.model_outputs import output_names

    # grouped convolutions as plain ones: an XLA-compiled call is opaque to every reader
    plain = plain_keras3_grouped_convolutions() if is_keras3_model(model) else \
        plain_grouped_convolutions(model)
    with plain:
        traced = inference_function(model, batch)
        frozen = convert_variables_to_constants_v2(traced)
    outputs = [tensor.name for tensor in frozen.outputs]  # the trace's (flattened) order
    structured = traced.structured_outputs
    if isinstance(structured, dict):  # several outputs: in the model's order
        flat = [tensor.name for tensor in traced.outputs]
        outputs = [outputs[flat.index(structured[name].name)] for name in output_names(model)]
    return frozen.graph.as_graph_def(), [tensor.name for tensor in frozen.inputs], outputs


@contextlib.contextmanager
def plain_grouped_convolutions(model):
    """tf_keras runs grouped Conv2D through an XLA-compiled function that tf2onnx sees as an opaque
    PartitionedCall; for the duration, trace them as plain grouped convolutions instead, which
    tf2onnx turns into an ONNX Conv with ``group``."""
    from deploytool.core.keras_env import keras

    patched = [layer for layer in model.layers
               if isinstance(layer, keras.layers.Conv2D) and getattr(layer, "groups", 1) > 1]
    for layer in patched:
        layer._jit_compiled_convolution_op = layer.convolution_op
    try:
        yield
    finally:
        for layer in patched:
            del layer._jit_compiled_convolution_op


@contextlib.contextmanager
def plain_keras3_grouped_convolutions():
    """Keras 3's TensorFlow backend, too, runs grouped convolutions (ConvNeXt's depthwise 7x7 is
    a Conv2D with groups) through an XLA-compiled function that tf2onnx cannot open; for the
    duration, every Keras 3 convolution is traced as the plain ``tf.nn.convolution`` it wraps."""
    from keras.src.backend.tensorflow import nn as backend_nn

    from deploytool.core.keras_env import tf

    original = backend_nn.conv

    def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
        layout = backend_nn._convert_data_format(data_format, len(inputs.shape))
        return tf.nn.convolution(inputs, kernel, strides, padding.upper(), data_format=layout,
                                 dilations=dilation_rate)

    backend_nn.conv = conv
    try:
        yield
    finally:
        backend_nn.conv = original
