"""`deploytool models`: the zoo as a table or JSON, and one-line errors for bad input."""

import json
import subprocess
import sys

import pytest

from deploytool.models import create_model

from support import run_cli


def test_json_rows_report_the_models_real_figures():
    result = run_cli("models", "lenet_bn", "resnet18", "--input-shape", "28,28,1",
                     "--num-classes", "10", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"lenet_bn", "resnet18"}
    model = create_model("resnet18", input_shape=(28, 28, 1), num_classes=10)
    assert rows["resnet18"]["params"] == model.count_params()
    assert rows["resnet18"]["batchnorm_layers"] == 20
    assert rows["resnet18"]["macs"] > 0
    assert rows["resnet18"]["reference_params"] is None  # references hold at 224x224x3 only


@pytest.mark.heavy
def test_table_shows_reference_and_training_only_heads():
    result = run_cli("models", "resnet50", "bn_inception")
    assert result.exit_code == 0, result.output
    assert "25,610,152" in result.stdout and "25,636,712" in result.stdout
    assert "aux1, aux2" in result.stdout


@pytest.mark.heavy
def test_unknown_model_is_one_line_with_exit_code_2():
    process = subprocess.run([sys.executable, "-m", "deploytool", "models", "resnet5"],
                             capture_output=True, text=True, timeout=300)
    assert process.returncode == 2
    assert process.stderr.strip().splitlines() == [
        "deploytool: error: unknown model 'resnet5'; did you mean resnet50, resnet152, resnet34, "
        "resnet18? (`deploytool models` lists all 19)"
    ]
    assert process.stdout == ""


def test_malformed_input_shape_is_rejected_with_exit_code_2():
    result = run_cli("models", "lenet_bn", "--input-shape", "28,28")
    assert result.exit_code == 2
    assert "HEIGHT,WIDTH,CHANNELS" in result.output


def test_the_default_table_comes_from_the_cached_figures_of_this_very_zoo(monkeypatch):
    """`deploytool models` at the defaults reads models/zoo_figures.json without building a
    model, and the file was computed from the zoo's current source (else: run
    benchmarks/zoo_figures.py); a cached row equals the one computed now."""
    from deploytool.workflows import zoo

    record = json.loads(zoo._figures_file().read_text())
    assert record["fingerprint"] == zoo.zoo_fingerprint(), \
        "the zoo's source changed since models/zoo_figures.json: run benchmarks/zoo_figures.py"
    fresh = zoo.describe_model("lenet_bn")
    monkeypatch.setattr(zoo, "create_model", lambda *a, **k: pytest.fail("built a model"))
    rows = zoo.describe_zoo()
    assert [row["name"] for row in rows] == zoo.list_models()
    assert rows[zoo.list_models().index("lenet_bn")] == fresh
