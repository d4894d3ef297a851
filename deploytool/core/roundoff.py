"""How far a float32 Keras model is from its own exact result: the yardstick for float32 parity.

Any two float32 computations of the same network (Keras, a rebuilt twin, a folded graph, LiteRT,
ONNX Runtime) sum in different orders and differ by round-off that grows with depth and with the
size of the activations. The Keras model's own float32 error is measured against its float64 twin
(the same layers and weights, computed in float64) on the very images being compared. An artifact
computed in float32 is as exact as float32 allows when its distance from the float32 reference is
within a small multiple of that error: with the same summation quality both are about that far
from the exact result, in independent directions, so their distance is up to about twice it.
Runtimes differ in summation quality: OpenCV's Winograd and fused convolution kernels round
several times worse than TensorFlow's (benchmarks/roundoff.py measures each runtime's distance
in units of the reference's own error). The factor 10 covers them, while a real conversion error
(a wrong epsilon, a dropped bias, a wrong layout, an importer bug) lands orders of magnitude
higher. The bar never drops below Polygraphy's 1e-5.
"""

from __future__ import annotations

import copy

import numpy as np

ROUNDOFF_FACTOR = 10.0
FP32_ABS_FLOOR = 1e-5
FLOAT_DTYPES = {"float16", "bfloat16", "float32", "float64", "mixed_float16", "mixed_bfloat16"}


def _float64_config(value):
    """A copy of a Keras (2 or 3) config with every float dtype and dtype policy set to float64."""
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if key == "dtype" and isinstance(item, str) and item in FLOAT_DTYPES:
                result[key] = "float64"
            elif key == "dtype" and isinstance(item, dict) and \
                    (item.get("config") or {}).get("name") in FLOAT_DTYPES:
                result[key] = {**item, "config": {**item["config"], "name": "float64"}}
            else:
                result[key] = _float64_config(item)
        return result
    if isinstance(value, (list, tuple)):
        return type(value)(_float64_config(item) for item in value)
    return value


def float64_twin(model):
    """The same model (tf_keras or Keras 3) computing in float64, with the same weights."""
    twin = type(model).from_config(_float64_config(copy.deepcopy(model.get_config())))
    for layer in twin.layers:
        weights = model.get_layer(layer.name).get_weights()
        if weights:
            layer.set_weights([w.astype(np.float64) if np.issubdtype(w.dtype, np.floating) else w
                               for w in weights])
    return twin


def output_at(model, outputs, index: int = 0) -> np.ndarray:
    """Output ``index`` (in ``model.outputs`` order) of what ``model`` returned: one array, or a
    list, tuple or dict of them as the model declares its outputs."""
    from deploytool.core.model_outputs import flat_outputs

    return np.asarray(flat_outputs(model, outputs)[index], np.float64)


def float32_roundoff(model, images: np.ndarray, outputs32: np.ndarray | None = None,
                     index: int = 0) -> float | None:
    """Max abs difference between ``model``'s float32 output ``index`` on ``images`` and its
    float64 twin's; None when the model cannot be built in float64."""
    if outputs32 is None:
        outputs32 = output_at(model, model.predict_on_batch(np.asarray(images, np.float32)), index)
    try:
        twin = float64_twin(model)
        exact = output_at(twin, twin.predict_on_batch(np.asarray(images, np.float64)), index)
    except Exception:  # a layer without a float64 kernel: fall back to the fixed bar
        return None
    return float(np.max(np.abs(np.asarray(outputs32, np.float64).reshape(exact.shape) - exact)))


def fp32_max_abs(roundoff: float | None) -> float:
    """The max abs bar for a float32 artifact whose reference has this float32 round-off."""
    return max(FP32_ABS_FLOOR, ROUNDOFF_FACTOR * (roundoff or 0.0))
