"""Quantization-aware training with tensorflow-model-optimization (Keras 2 / tf_keras only).

:func:`qat_finetune` wraps a float model in fake-quantization and fine-tunes it on labelled data;
:func:`float_finetune` gives the float model the very same fine-tuning, so post-training
quantization of that model shows what QAT itself bought.
"""

from __future__ import annotations

import numpy as np

from deploytool.core.errors import UserError
from deploytool.core.keras_env import keras


def _compile_and_fit(model, images, labels, epochs, batch_size, learning_rate, seed):
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(images, labels, epochs=epochs, batch_size=batch_size, shuffle=True,
                        verbose=0)
    return {key: [float(v) for v in values] for key, values in history.history.items()}


def qat_finetune(model, images: np.ndarray, labels: np.ndarray, epochs: int = 1,
                 batch_size: int = 64, learning_rate: float = 1e-4, seed: int = 0):
    """Return ``(qat_model, history)``: ``model`` (ending at logits) wrapped by
    ``tfmot.quantization.keras.quantize_model`` and fine-tuned ``epochs`` epochs."""
    import tensorflow_model_optimization as tfmot

    if epochs < 1:
        raise UserError(f"--qat-epochs must be at least 1, got {epochs}")
    try:
        qat_model = tfmot.quantization.keras.quantize_model(model)
    except Exception as exc:  # tfmot's refusals: unsupported layers, BN not after a conv, nesting
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"tensorflow-model-optimization cannot make {model.name} quantization-"
                        f"aware: {detail}") from None
    return qat_model, _compile_and_fit(qat_model, images, labels, epochs, batch_size,
                                       learning_rate, seed)


def float_finetune(model, images: np.ndarray, labels: np.ndarray, epochs: int = 1,
                   batch_size: int = 64, learning_rate: float = 1e-4, seed: int = 0):
    """Return ``(copy, history)``: a copy of ``model`` given exactly the fine-tuning
    :func:`qat_finetune` gives, without fake quantization."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy, _compile_and_fit(copy, images, labels, epochs, batch_size, learning_rate, seed)
