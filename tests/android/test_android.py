"""The Android app's pure-Java core on the JVM, and the golden test across languages: the Java
core preprocesses the bundled PNGs, the Python TFLite interpreter runs on exactly those bytes,
and bytes, outputs and top-1 labels must equal the Python reference."""

import hashlib
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from deploytool.core.preprocessing import Preprocessing
from deploytool.core.tensors import TensorInfo, quantize
from deploytool.workflows.bundle import bundle

from support import heavy_except


ROOT = Path(__file__).resolve().parents[2]
JVM = ROOT / "android_demo" / "core" / "jvm.sh"
CLASSES = ROOT / "android_demo" / "core" / "build" / "jvm" / "classes"
JUNIT = os.environ.get("JUNIT_JAR", "/usr/share/java/junit4.jar")


@pytest.fixture(scope="module")
def java_classes():
    """The core and its test drivers, compiled with javac (fails, saying why, without a JDK or junit4)."""
    built = subprocess.run(["bash", str(JVM), "build"], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    return CLASSES


def java(classes, *args):
    return subprocess.run(["java", "-cp", f"{classes}:{JUNIT}", "dev.deploytool.core.GoldenMain", *args],
                          capture_output=True, text=True)


def test_jvm_unit_tests_of_the_core_pass(record_property):
    result = subprocess.run(["bash", str(JVM), "test"], capture_output=True, text=True)
    last = (result.stdout.strip().splitlines() or [""])[-1]
    record_property("summary", f"android core, JVM unit tests: {last}")
    assert result.returncode == 0, result.stdout + result.stderr
    passed, failed = (int(part.split()[0]) for part in last.split(","))
    # every test method of every *Test class ran: the classes are found, not listed
    written = sum(path.read_text().count("@Test")
                  for path in (ROOT / "android_demo/core/src/test").rglob("*Test.java"))
    assert failed == 0 and passed == written >= 30


PREPROCESSING_CONFIGS = {
    "grey -1..1": Preprocessing(28, 28, 1, scale=1 / 127.5, offset=-1.0),
    "colour -1..1": Preprocessing(24, 32, 3, scale=1 / 127.5, offset=-1.0),
    "colour ImageNet mean/std": Preprocessing.preset_for((24, 32, 3), "imagenet"),
    "colour caffe BGR": Preprocessing.preset_for((20, 18, 3), "caffe"),
    "colour centre-cropped": Preprocessing(24, 32, 3, scale=1 / 127.5, offset=-1.0, fit="crop"),
    "grey padded": Preprocessing(20, 18, 1, scale=1 / 255, offset=0.0, fit="pad"),
}


@pytest.mark.parametrize("config", PREPROCESSING_CONFIGS)
def test_java_preprocessing_equals_python_bit_for_bit(tmp_path, java_classes, config):
    """Grey and colour PNGs of many sizes and aspect ratios (resized up and down, squashed,
    centre-cropped or padded, luma and replication), with one scale and offset, per-channel
    ImageNet mean/std, and caffe-style BGR mean subtraction: the float32 model input from
    Preprocessing.java equals Preprocessing.apply's, bit for bit."""
    preprocessing = PREPROCESSING_CONFIGS[config]
    height, width, channels = preprocessing.input_shape
    rng = np.random.default_rng(channels)
    images, paths = {}, []
    for i, (h, w) in enumerate([(8, 8), (5, 7), (28, 28), (100, 37), (3, 61), (64, 64)]):
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        if i % 2:
            image[..., 1] = image[..., 2] = image[..., 0]
        images[f"img{i}"] = image
        paths.append(str(tmp_path / f"img{i}.png"))
        cv2.imwrite(paths[-1], image[..., ::-1])
    (tmp_path / "p.properties").write_text(
        f"height={height}\nwidth={width}\nchannels={channels}\n"
        f"scale={','.join(map(repr, preprocessing.scale))}\n"
        f"offset={','.join(map(repr, preprocessing.offset))}\n"
        f"channel_order={preprocessing.channel_order}\nfit={preprocessing.fit}\n")
    result = java(java_classes, "images", str(tmp_path / "p.properties"), str(tmp_path / "out"), *paths)
    assert result.returncode == 0, result.stderr
    for name, image in images.items():
        python = preprocessing.apply(image[None])[0].ravel()
        from_java = np.fromfile(tmp_path / "out" / f"{name}.bin", "<f4")
        assert np.array_equal(python.view(np.uint32), from_java.view(np.uint32)), name


@pytest.fixture
def trained_run(trained_lenet):
    return trained_lenet[0]


@pytest.fixture(scope="module")
def colour_model_file(tmp_path_factory):
    """A small colour classifier file a user might have (tf_keras, .keras), with its labels."""
    from deploytool.core.keras_env import keras

    keras.utils.set_random_seed(3)
    inputs = keras.Input((20, 18, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(x))
    folder = tmp_path_factory.mktemp("colour")
    model.save(folder / "colour.keras")
    (folder / "labels.txt").write_text("cat\ndog\ncup\nsky\n")
    return folder


@pytest.fixture(scope="module")
def binary_model_file(tmp_path_factory):
    """A colour model with one sigmoid score per image (yes or no), with its two labels."""
    from deploytool.core.keras_env import keras

    keras.utils.set_random_seed(4)
    inputs = keras.Input((20, 18, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(8, 3, activation="relu")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    folder = tmp_path_factory.mktemp("binary")
    model.save(folder / "binary.keras")
    (folder / "labels.txt").write_text("no\nyes\n")
    return folder


# (source, --preprocess preset, quantization): the trained grey LeNet, a colour model fed
# per-channel ImageNet mean/std and caffe-style BGR mean subtraction, its golden samples drawn
# from the photos, and a binary sigmoid head decided over 0.5
GOLDEN_CASES = {"lenet int8": ("run", None, "int8"), "lenet float32": ("run", None, None),
                "colour ImageNet mean/std int8": ("colour", "imagenet", "int8"),
                "colour caffe BGR float32": ("colour", "caffe", None),
                "binary sigmoid float32": ("binary", "imagenet", None)}


def decided_label(labels: list, output: np.ndarray, threshold: float | None) -> str:
    """The label an output decides: its top class, or one score over the bundle's threshold."""
    flat = output.reshape(-1)
    return labels[int(flat[0] > threshold) if threshold is not None else int(np.argmax(flat))]


@pytest.mark.parametrize("case", heavy_except(GOLDEN_CASES, {"lenet int8", "binary sigmoid float32"}))
def test_golden_samples_agree_across_java_and_python(tmp_path, java_classes, trained_run,
                                                     colour_model_file, binary_model_file, case,
                                                     monkeypatch, record_property):
    from deploytool.converters.options import ConvertOptions
    from deploytool.workflows.conversion.convert import convert
    from deploytool.sources.model_source import load_source
    from deploytool.workflows.artifacts import manifest_of, reference_samples

    kind, preset, quantization = GOLDEN_CASES[case]
    monkeypatch.chdir(tmp_path)
    folders = {"colour": colour_model_file, "binary": binary_model_file}
    spec = str(trained_run) if kind == "run" else str(folders[kind] / f"{kind}.keras")
    source = load_source(spec, preprocess={"preset": preset} if preset else None)
    artifact = convert(source, ConvertOptions(to="tflite", precision=quantization or "fp32",
                                              out_dir=tmp_path / "artifacts")).artifact
    folder = tmp_path / "assets" / "bundle"
    report = bundle(artifact, folder, samples=8,
                    labels_file=None if kind == "run" else folders[kind] / "labels.txt")
    labels = (folder / "labels.txt").read_text().splitlines()
    properties = dict(line.split("=", 1) for line in (folder / "bundle.properties").read_text().splitlines())
    threshold = float(properties["decision.threshold"]) if "decision.threshold" in properties else None
    assert (threshold == 0.5) == (kind == "binary")
    if kind == "binary":  # the samples decide both ways
        assert {s["expected_top1"] for s in report.samples} == {"no", "yes"}

    # 1. the Java core preprocesses the PNGs
    result = java(java_classes, "preprocess", str(folder), str(tmp_path / "java"))
    assert result.returncode == 0, result.stderr

    # 2. the Python reference: raw data set images -> Preprocessing.apply -> the model's quantization
    interpreter = Interpreter(model_path=str(folder / "model.tflite"))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    info = TensorInfo(inp["name"], tuple(inp["shape"]), np.dtype(inp["dtype"]).name, *inp["quantization"])
    manifest = manifest_of(Path(artifact))
    raw, _, _ = reference_samples(manifest, None, 8)
    reference = manifest.preprocessing.apply(raw)
    assert manifest.preprocessing.preset == (preset or "unit")

    replies = tmp_path / "replies"
    replies.mkdir()
    checks = []
    for i, image in enumerate(reference):
        expected = (quantize(image[None], info) if info.scale else image[None].astype("<f4")).tobytes()
        from_java = (tmp_path / "java" / f"{i}.input.bin").read_bytes()
        # 3. the Python interpreter runs on exactly the Java bytes
        interpreter.set_tensor(inp["index"], np.frombuffer(from_java, inp["dtype"]).reshape(inp["shape"]))
        interpreter.invoke()
        raw_output = interpreter.get_tensor(out["index"])
        (replies / f"{hashlib.sha256(from_java).hexdigest()}.bin").write_bytes(raw_output.tobytes())
        checks.append(from_java == expected)
        checks.append(decided_label(labels, raw_output, threshold) == report.samples[i]["expected_top1"])

    # 4. the app's self-test code, with the interpreter's outputs replayed
    selftest = java(java_classes, "selftest", str(folder), str(replies))
    checks.append(selftest.returncode == 0)
    java_labels = [line.rsplit(" ", 1)[-1] for line in selftest.stdout.splitlines()
                   if line.startswith(("PASS", "FAIL"))]
    checks.append(java_labels == [s["expected_top1"] for s in report.samples])
    record_property("summary", f"android golden ({case} .tflite, 8 PNGs): "
                                f"{sum(checks)} passed, {len(checks) - sum(checks)} failed")
    assert all(checks), selftest.stdout + selftest.stderr
