"""Weights helpers for untrained zoo models."""

import numpy as np

from deploytool.core.keras_env import keras


def randomize_batchnorm(model, seed: int = 0):
    """Give every BatchNormalization layer random, realistic statistics and affine parameters
    (gamma in [0.5, 1.5], beta and mean ~ N(0, 0.2), variance in [0.5, 2]), in place.

    A fresh model's BNs are the identity, so folding them or checking a runtime's parity on one
    proves little; with these statistics every BN changes what flows through it. Returns the model.
    """
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.moving_mean.shape[0]
            values = {"gamma": rng.uniform(0.5, 1.5, channels), "beta": rng.normal(0, 0.2, channels),
                      "moving_mean": rng.normal(0, 0.2, channels),
                      "moving_variance": rng.uniform(0.5, 2.0, channels)}
            layer.set_weights([values[w.name.split("/")[-1].split(":")[0]].astype(np.float32)
                               for w in layer.weights])
    return model


def batchnorm_statistics_from(model, images: np.ndarray):
    """Set every BatchNormalization layer's moving mean and variance to the batch statistics of
    ``images`` (as training leaves them), in place; returns the model. Works on tf_keras and
    Keras 3 models alike, nested layers included.

    A fresh MobileNetV2's activations shrink about fivefold per block (an initialised model's
    BNs are the identity), so its output is the same for every image down to float32's last bit:
    nothing can be verified on it. Statistics measured on images renormalise every layer, so the
    output depends on the input again.
    """
    batchnorms = [layer for layer in model._flatten_layers(include_self=False)  # noqa: SLF001
                  if hasattr(layer, "moving_mean") and hasattr(layer, "momentum")]
    momenta = [layer.momentum for layer in batchnorms]
    for layer in batchnorms:
        layer.momentum = 0.0  # one training-mode call sets the moving statistics to the batch's
    model(np.asarray(images, np.float32), training=True)
    for layer, momentum in zip(batchnorms, momenta):
        layer.momentum = momentum
    return model
