"""What turns an artifact's raw outputs into the Keras model's: the manifest's ``postprocess``
step (a softmax moved out of the exported graph, see
:mod:`deploytool.converters.passes.softmax`), applied in float by verify, the budget and convert's
parity check alike (and by the Android core in Java)."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis, in float32."""
    logits = np.asarray(logits, np.float64)
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return (shifted / shifted.sum(axis=-1, keepdims=True)).astype(np.float32)


def postprocess(outputs: np.ndarray, step: str | None) -> np.ndarray:
    """Apply the manifest's post-processing step (None or "softmax") to raw model outputs."""
    return softmax(outputs) if step == "softmax" else np.asarray(outputs, np.float32)
