"""The fp32 bar: 1e-5 on probabilities, or 10x the Keras reference's own float32 round-off
(measured against its float64 twin) where a model's numbers are large enough to need it."""

import numpy as np
import pytest

from deploytool.converters.passes.fold_batchnorm import output_difference
from deploytool.core.compare import compare_outputs, judge_parity
from deploytool.core.keras_env import keras, keras3
from deploytool.core.roundoff import float32_roundoff, float64_twin

IMAGES = np.random.default_rng(0).random((6, 8, 8, 3), dtype=np.float32)


def large_logit_model(framework):
    """Logits in the thousands: float32 keeps ~4 significant decimals of them."""
    k = keras3() if framework == "keras3" else keras
    k.utils.set_random_seed(0)
    inputs = k.Input((8, 8, 3))
    x = k.layers.Conv2D(64, 3, activation="relu")(inputs)
    x = k.layers.Flatten()(x)
    model = k.Model(inputs, k.layers.Dense(10)(x))
    model.layers[1].set_weights([w * 40 for w in model.layers[1].get_weights()])
    return model


@pytest.mark.parametrize("framework", ["tf_keras", "keras3"])
def test_float64_twin_has_the_same_weights_in_float64(framework):
    model = large_logit_model(framework)
    twin = float64_twin(model)
    assert twin.layers[1].get_weights()[0].dtype == np.float64
    np.testing.assert_allclose(twin.predict(IMAGES.astype(np.float64), verbose=0),
                               model.predict(IMAGES, verbose=0), rtol=1e-4)


@pytest.mark.parametrize("framework", ["tf_keras", "keras3"])
def test_roundoff_grows_with_the_size_of_the_numbers(framework):
    model = large_logit_model(framework)
    roundoff = float32_roundoff(model, IMAGES)
    assert 1e-6 < roundoff < 1e-2
    logits = np.abs(model.predict(IMAGES, verbose=0)).max()
    assert roundoff < 1e-5 * logits  # float32 has ~7 digits: the error is relative


def test_a_float32_difference_within_roundoff_passes_only_after_measuring_it():
    reference = np.array([[1000.0, 2000.0]])
    figures = compare_outputs(reference, reference + 4e-4)
    failures, tolerance = judge_parity(figures, "fp32", roundoff=lambda: 2e-4)
    assert failures == [] and tolerance.max_abs == pytest.approx(2e-3)
    assert tolerance.reference_roundoff == 2e-4


def test_a_real_error_still_fails_against_the_widened_bar():
    reference = np.array([[1000.0, 2000.0]])
    figures = compare_outputs(reference, reference + 1e-2)
    failures, tolerance = judge_parity(figures, "fp32", roundoff=lambda: 2e-4)
    assert [criterion for criterion, _ in failures] == ["max_abs"]
    assert tolerance.max_abs == pytest.approx(2e-3)


def test_roundoff_is_not_measured_when_the_fixed_bar_holds():
    measured = []
    figures = compare_outputs(np.ones((1, 3)), np.ones((1, 3)) + 1e-6)
    failures, tolerance = judge_parity(figures, "fp32", roundoff=lambda: measured.append(1))
    assert failures == [] and measured == [] and tolerance.max_abs == 1e-5


def test_fold_check_compares_logits_not_probabilities():
    """A change a softmax hides (the same shift on every logit) shows in the fold report's check."""
    inputs = keras.Input((8, 8, 3))
    logits = keras.layers.Dense(4)(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Softmax()(logits))
    shifted = keras.models.clone_model(model)
    kernel, bias = model.layers[2].get_weights()
    shifted.layers[2].set_weights([kernel, bias + 0.5])
    np.testing.assert_allclose(model.predict(IMAGES, verbose=0), shifted.predict(IMAGES, verbose=0),
                               atol=1e-6)
    assert output_difference(model, shifted, images=IMAGES)[0] == pytest.approx(0.5, abs=1e-5)
