"""Model sources: zoo names, run folders and model files, loaded safely as tf_keras models."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from deploytool.core.errors import UserError
from deploytool.core.keras_env import keras
from deploytool.models import create_model
from deploytool.models.weights import randomize_batchnorm
from deploytool.sources.keras3 import keras3_config_to_tf_keras
from deploytool.sources.model_source import load_source

from support import heavy_except, run_cli

IMAGES = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)


@pytest.fixture(scope="module")
def small_model():
    return randomize_batchnorm(create_model("resnet18", input_shape=(28, 28, 1), num_classes=10,
                                            width=0.25))


@pytest.mark.parametrize("filename", heavy_except(["model.keras", "model.h5", "saved_model_dir"],
                                                  {"model.keras", "model.h5"}))
def test_tf_keras_files_load_with_identical_outputs(tmp_path, small_model, filename):
    path = tmp_path / filename
    small_model.save(path)
    source = load_source(str(path))
    assert source.kind == {"model.keras": "keras", "model.h5": "h5", "saved_model_dir": "savedmodel"}[filename]
    assert source.preprocessing.input_shape == (28, 28, 1)
    assert len(source.description["sha256"]) == 64
    np.testing.assert_allclose(source.model(IMAGES).numpy(), small_model(IMAGES).numpy(), atol=1e-6)


KERAS3_SCRIPT = textwrap.dedent("""
    import sys, numpy as np, keras
    assert keras.__version__.startswith("3.")
    x = keras.Input((28, 28, 1), name="img")
    y = keras.layers.Conv2D(8, 3, use_bias=False)(x)
    y = keras.layers.BatchNormalization()(y)
    y = keras.layers.ReLU()(y)
    z = keras.layers.Conv2D(8, 3, padding="same")(y)
    y = keras.layers.Add()([y, z])
    y = keras.layers.GlobalAveragePooling2D()(y)
    y = keras.layers.Dropout(0.2)(y)
    model = keras.Model(x, keras.layers.Dense(10, activation="softmax")(y))
    bn = model.layers[2]
    rng = np.random.default_rng(0)
    bn.set_weights([rng.uniform(0.5, 1.5, 8), rng.normal(0, 0.2, 8), rng.normal(0, 0.2, 8),
                    rng.uniform(0.5, 2, 8)])
    model.save(sys.argv[1] + "/k3.keras")
    images = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    np.save(sys.argv[1] + "/expected.npy", model.predict(images, verbose=0))
