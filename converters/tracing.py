"""A Keras model (tf_keras or Keras 3) as the TensorFlow function its exporters read: the
inference call traced for a fixed input signature, and that trace frozen into a GraphDef."""

from __future__ import annotations


def input_spec(model, batch: int | None = 1, name: str | None = None):
    """The float32 TensorSpec of ``model``'s image input with batch size ``batch`` (None: any)."""
    from deploytool.keras_env import tf

    return tf.TensorSpec((batch, *tuple(model.inputs[0].shape)[1:]), tf.float32, name=name)


def inference_function(model, batch: int | None = 1):
    """``model(images, training=False)`` traced as a concrete function for ``batch`` images."""
    from deploytool.keras_env import tf

    function = tf.function(lambda images: model(images, training=False))
    return function.get_concrete_function(input_spec(model, batch))


def frozen_graph(model, batch: int | None = 1):
    """The inference function with every variable and captured tensor turned into a constant
    (Keras 3 keeps some layer state, Normalization's mean for one, as captured tensors a plain
    trace leaves as extra inputs): the GraphDef, its input names and its output names."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    frozen = convert_variables_to_constants_v2(inference_function(model, batch))
    return (frozen.graph.as_graph_def(), [tensor.name for tensor in frozen.inputs],
            [tensor.name for tensor in frozen.outputs])
