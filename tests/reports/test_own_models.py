"""A user's own model file: saved by Keras 3 or tf_keras, Sequential or functional, with its own
preprocessing and calibration images. One tiny model per failure class users met."""

import json

import numpy as np
import pytest
from PIL import Image

from deploytool.converters.options import ConvertOptions
from deploytool.core.keras_env import keras, keras3
from deploytool.sources.model_source import load_source
from deploytool.workflows.conversion.convert import convert
from deploytool.workflows.verification.verify import verify

from support import heavy_except, run_cli

pytestmark = pytest.mark.usefixtures("in_tmp_dir")


def randomize_statistics(model, seed=0):
    """Random BatchNorm statistics, as training leaves them (the random ones make folding visible)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) if i in (0, 3)
                               else rng.normal(0, 0.3, w.shape).astype(np.float32)
                               for i, w in enumerate(layer.get_weights())])
    return model



def test_keras3_model_with_keras3_only_parts_converts_through_keras3(tmp_path):
    """MobileNetV3's hard_silu and its `x + 3` operation nodes have no tf_keras twin: the model
    goes through Keras 3's own export, says so, and verifies on every runtime."""
    k3 = keras3()
    inputs = k3.Input((12, 12, 3))
    x = k3.layers.Conv2D(6, 3, use_bias=False)(inputs)
    x = k3.layers.BatchNormalization()(x)
    x = k3.layers.Activation("hard_silu")(x)
    x = k3.layers.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)
    x = k3.layers.GlobalAveragePooling2D()(x)
    model = randomize_statistics(k3.Model(inputs, k3.layers.Dense(4, activation="softmax")(x)))
    model.save(tmp_path / "v3like.keras")

    source = load_source(str(tmp_path / "v3like.keras"))
    assert source.framework == "keras3" and "hard_silu" in source.framework_reason
    manifest = convert(source, ConvertOptions(to="tflite", keep_softmax=False)).manifest.record
    path = manifest["conversion_path"]
    assert path["framework"] == "keras3" and "SavedModel" in path["exporter"]
    assert set(path["passes_skipped"]) == {"fold_batchnorm", "centre_tap", "qat"}
    assert manifest["softmax_report"]["postprocess"] == "softmax"
    onnx = convert(source, ConvertOptions(to="onnx")).artifact
    report = verify([f"artifacts/{manifest['artifact']['file']}", onnx])
    assert report.passed and {r.status for r in report.rows} == {"pass"}, report.as_dict()


def test_keras3_path_refuses_qat_saying_why(tmp_path):
    k3 = keras3()
    inputs = k3.Input((8, 8, 3))
    x = k3.layers.Conv2D(4, 3, activation="hard_silu")(inputs)
    model = k3.Model(inputs, k3.layers.Dense(3)(k3.layers.Flatten()(x)))
    model.save(tmp_path / "m.keras")
    result = run_cli("convert", tmp_path / "m.keras", "--to", "tflite", "--qat")
    assert result.exit_code == 2
    assert "--qat" in result.output and "hard_silu" in result.output


@pytest.mark.heavy
def test_a_class_keras_registers_itself_loads_without_unsafe(tmp_path):
    """ConvNeXt's LayerScale ships inside Keras: loading it runs no code from the file."""
    from keras.src.applications.convnext import LayerScale

    k3 = keras3()
    inputs = k3.Input((8, 8, 3))
    x = LayerScale(1e-1, 4)(k3.layers.Conv2D(4, 3, padding="same")(inputs))
    model = k3.Model(inputs, k3.layers.Dense(3, activation="softmax")(k3.layers.Flatten()(x)))
    model.save(tmp_path / "scaled.keras")
    source = load_source(str(tmp_path / "scaled.keras"))
    assert source.framework == "keras3"
    assert verify([convert(source, ConvertOptions(to="onnx")).artifact]).passed


def test_lambda_in_a_keras3_file_still_needs_unsafe(tmp_path):
    k3 = keras3()
    inputs = k3.Input((8, 8, 3))
    x = k3.layers.Lambda(lambda t: t * 2.0)(inputs)
    k3.Model(inputs, k3.layers.Dense(3)(k3.layers.Flatten()(x))).save(tmp_path / "lambda.keras")
    result = run_cli("convert", tmp_path / "lambda.keras")
    assert result.exit_code == 2 and "Lambda layer" in result.output and "--unsafe" in result.output


