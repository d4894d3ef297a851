"""Two runtimes compared value for value: how many values differ, and by how many quantization
steps where the file gives integers."""

import numpy as np

from deploytool.core.runtime_agreement import agreement

DECLARED_INT8 = [{"name": "scores", "scale": 0.5, "zero_point": 0}]
DECLARED_FLOAT = [{"name": "scores", "scale": 0.0, "zero_point": 0}]


def test_equal_outputs_differ_nowhere():
    values = np.arange(12, dtype=np.float32).reshape(3, 4) * 0.5
    (found,) = agreement({"scores": values}, {"scores": values.copy()}, DECLARED_INT8, "tflite")
    assert (found.values, found.differing, found.max_steps, found.failed) == (12, 0, 0, False)


def test_one_step_is_rounding_and_two_steps_fail():
    values = np.zeros((2, 3), np.float32)
    one, two = values.copy(), values.copy()
    one[0, 1] = 0.5
    two[1, 2] = -1.0
    (rounding,) = agreement({"scores": one}, {"scores": values}, DECLARED_INT8, "tflite")
    (kernel,) = agreement({"scores": two}, {"scores": values}, DECLARED_INT8, "tflite")
    assert (rounding.differing, rounding.max_steps, rounding.failed) == (1, 1, False)
    assert (kernel.differing, kernel.max_steps, kernel.failed) == (1, 2, True)


def test_float_outputs_report_their_largest_difference_and_never_steps():
    values = np.ones((2, 2), np.float32)
    other = values + np.float32(3e-6)
    (found,) = agreement({"scores": values}, {"scores": other}, DECLARED_FLOAT, "tflite")
    assert found.max_steps is None and not found.failed
    assert found.differing == 4 and abs(found.max_abs - 3e-6) < 1e-7
