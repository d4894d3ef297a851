"""Export targets and runtimes register themselves; the frozen-graph (.pb) target for OpenCV's
TensorFlow importer is one exporter file and one runner file on top of them."""

import json
import subprocess
import sys

import numpy as np
import pytest

from deploytool.converters.options import ConvertOptions
from deploytool.converters.targets.registry import ExportTarget, artifact_kinds, target_for, targets
from deploytool.core.errors import UserError
from deploytool.core.manifest import Manifest
from deploytool.sources.model_source import load_source
from deploytool.workflows.conversion.convert import convert
from deploytool.workflows.verification.verify import verify

from support import run_cli, zoo_source

pytestmark = pytest.mark.usefixtures("in_tmp_dir")


def zoo(name, shape=(32, 32, 3)):
    return zoo_source(name, shape=shape, seed=1)


def test_targets_say_what_they_write_and_where_it_runs():
    found = {name: (t.suffix, t.precisions, t.runtime) for name, t in targets().items()}
    assert found == {"tflite": (".tflite", ("fp32", "fp16", "dynamic", "int8"), "tflite"),
                     "onnx": (".onnx", ("fp32", "int8"), "onnxruntime"),
                     "pb": (".pb", ("fp32",), "tensorflow")}
    assert ("TF GraphDef fp32", "pb", "fp32") in artifact_kinds()


DUMMY_TARGET = """
from deploytool.converters.targets.registry import ExportTarget


class Dummy(ExportTarget):
    name, label, suffix, runtime = "dummy", "Dummy", ".dummy", "tflite"

    def export(self, model, precision, calibration, options, reuse=None):
        raise NotImplementedError

    def exporter(self, keras3):
        return "none"

    def inspect(self, path):
        return {}
"""


def test_a_new_target_is_one_subclass_and_the_cli_offers_it():
    try:
        exec(DUMMY_TARGET, {})
        assert target_for("x.dummy") is targets()["dummy"]
        code = DUMMY_TARGET + "\nfrom deploytool.cli import main\nmain(['convert', '--help'])"
        helped = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert "dummy" in helped.stdout
    finally:
        ExportTarget.registry.pop("dummy", None)


def test_a_target_missing_a_method_fails_where_it_is_defined():
    with pytest.raises(TypeError, match="abstract method.*export"):
        class Half(ExportTarget):  # noqa: F841
            name, label, suffix = "half", "Half", ".half"

            def exporter(self, keras3):
                return "none"

            def inspect(self, path):
                return {}
    assert "half" not in targets()


def test_a_precision_a_target_does_not_offer_names_the_ones_that_do():
    with pytest.raises(UserError, match="--int8.*pb.*tflite or onnx"):
        ConvertOptions(to="pb", precision="int8").check()


@pytest.mark.heavy
def test_pb_is_frozen_pruned_and_passes_tensorflow_and_both_opencv_engines():
    result = convert(zoo("resnet18"), ConvertOptions(to="pb"))
    manifest = Manifest.read(result.artifact)
    assert manifest.format == "pb" and manifest.side_files[".pbtxt"]["file"] == "resnet18_fp32.pbtxt"
    assert result.manifest.record["conversion_path"]["exporter"].startswith("convert_variables_to_constants_v2")
    ops = json.loads(run_cli("inspect", result.artifact, "--json").output)["ops"]
    assert "FusedBatchNormV3" not in ops and ops.get("Identity", 0) <= 1 and "VarHandleOp" not in ops
    report = verify([result.artifact])
    rows = {row.backend: row for row in report.rows}
    assert rows["tensorflow"].status == rows["opencv"].status == "pass"
    assert rows["opencv"].input_layout == "NCHW" and rows["opencv"].figures["max_abs"] <= 1e-5


@pytest.mark.heavy
def test_pb_of_a_keras3_model_converts_through_keras3_and_runs_in_opencv(tmp_path):
    from deploytool.core.keras_env import keras3

    k3 = keras3()
    inputs = k3.Input((16, 16, 3))
    x = k3.layers.Conv2D(8, 3, activation="hard_silu")(inputs)
    x = k3.layers.DepthwiseConv2D(3)(x)
    model = k3.Model(inputs, k3.layers.Dense(4, activation="softmax")(k3.layers.GlobalAveragePooling2D()(x)))
    model.save(tmp_path / "k3.keras")
    result = convert(load_source(str(tmp_path / "k3.keras")), ConvertOptions(to="pb"))
    assert result.manifest.record["conversion_path"]["framework"] == "keras3"
    assert verify([result.artifact], backend="opencv").passed


