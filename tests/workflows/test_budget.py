"""An accuracy budget on `deploytool convert --int8`: plain int8 when it keeps the budget, else
the cheapest attempt that does (other calibration, more images, the costliest layers in float),
on TFLite and ONNX alike; and the trial conversions never become what `verify` checks."""

import json

import numpy as np

import pytest

from deploytool.converters.options import ConvertOptions
from deploytool.core.manifest import LAST_CONVERT, last_converted
from deploytool.sources.model_source import load_source
from deploytool.workflows.quantization.budget import Budget, budgeted_convert
from deploytool.workflows.conversion.convert import convert

from support import run_cli

pytestmark = pytest.mark.usefixtures("in_tmp_dir")


@pytest.mark.heavy
@pytest.mark.parametrize("target", ["tflite", "onnx"])
def test_budget_keeps_the_hostile_layer_in_float_and_meets_it(hostile_model_file, target):
    result = run_cli("convert", hostile_model_file, "--to", target, "--int8",
                     "--min-cosine", "0.99", "--json")
    assert result.exit_code == 0, result.output
    budget = json.loads(result.output[result.output.index("{"):])["budget"]
    assert budget["met"] and budget["chosen"].startswith("1 costliest layer in float")
    assert len(budget["layers_in_float"]) == 1 and "relu_h" in budget["layers_in_float"][0]
    assert budget["attempts"][0]["label"] == "plain int8" and not budget["attempts"][0]["met"]
    assert chosen_attempt(budget)["figures"]["min_cosine"] >= 0.99
    assert budget["size_cost"] > 0
    # one layer of several in float met it: the other calibrations were tried after, and missed
    assert "4x the calibration images" in [attempt["label"] for attempt in budget["attempts"]]


def chosen_attempt(budget: dict) -> dict:
    (chosen,) = [attempt for attempt in budget["attempts"] if attempt["label"] == budget["chosen"]]
    return chosen


@pytest.mark.heavy
def test_budget_met_by_plain_int8_keeps_everything_quantized():
    result = run_cli("convert", "lenet_bn", "--input-shape", "28,28,1",
                     "--num-classes", "10", "--width", "0.25", "--int8",
                     "--min-cosine", "0.9", "--json")
    assert result.exit_code == 0, result.output
    budget = json.loads(result.output[result.output.index("{"):])["budget"]
    assert budget["met"] and budget["chosen"] == "plain int8" and budget["layers_in_float"] == []
    assert len(budget["attempts"]) == 1


@pytest.mark.heavy
def test_an_agreement_bar_the_accuracy_criterion_misses_drives_the_search(hostile_model_file):
    """Top-1 agreement 0.95 alone (a budget for unlabelled images; 120 held-out photos can show
    it): plain int8 flips decisions, so the search goes on until the hostile layer is in float."""
    result = run_cli("convert", hostile_model_file, "--int8", "--min-agreement", "0.95", "--json")
    assert result.exit_code == 0, result.output
    budget = json.loads(result.output[result.output.index("{"):])["budget"]
    assert budget["budget"] == "top-1 agreement >= 0.95"  # the agreement alone is a budget
    assert budget["attempts"][0]["figures"]["top1_agreement"] < 1 and not budget["attempts"][0]["met"]
    assert budget["met"] and "relu_h" in budget["layers_in_float"][0]
    assert chosen_attempt(budget)["figures"]["top1_agreement"] == 1.0


@pytest.mark.parametrize("args, message", [
    (["--max-drop", "0.5", "--min-cosine", "0.9"], "give one accuracy budget"),
    (["--min-cosine", "0.9", "--min-agreement", "1.5"], "--min-agreement is a fraction"),
    (["--max-drop", "0.5"], "--max-drop needs labelled images"),
    (["--min-cosine", "2"], "--min-cosine must lie in [-1, 1]"),
])
def test_bad_budgets_are_one_line(hostile_model_file, args, message):
    result = run_cli("convert", hostile_model_file, "--int8", *args)
    assert result.exit_code == 2 and message in result.output


