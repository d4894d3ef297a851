"""Helpers the tests share (fixtures are in conftest.py): the repository root, the command line
run in-process, and a small zoo model as a conversion source."""

from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
DIGITS = dict(input_shape=(28, 28, 1), num_classes=10)


def run_cli(*args):
    """``deploytool ARGS...`` in this process (arguments turned into strings); the click result."""
    from deploytool.cli import main

    return CliRunner().invoke(main, [str(arg) for arg in args])


def zoo_source(name, shape=(32, 32, 3), width=0.25, num_classes=10, seed=None):
    """Zoo model ``name`` as a conversion source, its BatchNorm statistics randomised with
    ``seed`` (as after training) when one is given."""
    from deploytool.models.weights import randomize_batchnorm
    from deploytool.sources.model_source import load_source

    source = load_source(name, input_shape=shape, num_classes=num_classes, width=width)
    if seed is not None:
        randomize_batchnorm(source.model, seed=seed)
    return source


def heavy_except(values, keep):
    """``values`` as pytest parameters, each but those in ``keep`` marked heavy: the fast tier
    runs a sample that still reaches every module, the default run all of them."""
    import pytest

    return [value if value in keep else pytest.param(value, marks=pytest.mark.heavy)
            for value in values]


def save_colour_classifier(path, size: int, filters: int, classes: int, seed: int = 0,
                           labels: list | None = None):
    """A tiny colour classifier (a convolution, global average pooling, a softmax head over
    ``classes``) for ``size`` x ``size`` RGB images, saved to ``path`` by tf_keras; with
    ``labels``, its class names beside it in labels.txt."""
    from deploytool.core.keras_env import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(filters, 3, activation="relu")(inputs))
    keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(x)).save(path)
    if labels is not None:
        (Path(path).parent / "labels.txt").write_text("\n".join(labels) + "\n")
    return path
