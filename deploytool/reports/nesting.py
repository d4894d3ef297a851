"""Tiny models that call other models, in every shape users build them (behind a Rescaling
layer, at depth 1 and 2, returning a dict, a sub-model called twice, a Sequential inside), and a
flat dict-output model, for tf_keras and Keras 3 alike. Each builder returns the model, the names
its outputs must have, and a function that computes every head by calling the inner models
themselves (not through the outer model), so a head is checked against Keras without trusting
deploytool's naming. Used by the tests, the own-models page and benchmarks/nested_outputs.py."""

from __future__ import annotations

import numpy as np

SIZE = 16


def _face_net(k, size, name="face_net"):
    """A three-head model: box (4), landmarks (10), face scores (2, softmax)."""
    inputs = k.Input((size, size, 3))
    pooled = k.layers.GlobalAveragePooling2D()(k.layers.Conv2D(6, 3, activation="relu")(inputs))
    return k.Model(inputs, [k.layers.Dense(4, name="box")(pooled),
                            k.layers.Dense(10, name="landmarks")(pooled),
                            k.layers.Dense(2, activation="softmax", name="scores")(pooled)],
                   name=name)


def _rescaled(k, size):
    inputs = k.Input((size, size, 3))
    return inputs, k.layers.Rescaling(1 / 255.0)(inputs)


def _heads(values, names) -> dict:
    return {name: np.asarray(value) for name, value in zip(names, values)}


def depth_one(k, size=SIZE):
    """A three-head model called behind a Rescaling layer."""
    inner = _face_net(k, size)
    inputs, x = _rescaled(k, size)
    names = ["box", "landmarks", "scores"]
    return k.Model(inputs, inner(x)), names, lambda images: _heads(inner(images / 255.0), names)


def depth_two(k, size=SIZE):
    """The three-head model inside a model inside the model."""
    inner = _face_net(k, size)
    middle_inputs = k.Input((size, size, 3))
    middle = k.Model(middle_inputs, inner(middle_inputs), name="middle")
    inputs, x = _rescaled(k, size)
    names = ["box", "landmarks", "scores"]
    return k.Model(inputs, middle(x)), names, lambda images: _heads(inner(images / 255.0), names)


def dict_outputs(k, size=SIZE):
    """A model returning {"age": regression, "gender": softmax} called behind a Rescaling layer;
    the outer model returns the dict as it is."""
    inner_inputs = k.Input((size, size, 3))
    pooled = k.layers.GlobalAveragePooling2D()(k.layers.Conv2D(6, 3, activation="relu")(inner_inputs))
    inner = k.Model(inner_inputs, {"age": k.layers.Dense(1, name="age_unit")(pooled),
                                   "gender": k.layers.Dense(2, activation="softmax",
                                                            name="gender_scores")(pooled)},
                    name="age_gender")
    inputs, x = _rescaled(k, size)

    def expected(images):
        found = inner(images / 255.0)
        return {name: np.asarray(found[name]) for name in ("age", "gender")}
    return k.Model(inputs, inner(x)), ["age", "gender"], expected


def shared_twice(k, size=SIZE):
    """One two-head model called on two branches: four outputs, two of each head."""
    encoder_inputs = k.Input((size, size, 3))
    pooled = k.layers.GlobalAveragePooling2D()(
        k.layers.Conv2D(6, 3, activation="relu")(encoder_inputs))
    encoder = k.Model(encoder_inputs, [k.layers.Dense(4, name="box")(pooled),
                                       k.layers.Dense(2, activation="softmax", name="scores")(pooled)],
                      name="encoder")
    inputs, x = _rescaled(k, size)
    mixer = k.layers.Conv2D(3, 1, name="mixer")
    branch = mixer(x)
    names = ["box", "scores", "box_1", "scores_1"]

    def expected(images):
        plain = images / 255.0
        return _heads([*encoder(plain), *encoder(mixer(plain))], names)
    return k.Model(inputs, [*encoder(x), *encoder(branch)]), names, expected


def sequential_inside(k, size=SIZE):
    """A Sequential backbone inside a functional model with two heads of its own."""
    backbone = k.Sequential([k.Input((size, size, 3)), k.layers.Conv2D(6, 3, activation="relu"),
                             k.layers.GlobalAveragePooling2D()], name="backbone")
    box, scores = k.layers.Dense(4, name="box"), k.layers.Dense(2, activation="softmax", name="scores")
    inputs, x = _rescaled(k, size)
    features = backbone(x)
    names = ["box", "scores"]

    def expected(images):
        pooled = backbone(images / 255.0)
        return _heads([box(pooled), scores(pooled)], names)
    return k.Model(inputs, [box(features), scores(features)]), names, expected


def flat_dict(k, size=SIZE):
    """No nesting: a dict of outputs whose keys are not its layers' names, declared out of
    sorted order (a Keras 3 file of it is rebuilt as tf_keras)."""
    conv, pool = k.layers.Conv2D(6, 3, activation="relu"), k.layers.GlobalAveragePooling2D()
    gender = k.layers.Dense(2, activation="softmax", name="gender_scores")
    age = k.layers.Dense(1, name="age_unit")
    inputs, x = _rescaled(k, size)
    pooled = pool(conv(x))

    def expected(images):
        features = pool(conv(images / 255.0))
        return {"age": np.asarray(age(features)), "gender": np.asarray(gender(features))}
    return k.Model(inputs, {"gender": gender(pooled), "age": age(pooled)}), ["age", "gender"], expected


SHAPES = {"depth 1": depth_one, "depth 2": depth_two, "dict outputs": dict_outputs,
          "shared sub-model used twice": shared_twice, "Sequential inside": sequential_inside,
          "dict outputs, not nested": flat_dict}


def keras_module(framework: str):
    """tf_keras or Keras 3."""
    from deploytool.core.keras_env import keras, keras3

    return keras3() if framework == "keras3" else keras


def build(shape: str, framework: str, folder, size: int = SIZE):
    """The model of ``shape`` built by ``framework`` (seed 0) for ``size`` x ``size`` RGB images
    and saved as a .keras file in ``folder``: (path, output names, expected heads function)."""
    k = keras_module(framework)
    k.utils.set_random_seed(0)
    model, names, expected = SHAPES[shape](k, size)
    path = folder / f"{shape.replace(' ', '_')}_{framework}.keras"
    model.save(path)
    return path, names, expected


def pixels(count: int, seed: int = 1, size: int = SIZE) -> np.ndarray:
    """``count`` random images in pixel units (0..255), as a model with a Rescaling layer takes
    them."""
    return np.random.default_rng(seed).uniform(0, 255, (count, size, size, 3)).astype(np.float32)