""")


@pytest.mark.heavy
def test_a_model_saved_by_stock_keras_3_is_accepted(tmp_path):
    subprocess.run([sys.executable, "-c", KERAS3_SCRIPT, str(tmp_path)], check=True,
                   capture_output=True, timeout=300)
    source = load_source(str(tmp_path / "k3.keras"))
    assert source.kind == "keras3"
    assert isinstance(source.model, keras.Model)
    np.testing.assert_allclose(source.model(IMAGES).numpy(), np.load(tmp_path / "expected.npy"),
                               atol=1e-6)


def test_keras3_inbound_nodes_become_tf_keras_lists():
    tensor = {"class_name": "__keras_tensor__", "config": {"keras_history": ["a", 0, 0]}}
    config = {"name": "m", "input_layers": ["a", 0, 0], "output_layers": ["b", 0, 0], "layers": [
        {"class_name": "InputLayer", "name": "a", "inbound_nodes": [],
         "config": {"batch_shape": [None, 4], "dtype": "float32", "name": "a"}},
        {"class_name": "Dense", "name": "b", "inbound_nodes": [{"args": [tensor], "kwargs": {}}],
         "config": {"name": "b", "units": 3, "lora_rank": None,
                    "dtype": {"class_name": "DTypePolicy", "config": {"name": "float32"}}}}]}
    translated = keras3_config_to_tf_keras(config)
    assert translated["layers"][1]["inbound_nodes"] == [[["a", 0, 0, {}]]]
    assert translated["layers"][1]["config"] == {"name": "b", "units": 3, "dtype": "float32"}
    assert translated["input_layers"] == [["a", 0, 0]]
    assert keras.Model.from_config(translated).output_shape == (None, 3)


def lambda_model_file(tmp_path):
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(x)))
    model.save(tmp_path / "lambda.keras")
    return tmp_path / "lambda.keras"


def test_a_lambda_layer_is_refused_without_unsafe(tmp_path):
    with pytest.raises(UserError, match="Lambda layer .* would run code .* --unsafe"):
        load_source(str(lambda_model_file(tmp_path)))


def test_unsafe_allows_a_trusted_lambda_model(tmp_path):
    source = load_source(str(lambda_model_file(tmp_path)), unsafe=True)
    assert source.model.output_shape == (None, 3)


def test_zoo_source_is_seeded_and_says_it_is_untrained():
    first = load_source("lenet_bn", input_shape=(28, 28, 1), num_classes=10)
    second = load_source("lenet_bn", input_shape=(28, 28, 1), num_classes=10)
    assert not first.trained and "untrained" in first.notes[0]
    np.testing.assert_array_equal(first.model(IMAGES).numpy(), second.model(IMAGES).numpy())


def test_zoo_source_loads_weights(tmp_path):
    model = randomize_batchnorm(create_model("lenet_bn", input_shape=(28, 28, 1), num_classes=10))
    model.save_weights(tmp_path / "w.weights.h5")
    source = load_source("lenet_bn", weights=str(tmp_path / "w.weights.h5"),
                         input_shape=(28, 28, 1), num_classes=10)
    assert source.trained and source.description["weights_sha256"]
    np.testing.assert_allclose(source.model(IMAGES).numpy(), model(IMAGES).numpy(), atol=1e-6)


def test_run_folder_brings_its_preprocessing_labels_and_data_set(tmp_path, small_model):
    small_model.save(tmp_path / "model.keras")
    (tmp_path / "labels.txt").write_text("\n".join(str(d) for d in range(10)) + "\n")
    (tmp_path / "preprocessing.json").write_text(json.dumps(
        {"height": 28, "width": 28, "channels": 1, "scale": 1 / 255, "offset": 0.0, "dataset": "digits"}))
    source = load_source(str(tmp_path))
    assert source.kind == "run" and source.dataset == "digits" and source.labels[3] == "3"


@pytest.mark.parametrize("spec, message", [
    ("resnet5", "did you mean resnet50"),
    ("missing/model.keras", "no such file"),
])
def test_bad_sources_are_user_errors(spec, message):
    with pytest.raises(UserError, match=message):
        load_source(spec)


def test_a_non_model_file_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "broken.keras").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(UserError, match="not a Keras model file"):
        load_source(str(tmp_path / "notes.txt"))
    with pytest.raises(UserError, match=r"\.keras"):
        load_source(str(tmp_path / "broken.keras"))


def test_a_builtin_name_that_is_also_a_folder_here_is_an_error_naming_both(tmp_path, monkeypatch):
    from deploytool.sources.datasets import check_dataset_name, load_dataset

    monkeypatch.chdir(tmp_path)
    (tmp_path / "photos").mkdir()
    with pytest.raises(UserError, match="'photos' is both a built-in data set and .*photos here: "
                                        "say images:photos .* or builtin:photos"):
        check_dataset_name("photos")
    assert check_dataset_name("builtin:photos") == "photos"
    assert check_dataset_name("images:photos") == "images:photos"
    assert load_dataset("builtin:photos", (8, 8)).name == "photos"


def test_the_command_line_refuses_the_ambiguous_name_before_any_work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "digits").mkdir()
    result = run_cli("verify", "--data", "digits")
    assert result.exit_code == 2 and "'digits' is both a built-in data set" in result.stderr


def test_one_picker_takes_the_named_images_then_the_models_own_then_the_default_for_its_channels():
    from deploytool.sources.datasets import DataChoice, pick_data

    assert pick_data("images:faces", "digits", channels=3) == DataChoice("images:faces", True)
    assert pick_data(None, "mnist", channels=1) == DataChoice("mnist", True)
    assert pick_data(None, None, channels=1) == DataChoice("digits", False)
    assert pick_data(None, None, channels=3) == DataChoice("photos", False)
    assert pick_data("calib.npy", channels=3).is_array
    assert pick_data("calib.npy", "fashion_mnist", channels=1, arrays=False).name == "fashion_mnist"