def test_an_interrupted_budget_leaves_the_last_convert_pointer_on_the_last_real_artifact(
        hostile_model_file):
    """The budget's trial conversions write into a temporary folder that an interrupt deletes:
    the pointer verify reads still names the artifact the user converted before."""
    source = load_source(str(hostile_model_file))
    before = convert(source, ConvertOptions(to="tflite")).artifact

    def interrupt_the_second_attempt(message):
        if message.startswith("budget: trying") and "plain int8" not in message:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        budgeted_convert(source, ConvertOptions(precision="int8"), Budget(min_cosine=0.99),
                         interrupt_the_second_attempt)
    assert LAST_CONVERT.exists() and last_converted() == [before.resolve()]
    assert last_converted()[0].exists()


def _agreement_figures(agreeing, samples, min_cosine=0.999):
    from deploytool.core.statistics import wilson_interval

    return {"samples": samples, "min_cosine": min_cosine, "top1_agreement": agreeing / samples,
            "top1_agreement_interval": list(wilson_interval(agreeing, samples))}


def test_twenty_agreeing_images_cannot_show_an_agreement_of_0_99():
    judgement = Budget(min_cosine=0.99, min_agreement=0.99).judge(_agreement_figures(20, 20))
    assert judgement.verdict == "not resolvable" and judgement.needed == 381
    assert "20/20; 95 %: 0.839-1.000" in judgement.reasons[0]


def test_a_point_figure_below_the_bar_misses_the_budget_whatever_the_count():
    judgement = Budget(min_agreement=0.99).judge(_agreement_figures(97, 100))
    assert judgement.verdict == "not met" and "0.970 (97/100" in judgement.reasons[0]


def test_an_agreement_is_met_once_its_lower_bound_clears_the_bar():
    assert Budget(min_agreement=0.99).judge(_agreement_figures(500, 500)).met
    assert not Budget(min_agreement=0.99).judge(_agreement_figures(380, 380)).met


def _cosine_figures(at_bar, samples, bar=0.99):
    return {"samples": samples, "min_cosine": bar if at_bar == samples else bar - 0.01,
            "cosine_bar": bar, "images_at_cosine_bar": at_bar}


def test_a_cosine_budget_on_twenty_images_all_at_the_bar_is_not_resolvable():
    judgement = Budget(min_cosine=0.99).judge(_cosine_figures(20, 20))
    assert judgement.verdict == "not resolvable" and judgement.needed == 73
    assert "20/20; 95 %: 0.839-1.000" in judgement.reasons[0]


def test_a_cosine_budget_is_missed_when_fewer_images_than_the_share_reach_it():
    assert Budget(min_cosine=0.99).judge(_cosine_figures(18, 20)).verdict == "not met"


def test_a_cosine_budget_is_met_once_the_shares_lower_bound_clears_it():
    assert Budget(min_cosine=0.99).judge(_cosine_figures(495, 500)).met
    assert not Budget(min_cosine=0.99).judge(_cosine_figures(98, 100)).met
    assert Budget(min_cosine=0.99, cosine_share=0.8).judge(_cosine_figures(20, 20)).met


def test_figures_counted_at_another_bar_are_judged_by_the_worst_image():
    figures = {**_cosine_figures(20, 20, bar=0.9), "min_cosine": 0.95}
    assert Budget(min_cosine=0.99).judge(figures).verdict == "not met"


def test_an_accuracy_drop_is_judged_by_the_bound_of_the_paired_change():
    from deploytool.core.statistics import paired_change_interval_of

    pairs = {"both_right": 340, "only_reference_right": 0, "only_candidate_right": 0, "both_wrong": 20}
    figures = {"samples": 360, "min_cosine": 1.0, "top1_drop_points": 0.0, "accuracy_pairs": pairs,
               "accuracy_change_interval": list(paired_change_interval_of(pairs))}
    assert Budget(max_drop=1).judge(figures).met  # no decision changed on 360: within 0.94 points
    judgement = Budget(max_drop=0.3).judge(figures)
    assert judgement.verdict == "not resolvable" and 1000 < judgement.needed < 1300


