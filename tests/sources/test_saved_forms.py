"""Saved forms without a functional Keras model in them: a SavedModel holding only a serving
signature (Keras 3 ``model.export``, ``tf.saved_model.save``) and a subclassed model, each converted
from its signature and checked, head by head, against that signature itself."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from deploytool.converters.options import ConvertOptions
from deploytool.reports.output_cases import subclassed_code
from deploytool.core.errors import UserError
from deploytool.runtimes.base import runner_for
from deploytool.sources.model_source import load_source
from deploytool.workflows.conversion.convert import convert

from support import heavy_except, run_cli

pytestmark = pytest.mark.usefixtures("in_tmp_dir")
IMAGES = np.random.default_rng(0).random((3, 16, 16, 3), dtype=np.float32)


def signature_outputs(folder, images) -> dict:
    """What the folder's serving signature itself computes, by output name."""
    import tensorflow as tf

    function = tf.saved_model.load(str(folder)).signatures["serving_default"]
    (name,) = function.structured_input_signature[1]
    return {key: value.numpy() for key, value in function(**{name: tf.constant(images)}).items()}


@pytest.fixture(scope="module")
def export_folder(tmp_path_factory):
    """A two-head Keras 3 model as `model.export` writes it: a signature, no Keras model."""
    from deploytool.core.keras_env import keras3

    k = keras3()
    k.utils.set_random_seed(0)
    inputs = k.Input((16, 16, 3))
    x = k.layers.GlobalAveragePooling2D()(k.layers.Conv2D(8, 3, activation="relu")(inputs))
    model = k.Model(inputs, [k.layers.Dense(4, name="box")(x),
                             k.layers.Dense(2, activation="softmax", name="face")(x)])
    folder = tmp_path_factory.mktemp("export") / "detector"
    model.export(str(folder), verbose=False)
    return folder


@pytest.mark.parametrize("to", heavy_except(["tflite", "onnx", "pb"], keep=["tflite"]))
def test_an_export_folder_converts_from_its_signature_and_matches_it(export_folder, to):
    source = load_source(str(export_folder))
    assert source.kind == "signature" and source.framework == "keras3"
    result = convert(source, ConvertOptions(to=to))
    outputs = result.manifest.record["artifact"]["outputs"]  # no layer says what they are: their values do
    assert [(o["name"], o["kind"]) for o in outputs] == [("output_0", "regression"),
                                                         ("output_1", "scores")]
    assert result.manifest.record["source"]["reference"] == str(export_folder.resolve())
    produced = runner_for(result.artifact).load().infer_all(IMAGES)
    for name, values in signature_outputs(export_folder, IMAGES).items():
        np.testing.assert_allclose(produced[name], values, atol=1e-5, err_msg=name)


def test_verify_compares_every_head_with_the_signature(export_folder):
    result = convert(load_source(str(export_folder)), ConvertOptions(to="onnx",
                                                                     drop_outputs=["output_0"]))
    cli = run_cli("verify", result.artifact, "--backend", "onnxruntime", "--json", "--samples", "6")
    assert cli.exit_code == 0, cli.output
    (row,) = json.loads(cli.stdout)["rows"]  # the dropped head is left out of the comparison
    assert row["output"] == "output_1" and row["status"] == "pass"


def test_a_saved_tf_module_converts_from_its_signature(tmp_path):
    import tensorflow as tf

    class Scorer(tf.Module):
        def __init__(self):
            self.weights = tf.Variable(tf.random.stateless_normal((3, 5), seed=(1, 2)))

        @tf.function(input_signature=[tf.TensorSpec((None, 16, 16, 3), tf.float32)])
        def __call__(self, x):
            return {"scores": tf.nn.softmax(tf.reduce_mean(x, [1, 2]) @ self.weights)}

    module = Scorer()
    tf.saved_model.save(module, str(tmp_path / "scorer"), signatures=module.__call__)
    result = convert(load_source(str(tmp_path / "scorer")), ConvertOptions(to="pb"))
    (produced,) = runner_for(result.artifact).load().infer_all(IMAGES).values()
    np.testing.assert_allclose(produced, signature_outputs(tmp_path / "scorer", IMAGES)["scores"],
                               atol=1e-6)


def test_a_signature_with_two_inputs_is_refused_naming_them(tmp_path):
    import tensorflow as tf

    class Pair(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec((None, 8, 8, 3), tf.float32, name="left"),
                                      tf.TensorSpec((None, 8, 8, 3), tf.float32, name="right")])
        def __call__(self, left, right):
            return {"difference": left - right}

    module = Pair()
    tf.saved_model.save(module, str(tmp_path / "pair"), signatures=module.__call__)
    with pytest.raises(UserError, match=r"2 inputs \(left, right\)"):
        load_source(str(tmp_path / "pair"))


def subclassed_file(folder, name):
    """A subclassed model saved with `model.save` by another process (this one never learns its
    class), and the Python file that defines it."""
    (folder / f"{name.lower()}.py").write_text(subclassed_code(name, package="tests"))
    script = textwrap.dedent(f"""
        import sys, numpy as np
        sys.path.insert(0, {str(folder)!r})
        from {name.lower()} import {name}
        model = {name}()
        model(np.zeros((1, 16, 16, 3), "float32"))
        model.save({str(folder / 'model.keras')!r})
    """)
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    return folder / "model.keras", folder / f"{name.lower()}.py"


def test_a_subclassed_model_without_its_class_is_one_line_saying_how(tmp_path):
    model, code = subclassed_file(tmp_path, "UnknownNet")
    result = run_cli("convert", model)
    assert result.exit_code == 2
    assert [line for line in result.stderr.splitlines() if line.startswith("deploytool:")] == [
        f"deploytool: error: {model}: the model uses 'UnknownNet', which is not part of "
        "Keras; give the Python file that defines it with --custom-objects FILE.py --unsafe (that "
        "runs its code), or save the model as a functional one"]
    refused = run_cli("convert", model, "--custom-objects", code)
    assert refused.exit_code == 2 and "runs that file's code: add --unsafe" in refused.stderr


def test_a_subclassed_model_converts_with_its_class_file_and_verifies(tmp_path):
    model, code = subclassed_file(tmp_path, "SubclassedNet")
    result = run_cli("convert", model, "--custom-objects", code, "--unsafe", "--to", "onnx",
                     "--json")
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    reference = manifest["source"]["reference"]
    assert reference.endswith("model_signature") and manifest["source"]["kind"] == "subclassed"
    artifact = tmp_path.cwd() / "artifacts" / "model_fp32.onnx"
    produced = runner_for(artifact).load().infer_all(IMAGES)
    for name, values in signature_outputs(reference, IMAGES).items():
        np.testing.assert_allclose(produced[name], values, atol=1e-5, err_msg=name)
    verified = run_cli("verify", artifact, "--backend", "onnxruntime", "--samples", "4", "--json")
    assert verified.exit_code == 0 and len(json.loads(verified.stdout)["rows"]) == 2
