"""`deploytool verify`: artifacts against their Keras reference on TFLite, OpenCV and ONNX Runtime."""

import json
import shutil

import onnx
import pytest
from onnx import numpy_helper

from deploytool.converters.options import ConvertOptions
from deploytool.core.fileio import sha256_file, write_json
from deploytool.core.manifest import manifest_path, read_manifest
from deploytool.models.weights import randomize_batchnorm
from deploytool.sources.model_source import load_source
from deploytool.workflows.conversion.convert import convert

from support import run_cli


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """fp32 TFLite, fp32 ONNX (NHWC and NCHW) and int8 TFLite of one small ResNet with
    randomised BatchNorm statistics (as after training, so that every BN matters)."""
    out = tmp_path_factory.mktemp("artifacts")
    source = load_source("resnet18", input_shape=(32, 32, 3), num_classes=10, width=0.25)
    randomize_batchnorm(source.model, seed=5)
    made = {}
    for key, options in {"tflite": ConvertOptions(to="tflite"),
                         "onnx": ConvertOptions(to="onnx"),
                         "tflite_int8": ConvertOptions(precision="int8", calib_samples=50)}.items():
        options.out_dir = out
        made[key] = convert(source, options).artifact
    nchw_out = out / "nchw"
    made["onnx_nchw"] = convert(source, ConvertOptions.create("onnx", nchw_input=True, out_dir=nchw_out)).artifact
    return made


def verify_cli(*args):
    return run_cli("verify", *args)


def copy_artifact(artifact, folder):
    folder.mkdir(exist_ok=True)
    target = folder / artifact.name
    shutil.copy(artifact, target)
    shutil.copy(manifest_path(artifact), manifest_path(target))
    return target


def test_a_lenet_passes_on_every_runtime_that_reads_each_of_its_artifacts(lenet_artifacts):
    kinds = ("tflite_fp32", "onnx_fp32", "tflite_int8")
    result = verify_cli(*(lenet_artifacts[kind] for kind in kinds), "--json", "--samples", "8")
    assert result.exit_code == 0, result.output
    rows = {(row["artifact"], row["backend"]): row["status"] for row in json.loads(result.stdout)["rows"]}
    assert rows == {("lenet_bn_fp32.tflite", "tflite"): "pass", ("lenet_bn_fp32.tflite", "opencv"): "pass",
                    ("lenet_bn_fp32.onnx", "onnxruntime"): "pass", ("lenet_bn_fp32.onnx", "opencv"): "pass",
                    ("lenet_bn_int8.tflite", "tflite"): "pass", ("lenet_bn_int8.tflite", "opencv"): "n/a",
                    ("lenet_bn_fp32.tflite", "mediapipe"): "n/a",  # a grey model: RGB only
                    ("lenet_bn_int8.tflite", "mediapipe"): "n/a",
                    ("lenet_bn_fp32.tflite", "litert_arm64"): "pass",  # the app's LiteRT, ARM64
                    ("lenet_bn_int8.tflite", "litert_arm64"): "pass"}


@pytest.mark.heavy
def test_every_fp32_artifact_passes_on_every_runtime(artifacts):
    result = verify_cli(artifacts["tflite"], artifacts["onnx"], "--json", "--samples", "16")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    cells = {(row["artifact"], row["backend"]): row for row in report["rows"]}
    assert set(cells) == {("resnet18_fp32.tflite", "tflite"), ("resnet18_fp32.tflite", "opencv"),
                          ("resnet18_fp32.tflite", "mediapipe"), ("resnet18_fp32.tflite", "litert_arm64"),
                          ("resnet18_fp32.onnx", "onnxruntime"), ("resnet18_fp32.onnx", "opencv")}
    for row in cells.values():
        assert row["status"] == "pass" and row["figures"]["max_abs"] < 1e-5
    assert cells[("resnet18_fp32.tflite", "opencv")]["input_layout"] == "NCHW"
    assert cells[("resnet18_fp32.onnx", "opencv")]["input_layout"] == "NHWC"
    assert report["tolerances"]["resnet18_fp32.onnx"]["max_abs"] == 1e-5


@pytest.mark.heavy
def test_opencv_feeds_an_nchw_onnx_its_own_layout(artifacts):
    result = verify_cli(artifacts["onnx_nchw"], "--backend", "opencv", "--json", "--samples", "8")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["rows"]
    assert row["input_layout"] == "NCHW" and row["figures"]["max_abs"] < 1e-5


