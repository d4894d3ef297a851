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
