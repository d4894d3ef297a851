"""A model that calls another model: every output keeps its own unique name from the model's
declared structure, travels into every artifact kind, and is checked against the inner models
themselves; an artifact whose outputs are not the model's is never claimed."""

import json

import numpy as np
import pytest
from deploytool.converters.options import ConvertOptions
from support import heavy_except, run_cli

from deploytool.core.compare import figures_only
from deploytool.core.errors import ArtifactMismatch
from deploytool.core.model_outputs import named_outputs, output_names, unique_names
from deploytool.reports.nesting import SHAPES, build, keras_module, pixels
from deploytool.runtimes.base import runner_for
from deploytool.sources.keras_files import load_keras_file
from deploytool.sources.model_source import load_source
from deploytool.workflows.conversion.convert import convert

pytestmark = pytest.mark.usefixtures("in_tmp_dir")
FRAMEWORKS = ("keras3", "tf_keras")
RAW = {"preset": "raw"}  # the Rescaling layer inside takes pixels


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("shape", SHAPES)
def test_output_names_come_from_the_declared_structure(shape, framework, tmp_path):
    path, names, expected = build(shape, framework, tmp_path)
    model = load_keras_file(path)
    assert output_names(model) == names
    images = pixels(3)
    called = named_outputs(model, model(images, training=False))
    assert list(called) == names
    for name, values in expected(images).items():
        np.testing.assert_allclose(np.asarray(called[name]), values, atol=1e-6, err_msg=name)


def test_a_repeated_name_takes_the_first_free_suffix():
    assert unique_names(["enc", "enc", "enc_1", "box"]) == ["enc", "enc_2", "enc_1", "box"]


@pytest.mark.parametrize("to", ["tflite", "onnx", "pb"])
@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("shape", heavy_except(list(SHAPES), keep=["depth 1", "dict outputs"]))
def test_every_head_of_a_nested_model_reaches_the_artifact(shape, framework, to, tmp_path):
    path, names, expected = build(shape, framework, tmp_path)
    result = convert(load_source(str(path), preprocess=RAW),
                     ConvertOptions(to=to, out_dir=str(tmp_path / "out")))
    assert [o["name"] for o in result.manifest.record["artifact"]["outputs"]] == names
    assert [o["name"] for o in result.manifest.record["parity"]["outputs"]] == names
    assert result.manifest.record["parity"]["passed"], result.manifest.record["parity"]["failures"]
    # nested Keras 3 models go through Keras 3 itself; a flat Keras 3 one is rebuilt as tf_keras
    rebuilt = framework == "tf_keras" or shape == "dict outputs, not nested"
    assert result.manifest.record["conversion_path"]["framework"] == ("tf_keras" if rebuilt else "keras3")
    images = pixels(4, seed=2)
    produced = runner_for(result.artifact).load().infer_all(images)
    assert sorted(produced) == sorted(names)
    for name, values in expected(images).items():  # Keras itself, the inner models called
        np.testing.assert_allclose(produced[name], values.reshape(produced[name].shape),
                                   atol=1e-5, err_msg=name)


@pytest.mark.heavy
@pytest.mark.parametrize("to", ["tflite", "onnx"])
def test_int8_keeps_every_head_of_a_nested_model(to, tmp_path):
    path, names, _ = build("depth 1", "keras3", tmp_path)
    result = convert(load_source(str(path), preprocess=RAW),
                     ConvertOptions(to=to, precision="int8", calib_samples=32,
                                    out_dir=str(tmp_path / "out")))
    parity = result.manifest.record["parity"]
    assert [o["name"] for o in parity["outputs"]] == names
    # every head compared; random weights leave int8's own error as the only possible failure
    assert all(o["figures"]["samples"] >= 16 for o in parity["outputs"])
    failed = [what for output in parity["outputs"] for what in output["failed"]]
    assert parity["passed"] or figures_only(failed), parity["failures"]


def test_verify_gives_one_row_per_output_of_the_reference(tmp_path):
    path, names, _ = build("shared sub-model used twice", "keras3", tmp_path)
    result = convert(load_source(str(path), preprocess=RAW),
                     ConvertOptions(to="onnx", out_dir=str(tmp_path / "out")))
    cli = run_cli("verify", result.artifact, "--json", "--samples", "8")
    assert cli.exit_code == 0, cli.output
    rows = json.loads(cli.stdout)["rows"]
    assert [(row["backend"], row["output"]) for row in rows] == [
        (backend, name) for backend in ("onnxruntime", "opencv") for name in names]
    assert all(row["status"] == "pass" for row in rows)


def test_an_exporter_that_loses_heads_is_refused_with_exit_1(tmp_path, monkeypatch):
    """The fault this guards against, made on purpose: outputs traced under one repeated name
    collapse into one (what Keras 3's own output_names gives a nested model)."""
    import deploytool.core.model_outputs as model_outputs

    path, _, _ = build("depth 1", "keras3", tmp_path)
    source = load_source(str(path), preprocess=RAW)
    collapsing = lambda model, result: dict(zip(  # noqa: E731
        [tensor._keras_history.operation.name for tensor in model.outputs],
        model_outputs.flat_outputs(model, result)))
    monkeypatch.setattr(model_outputs, "named_outputs", collapsing)
    out = tmp_path / "out"
    with pytest.raises(ArtifactMismatch) as raised:
        convert(source, ConvertOptions(to="tflite", out_dir=str(out)))
    assert raised.value.exit_code == 1
    assert not list(out.glob("*.tflite")) and not list(out.glob("*.json"))


def test_verify_fails_an_artifact_with_fewer_outputs_than_its_reference(tmp_path):
    """A one-head .tflite whose manifest names the three-head model as its reference."""
    from deploytool.core.fileio import sha256_file

    path, names, _ = build("depth 1", "keras3", tmp_path)
    k = keras_module("keras3")
    k.utils.set_random_seed(0)
    inputs = k.Input((16, 16, 3))
    pooled = k.layers.GlobalAveragePooling2D()(k.layers.Conv2D(6, 3)(inputs))
    single = tmp_path / "single.keras"
    k.Model(inputs, k.layers.Dense(4, name="box")(pooled)).save(single)
    result = convert(load_source(str(single), preprocess=RAW),
                     ConvertOptions(to="tflite", out_dir=str(tmp_path / "out")))
    manifest_file = result.artifact.with_name(result.artifact.name + ".json")
    manifest = json.loads(manifest_file.read_text())
    manifest["source"].update(reference=str(path), reference_sha256=sha256_file(path))
    manifest["artifact"]["outputs"] = [{**manifest["artifact"]["outputs"][0], "name": name}
                                       for name in names]
    manifest_file.write_text(json.dumps(manifest))
    cli = run_cli("verify", result.artifact, "--json", "--backend", "tflite", "--samples", "8")
    assert cli.exit_code == 1, cli.output
    rows = json.loads(cli.stdout)["rows"]
    assert [row["output"] for row in rows] == names
    assert [row["status"] for row in rows].count("fail") >= 2
