"""Calibrate once, quantize many: the conversions of one search share the prepared model, the
calibration and parity images, the float export and the calibration statistics, and each makes
the file a conversion of its own would make."""

from pathlib import Path

import numpy as np
import pytest

from deploytool.converters.options import ConvertOptions
from deploytool.core.reuse import Reuse
from deploytool.sources.model_source import load_source
from deploytool.workflows.conversion.convert import convert
from deploytool.workflows.quantization.budget import Budget, budget_search

KEPT_FLOAT = {"tflite": "model/relu_h/Relu", "onnx": "model/relu_h/Relu:0"}


def outputs_of(artifact: Path, images: np.ndarray) -> dict:
    from deploytool.runtimes.base import runner_for

    return runner_for(artifact).load().infer_all(images)


@pytest.mark.parametrize("to", ["tflite", "onnx"])
def test_an_attempt_on_shared_parts_computes_what_a_conversion_of_its_own_does(
        hostile_model_file, tmp_path, to):
    """A second attempt (a layer in float, another I/O type) made from what the first one
    calibrated gives the same outputs, value for value, as the same settings converted alone
    (TFLite: the same bytes; tf2onnx numbers its node names per process, so two .onnx
    conversions of one model differ in names even without sharing)."""
    source = load_source(str(hostile_model_file))
    reuse = Reuse(tmp_path / "shared")
    convert(source, ConvertOptions.create(to, precision="int8", out_dir=tmp_path / "plain"),
            remember=False, reuse=reuse)
    settings = {"precision": "int8", "keep_float": [KEPT_FLOAT[to]],
                **({"int8_io": "float"} if to == "tflite" else {})}
    shared = convert(source, ConvertOptions.create(to, out_dir=tmp_path / "shared_out", **settings),
                     remember=False, reuse=reuse).artifact
    alone = convert(source, ConvertOptions.create(to, out_dir=tmp_path / "alone", **settings),
                    remember=False).artifact
    made = "tflite_calibration" if to == "tflite" else "onnx_calibration"
    assert reuse.made[made] == 1 and reuse.made["prepared"] == 1
    if to == "tflite":
        assert shared.read_bytes() == alone.read_bytes()
    images = np.random.default_rng(0).random((8, 16, 16, 3), np.float32)
    for name, values in outputs_of(alone, images).items():
        assert np.array_equal(outputs_of(shared, images)[name], values)


@pytest.mark.parametrize("io", ["int8", "float"])
def test_full_int8_tflite_is_what_tfliteconverters_own_full_int8_conversion_gives(io):
    """Every int8 .tflite is calibrated, then quantized by the calibrated model (the route that
    lets attempts share one calibration): the same tensors, scales and outputs as
    TFLiteConverter.convert() with a representative data set."""
    from ai_edge_litert.interpreter import Interpreter

    from deploytool.converters.targets.tflite.export import export_tflite
    from deploytool.core.keras_env import keras, tf

    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    x = keras.layers.Conv2D(8, 3, groups=2, activation="relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(x)))
    images = np.random.default_rng(1).random((16, 12, 12, 3), np.float32)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([images[i:i + 1]] for i in range(len(images)))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if io == "int8":
        converter.inference_input_type = converter.inference_output_type = tf.int8
    theirs, ours = converter.convert(), export_tflite(model, "int8", images, io)

    def described(flatbuffer):
        interpreter = Interpreter(model_content=flatbuffer)
        interpreter.allocate_tensors()
        details = interpreter.get_tensor_details()
        tensors = sorted((str(d["dtype"]), tuple(d["shape"]),
                          tuple(np.round(d["quantization_parameters"]["scales"], 12)),
                          tuple(d["quantization_parameters"]["zero_points"])) for d in details)
        (entry,), (exit_,) = interpreter.get_input_details(), interpreter.get_output_details()
        scale, zero_point = entry["quantization"]
        feed = images[:1] if not scale else np.clip(np.round(images[:1] / scale) + zero_point, -128, 127)
        interpreter.set_tensor(entry["index"], feed.astype(entry["dtype"]))
        interpreter.invoke()
        return tensors, interpreter.get_tensor(exit_["index"])

    (their_tensors, their_out), (our_tensors, our_out) = described(theirs), described(ours)
    assert our_tensors == their_tensors
    assert np.array_equal(our_out, their_out)


def test_a_tflite_calibrated_again_on_other_images_quantizes_as_one_calibrated_on_them_alone():
    """The 4x-images attempt calibrates the converted model again instead of converting it
    again: LiteRT's calibrator writes the new ranges over the old (here narrower ones, which a
    merge would not give)."""
    from deploytool.converters.targets.tflite.export import (calibrated_tflite, quantized_tflite,
                                                              recalibrated_tflite)
    from deploytool.core.keras_env import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(x)))
    rng = np.random.default_rng(2)
    first, other = rng.random((8, 12, 12, 3), np.float32), 0.4 * rng.random((24, 12, 12, 3), np.float32)
    again = recalibrated_tflite(calibrated_tflite(model, first), other)
    assert quantized_tflite(again) == quantized_tflite(calibrated_tflite(model, other))


def _search_makes_each_shared_part_once(hostile_model_file, to, monkeypatch):
    from deploytool.workflows.quantization import diagnose as diagnose_module

    def no_second_export(*args, **kwargs):
        raise AssertionError("diagnose rebuilt a float twin: the search holds the float model")

    monkeypatch.setattr(diagnose_module, "float_twin", no_second_export)
    search = budget_search(load_source(str(hostile_model_file)),
                           ConvertOptions.create(to, precision="int8"), Budget(min_cosine=0.99))
    attempts = [a.options for a in search.attempts]
    assert len(attempts) >= 3 and search.best.met and search.best.keep_float
    assert search.made["prepared"] == 1 and search.made["source"] == 1
    assert search.made["calibration_images"] == len({o.calib_samples for o in attempts})
    assert search.made["reference_outputs"] == 1
    if to == "tflite":  # one conversion; calibrated once per calibration set
        assert search.made["tflite_export"] == 1
        assert search.made["tflite_calibration"] == len({o.calib_samples for o in attempts})
    else:  # one tf2onnx export; ranges once per calibration set and method
        assert search.made["onnx_export"] == 1
        assert search.made["onnx_calibration"] == len(
            {(o.calib_samples, o.calibration_method) for o in attempts})
    assert search.record["made_once"] == search.made


def test_a_tflite_search_exports_and_calibrates_once_per_calibration_set(hostile_model_file,
                                                                         monkeypatch):
    _search_makes_each_shared_part_once(hostile_model_file, "tflite", monkeypatch)


@pytest.mark.heavy
def test_an_onnx_search_exports_once_and_calibrates_once_per_set_and_method(hostile_model_file,
                                                                           monkeypatch):
    _search_makes_each_shared_part_once(hostile_model_file, "onnx", monkeypatch)
