"""`deploytool bundle`: a converted .tflite into the Android demo app's assets, refusing models
the app cannot run and never leaving a half-written bundle."""

import json
import shutil

import numpy as np
import pytest

from deploytool.converters.options import ConvertOptions
from deploytool.core.errors import UserError
from deploytool.core.manifest import manifest_path
from deploytool.core.preprocessing import Preprocessing
from deploytool.sources.model_source import load_source
from deploytool.workflows.bundle import app_bundle_folder, check_fits_app
from deploytool.workflows.conversion.convert import convert

from support import ROOT, run_cli


@pytest.fixture
def artifacts(lenet_artifacts):
    """An untrained 10-class LeNet as int8 .tflite and as .onnx (its manifest has no labels)."""
    return {"tflite": lenet_artifacts["tflite_int8"], "onnx": lenet_artifacts["onnx_fp32"]}


@pytest.fixture
def labels(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("".join(f"digit {i}\n" for i in range(10)))
    return path


@pytest.fixture
def app(tmp_path):
    """A copy of the repository's Android demo app (without any earlier bundle)."""
    target = tmp_path / "android_demo"
    shutil.copytree(ROOT / "android_demo", target, ignore=shutil.ignore_patterns("build", "bundle"))
    return target


def bundle_cli(*args):
    return run_cli("bundle", *args)


def test_the_repository_app_is_a_bundle_target():
    assert app_bundle_folder(ROOT / "android_demo") == ROOT / "android_demo/app/src/main/assets/bundle"


def test_bundle_fills_the_app_assets(app, artifacts, labels):
    result = bundle_cli(artifacts["tflite"], "--app", app, "--labels", labels, "--samples", "3")
    assert result.exit_code == 0, result.output
    folder = app / "app/src/main/assets/bundle"
    assert (folder / "model.tflite").read_bytes() == artifacts["tflite"].read_bytes()
    assert (folder / "labels.txt").read_text().splitlines()[3] == "digit 3"
    properties = dict(line.split("=", 1) for line in (folder / "bundle.properties").read_text().splitlines())
    assert properties["input.dtype"] == "int8" and properties["golden.count"] == "3"
    assert properties["input.shape"] == "1,28,28,1" and properties["postprocess"] == "softmax"
    manifest = json.loads((folder / "bundle.json").read_text())
    assert manifest["files"]["model.tflite"]["size_bytes"] == artifacts["tflite"].stat().st_size
    for i in range(3):
        assert (folder / f"golden/{i}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert len((folder / f"golden/{i}.input.bin").read_bytes()) == 28 * 28
        expected = np.fromfile(folder / f"golden/{i}.expected.bin", "<f4")
        assert expected.shape == (10,) and np.all(np.isfinite(expected))


def test_the_expected_outputs_are_the_apps_litert_on_arm64_and_name_its_version(app, artifacts,
                                                                                labels):
    from deploytool.core.environments import PHONE_LITERT_VERSION

    result = bundle_cli(artifacts["tflite"], "--app", app, "--labels", labels, "--samples", "2")
    assert result.exit_code == 0, result.output
    folder = app / "app/src/main/assets/bundle"
    properties = dict(line.split("=", 1) for line in (folder / "bundle.properties").read_text().splitlines())
    assert properties["litert.version"] == PHONE_LITERT_VERSION
    golden = json.loads((folder / "bundle.json").read_text())["golden"]
    assert golden["runtime"] == "litert_arm64" and PHONE_LITERT_VERSION in golden["engine"]
    (agreement,) = golden["agreement_with_x86"]
    assert agreement["values"] == 2 * 10 and agreement["max_steps"] <= 1


def test_the_app_takes_its_litert_version_from_the_bundle_alone():
    gradle = (ROOT / "android_demo/app/build.gradle").read_text()
    assert 'getProperty("litert.version")' in gradle
    assert "com.google.ai.edge.litert:litert:${litertVersion}" in gradle
    versions = [line for line in gradle.splitlines() if "litert:litert:" in line]
    assert len(versions) == 1  # no second, hard-written version


def test_a_second_bundle_replaces_the_first_whole(app, artifacts, labels):
    assert bundle_cli(artifacts["tflite"], "--app", app, "--labels", labels, "--samples", "5").exit_code == 0
    assert bundle_cli(artifacts["tflite"], "--app", app, "--labels", labels, "--samples", "2").exit_code == 0
    golden = sorted(p.name for p in (app / "app/src/main/assets/bundle/golden").iterdir())
    assert golden == ["0.expected.bin", "0.input.bin", "0.png", "1.expected.bin", "1.input.bin", "1.png"]
    assert not [p for p in (app / "app/src/main/assets").iterdir() if p.name != "bundle"]


@pytest.mark.parametrize("make_args, message", [
    (lambda a, tmp, labels: [a["onnx"], "--labels", labels], "the Android app runs .tflite models"),
    (lambda a, tmp, labels: [a["tflite"]], "its manifest names no classes; pass --labels FILE"),
    (lambda a, tmp, labels: [a["tflite"], "--labels", labels.write_text("a\nb\n") and labels],
     "2 labels for a model with 10 classes"),
    (lambda a, tmp, labels: [a["tflite"], "--labels", labels, "--app", tmp], "not the Android demo app"),
    (lambda a, tmp, labels: [tmp / "missing.tflite"], "no such file"),
    (lambda a, tmp, labels: [a["tflite"], "--labels", labels, "--samples", "0"], "--samples must be between"),
])
def test_bad_input_exits_2_with_one_line_and_leaves_the_app_alone(app, artifacts, labels, tmp_path,
                                                                  make_args, message):
    assert bundle_cli(artifacts["tflite"], "--app", app, "--labels", labels, "--samples", "1").exit_code == 0
    before = {p: p.read_bytes() for p in (app / "app/src/main/assets").rglob("*") if p.is_file()}
    args = make_args(artifacts, tmp_path, labels)
    result = bundle_cli(*args, *([] if "--app" in args else ["--app", app]))
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    after = {p: p.read_bytes() for p in (app / "app/src/main/assets").rglob("*") if p.is_file()}
    assert after == before


def test_a_changed_artifact_is_not_bundled(app, artifacts, labels, tmp_path):
    copy = tmp_path / artifacts["tflite"].name
    shutil.copy(artifacts["tflite"], copy)
    shutil.copy(manifest_path(artifacts["tflite"]), manifest_path(copy))
    data = bytearray(copy.read_bytes())
    data[-100] ^= 0xFF
    copy.write_bytes(bytes(data))
    result = bundle_cli(copy, "--app", app, "--labels", labels)
    assert result.exit_code == 2 and "sha256" in result.stderr


def test_bundle_defaults_to_the_last_converted_tflite(app, artifacts, labels, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = load_source("lenet_bn", input_shape=(28, 28, 1), num_classes=10)
    convert(source, ConvertOptions(out_dir=tmp_path / "artifacts"))
    result = bundle_cli("--app", app, "--labels", labels, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["artifact"].endswith("lenet_bn_fp32.tflite")


GREY_28 = Preprocessing(28, 28, 1)


def tensor(shape, dtype="int8"):
    return {"name": "t", "shape": shape, "dtype": dtype, "scale": 0.1, "zero_point": 0}


@pytest.mark.parametrize("inputs, outputs, message", [
    ([tensor([None, 784])], [tensor([None, 10])], "needs an image input"),
    ([tensor([None, 28, 28, 2])], [tensor([None, 10])], "needs an image input"),
    ([tensor([None, 32, 32, 1])], [tensor([None, 10])], "does not match its preprocessing"),
    ([tensor([None, 28, 28, 1])], [tensor([None, 7, 7, 10])], "needs an output of class scores"),
    ([tensor([None, 28, 28, 1])], [tensor([None, 10]), tensor([None, 10])], "one input and one output"),
    ([tensor([None, 28, 28, 1], "int16")], [tensor([None, 10])], "not int16"),
])
def test_models_that_do_not_fit_the_app_are_refused(inputs, outputs, message):
    with pytest.raises(UserError, match=message):
        check_fits_app(inputs, outputs, GREY_28, [str(i) for i in range(10)])


def test_one_score_per_image_takes_two_labels_and_a_recorded_threshold():
    image, score = [tensor([None, 28, 28, 1])], [tensor([None, 1])]
    check_fits_app(image, score, GREY_28, ["no", "yes"], threshold=0.5)
    with pytest.raises(UserError, match="1 label"):
        check_fits_app(image, score, GREY_28, ["yes"], threshold=0.5)
    with pytest.raises(UserError, match="decision threshold"):
        check_fits_app(image, score, GREY_28, ["no", "yes"])

