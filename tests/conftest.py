"""Fixtures the whole test run shares: a fresh Keras graph per test, one LeNet-BN trained on the
digits, one set of small LeNet artifacts and one quantization-hostile model, each built once per
run (once per worker with pytest-xdist); and the plain "N passed, N failed" lines of the non-Python
tests (the Android core) and the fuzz counts, which a test records as its "summary" property and
the end of the run prints whatever pytest captured (with xdist too: the property travels in the
test's report)."""

import pytest

from deploytool.core.keras_env import keras

SUMMARY_LINES: dict[str, None] = {}  # in the order the tests reported them, each line once


@pytest.fixture(autouse=True)
def fresh_keras_session():
    """Free the models a test built so a long run does not grow without bound."""
    yield
    keras.backend.clear_session()


@pytest.fixture
def in_tmp_dir(tmp_path, monkeypatch):
    """The test runs in its own empty working directory (convert's default output folder and
    its last-convert pointer land there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def trained_lenet(tmp_path_factory):
    """LeNet-BN trained ten epochs on scikit-learn's digits by `deploytool train`: a run folder
    whose decisions mean something (97 % and more on the held-out digits)."""
    from deploytool.workflows.training.train import train
    from deploytool.workflows.training.train_options import TrainOptions

    folder = tmp_path_factory.mktemp("trained") / "lenet_bn"
    metrics = train("lenet_bn", "digits", folder, TrainOptions(epochs=10))
    return folder, metrics


@pytest.fixture(scope="session")
def lenet_artifacts(tmp_path_factory):
    """An untrained 10-class LeNet-BN (28x28x1) as fp32 and int8 .tflite and .onnx, with its
    Keras reference: the artifacts inspect, bench, bundle and the fuzz test read (and copy
    before they change anything)."""
    from deploytool.converters.options import ConvertOptions
    from deploytool.sources.model_source import load_source
    from deploytool.workflows.conversion.convert import convert

    out = tmp_path_factory.mktemp("lenet_artifacts")
    source = load_source("lenet_bn", input_shape=(28, 28, 1), num_classes=10)
    made = {f"{to}_{precision}": convert(source, ConvertOptions(
                to=to, precision=precision, calib_samples=20, out_dir=out), remember=False).artifact
            for to, precision in (("tflite", "fp32"), ("tflite", "int8"), ("onnx", "fp32"),
                                  ("onnx", "int8"))}
    return {**made, "keras": out / "lenet_bn.keras", "folder": out}


@pytest.fixture(scope="session")
def hostile_model_file(tmp_path_factory):
    """A small model with one quantization-hostile layer: one output channel of 'hostile' is 300x
    the others (undone by the next layer, so the float model is fine), which a per-tensor int8
    activation scale cannot serve."""
    layers = keras.layers
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.Conv2D(8, 3, padding="same", name="hostile")(x)
    x = layers.ReLU(name="relu_h")(x)
    x = layers.Conv2D(8, 1, name="undo")(x)
    x = layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, layers.Dense(5, name="logits")(x))
    kernel, bias = model.get_layer("hostile").get_weights()
    kernel[..., 0] *= 300
    model.get_layer("hostile").set_weights([kernel, bias])
    kernel, bias = model.get_layer("undo").get_weights()
    kernel[:, :, 0, :] /= 300
    model.get_layer("undo").set_weights([kernel, bias])
    path = tmp_path_factory.mktemp("hostile") / "hostile.keras"
    model.save(path)
    return path


@pytest.fixture(scope="session")
def three_head_model_file(tmp_path_factory):
    """A model file a user brings, saved by stock Keras 3 with a face detector's three heads: box
    regression (4), landmarks (10) and face probability (2)."""
    from deploytool.core.keras_env import keras3

    k3 = keras3()
    k3.utils.set_random_seed(0)
    inputs = k3.Input((24, 24, 3))
    x = k3.layers.GlobalAveragePooling2D()(k3.layers.Conv2D(8, 3, activation="relu")(inputs))
    model = k3.Model(inputs, [k3.layers.Dense(4, name="box")(x), k3.layers.Dense(10, name="landmarks")(x),
                              k3.layers.Dense(2, activation="softmax", name="face")(x)])
    path = tmp_path_factory.mktemp("three_heads") / "three_heads.keras"
    model.save(path)
    return path


def pytest_runtest_logreport(report):
    for name, value in report.user_properties:
        if name == "summary":
            SUMMARY_LINES[value] = None


def pytest_terminal_summary(terminalreporter):
    for line in SUMMARY_LINES:
        terminalreporter.write_line(line)