def test_a_budget_the_held_out_images_cannot_resolve_is_written_but_not_claimed(tmp_path):
    """A model whose int8 keeps every decision on the 12 held-out images of a 25-image folder (a
    small folder holds out half): 12 of 12 cannot show 0.99, so convert says so, writes the
    artifact without the claim and exits 1."""
    from PIL import Image

    from deploytool.core.keras_env import keras

    inputs = keras.Input((8, 8, 3))
    dense = keras.layers.Dense(3, name="colour")
    model = keras.Model(inputs, dense(keras.layers.GlobalAveragePooling2D()(inputs)))
    dense.set_weights([10 * np.eye(3, dtype=np.float32), np.zeros(3, np.float32)])
    model.save(tmp_path / "colour.keras")
    folder = tmp_path / "faces"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(25):
        pixels = rng.integers(0, 60, (8, 8, 3))
        pixels[..., index % 3] += 180  # one channel clearly brightest
        Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{index}.png")
    result = run_cli("convert", tmp_path / "colour.keras", "--int8", "--calib-data",
                     f"images:{folder}", "--min-cosine", "0.9", "--min-agreement", "0.99",
                     "--out", tmp_path / "out")
    assert result.exit_code == 1, result.output
    assert "12 held-out images" in result.output
    assert "about 381 needed" in result.output
    manifest = json.loads((tmp_path / "out" / "colour_int8.tflite.json").read_text())
    budget = manifest["budget"]
    assert budget["met"] is False and budget["verdict"] == "not resolvable"
    assert budget["needed_images"] == 381 and len(budget["attempts"]) == 1


def test_convert_says_how_many_images_calibrated_and_records_that_count(tmp_path):
    """25 images give 13 for calibration where 300 were asked for (a small folder holds out
    half): the console says so and the manifest's settings record the 13 used, beside the 300
    asked for."""
    from PIL import Image

    from deploytool.core.keras_env import keras

    keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
                      keras.layers.Dense(2)]).save(tmp_path / "m.keras")
    folder = tmp_path / "few"
    folder.mkdir()
    for index in range(25):
        Image.fromarray(np.full((8, 8, 3), 10 * index, np.uint8)).save(folder / f"{index}.png")
    result = run_cli("convert", tmp_path / "m.keras", "--int8", "--calib-data", f"images:{folder}",
                     "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert (f"calibrating on 13 images of images:{folder}: 300 asked for (--calib-samples), the "
            "calibration split holds 13 (its 25 images: 13 for calibration, the rest held out for "
            "parity)") in " ".join(result.output.split())
    manifest = json.loads((tmp_path / "out" / "m_int8.tflite.json").read_text())
    assert manifest["settings"]["calib_samples"] == 13
    assert manifest["settings"]["calib_samples_requested"] == 300


def bisected(layers: int, meets) -> list[int]:
    from deploytool.workflows.quantization.budget import FloatLayerBisection

    bisection, tried = FloatLayerBisection(layers), []
    while (step := bisection.next()) is not None:
        tried.append(step[0])
        bisection.record(step[0], meets(step[0]))
    assert len(tried) <= bisection.most
    return tried


def test_the_float_layer_count_tries_every_layer_first_and_stops_when_that_misses():
    assert bisected(40, lambda count: False) == [40]


def test_the_float_layer_count_is_bisected_down_to_a_tenth_of_the_count_that_met():
    assert bisected(40, lambda count: count >= 21) == [40, 20, 30, 25, 22]  # 20 missed, 22 met
    assert bisected(566, lambda count: count >= 500)[-1] - 500 <= 50
    assert bisected(5, lambda count: count >= 1) == [5, 2, 1]


def test_the_float_layer_bisection_ends_on_a_count_seen_to_meet_when_effects_wander():
    """Two layers meet, three miss (errors cancelled): the count kept is one that met."""
    from deploytool.workflows.quantization.budget import FloatLayerBisection

    bisection = FloatLayerBisection(4)
    for count, met in [(4, True), (2, True), (1, False)]:
        assert bisection.next()[0] == count
        bisection.record(count, met)
    assert bisection.next() is None and bisection.met == 2