@pytest.mark.heavy
def test_tf_keras_sequential_h5_converts_to_every_artifact_kind(tmp_path):
    """The hand-written Sequential model that failed with KeyError: 'name'."""
    keras.utils.set_random_seed(0)  # unseeded, its int8 .onnx's agreement hung on test order
    model = keras.Sequential([
        keras.Input((16, 16, 1)), keras.layers.Conv2D(8, 3, use_bias=False),
        keras.layers.BatchNormalization(), keras.layers.Activation("relu"),
        keras.layers.MaxPooling2D(), keras.layers.Flatten(), keras.layers.Dense(16),
        keras.layers.Dropout(0.5), keras.layers.Dense(10, activation="softmax")])
    randomize_statistics(model).save(tmp_path / "seq.h5")
    source = load_source(str(tmp_path / "seq.h5"))
    artifacts = []
    for to, precision in (("tflite", "fp32"), ("tflite", "int8"), ("onnx", "fp32"), ("onnx", "int8")):
        result = convert(source, ConvertOptions(to=to, precision=precision))
        assert result.manifest.record["strip_report"]["removed_layers"] == [model.layers[-2].name]
        assert result.manifest.record["fold_report"]["folded"] == 1
        artifacts.append(result.artifact)
    report = verify(artifacts)
    assert report.passed, [r for r in report.rows if r.status == "fail"]


@pytest.mark.heavy
def test_keras3_sequential_separable_conv_with_batchnorm_is_rebuilt_exactly(tmp_path):
    """The Keras 3 Sequential whose BatchNorm call carried mask=None."""
    k3 = keras3()
    model = k3.Sequential([k3.Input((12, 12, 3)), k3.layers.SeparableConv2D(8, 3),
                           k3.layers.BatchNormalization(), k3.layers.ReLU(),
                           k3.layers.GlobalAveragePooling2D(), k3.layers.Dense(5, activation="softmax")])
    randomize_statistics(model).save(tmp_path / "sep.keras")
    source = load_source(str(tmp_path / "sep.keras"))
    assert source.framework == "tf_keras" and "rebuilt" in source.framework_reason
    result = convert(source, ConvertOptions(to="tflite"))
    assert result.manifest.record["conversion_path"]["framework"] == "tf_keras"
    assert result.manifest.record["fold_report"]["folded"] == 1
    assert verify([result.artifact]).passed


@pytest.mark.heavy
def test_raw_pixel_model_calibrates_on_photos_with_its_preprocessing(tmp_path):
    """A colour model that rescales 0..255 itself (EfficientNet-style): --preprocess raw feeds it
    raw pixels; with no data given it calibrates on the bundled photographs, not grey digits."""
    k3 = keras3()
    inputs = k3.Input((16, 16, 3))
    x = k3.layers.Rescaling(1 / 255.0)(inputs)
    x = k3.layers.Normalization(mean=[0.485, 0.456, 0.406], variance=[0.05, 0.05, 0.05])(x)
    x = k3.layers.Conv2D(8, 3, activation="relu")(x)
    model = k3.Model(inputs, k3.layers.Dense(6, activation="softmax")(k3.layers.GlobalAveragePooling2D()(x)))
    model.save(tmp_path / "raw.keras")
    result = run_cli("convert", tmp_path / "raw.keras", "--int8", "--preprocess", "raw", "--json")
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.output[result.output.index("{"):])
    assert manifest["preprocessing"]["preset"] == "raw" and manifest["preprocessing"]["scale"] == [1.0] * 3
    assert manifest["calibration"]["source"] == "photos"
    report = verify(["artifacts/raw_int8.tflite"])
    assert report.images["raw_int8.tflite"]["dataset"] == "photos"
    assert report.rows[0].status == "pass" and report.rows[0].figures["min_cosine"] > 0.99


@pytest.mark.heavy
def test_plain_image_folder_calibrates_and_verifies_without_labels(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "my_photos" / "holiday"
    folder.mkdir(parents=True)
    for i in range(10):
        Image.fromarray(rng.integers(0, 256, (30 + i, 40, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    keras.utils.set_random_seed(0)  # its int8 parity must not hang on test order
    model = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Conv2D(4, 3),
                              keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    model.save(tmp_path / "m.keras")
    data = f"images:{tmp_path / 'my_photos'}"
    result = run_cli("convert", tmp_path / "m.keras", "--to", "onnx", "--int8", "--calib-data", data,
                     "--preprocess", "imagenet")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "artifacts" / "m_int8.onnx.json").read_text())
    # a small plain folder holds out half: 5 to calibrate on, 5 to judge on
    assert manifest["calibration"]["source"] == data and manifest["calibration"]["samples"] == 5
    report = verify(["artifacts/m_int8.onnx"], data=data)
    used = report.images["m_int8.onnx"]
    assert {key: used[key] for key in ("dataset", "split", "samples", "seed", "labelled")} == {
        "dataset": data, "split": "test", "samples": 5, "seed": 0, "labelled": False}
    assert used["notes"] == ["10 of the 10 images are not the model's aspect ratio (e.g. 40x30 "
                             "for 12x12): squashed to it (--resize crop or pad keeps their shape)"]
    assert report.passed


def test_an_empty_image_folder_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
                      keras.layers.Dense(2)]).save(tmp_path / "m.keras")
    result = run_cli("convert", tmp_path / "m.keras", "--int8", "--calib-data", f"images:{tmp_path / 'empty'}")
    assert result.exit_code == 2 and "holds no images" in result.output


