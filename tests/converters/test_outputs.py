"""A model's outputs: their names in the model's order and the kind each is judged as."""

import numpy as np
import pytest

from deploytool.converters.outputs import kind_from_values, output_kinds, parse_output_kinds
from deploytool.core.errors import UserError
from deploytool.core.keras_env import keras, keras3


@pytest.mark.parametrize("k", [keras, keras3()], ids=["tf_keras", "keras3"])
def test_each_kind_is_guessed_from_the_layer_that_computes_it(k):
    inputs = k.Input((8, 8, 3))
    x = k.layers.Conv2D(4, 3, padding="same")(inputs)
    pooled = k.layers.GlobalAveragePooling2D()(x)
    model = k.Model(inputs, [
        k.layers.Dense(3, activation="softmax", name="label")(pooled),
        k.layers.Dense(1, activation="sigmoid", name="is_face")(pooled),
        k.layers.Dense(4, name="box")(pooled),
        k.layers.UnitNormalization(name="embedding")(k.layers.Dense(5)(pooled)),
        k.layers.Conv2D(2, 1, name="mask")(x),
        k.layers.Conv2D(1, 1, name="depth")(x)])
    assert output_kinds(model) == {"label": "scores", "is_face": "scores", "box": "regression",
                                   "embedding": "embedding", "mask": "dense", "depth": "regression"}
    assert output_kinds(model, {"box": "embedding"})["box"] == "embedding"


def test_a_classifier_with_one_output_is_class_scores_even_as_logits():
    inputs = keras.Input((4,))
    assert output_kinds(keras.Model(inputs, keras.layers.Dense(3, name="logits")(inputs))) == {
        "logits": "scores"}


def test_outputs_no_layer_describes_are_judged_by_what_they_compute():
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(4), 6)
    unit = rng.normal(size=(6, 8))
    assert kind_from_values(probabilities) == "scores"
    assert kind_from_values(unit / np.linalg.norm(unit, axis=1, keepdims=True)) == "embedding"
    assert kind_from_values(unit) == "regression"
    assert kind_from_values(rng.random((2, 5, 5, 3))) == "dense"


def test_a_wrong_output_kind_pair_is_one_line():
    assert parse_output_kinds(["box=regression"]) == {"box": "regression"}
    with pytest.raises(UserError, match="expected NAME=KIND"):
        parse_output_kinds(["box"])


@pytest.mark.parametrize("k", [keras, keras3()], ids=["tf_keras", "keras3"])
def test_one_linear_unit_is_a_regression_unless_two_labels_name_its_decision(k):
    from deploytool.converters.outputs import one_value_notes

    inputs = k.Input((4,))
    model = k.Model(inputs, k.layers.Dense(1, name="age")(inputs))
    assert output_kinds(model) == {"age": "regression"}
    assert output_kinds(model, labels=["no", "yes"]) == {"age": "scores"}
    assert output_kinds(model, {"age": "scores"}) == {"age": "scores"}
    assert len(one_value_notes(model, output_kinds(model))) == 1
    assert one_value_notes(model, {"age": "scores"}) == []
    assert one_value_notes(model, {"age": "regression"}, {"age": "regression"}) == []


def test_one_sigmoid_unit_stays_a_yes_no_score():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="p")(inputs))
    assert output_kinds(model) == {"p": "scores"}
