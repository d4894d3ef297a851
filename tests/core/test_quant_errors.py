"""Per-layer quantization error rounds as every runtime and the Android core do."""

import numpy as np

from deploytool.core.quant_errors import TensorStats
from deploytool.core.tensors import TensorInfo, quantize


def test_a_value_half_a_step_past_the_limit_rounds_away_from_zero_into_saturation():
    # -128.5 steps rounds half away from zero to -129 (outside int8), as core.tensors.quantize
    # rounds it; half to even (numpy's round) would give -128 and miss the saturation
    values = np.array([[-128.5], [-3.0], [-2.5], [4.0]])
    stats = TensorStats("t", "CONV_2D", scale=1.0)
    stats.add(values, values)
    assert stats._sums["saturated"] == 1
    assert quantize(np.float32(-128.5), TensorInfo("t", (1,), "int8", 1.0, 0)) == -128  # clamped


def test_a_tensors_own_error_uses_the_same_rounding():
    stats = TensorStats("t", "CONV_2D", scale=1.0)
    stats.add(np.array([[2.5], [-2.5]]), np.array([[3.0], [-3.0]]))
    # own quantization: 2.5 -> 3 and -2.5 -> -3 (half away; half to even gives 2 and -2)
    assert stats._sums["own_dot"] == 2.5 * 3 + 2.5 * 3