def test_unknown_preset_and_mismatched_mean_are_one_line(tmp_path):
    keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
                      keras.layers.Dense(2)]).save(tmp_path / "m.keras")
    result = run_cli("convert", tmp_path / "m.keras", "--preprocess", "yolo")
    assert result.exit_code == 2 and "unknown preprocessing preset 'yolo'" in result.output
    result = run_cli("convert", tmp_path / "m.keras", "--mean", "1,2")
    assert result.exit_code == 2 and "mean has 2 values" in result.output


def test_explicit_bgr_mean_and_std_reach_the_manifest(tmp_path):
    keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
                      keras.layers.Dense(2, activation="softmax")]).save(tmp_path / "m.keras")
    result = run_cli("convert", tmp_path / "m.keras", "--mean", "100,110,120", "--std", "50",
                     "--channel-order", "bgr")
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "artifacts" / "m_fp32.tflite.json").read_text())["preprocessing"]
    assert record["channel_order"] == "BGR" and record["mean"] == [100.0, 110.0, 120.0]
    assert record["offset"] == pytest.approx([-2.0, -2.2, -2.4], rel=1e-6)
    assert record["scale"] == pytest.approx([0.02] * 3, rel=1e-6)


@pytest.mark.parametrize("target", heavy_except(["tflite", "onnx"], {"tflite"}))
def test_a_layer_no_converter_takes_is_one_line_naming_it(tmp_path, target):
    """Lanczos upsampling is TensorFlow's ScaleAndTranslate: no TFLite kernel, no ONNX operator."""
    k3 = keras3()
    k3.Sequential([k3.Input((8, 8, 3)), k3.layers.UpSampling2D(interpolation="lanczos3", name="upscale"),
                   k3.layers.Flatten(), k3.layers.Dense(3)]).save(tmp_path / "lanczos.keras")
    result = run_cli("convert", tmp_path / "lanczos.keras", "--to", target)
    assert result.exit_code == 2, result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("deploytool: error: layer 'upscale' (UpSampling2D) cannot be converted")
    assert "ScaleAndTranslate" in line and "internal error" not in result.output
    assert not list(tmp_path.glob("artifacts/lanczos*"))


@pytest.mark.heavy
def test_data_augmentation_inside_the_model_is_stripped(tmp_path):
    """The Keras tutorial's model: a nested Sequential of random augmentation layers up front."""
    k3 = keras3()
    augmentation = k3.Sequential([k3.layers.RandomFlip("horizontal"), k3.layers.RandomRotation(0.1)],
                                 name="data_augmentation")
    inputs = k3.Input((16, 16, 3))
    x = k3.layers.Rescaling(1 / 255.0)(augmentation(inputs))
    x = k3.layers.Flatten()(k3.layers.Conv2D(4, 3, activation="relu")(x))
    k3.Model(inputs, k3.layers.Dense(3)(k3.layers.Dropout(0.2)(x))).save(tmp_path / "tutorial.keras")
    source = load_source(str(tmp_path / "tutorial.keras"), preprocess={"preset": "raw"})
    result = convert(source, ConvertOptions(to="tflite"))
    removed = result.manifest.record["strip_report"]["removed_layers"]
    assert len(removed) == 3 and any("flip" in name for name in removed)
    assert verify([result.artifact]).passed


def test_inspect_reads_a_keras3_file_and_says_who_saved_it(tmp_path):
    k3 = keras3()
    k3.Sequential([k3.Input((8, 8, 3)), k3.layers.Conv2D(4, 3, activation="hard_silu"),
                   k3.layers.Flatten(), k3.layers.Dense(3)]).save(tmp_path / "m.keras")
    result = run_cli("inspect", tmp_path / "m.keras", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["saved_by"] == "Keras 3" and report["ops"]["Conv2D"] == 1
    assert report["weight_bytes"] == {"float32": 4 * (3 * 3 * 3 * 4 + 4 + 144 * 3 + 3)}


@pytest.mark.heavy
def test_opencv_tflite_average_pooling_divergence_is_named(tmp_path):
    """OpenCV's TFLite importer counts the padding of a 'same' AveragePooling2D window; LiteRT
    and OpenCV's ONNX importer do not. The cell names that upstream cause."""
    from deploytool.reports.layer_coverage import build_case_file, case_by_name
    from deploytool.reports.matrix import source_cells
    from deploytool.reports.own_models import OPENCV_AVERAGE_POOL, known_causes

    path = build_case_file(case_by_name("AveragePooling2D(3, 1, same)"), "tf_keras", "sequential", tmp_path)
    source = load_source(str(path))
    cells = source_cells(source, "pool", tmp_path / "artifacts", 8, 8,
                         kinds=(("TFLite fp32", "tflite", "fp32"), ("ONNX fp32", "onnx", "fp32")),
                         causes=known_causes(source))
    status = {(c["artifact"], c["runtime"]): c for c in cells}
    assert status[("TFLite fp32", "tflite")]["status"] == "pass"
    assert status[("ONNX fp32", "opencv")]["status"] == "pass"
    failed = status[("TFLite fp32", "opencv")]
    assert failed["status"] == "fail" and failed["why"].endswith(OPENCV_AVERAGE_POOL)
