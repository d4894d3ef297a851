"""Pins the whole process to Keras 2 (``tf_keras``) before TensorFlow resolves ``tf.keras``.

tensorflow-model-optimization only works with Keras 2, so every part of deploytool builds and loads
models with ``tf_keras``. Import ``keras`` and ``tf`` from here, never ``import keras`` directly.

TensorFlow's native start-up lines (oneDNN, CUDA probing) are written straight to file descriptor 2
before its log level applies; they are silenced while TensorFlow imports and enumerates devices.
Set ``DEPLOYTOOL_TF_LOGS=1`` to see them.
"""

import os
import sys

from deploytool.core.quiet import native_output_silenced

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


with native_output_silenced():
    import tensorflow as tf  # noqa: E402
    import tf_keras as keras  # noqa: E402

    tf.config.list_physical_devices()

if not os.environ.get("DEPLOYTOOL_TF_LOGS"):  # retracing notices and the like, not the user's business
    tf.get_logger().setLevel("ERROR")

if tf.keras.layers.Dense is not keras.layers.Dense:  # pragma: no cover - depends on import order
    raise ImportError(
        "tf.keras already resolved to Keras 3 in this process; import deploytool (or set "
        "TF_USE_LEGACY_KERAS=1) before anything touches tf.keras"
    )


def keras3():
    """The stock Keras 3 package (importable beside tf_keras: TF_USE_LEGACY_KERAS only changes
    what ``tf.keras`` means)."""
    import keras

    return keras


def is_keras3_model(model) -> bool:
    """Whether ``model`` is a stock Keras 3 model (not a tf_keras one)."""
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(model, getattr(keras, "Model", ()))


__all__ = ["is_keras3_model", "keras", "keras3", "tf"]