@pytest.mark.heavy
def test_pb_writes_compressed_constants_in_full_and_bypasses_identity_n(tmp_path):
    """A Rescaling offset of 0 is stored by TensorFlow as a constant with no value, and swish's
    custom gradient leaves an IdentityN: OpenCV's importer asserts on the first and cannot create
    the second. The exported graph has neither, and loads in OpenCV."""
    from deploytool.core.keras_env import keras
    from deploytool.converters.targets.pb.graph_reader import read_graph

    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Rescaling(1 / 255.0, offset=0.0)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="swish")(x)
    outputs = keras.layers.Dense(4, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    keras.Model(inputs, outputs).save(tmp_path / "m.h5")
    result = convert(load_source(str(tmp_path / "m.h5")), ConvertOptions(to="pb"))
    nodes = read_graph(result.artifact.read_bytes())
    assert "IdentityN" not in {node.op for node in nodes}
    rows = {row.backend: row for row in verify([result.artifact]).rows}
    assert rows["tensorflow"].status == "pass"
    assert rows["opencv"].figures is not None  # loaded and ran (no getTensorContentRef_ assertion)


def test_a_changed_companion_text_graph_fails_the_integrity_check():
    result = convert(zoo("lenet_bn", (28, 28, 1)), ConvertOptions(to="pb"))
    result.artifact.with_suffix(".pbtxt").write_text("node {}\n")
    row = verify([result.artifact], backend="tensorflow").rows[0]
    assert row.status == "fail" and row.failed == ["integrity"]
    assert "lenet_bn_fp32.pbtxt" in row.failures[0]


@pytest.mark.parametrize("content", [b"", b"\x0a\xff\xff\xff\xff\x0f", b"not a graph at all" * 10])
def test_a_damaged_pb_is_one_line_for_inspect(tmp_path, content):
    (tmp_path / "broken.pb").write_bytes(content)
    result = run_cli("inspect", tmp_path / "broken.pb")
    assert result.exit_code == 2 and "broken.pb" in result.output


def test_inspect_reads_a_pb_without_importing_tensorflow():
    result = convert(zoo("lenet_bn", (28, 28, 1)), ConvertOptions(to="pb"))
    code = ("import sys, json\nfrom deploytool.workflows.inspect import inspect_file\n"
            f"report = inspect_file({str(result.artifact.resolve())!r})\n"
            "print(json.dumps([report['inputs'], 'tensorflow' in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    inputs, imported = json.loads(done.stdout)
    assert inputs[0]["shape"] == [1, 28, 28, 1] and inputs[0]["dtype"] == "float32"
    assert imported is False


@pytest.mark.heavy
def test_bench_times_a_pb_on_tensorflow_and_opencv():
    from deploytool.workflows.measuring.bench import bench

    artifact = convert(zoo("lenet_bn", (28, 28, 1)), ConvertOptions(to="pb")).artifact
    rows = {row.backend: row for row in bench([artifact], runs=3, warmup=1)}
    assert rows["tensorflow"].status == rows["opencv"].status == "ok"
    assert rows["opencv"].engine == "new" and rows["tensorflow"].median_ms > 0
    assert np.isfinite(rows["keras"].median_ms)


def test_the_pb_text_graph_is_the_config_opencv_pairs_with_it(tmp_path):
    """OpenCV's documented pairing, readNetFromTensorflow(pb, pbtxt), loads on both engines and
    computes what the .pb alone computes; the text graph is the structure only, far smaller."""
    import cv2

    result = convert(zoo("resnet18", (32, 32, 3)), ConvertOptions(to="pb", out_dir=tmp_path))
    config = result.artifact.with_suffix(".pbtxt")
    assert config.stat().st_size < result.artifact.stat().st_size / 10
    image = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)
    for engine in (cv2.dnn.ENGINE_CLASSIC, cv2.dnn.ENGINE_NEW):
        alone = cv2.dnn.readNetFromTensorflow(str(result.artifact), "", engine)
        paired = cv2.dnn.readNetFromTensorflow(str(result.artifact), str(config), engine)
        alone.setInput(image)
        paired.setInput(image)
        assert np.array_equal(alone.forward(), paired.forward())


def test_a_text_companion_opencv_fails_on_is_not_written(tmp_path):
    """A unit-norm embedding's .pb runs in OpenCV alone, but not with its structure as the config
    (NEW asserts, CLASSIC has no layer for l2_normalize's Maximum): no .pbtxt invites that pairing,
    and OpenCV runs the .pb."""
    from deploytool.reports.output_cases import _embedding
    from deploytool.workflows.conversion.convert import convert
    from deploytool.workflows.verification.verify import verify

    source = load_source(str(_embedding(tmp_path)))
    artifact = convert(source, ConvertOptions(to="pb", out_dir=tmp_path / "out")).artifact
    assert not artifact.with_suffix(".pbtxt").exists()
    assert [row.status for row in verify([artifact], "opencv", samples=8).rows] == ["pass"]


def test_the_same_model_gives_the_same_bytes_every_time():
    """A node's attributes are a protobuf map: serialised without deterministic=True, the same
    frozen graph came out as different bytes from one conversion to the next."""
    from deploytool.converters.targets.pb.export import export_frozen_graph
    from deploytool.core.keras_env import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(x)))
    assert len({export_frozen_graph(model)[0] for _ in range(4)}) == 1