def test_a_search_that_needs_most_layers_in_float_does_not_calibrate_again(hostile_model_file):
    """A cosine bar that only most of the hostile model's layers in float reach: every ranked
    layer first, then the count bisected, and no other calibration tried after (each costs a
    conversion, and moving ranges mends a few layers, not most of a model)."""
    result = run_cli("convert", hostile_model_file, "--to", "onnx", "--int8",
                     "--min-cosine", "0.99999", "--json")
    assert result.exit_code == 0, result.output
    budget = json.loads(result.output[result.output.index("{"):result.output.rindex("}") + 1])["budget"]
    labels = [attempt["label"] for attempt in budget["attempts"]]
    ranked = len(budget["attempts"][1]["keep_float"])
    assert labels[1] == f"all {ranked} ranked layers in float" and ranked >= 4
    assert budget["met"] and len(budget["layers_in_float"]) > ranked / 2
    assert not any("calibration" in label for label in labels)


@pytest.mark.heavy
def test_an_attempt_the_converter_cannot_make_is_recorded_and_the_search_goes_on(tmp_path):
    """The hostile model with a tensor of values within 1e-5 of 1 (as a LayerNorm's
    1/sqrt(variance) of ConvNeXt): ONNX Runtime's percentile calibrator cannot histogram it."""
    from deploytool.core.keras_env import keras

    layers = keras.layers
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    hostile = layers.Conv2D(8, 3, padding="same", name="hostile")
    x = layers.Conv2D(8, 1, name="undo")(layers.ReLU(name="relu_h")(hostile(x)))
    logits = layers.Dense(5)(layers.GlobalAveragePooling2D()(x))
    near_one = layers.Rescaling(1e-5, offset=1.0)(layers.Activation("sigmoid")(logits))
    model = keras.Model(inputs, layers.Multiply(name="scores")([logits, near_one]))
    kernel, bias = hostile.get_weights()
    kernel[..., 0] *= 300
    hostile.set_weights([kernel, bias])
    kernel, bias = model.get_layer("undo").get_weights()
    kernel[:, :, 0, :] /= 300
    model.get_layer("undo").set_weights([kernel, bias])
    model.save(tmp_path / "near_one.keras")
    result = run_cli("convert", tmp_path / "near_one.keras", "--to", "onnx", "--int8",
                     "--min-cosine", "0.99", "--json")
    assert result.exit_code == 0, result.output
    budget = json.loads(result.output[result.output.index("{"):])["budget"]
    assert [f["label"] for f in budget["failed_attempts"]] == ["percentile calibration"]
    assert "histogram" in budget["failed_attempts"][0]["error"]
    assert "entropy calibration" in [attempt["label"] for attempt in budget["attempts"]]
    assert budget["met"]


def test_a_cosine_share_without_a_cosine_bar_is_a_one_line_error(tmp_path):
    result = run_cli("convert", "lenet_bn", "--int8", "--cosine-share", "0.9", "--out", tmp_path)
    assert result.exit_code == 2
    assert [line for line in result.stderr.splitlines() if line.startswith("deploytool:")] == [
        line for line in result.stderr.splitlines() if line.strip()]
    assert not list(tmp_path.iterdir())


def test_each_attempt_says_its_number_its_step_and_the_time_so_far(hostile_model_file):
    said = []

    def stop_at_the_second_attempt(message):
        said.append(message)
        if message.startswith("budget: trying") and "attempt 2" in message:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        budgeted_convert(load_source(str(hostile_model_file)), ConvertOptions(precision="int8"),
                         Budget(min_cosine=0.99), stop_at_the_second_attempt)
    first, second = [line for line in said if line.startswith("budget: trying")]
    assert "attempt 1;" in first and " s so far" in first
    assert "attempt 2, 1 of at most " in second and " s more at " in second


def test_a_budgeted_convert_writes_the_file_it_judged_without_converting_again(
        hostile_model_file, tmp_path, monkeypatch):
    from deploytool.core.fileio import sha256_file
    from deploytool.workflows.quantization import budget as budget_module

    conversions = []
    real = budget_module.convert
    monkeypatch.setattr(budget_module, "convert",
                        lambda *args, **kwargs: conversions.append(1) or real(*args, **kwargs))
    result = budgeted_convert(load_source(str(hostile_model_file)),
                              ConvertOptions(precision="int8", out_dir=tmp_path), Budget(min_cosine=0.9))
    record = result.manifest.record
    assert len(conversions) == len(record["budget"]["attempts"])
    assert result.artifact.parent == tmp_path
    assert record["artifact"]["sha256"] == sha256_file(result.artifact)
    assert not list(tmp_path.glob(".deploytool-budget-*"))
