"""An accuracy budget on `deploytool convert --int8`: plain int8 when it keeps the budget, else
the cheapest attempt that does (other calibration, more images, the costliest layers in float),
on TFLite and ONNX alike; and the trial conversions never become what `verify` checks."""

import json

import pytest

from deploytool.converters.options import ConvertOptions
from deploytool.core.manifest import LAST_CONVERT, last_converted
from deploytool.sources.model_source import load_source
from deploytool.workflows.budget import Budget, budgeted_convert
from deploytool.workflows.convert import convert

from support import run_cli

pytestmark = pytest.mark.usefixtures("in_tmp_dir")


@pytest.mark.heavy
@pytest.mark.parametrize("target", ["tflite", "onnx"])
def test_budget_keeps_the_hostile_layer_in_float_and_meets_it(hostile_model_file, target):
    result = run_cli("convert", hostile_model_file, "--to", target, "--int8",
                     "--min-cosine", "0.99", "--json")
    assert result.exit_code == 0, result.output
    budget = json.loads(result.output[result.output.index("{"):])["budget"]
    assert budget["met"] and budget["chosen"] == "1 costliest layer in float"
    assert len(budget["layers_in_float"]) == 1 and "relu_h" in budget["layers_in_float"][0]
    assert budget["attempts"][0]["label"] == "plain int8" and not budget["attempts"][0]["met"]
    assert budget["attempts"][-1]["figures"]["min_cosine"] >= 0.99
    assert budget["size_cost"] > 0


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
    """Top-1 agreement 1.0 alone (a budget for unlabelled images): plain int8 flips decisions,
    so the search goes on until the hostile layer is in float."""
    result = run_cli("convert", hostile_model_file, "--int8", "--min-agreement", "1", "--json")
    assert result.exit_code == 0, result.output
    budget = json.loads(result.output[result.output.index("{"):])["budget"]
    assert budget["budget"] == "top-1 agreement >= 1"  # the agreement alone is a budget
    assert budget["attempts"][0]["figures"]["top1_agreement"] < 1 and not budget["attempts"][0]["met"]
    assert budget["met"] and "relu_h" in budget["layers_in_float"][0]
    assert budget["attempts"][-1]["figures"]["top1_agreement"] == 1.0


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
