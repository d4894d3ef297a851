"""Intervals on judged figures: how sure an agreement, an accuracy or an accuracy change is."""

import numpy as np
import pytest

from deploytool.core.compare import compare_outputs
from deploytool.core.statistics import paired_change_interval, wilson_interval


def test_twenty_of_twenty_agreeing_cannot_promise_more_than_0_84():
    low, high = wilson_interval(20, 20)
    assert low == pytest.approx(0.8389, abs=1e-4) and high == 1.0
    assert wilson_interval(97, 100) == pytest.approx((0.9155, 0.9897), abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_a_paired_accuracy_change_is_tighter_when_the_images_agree():
    reference = np.array([True] * 90 + [False] * 10)
    flipped = reference.copy()
    flipped[:3] = False  # three decisions lost
    low, high = paired_change_interval(reference, flipped)
    assert low < -0.03 < high and high < 0.02
    same_low, same_high = paired_change_interval(reference, reference)
    assert same_low == pytest.approx(-same_high) and same_high < 0.04


def test_every_agreement_and_accuracy_comes_with_its_interval():
    rng = np.random.default_rng(0)
    reference = rng.random((20, 5))
    figures = compare_outputs(reference, reference, labels=reference.argmax(1))
    assert figures["top1_agreement"] == 1.0 and figures["samples"] == 20
    assert figures["top1_agreement_interval"] == pytest.approx([0.8389, 1.0], abs=1e-4)
    assert figures["accuracy_interval"][0] == pytest.approx(0.8389, abs=1e-4)
    assert figures["accuracy_change_interval"][0] < 0 < figures["accuracy_change_interval"][1]
    embedding = compare_outputs(reference, reference, kind="embedding")
    assert embedding["neighbour_agreement_interval"][0] == pytest.approx(0.8389, abs=1e-4)