def test_without_arguments_it_verifies_what_convert_wrote_last(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = load_source("lenet_bn", input_shape=(28, 28, 1), num_classes=10)
    convert(source, ConvertOptions(to="onnx"))
    result = verify_cli("--backend", "opencv", "--samples", "8")
    assert result.exit_code == 0, result.output
    assert "lenet_bn_fp32.onnx" in result.stdout and "PASS" in result.stdout


@pytest.mark.heavy
def test_a_perturbed_weight_fails_with_exit_1_naming_backend_and_figure(artifacts, tmp_path):
    target = copy_artifact(artifacts["onnx"], tmp_path)
    model = onnx.load(target)
    weight = next(t for t in model.graph.initializer if len(t.dims) == 4)
    values = numpy_helper.to_array(weight).copy()
    values.flat[0] += 5.0
    weight.CopyFrom(numpy_helper.from_array(values, weight.name))
    onnx.save(model, target)
    manifest = read_manifest(target)  # as if a faulty converter had written it: sha256 matches
    manifest["artifact"]["sha256"] = sha256_file(target)
    write_json(manifest_path(target), manifest)
    result = verify_cli(target, "--backend", "onnxruntime", "--json", "--samples", "16")
    assert result.exit_code == 1
    (row,) = json.loads(result.stdout)["rows"]
    assert row["backend"] == "onnxruntime" and row["status"] == "fail"
    assert row["failures"][0].startswith("max abs") and "> 1e-05" in row["failures"][0]


def test_a_tampered_artifact_fails_its_sha256_check(lenet_artifacts, tmp_path):
    target = copy_artifact(lenet_artifacts["tflite_fp32"], tmp_path)
    data = bytearray(target.read_bytes())
    data[-100] ^= 0x01
    target.write_bytes(bytes(data))
    result = verify_cli(target, "--backend", "tflite", "--json", "--samples", "4")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["rows"][0]["failed"] == ["integrity"]


def test_an_artifact_whose_outputs_are_not_the_references_fails_naming_them(lenet_artifacts, tmp_path):
    """An .onnx whose two heads the one-output reference does not have: outputs pair by name,
    never by position, so nothing is compared and both names are given."""
    from deploytool.converters.targets.onnx.export import export_onnx

    from deploytool.core.keras_env import keras

    inputs = keras.Input((28, 28, 1))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    two_heads = keras.Model(inputs, [keras.layers.Dense(10, name="digit")(x),
                                     keras.layers.Dense(3, name="style")(x)])
    target = copy_artifact(lenet_artifacts["onnx_fp32"], tmp_path)
    target.write_bytes(export_onnx(two_heads, 17).SerializeToString())
    manifest = read_manifest(target)
    manifest["artifact"]["sha256"] = sha256_file(target)
    write_json(manifest_path(target), manifest)
    result = verify_cli(target, "--backend", "onnxruntime", "--json", "--samples", "4")
    assert result.exit_code == 1
    (row,) = json.loads(result.stdout)["rows"]
    assert row["status"] == "fail" and row["figures"] is None
    assert row["failures"] == ["the artifact has no output named predictions (it has digit, style)",
                               "the artifact has outputs the reference has not: digit, style"]


@pytest.mark.heavy
def test_int8_tflite_passes_on_litert_and_is_na_on_opencv_unless_asked_for(artifacts):
    result = verify_cli(artifacts["tflite_int8"], "--json", "--samples", "16")
    assert result.exit_code == 0, result.output
    rows = {row["backend"]: row for row in json.loads(result.stdout)["rows"]}
    assert rows["tflite"]["status"] == "pass" and rows["tflite"]["figures"]["min_cosine"] > 0.99
    assert rows["opencv"]["status"] == "n/a"
    assert "Lookup table for RELU" in rows["opencv"]["failures"][0]
    named = verify_cli(artifacts["tflite_int8"], "--backend", "opencv", "--samples", "4")
    assert named.exit_code == 1


@pytest.mark.heavy
def test_tolerance_overrides_are_applied(artifacts):
    result = verify_cli(artifacts["tflite"], "--backend", "tflite", "--atol", "0", "--json",
                     "--samples", "4")
    report = json.loads(result.stdout)
    assert report["tolerances"]["resnet18_fp32.tflite"]["max_abs"] == 0
    assert result.exit_code == (0 if report["rows"][0]["figures"]["max_abs"] == 0 else 1)


@pytest.mark.parametrize("make_args, message", [
    (lambda tmp, a: [], "no conversion recorded"),
    (lambda tmp, a: [tmp / "missing.onnx"], "no such file"),
    (lambda tmp, a: [shutil.copy(a["onnx_fp32"], tmp / "bare.onnx")], "no manifest"),
    (lambda tmp, a: [a["onnx_fp32"], "--samples", "0"], "--samples must be at least 1"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, monkeypatch, lenet_artifacts, make_args, message):
    monkeypatch.chdir(tmp_path)
    result = verify_cli(*make_args(tmp_path, lenet_artifacts))
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_when_no_opencv_engine_agrees_the_row_shows_the_closest_one(tmp_path):
    """OpenCV's NEW engine gives zeros for this int8 embedding (its CLASSIC engine computes what
    ONNX Runtime does): the failing row reports CLASSIC's figures, not the zeros."""
    from deploytool.reports.output_cases import _embedding
    from deploytool.workflows.conversion.convert import convert
    from deploytool.workflows.verification.verify import verify

    source = load_source(str(_embedding(tmp_path)))
    int8 = convert(source, ConvertOptions(to="onnx", precision="int8", out_dir=tmp_path,
                                          calib_samples=16)).artifact
    rows = {row.backend: row for row in verify([int8], "all", samples=16).rows}
    assert rows["opencv"].status == "fail" and rows["opencv"].engine == "classic"  # none agrees
    assert rows["opencv"].figures["min_cosine"] == pytest.approx(
        rows["onnxruntime"].figures["min_cosine"], abs=1e-3)


def test_a_model_whose_output_ignores_its_input_is_converted_and_verified_without_a_pass(tmp_path):
    from deploytool.core.keras_env import keras

    inputs = keras.Input((16, 16, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    scores = keras.layers.Dense(10, activation="softmax", kernel_initializer="zeros")(pooled)
    keras.Model(inputs, scores).save(tmp_path / "constant.keras")  # 0.1 for every class, always
    converted = run_cli("convert", tmp_path / "constant.keras", "--to", "tflite", "--out", tmp_path)
    assert converted.exit_code == 1
    assert "same output" in converted.output
    artifact = next(tmp_path.glob("*.tflite"))
    verified = run_cli("verify", artifact, "--backend", "tflite", "--json")
    assert verified.exit_code == 1
    row = json.loads(verified.stdout)["rows"][0]
    assert row["failures"][0].startswith("the reference gives the same output for all")
